"""All stages in one process (``dubbing run``): the same stage code as the Pods, one after another.

The finished files are copied from the store into ``--out`` (written under a temporary
name and renamed, so a failed run leaves nothing that looks finished), with a report:
``report.json`` and ``report.txt`` (stage times, cache hits, backend per stage,
segments, what did not fit, and each language's quality scorecard when the score stage ran).
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..api.v1alpha1 import STAGES, DubbingJob
from ..artifacts import ArtifactStore
from ..backends.base import BackendContext
from ..quality.scorecard import table as scorecard_table
from ..voices import check as voice_check
from . import layout
from .context import StageContext
from .datatypes import Ref, StageOutcome, now_iso
from .errors import InputError
from .jobfile import parse_job
from .progress import Sink, print_sink
from .runner import run_stage


def job_name_for(path: Path) -> str:
    """A Kubernetes-style name from a file name: ``My Clip (1).mp4`` → ``my-clip-1``."""
    name = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")[:50].strip("-")
    return name or "input"


def make_job(
    input_path: Path,
    targets: Sequence[str],
    source: str = "auto",
    stages: Mapping[str, Any] | None = None,
    name: str | None = None,
    namespace: str = "local",
    glossary: Sequence[Mapping[str, Any]] | None = None,
    voices: Mapping[str, Any] | None = None,
) -> DubbingJob:
    """The DubbingJob ``dubbing run`` works on (validated like any other job); its owner is its namespace."""
    manifest = {
        "apiVersion": "dubbing.dev/v1alpha1",
        "kind": "DubbingJob",
        "metadata": {"name": name or job_name_for(input_path), "namespace": namespace, "uid": str(uuid.uuid4())},
        "spec": {
            "input": {"bucket": "local", "key": input_path.name},
            "sourceLanguage": source,
            "targetLanguages": list(targets),
            "stages": dict(stages or {}),
            **({"glossary": list(glossary)} if glossary else {}),
            **({"voices": dict(voices)} if voices else {}),
        },
    }
    return parse_job(manifest)


@dataclass
class PipelineResult:
    job: DubbingJob
    outcomes: list[StageOutcome]
    report: dict[str, Any]
    files: dict[str, dict[str, Path]] = field(default_factory=dict)  # language → kind → local file


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _copy_out(store: ArtifactStore, key: str, dest: Path) -> Path:
    tmp = dest.with_name(f".{dest.name}.tmp-{uuid.uuid4().hex}")
    try:
        store.get_file(key, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def run_pipeline(
    job: DubbingJob,
    store: ArtifactStore,
    input_path: Path | None,
    out_dir: Path | None = None,
    sink: Sink = print_sink,
    backend_context: BackendContext | None = None,
    stages: Sequence[str] = STAGES,
) -> PipelineResult:
    """Run ``stages`` in order; copy the finished files into ``out_dir`` and write the report there."""
    started = time.monotonic()
    started_at = now_iso()
    ctx = StageContext(job, store, backend_context, sink=sink, input_path=input_path)
    outcomes: list[StageOutcome] = []
    try:
        # spec.voices is checked before anything runs: an unknown voice, another user's, a clone nobody can make.
        problems = voice_check.preflight(job, store, ctx.backend_context)
        if problems:
            raise InputError("InvalidVoices", "spec.voices: " + "; ".join(problems))
        for stage in stages:
            outcomes.append(run_stage(stage, ctx))
        files: dict[str, dict[str, Path]] = {}
        report = build_report(job, outcomes, store, time.monotonic() - started, started_at, input_path)
        if out_dir is not None and "mux" in stages:
            out_dir.mkdir(parents=True, exist_ok=True)
            files = collect_outputs(ctx, outcomes, out_dir, input_path)
            report["localFiles"] = {
                lang: {kind: str(path) for kind, path in kinds.items()} for lang, kinds in files.items()
            }
        store.put_json(layout.job_report_key(ctx.namespace, ctx.name), report)
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            _write_atomic(
                out_dir / "report.json", (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
            )
            _write_atomic(out_dir / "report.txt", (report_table(report) + "\n").encode("utf-8"))
        return PipelineResult(job, outcomes, report, files)
    finally:
        ctx.close()


def collect_outputs(
    ctx: StageContext, outcomes: Sequence[StageOutcome], out_dir: Path, input_path: Path | None
) -> dict[str, dict[str, Path]]:
    mux = next(outcome for outcome in outcomes if outcome.stage == "mux")
    stem = ctx.name
    target_store, _ = ctx.output_store()
    files: dict[str, dict[str, Path]] = {}
    for language, entry in mux.index["entries"].items():
        published = entry.get("published") or {}
        kinds: dict[str, Path] = {}
        for kind, key in sorted(published.items()):
            suffix = Path(key).suffix
            if kind == "video":
                name = f"{stem}.{language}{suffix}"
            elif kind == "audio":
                name = f"{stem}.{language}.dubbed.wav"
            elif kind.startswith("target."):
                name = f"{stem}.{language}{suffix}"
            elif kind.startswith("source."):
                source = Path(key).name.split(".")[1] if Path(key).name.count(".") >= 2 else "source"
                name = f"{stem}.{source}{suffix}" if source != language else f"{stem}.{source}.original{suffix}"
            else:
                name = f"{stem}.{language}.{Path(key).name}"
            kinds[kind] = _copy_out(target_store, key, out_dir / name)
        files[language] = kinds
    score = next((outcome for outcome in outcomes if outcome.stage == "score"), None)
    for language, entry in score.index["entries"].items() if score else ():
        key = (entry.get("published") or {}).get("report")
        if key:
            files.setdefault(language, {})["scorecard"] = _copy_out(
                target_store, key, out_dir / f"{stem}.{language}.scorecard.json"
            )
    return files


def _metrics(outcome: StageOutcome) -> dict[str, Any]:
    return {lang: entry.get("metrics", {}) for lang, entry in outcome.index["entries"].items()}


def build_report(
    job: DubbingJob,
    outcomes: Sequence[StageOutcome],
    store: ArtifactStore,
    seconds: float,
    started_at: str,
    input_path: Path | None,
) -> dict[str, Any]:
    by_stage = {outcome.stage: outcome for outcome in outcomes}
    media_seconds = None
    if "extract" in by_stage:
        media_seconds = _metrics(by_stage["extract"]).get("_", {}).get("durationSeconds")
    stages = []
    for outcome in outcomes:
        metrics = _metrics(outcome)
        work = sum(float(entry.get("durationSeconds") or 0.0) for entry in outcome.index["entries"].values())
        stages.append(
            {
                "stage": outcome.stage,
                "backend": outcome.backend,
                "model": outcome.model,
                "cacheHit": outcome.cache_hit,
                "seconds": round(outcome.duration_seconds, 3),
                "realTimeFactor": round(outcome.duration_seconds / media_seconds, 4) if media_seconds else None,
                "unitSeconds": round(work, 3),
                "keys": {lang: entry["key"] for lang, entry in outcome.index["entries"].items()},
                "metrics": metrics,
            }
        )
    not_fitting: dict[str, Any] = {}
    if "mix" in by_stage:
        for lang, metrics in _metrics(by_stage["mix"]).items():
            not_fitting[lang] = metrics.get("notFitting", [])
    asr = _metrics(by_stage["asr"]).get("_", {}) if "asr" in by_stage else {}
    outputs: dict[str, Any] = {}
    if "mux" in by_stage:
        for lang, entry in by_stage["mux"].index["entries"].items():
            outputs[lang] = dict(entry.get("published", {}))
    scorecards: dict[str, Any] = {}
    if "score" in by_stage:
        for lang, entry in by_stage["score"].index["entries"].items():
            scorecards[lang] = _scorecard(store, entry)
            report_key = (entry.get("published") or {}).get("report")
            if report_key:
                outputs.setdefault(lang, {})["report"] = report_key
    return {
        "job": {"namespace": job.metadata.namespace, "name": job.metadata.name},
        "input": str(input_path) if input_path else job.spec.input.model_dump(exclude_none=True),
        "store": store.url(),
        "startedAt": started_at,
        "finishedAt": now_iso(),
        "sourceLanguage": asr.get("language") or job.spec.sourceLanguage,
        "targetLanguages": list(dict.fromkeys(job.spec.targetLanguages)),
        "mediaSeconds": media_seconds,
        "totalSeconds": round(seconds, 3),
        "realTimeFactor": round(seconds / media_seconds, 4) if media_seconds else None,
        "segments": asr.get("segments"),
        "speakers": (_metrics(by_stage["diarize"]).get("_", {}).get("speakers") if "diarize" in by_stage else None),
        "cacheHits": [o.stage for o in outcomes if o.cache_hit],
        "stages": stages,
        "notFitting": not_fitting,
        "scorecards": scorecards,
        "outputs": outputs,
    }


def _scorecard(store: ArtifactStore, entry: Mapping[str, Any]) -> dict[str, Any]:
    """The scorecard of one language (from the score stage's cache entry), less its bulkier lists."""
    ref = (entry.get("outputs") or {}).get("scorecard.json")
    try:
        card = store.get_json(ref["key"]) if ref else None
    except Exception as error:  # noqa: BLE001 - the report says what is missing
        return {"error": f"scorecard unreadable: {error}"}
    if not isinstance(card, dict):
        return {"error": "no scorecard"}
    card = json.loads(json.dumps(card))
    for section, key in (("intelligibility", "heard"), ("sync", "worst"), ("units", None)):
        if key is None:
            card.pop(section, None)
        elif isinstance(card.get(section), dict):
            card[section].pop(key, None)
    if isinstance((card.get("intelligibility") or {}).get("mix"), dict):
        card["intelligibility"]["mix"].pop("heard", None)
    return card


def _notes(stage: Mapping[str, Any]) -> str:
    metrics: Mapping[str, Mapping[str, Any]] = stage.get("metrics") or {}
    name = stage["stage"]
    if name == "extract":
        m = metrics.get("_", {})
        return f"{m.get('durationSeconds', 0):.1f} s {m.get('format', '')}{', video' if m.get('hasVideo') else ''}"
    if name == "diarize":
        m = metrics.get("_", {})
        return f"{m.get('speakers')} speakers, {m.get('turns')} turns"
    if name == "asr":
        m = metrics.get("_", {})
        return f"{m.get('segments')} segments, {m.get('words')} words, {m.get('language')}"
    parts = []
    for lang, m in metrics.items():
        if name == "translate":
            parts.append(f"{lang}: {m.get('segments')} seg")
        elif name == "tts":
            parts.append(f"{lang}: {m.get('segments')} clips, {m.get('speechSeconds')} s")
        elif name == "mix":
            parts.append(
                f"{lang}: {m.get('fits', 0)} fit, {m.get('usesPause', 0)} pause, {m.get('shifted', 0)} earlier, {m.get('stretched', 0)} stretched, "
                f"{m.get('tooLong', 0)} too long, bed {m.get('background')}"
            )
        elif name == "mux":
            parts.append(f"{lang}: {m.get('container')} {m.get('durationSeconds')} s")
        elif name == "score":
            q = m.get("quality") or {}
            wer = q.get("wer")
            parts.append(f"{lang}: WER {'n/a' if wer is None else f'{wer:.2f}'}, fit {q.get('fitShare', 'n/a')}")
    return "; ".join(parts)


def report_table(report: Mapping[str, Any]) -> str:
    """A short text table of the report."""
    rows = [("stage", "backend", "model", "cache", "seconds", "RTF", "notes")]
    for stage in report["stages"]:
        rtf = stage.get("realTimeFactor")
        rows.append(
            (
                stage["stage"],
                str(stage.get("backend") or "-"),
                str(stage.get("model") or "-")[:28],
                "hit" if stage.get("cacheHit") else "miss",
                f"{stage['seconds']:.2f}",
                "-" if rtf is None else f"{rtf:.3f}",
                _notes(stage),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)) + "  " + row[-1]
        for row in rows
    ]
    total_rtf = report.get("realTimeFactor")
    lines.append(
        f"total {report['totalSeconds']:.2f} s for {report.get('mediaSeconds') or 0:.1f} s of media"
        + (f" (RTF {total_rtf:.3f})" if total_rtf is not None else "")
        + f"; cache hits: {', '.join(report.get('cacheHits') or []) or 'none'}"
    )
    for lang, items in (report.get("notFitting") or {}).items():
        if items:
            described = ", ".join(
                f"#{item['id']} at {item['start']:.1f} s (+{item['overflowSeconds']:.2f} s)" for item in items
            )
            lines.append(f"did not fit ({lang}): {described}")
        else:
            lines.append(f"did not fit ({lang}): nothing, every segment fits")
    for lang, card in (report.get("scorecards") or {}).items():
        if card.get("error"):
            lines.append(f"scorecard ({lang}): {card['error']}")
        else:
            lines.extend(scorecard_table(card))
    for lang, outputs in (report.get("localFiles") or report.get("outputs") or {}).items():
        video = outputs.get("video")
        if video:
            lines.append(f"{lang}: {video}")
    return "\n".join(lines)


__all__ = ["PipelineResult", "Ref", "build_report", "job_name_for", "make_job", "report_table", "run_pipeline"]
