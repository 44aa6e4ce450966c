"""The ``dubbing`` command.

- ``dubbing run INPUT --to LANG [--to LANG2] [--from LANG] [--backend stage=name ...]
  [--option stage.key=value ...] [--glossary FILE] --out DIR [--artifacts URL]``: every stage in this
  process against a local store (default ``<out>/.artifacts``); writes the dubbed
  file(s) and a report into ``--out``.
- ``dubbing stage NAME``: one stage of a DubbingJob (what a stage Pod runs).
- ``dubbing models [--json]``: which backends can run here, and why not.
- ``dubbing models catalogue [--json]``: the models that can be pulled, their size, licence and state.
- ``dubbing models pull NAME... [--allow-unpinned]``: fetch models from the Hugging Face Hub
  (``HF_ENDPOINT``, ``HF_TOKEN``) into the model cache, verified, resumable, installed atomically.
- ``dubbing doctor``: the tools and settings the stages need.
- ``dubbing edit NAME --artifacts URL [--apply FILE]``: a job's segments, or store edits
  for them (:mod:`dubbing.editcli`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import traceback
from pathlib import Path
from typing import TextIO

# --------------------------------------------------------------------- progress bars


class BarSink:
    """Draws one progress bar per stage (redrawn in place on a terminal, lines otherwise)."""

    def __init__(self, stream: TextIO | None = None, width: int = 28, quiet: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.width = width
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.stage: str | None = None
        self.last_bucket = -1
        self.last_text = ""

    def _line(self, stage: str, percent: float, message: str) -> str:
        filled = int(round(self.width * percent / 100.0))
        bar = "#" * filled + "-" * (self.width - filled)
        columns = shutil.get_terminal_size((100, 20)).columns if self.tty else 200
        text = f"{stage:<9} [{bar}] {percent:5.1f}% {message}"
        return text[: max(20, columns - 1)]

    def __call__(self, stage: str, percent: float, message: str) -> None:
        if self.quiet:
            return
        if stage != self.stage:
            if self.stage is not None and self.tty:
                self.stream.write("\n")
            self.stage = stage
            self.last_bucket = -1
        text = self._line(stage, percent, message)
        if self.tty:
            pad = max(0, len(self.last_text) - len(text))
            self.stream.write("\r" + text + " " * pad)
            self.last_text = text
        else:
            bucket = int(percent // 10)
            if bucket != self.last_bucket or percent >= 100.0:
                self.stream.write(text + "\n")
                self.last_bucket = bucket
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.stage is not None:
            self.stream.write("\n")
            self.stream.flush()
        self.stage = None


# ----------------------------------------------------------------------------- run


def read_glossary(name: str) -> list[dict]:
    """``--glossary FILE``: the entries, or a StageFailure with the reason (the run does not start)."""
    from .glossary import MAX_BYTES, GlossaryError, dump, loads
    from .stages.errors import StageFailure

    path = Path(name).expanduser()
    try:
        with path.open("rb") as handle:
            text = handle.read(MAX_BYTES + 1)
        return dump(loads(text))
    except OSError as error:
        raise StageFailure("InvalidGlossary", f"{path}: {error.strerror or error}", permanent=True) from None
    except GlossaryError as error:
        raise StageFailure("InvalidGlossary", f"{path}: {error}", permanent=True) from None


def _run(args: argparse.Namespace) -> int:
    from .artifacts import LocalStore, StoreError, open_store
    from .backends.base import BackendContext
    from .stages.errors import StageFailure
    from .stages.pipeline import make_job, report_table, run_pipeline
    from .stages.plan import apply_overrides

    input_path = Path(args.input).expanduser()
    out_dir = Path(args.out).expanduser().resolve()
    if args.device:
        os.environ["DUBBING_DEVICE"] = args.device
    if args.model_cache:
        os.environ["DUBBING_MODEL_CACHE"] = args.model_cache
    sink = BarSink(quiet=args.quiet)
    stage = "extract"
    try:
        if not input_path.is_file():
            raise StageFailure("InputNotFound", f"no such file: {input_path}", permanent=True)
        try:
            stages_spec = apply_overrides({}, args.backend or [], args.option or [])
        except ValueError as error:
            raise StageFailure("InvalidJob", str(error), permanent=True) from None
        glossary = read_glossary(args.glossary) if args.glossary else None
        try:
            from .voices.cli import parse_voice_choices

            voices = parse_voice_choices(args.voice or [])
        except ValueError as error:
            raise StageFailure("InvalidJob", str(error), permanent=True) from None
        job = make_job(
            input_path.resolve(),
            args.to,
            args.source or "auto",
            stages_spec,
            name=args.name,
            glossary=glossary,
            voices=voices,
        )
        try:
            store = open_store(args.artifacts) if args.artifacts else LocalStore(out_dir / ".artifacts")
        except ValueError as error:
            raise StageFailure("InvalidArtifactsUrl", str(error), permanent=True) from None
        progress_sink = sink

        def tracking_sink(name: str, percent: float, message: str) -> None:
            nonlocal stage
            stage = name
            progress_sink(name, percent, message)

        result = run_pipeline(job, store, input_path.resolve(), out_dir, tracking_sink, BackendContext.from_env())
    except StageFailure as failure:
        sink.close()
        sys.stderr.write(f"dubbing: {stage} failed: {failure.reason}: {failure.message}\n")
        return failure.exit_code
    except StoreError as error:
        sink.close()
        sys.stderr.write(f"dubbing: {stage} failed: StoreUnavailable: {error}\n")
        return 1
    except KeyboardInterrupt:
        sink.close()
        sys.stderr.write(f"dubbing: interrupted during {stage}\n")
        return 130
    except Exception as error:  # noqa: BLE001 - unexpected: show where
        sink.close()
        traceback.print_exc()
        sys.stderr.write(f"dubbing: {stage} failed: InternalError: {type(error).__name__}: {error}\n")
        return 1
    sink.close()
    if not args.quiet:
        print()
        print(report_table(result.report))
        print(f"report: {out_dir / 'report.json'}")
    return 0


# -------------------------------------------------------------------------- models


def _models(args: argparse.Namespace) -> int:
    from .backends import registry
    from .backends.base import BackendContext

    if args.device:
        os.environ["DUBBING_DEVICE"] = args.device
    if args.model_cache:
        os.environ["DUBBING_MODEL_CACHE"] = args.model_cache
    context = BackendContext.from_env()
    report = registry.readiness_report(context)
    if args.json:
        print(
            json.dumps(
                {
                    "modelCache": str(context.model_cache),
                    "device": context.device,
                    "backends": [r.as_dict() for r in report],
                },
                indent=2,
            )
        )
        return 0
    rows = [("stage", "backend", "ready", "model", "reason")]
    for item in report:
        rows.append(
            (item.stage, item.backend, "yes" if item.ready else "no", str(item.model or "-")[:30], item.reason or "")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    print(f"model cache: {context.model_cache}   device: {context.device}")
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=False)) + "  " + row[4])
    return 0


def _cache_from(args: argparse.Namespace) -> Path:
    from .config.stage import StageSettings

    if args.model_cache:
        os.environ["DUBBING_MODEL_CACHE"] = args.model_cache
    return StageSettings.from_env().model_cache


def _size(value: int | None) -> str:
    return "unknown" if value is None else f"{value / 1e6:,.1f} MB"


def _catalogue(args: argparse.Namespace) -> int:
    from .modelpull.catalogue import CATALOGUE
    from .modelpull.state import model_state

    cache = _cache_from(args)
    rows = [(entry, model_state(cache, entry)) for entry in CATALOGUE]
    if args.json:
        data = [{**entry.as_dict(), "status": state.as_dict()} for entry, state in rows]
        print(json.dumps({"modelCache": str(cache), "models": data}, indent=2))
        return 0
    print(f"model cache: {cache}")
    table = [("name", "stage", "size", "licence", "access", "pinned", "state")]
    for entry, state in rows:
        access = "gated" if entry.gated else ("terms" if entry.terms else "open")
        table.append(
            (
                entry.name,
                entry.stage,
                _size(entry.size),
                entry.licence[:28],
                access,
                "yes" if entry.pinned else "no",
                state.state,
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


class PullLines:
    """Progress of a pull as lines: one per file started, and one per 10 % of the whole."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.file = ""
        self.bucket = -1

    def __call__(self, data: dict[str, object]) -> None:
        total, fetched = data.get("total"), data.get("fetched")
        if data.get("file") != self.file and data.get("file"):
            self.file = str(data["file"])
            self.stream.write(f"{data['model']}: fetching {self.file}\n")
        if isinstance(total, int) and total and isinstance(fetched, int):
            bucket = int(10 * fetched / total)
            if bucket != self.bucket:
                self.bucket = bucket
                self.stream.write(f"{data['model']}: {100 * fetched / total:5.1f}% of {_size(total)}\n")
        self.stream.flush()


def _pull(args: argparse.Namespace) -> int:
    from .modelpull.catalogue import UnknownModel, lookup
    from .modelpull.pull import PullError, pull

    cache = _cache_from(args)
    try:
        entries = [lookup(name) for name in args.names]
    except UnknownModel as error:
        sys.stderr.write(f"dubbing: {error}\n")
        return 2
    failed = 0
    for entry in entries:
        if not entry.pinned:
            sys.stderr.write(f"dubbing: {entry.name}: unpinned: no hash to verify against in the catalogue\n")
        if entry.gated or entry.terms:
            sys.stderr.write(f"dubbing: {entry.name}: licence {entry.licence}; {entry.terms or 'gated on the Hub'}\n")
        try:
            result = pull(
                entry,
                cache,
                endpoint=args.endpoint,
                allow_unpinned=args.allow_unpinned,
                reporter=None if args.quiet else PullLines(sys.stdout),
            )
        except PullError as error:
            sys.stderr.write(f"dubbing: pull {entry.name} failed: {error.reason}: {error}\n")
            failed += 1
            continue
        print(
            f"{entry.name}: ready in {result.folder} ({_size(result.fetched)} fetched, {_size(result.reused)} "
            f"already here; sha256 verified against {'the catalogue' if result.verified == 'pinned' else 'the Hub'})"
        )
    return 1 if failed else 0


# -------------------------------------------------------------------------- doctor


def _doctor(args: argparse.Namespace) -> int:
    from .artifacts import open_store
    from .config.stage import StageSettings
    from .stages.media import tool_version

    checks: list[tuple[str, bool, str]] = []
    for tool in ("ffmpeg", "ffprobe", "espeak-ng"):
        version = tool_version(tool) if tool != "espeak-ng" else (shutil.which(tool) and "found")
        checks.append((tool, bool(version), str(version or "not found on PATH")))
    settings = StageSettings.from_env()
    cache = settings.model_cache
    checks.append(("model cache", True, f"{cache} ({'exists' if cache.is_dir() else 'absent: packaged models only'})"))
    url = args.artifacts or settings.artifacts
    if url:
        try:
            store = open_store(url)
            list(store.list("jobs/"))
            checks.append(("artifacts", True, store.url()))
        except Exception as error:  # noqa: BLE001
            checks.append(("artifacts", False, f"{url}: {error}"))
    else:
        checks.append(("artifacts", True, "not set (dubbing run uses <out>/.artifacts)"))
    ok = all(passed for _, passed, _ in checks)
    for name, passed, detail in checks:
        print(f"{'ok ' if passed else 'BAD'}  {name:<12} {detail}")
    return 0 if ok else 1


# ------------------------------------------------------------------------------ main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dubbing", description="Video dubbing: run the pipeline here, or one stage of a DubbingJob."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="dub a file on this machine (all stages in this process)")
    run.add_argument("input", help="the video or audio file")
    run.add_argument(
        "--to", action="append", required=True, metavar="LANG", help="target language (BCP-47, e.g. pt-BR); repeatable"
    )
    run.add_argument("--from", dest="source", default="auto", metavar="LANG", help="source language (default: detect)")
    run.add_argument(
        "--backend", action="append", metavar="STAGE=NAME", help="choose a stage's backend, e.g. tts=espeak; repeatable"
    )
    run.add_argument(
        "--option",
        action="append",
        metavar="STAGE.KEY=VALUE",
        help="a stage option, e.g. mix.maxStretch=1.3; repeatable",
    )
    run.add_argument(
        "--glossary", metavar="FILE", help="a glossary JSON file (a list of {source, target?, languages?, pronounce?})"
    )
    run.add_argument(
        "--voice",
        action="append",
        metavar="SPEAKER=CHOICE",
        help="a speaker's voice: S0=voice:NAME (the tts backend's), S1=library:ID (dubbing voices), S2=clone; repeatable",
    )
    run.add_argument("--out", required=True, help="directory for the dubbed file(s) and the report")
    run.add_argument("--artifacts", help="artifact store URL (default: <out>/.artifacts)")
    run.add_argument("--name", help="job name (default: from the input's file name)")
    run.add_argument("--device", choices=["auto", "cpu", "cuda"])
    run.add_argument("--model-cache", help="default: $DUBBING_MODEL_CACHE or ~/.cache/dubbing/models")
    run.add_argument("--quiet", action="store_true", help="no progress bars or table")
    run.set_defaults(handler=_run)

    stage = sub.add_parser("stage", help="run one stage of a DubbingJob (what a stage Pod runs)", add_help=False)
    stage.add_argument("rest", nargs=argparse.REMAINDER)
    stage.set_defaults(handler=None)

    models = sub.add_parser("models", help="which backends can run here, and why not; the model catalogue; pulls")
    models.add_argument("--json", action="store_true")
    models.add_argument("--device", choices=["auto", "cpu", "cuda"])
    models.add_argument("--model-cache")
    models.set_defaults(handler=_models)
    models_sub = models.add_subparsers(dest="models_command")
    catalogue = models_sub.add_parser("catalogue", help="the models that can be pulled: size, licence, state")
    catalogue.add_argument("--json", action="store_true")
    catalogue.add_argument("--model-cache", help="default: $DUBBING_MODEL_CACHE or ~/.cache/dubbing/models")
    catalogue.set_defaults(handler=_catalogue)
    pull = models_sub.add_parser(
        "pull", help="fetch models from the Hugging Face Hub into the model cache (HF_ENDPOINT, HF_TOKEN)"
    )
    pull.add_argument("names", nargs="+", metavar="NAME", help="catalogue names (dubbing models catalogue)")
    pull.add_argument("--model-cache", help="default: $DUBBING_MODEL_CACHE or ~/.cache/dubbing/models")
    pull.add_argument("--endpoint", help="Hub or mirror URL (default: $HF_ENDPOINT, else https://huggingface.co)")
    pull.add_argument(
        "--allow-unpinned",
        action="store_true",
        help="also pull entries the catalogue has no hashes for (checked against the Hub's own sha256 only)",
    )
    pull.add_argument("--quiet", action="store_true")
    pull.set_defaults(handler=_pull)

    from .editcli import add_parser as add_edit_parser
    from .voices.cli import add_parser as add_voices_parser

    add_edit_parser(sub)
    add_voices_parser(sub)

    doctor = sub.add_parser("doctor", help="check tools and settings")
    doctor.add_argument("--artifacts")
    doctor.set_defaults(handler=_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "stage":
        from .stages.runtime import main as stage_main

        return stage_main(argv[1:])
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
