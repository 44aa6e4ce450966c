"""The stage runtime: ``dubbing stage <name>``, the same code in a Pod and on a laptop.

Inputs (environment, or flags for laptop use):

- ``DUBBING_JOB``: the DubbingJob as JSON (``--job-file`` reads YAML or JSON instead)
- ``DUBBING_ARTIFACTS``: ``s3://bucket/prefix`` or ``file:///abs/path`` (``--artifacts``)
- ``DUBBING_MODEL_CACHE``, ``DUBBING_DEVICE`` (auto|cpu|cuda): for the backends
- ``DUBBING_TERMINATION_MESSAGE_PATH`` (default ``/dev/termination-log``)
- ``DUBBING_WORK_DIR``: scratch space (default: a temporary directory, removed at the end)

What one stage run does, per unit of work (one unit, or one per target language for
translate/tts/mix/mux/score):

1. read its inputs' references (object key + SHA-256) from the earlier stages' per-job
   index (``jobs/<ns>/<name>/<stage>.json``), or, for extract, hash the job's input;
2. choose the backend (``dubbing.backends.registry``) and compute the cache key
   (:mod:`dubbing.stages.cachekey`);
3. if ``cache/<stage>/<key>/manifest.json`` exists and every output it lists is there,
   that is a cache hit: nothing is recomputed;
4. otherwise fetch the inputs, do the work in scratch space, upload every output, then
   write the manifest LAST: an entry without a manifest is never taken as complete (and
   a failed attempt removes what it uploaded);
5. write the per-job index, publish final files (mux, score) under ``jobs/<ns>/<name>/outputs/``.

Progress goes to stdout as ``[<stage>] <percent>% <message>``; at the end one line of
JSON goes to the termination message path. Exit 0 on success, 2 for a permanent input
or job error (the operator does not retry), 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..api.v1alpha1 import STAGES
from ..artifacts import ArtifactStore, StoreError, open_store
from ..backends.base import BackendContext
from ..config.stage import StageSettings
from . import layout, termination
from .base import Stage, stage_class
from .cache import MANIFEST_API, run_unit
from .context import StageContext
from .datatypes import Ref, StageOutcome, Unit, UnitResult, now_iso
from .errors import InputError, StageFailure
from .jobfile import load_job, parse_job
from .logcapture import BoundedLog, FdCapture
from .logkeeper import LogKeeper
from .progress import last_printed
from .runner import PUBLISHED_SUMMARY_BYTES, published_summary, run_stage

# The names this module held before it was split (``from dubbing.stages.runtime import ...``).
__all__ = [
    "MANIFEST_API", "PUBLISHED_SUMMARY_BYTES", "Ref", "Stage", "StageContext", "StageOutcome", "Unit", "UnitResult",
    "build_parser", "load_job", "main", "now_iso", "parse_job", "published_summary", "run_stage", "run_unit", "stage_class",
]  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dubbing stage", description="Run one pipeline stage of a DubbingJob.")
    parser.add_argument("name", choices=STAGES, help="the stage to run")
    parser.add_argument("--job-file", help="the DubbingJob as YAML/JSON (default: $DUBBING_JOB)")
    parser.add_argument("--artifacts", help="artifact store URL (default: $DUBBING_ARTIFACTS)")
    parser.add_argument("--input", help="read the input media from this local file instead of spec.input")
    parser.add_argument("--work-dir", help="scratch directory (default: a temporary one)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="default: $DUBBING_DEVICE or auto")
    parser.add_argument("--model-cache", help="default: $DUBBING_MODEL_CACHE")
    parser.add_argument(
        "--termination-message-path",
        default=StageSettings.from_env().termination_message_path,
        help="where the one-line JSON summary goes (default: $DUBBING_TERMINATION_MESSAGE_PATH or /dev/termination-log)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    settings = StageSettings.from_env()
    pod = settings.pod_name
    if not pod:
        return _main(argv)
    log = BoundedLog()
    # The kubelet stops a Pod with SIGTERM (cancel, drain, deletion), then SIGKILL after the grace
    # period: the stage stops as on Ctrl-C (its children killed, its summary written) and keeps its log.
    signal.signal(signal.SIGTERM, _interrupted)
    with LogKeeper(log, settings.log_copy_seconds) as keeper:
        with FdCapture(log):
            code = _main(argv, lambda store, ns, name: keeper.keep_at(store, layout.job_log_key(ns, name, pod)))
            sys.stdout.flush()
            sys.stderr.flush()
    return code


def _interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _main(argv: list[str] | None, log_to: Callable[[ArtifactStore, str, str], None] | None = None) -> int:
    """The stage run; ``log_to(store, namespace, name)`` learns where the log belongs once it is known."""
    args = build_parser().parse_args(argv)
    name = args.name
    if args.device:
        os.environ["DUBBING_DEVICE"] = args.device
    if args.model_cache:
        os.environ["DUBBING_MODEL_CACHE"] = args.model_cache
    started = time.monotonic()
    ctx: StageContext | None = None
    summary: dict[str, Any]
    code = 0
    try:
        job = load_job(args.job_file)
        try:
            store = open_store(args.artifacts)
        except ValueError as error:
            raise InputError("InvalidArtifactsUrl", str(error)) from None
        if log_to is not None:
            log_to(store, job.metadata.namespace or "default", job.metadata.name or "job")
        ctx = StageContext(
            job,
            store,
            BackendContext.from_env(),
            Path(args.work_dir) if args.work_dir else None,
            input_path=Path(args.input) if args.input else None,
        )
        outcome = run_stage(name, ctx)
        summary = termination.summary(
            name,
            True,
            cache_hit=outcome.cache_hit,
            backend=outcome.backend,
            model=outcome.model,
            duration_seconds=outcome.duration_seconds,
            outputs=outcome.outputs,
            reason="CacheHit" if outcome.cache_hit else "Completed",
            message=f"{name} {'reused from cache' if outcome.cache_hit else 'done'} in {outcome.duration_seconds:.1f} s",
            last_log_line=last_printed(),
        )
    except StageFailure as failure:
        code = failure.exit_code
        sys.stderr.write(f"[{name}] failed: {failure.reason}: {failure.message}\n")
        summary = termination.summary(
            name, False, duration_seconds=time.monotonic() - started, reason=failure.reason, message=failure.message
        )
    except StoreError as error:
        code = 1
        sys.stderr.write(f"[{name}] failed: StoreUnavailable: {error}\n")
        summary = termination.summary(
            name, False, duration_seconds=time.monotonic() - started, reason="StoreUnavailable", message=str(error)
        )
    except KeyboardInterrupt as stop:
        code = 1
        message = f"interrupted by {stop.args[0]}" if stop.args else "interrupted"
        sys.stderr.write(f"[{name}] {message}\n")
        summary = termination.summary(
            name, False, duration_seconds=time.monotonic() - started, reason="Interrupted", message=message
        )
    except Exception as error:  # noqa: BLE001 - unexpected: traceback to stderr, summary still written
        code = 1
        traceback.print_exc()
        summary = termination.summary(
            name,
            False,
            duration_seconds=time.monotonic() - started,
            reason="InternalError",
            message=f"{type(error).__name__}: {error}",
        )
    finally:
        if ctx is not None:
            ctx.close()
    termination.write(args.termination_message_path, summary)
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
