"""Run one stage of a job: each unit of work (every target language for per-language
stages), publish final files, write the per-job index, and sum it up."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping
from typing import Any

from ..api.v1alpha1 import PER_LANGUAGE_STAGES, STAGES
from . import layout
from .base import stage_class
from .cache import run_unit
from .context import StageContext
from .datatypes import Ref, StageOutcome, now_iso
from .progress import Progress, Sink


def run_stage(name: str, ctx: StageContext, sink: Sink | None = None) -> StageOutcome:
    """Run one stage of the job (every target language for per-language stages)."""
    stage = stage_class(name)()
    progress = Progress(name, sink or ctx.sink)
    started = time.monotonic()
    started_at = now_iso()
    languages: list[str | None]
    if name in PER_LANGUAGE_STAGES:
        languages = list(dict.fromkeys(ctx.job.spec.targetLanguages))
    else:
        languages = [None]
    entries: dict[str, Any] = {}
    published: dict[str, Any] = {}
    try:
        for number, language in enumerate(languages):
            share = 100.0 / len(languages)
            part = progress.part(
                number * share, (number + 1) * share, prefix=f"{language}: " if language and len(languages) > 1 else ""
            )
            entry = run_unit(stage, ctx, language, part)
            refs = {key: Ref.from_dict(value) for key, value in entry["outputs"].items()}
            extra = stage.publish(ctx, language, refs)
            if extra:
                entry["published"] = extra
                published[language or layout.NO_LANGUAGE] = extra
            entries[language or layout.NO_LANGUAGE] = entry
        duration = time.monotonic() - started
        first = next(iter(entries.values()))
        backends = sorted({entry["backend"] for entry in entries.values()})
        models = sorted({str(entry["model"]) for entry in entries.values() if entry.get("model")})
        index = {
            "stage": name,
            "job": {"namespace": ctx.namespace, "name": ctx.name, "uid": ctx.job.metadata.uid},
            "cacheHit": all(entry["cacheHit"] for entry in entries.values()),
            "backend": ",".join(backends) if len(backends) > 1 else first["backend"],
            "model": ",".join(models) if models else None,
            "startedAt": started_at,
            "finishedAt": now_iso(),
            "durationSeconds": round(duration, 3),
            "entries": entries,
            **stage.index_extra(ctx),
        }
        ctx.store.put_json(ctx.index_key(name), index)
    except BaseException:
        # Nothing downstream may look complete: drop this stage's and later stages' job index.
        with contextlib.suppress(Exception):
            for later in STAGES[STAGES.index(name) :]:
                ctx.store.delete(ctx.index_key(later))
        raise
    custom = stage.summary_outputs(published, entries)
    if custom is not None:
        outputs: dict[str, Any] = custom
    elif published:
        outputs = published_summary(published)
    elif name in PER_LANGUAGE_STAGES:
        outputs = {lang: entry["key"] for lang, entry in entries.items()}
    else:
        outputs = {"key": first["key"]}
    hit = index["cacheHit"]
    progress.update(100.0, f"{'cache hit' if hit else 'done'} in {duration:.1f} s ({index['backend']})")
    return StageOutcome(name, hit, index["backend"], index["model"], duration, outputs, index)


#: Room for published keys in the termination message (its limit is 4096 bytes in all).
PUBLISHED_SUMMARY_BYTES = 2500


def published_summary(published: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """What the summary says of published files: every key per language when it fits the
    termination message, else the main file (video, or audio) per language."""
    full = {lang: dict(files) for lang, files in published.items()}
    if len(json.dumps(full, separators=(",", ":")).encode("utf-8")) <= PUBLISHED_SUMMARY_BYTES:
        return full
    return {
        lang: (files.get("video") or files.get("audio") or next(iter(files.values())))
        for lang, files in published.items()
    }
