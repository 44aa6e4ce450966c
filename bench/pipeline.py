"""Benchmark the pipeline on CPU: per-stage seconds and real-time factor on a 60 s clip.

Generates the two-speaker English sample clip (``dubbing.samples``, padded to 60 s),
dubs it into Brazilian Portuguese with a cold local store (every stage computed), then
once more (every stage from the cache), and writes ``<out>/pipeline.json`` plus a
short table (``<out>/pipeline.txt``, also printed).

    python -m bench.pipeline --out bench-results [--seconds 60] [--to pt-BR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from dubbing.api.v1alpha1 import STAGES
from dubbing.artifacts import LocalStore
from dubbing.backends.base import BackendContext
from dubbing.samples import make_clip
from dubbing.stages.pipeline import make_job, run_pipeline


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def stage_rows(result, store: LocalStore, media_seconds: float) -> list[dict]:
    rows = []
    for outcome in result.outcomes:
        steps: dict[str, float] = {}
        for entry in outcome.index["entries"].values():
            manifest = store.get_json(entry["manifest"])
            for name, seconds in (manifest.get("timings", {}).get("steps") or {}).items():
                steps[name] = round(steps.get(name, 0.0) + float(seconds), 3)
        rows.append(
            {
                "stage": outcome.stage,
                "backend": outcome.backend,
                "model": outcome.model,
                "cacheHit": outcome.cache_hit,
                "seconds": round(outcome.duration_seconds, 3),
                "realTimeFactor": round(outcome.duration_seconds / media_seconds, 4),
                "steps": {} if outcome.cache_hit else steps,
            }
        )
    return rows


def table(cold: list[dict], warm: list[dict], media_seconds: float) -> str:
    lines = [f"{'stage':<10} {'backend':<15} {'cold s':>8} {'RTF':>7} {'cached s':>9}  main steps"]
    for a, b in zip(cold, warm, strict=False):
        steps = ", ".join(f"{k} {v:.2f}" for k, v in sorted(a["steps"].items(), key=lambda kv: -kv[1])[:3])
        lines.append(
            f"{a['stage']:<10} {str(a['backend']):<15} {a['seconds']:>8.2f} {a['realTimeFactor']:>7.3f} {b['seconds']:>9.2f}  {steps}"
        )
    total_cold = sum(r["seconds"] for r in cold)
    total_warm = sum(r["seconds"] for r in warm)
    lines.append(
        f"{'total':<10} {'':<15} {total_cold:>8.2f} {total_cold / media_seconds:>7.3f} {total_warm:>9.2f}  ({media_seconds:.1f} s of media)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="bench-results", help="directory for pipeline.json and pipeline.txt")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the generated clip")
    parser.add_argument("--to", default="pt-BR", help="target language")
    parser.add_argument("--backend", action="append", default=[], metavar="STAGE=NAME")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DUBBING_DEVICE", "cpu")
    work = Path(tempfile.mkdtemp(prefix="dubbing-bench-"))
    try:
        return _measure(args, out, work)
    finally:
        if not args.keep:  # also after a failed run: nothing is left in the temporary directory
            import shutil

            shutil.rmtree(work, ignore_errors=True)


def _measure(args: argparse.Namespace, out: Path, work: Path) -> int:
    from dubbing.stages.plan import apply_overrides

    sentences = max(2, int(args.seconds / 5.3))
    clip = make_clip(work / "bench.mp4", count=sentences, min_seconds=args.seconds)
    store = LocalStore(work / "store")
    job = make_job(clip.path, [args.to], "en", apply_overrides({}, args.backend), name="bench")
    context = BackendContext.from_env()

    def quiet(stage: str, percent: float, message: str) -> None:
        if percent >= 100.0 and message.startswith(("done in", "cache hit in")):
            print(f"  [{stage}] {message}", file=sys.stderr, flush=True)

    print(f"cold run on {clip.duration:.1f} s clip ({sentences} sentences) ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    cold = run_pipeline(job, store, clip.path, work / "out-cold", quiet, context)
    cold_total = time.monotonic() - started
    print("cached run ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    warm = run_pipeline(job, store, clip.path, work / "out-warm", quiet, context)
    warm_total = time.monotonic() - started

    cold_rows = stage_rows(cold, store, clip.duration)
    warm_rows = stage_rows(warm, store, clip.duration)
    result = {
        "benchmark": "pipeline",
        "clipSeconds": clip.duration,
        "sentences": sentences,
        "targetLanguage": args.to,
        "device": context.device,
        "machine": {
            "cpus": os.cpu_count(),
            "cpu": cpu_model(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "cold": {
            "totalSeconds": round(cold_total, 3),
            "realTimeFactor": round(cold_total / clip.duration, 4),
            "stages": cold_rows,
        },
        "cached": {
            "totalSeconds": round(warm_total, 3),
            "realTimeFactor": round(warm_total / clip.duration, 4),
            "stages": warm_rows,
            "allCacheHits": all(r["cacheHit"] for r in warm_rows),
        },
        "segments": cold.report.get("segments"),
        "speakers": cold.report.get("speakers"),
        "notFitting": cold.report.get("notFitting"),
        # the dub's quality (score stage): a change that makes the dub worse shows up here as a number
        "quality": {lang: card.get("summary", card) for lang, card in (cold.report.get("scorecards") or {}).items()},
        "stagesRun": list(STAGES),
    }
    text = table(cold_rows, warm_rows, clip.duration)
    (out / "pipeline.json").write_text(json.dumps(result, indent=2) + "\n")
    for lang, quality in result["quality"].items():
        text += "\nquality " + lang + ": " + ", ".join(f"{k} {v}" for k, v in quality.items())
    (out / "pipeline.txt").write_text(text + "\n")
    print(text)
    print(f"wrote {out / 'pipeline.json'} and {out / 'pipeline.txt'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
