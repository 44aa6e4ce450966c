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
import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, Iterator, Mapping

from .. import __version__
from ..api.v1alpha1 import PER_LANGUAGE_STAGES, STAGES, DubbingJob
from ..artifacts import ArtifactNotFound, ArtifactStore, LocalStore, StoreError, open_store, sha256_file
from ..backends.base import Backend, BackendContext
from ..config.stage import StageSettings
from . import cachekey, layout, termination
from .errors import InputError, MissingInput, StageFailure
from .media import tool_version
from .plan import stage_options
from .progress import Progress, Sink, print_sink

MANIFEST_API = "dubbing.dev/stage-manifest/v1"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


# ----------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Ref:
    """One stored file: its key in the store, SHA-256 and size."""

    key: str
    sha256: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "sha256": self.sha256, "size": self.size}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Ref":
        return cls(str(data["key"]), str(data["sha256"]), int(data["size"]))


@dataclass
class UnitResult:
    """What a stage's work produced: local files by output name (names may contain ``/``)."""

    outputs: dict[str, Path]
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class Unit:
    """One piece of a stage's work: the whole stage, or one target language of it."""

    stage: str
    language: str | None
    backend: Backend
    options: dict[str, Any]
    inputs: dict[str, Ref]
    key: str
    out_dir: Path
    progress: Progress
    steps: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.steps[name] = round(self.steps.get(name, 0.0) + time.monotonic() - started, 4)


@dataclass
class StageOutcome:
    stage: str
    cache_hit: bool
    backend: str | None
    model: str | None
    duration_seconds: float
    outputs: dict[str, Any]
    index: dict[str, Any]


# -------------------------------------------------------------------------- context


class StageContext:
    """Everything a stage needs: the job, the store, scratch space, the backends' context."""

    def __init__(
        self,
        job: DubbingJob,
        store: ArtifactStore,
        backend_context: BackendContext | None = None,
        work_dir: Path | None = None,
        sink: Sink = print_sink,
        input_path: Path | None = None,
    ) -> None:
        self.job = job
        self.store = store
        self.backend_context = backend_context or BackendContext.from_env()
        self._own_work_dir = work_dir is None
        self.work_dir = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="dubbing-work-", dir=StageSettings.from_env().work_dir))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.sink = sink
        self.input_path = Path(input_path) if input_path else None
        self._fetched: dict[str, Path] = {}
        self._backends: dict[tuple[str, str, str], Backend] = {}
        self._local_input: Path | None = None

    # identity of the job
    @property
    def namespace(self) -> str:
        return self.job.metadata.namespace or "default"

    @property
    def name(self) -> str:
        return self.job.metadata.name or "job"

    def close(self) -> None:
        if self._own_work_dir and not StageSettings.from_env().keep_work:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    # options
    def options(self, stage: str) -> dict[str, Any]:
        return stage_options(self.job.spec, stage)

    def requested_backend(self, stage: str) -> str:
        return str(self.options(stage).get("backend", "auto"))

    # per-job index
    def index_key(self, stage: str) -> str:
        return layout.job_index_key(self.namespace, self.name, stage)

    def read_index(self, stage: str) -> dict[str, Any] | None:
        try:
            return self.store.get_json(self.index_key(stage))
        except ArtifactNotFound:
            return None

    def upstream(self, stage: str, language: str | None = None) -> dict[str, Ref]:
        """The outputs an earlier stage recorded for this job (and language)."""
        index = self.read_index(stage)
        if index is None:
            raise MissingInput(f"stage {stage} has not run for job {self.namespace}/{self.name} (no {self.index_key(stage)})")
        entry = (index.get("entries") or {}).get(language or layout.NO_LANGUAGE)
        if entry is None:
            raise MissingInput(f"stage {stage} has no output for language {language} in job {self.namespace}/{self.name}")
        return {name: Ref.from_dict(ref) for name, ref in entry["outputs"].items()}

    # files
    def fetch(self, ref: Ref) -> Path:
        """A local copy of a stored file (read-only use); fetched once per run."""
        if ref.key in self._fetched:
            return self._fetched[ref.key]
        if isinstance(self.store, LocalStore):
            path = self.store.local_path(ref.key)
            if not path.is_file():
                raise MissingInput(f"{ref.key} is missing from the artifact store")
        else:
            path = self.work_dir / "fetched" / ref.key
            try:
                self.store.get_file(ref.key, path)
            except ArtifactNotFound:
                raise MissingInput(f"{ref.key} is missing from the artifact store") from None
        self._fetched[ref.key] = path
        return path

    def scratch(self, *parts: str) -> Path:
        path = self.work_dir.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    # the job's input media
    def input_source(self) -> str:
        spec = self.job.spec.input
        if self.input_path is not None:
            return self.input_path.resolve().as_uri()
        if spec.url:
            return spec.url
        return f"s3://{spec.bucket}/{spec.key}" if self.store.scheme == "s3" else self.store.for_bucket(spec.bucket or "").url(spec.key or "")

    def input_fingerprint(self) -> dict[str, Any] | None:
        """Cheap identity of the input (source, etag, size) when it can be had without reading it."""
        spec = self.job.spec.input
        if self.input_path is not None:
            try:
                st = self.input_path.stat()
            except FileNotFoundError:
                return None
            return {"source": self.input_source(), "etag": f"{st.st_size:x}-{st.st_mtime_ns:x}", "size": st.st_size}
        if spec.bucket and spec.key:
            info = self.store.for_bucket(spec.bucket).stat(spec.key)
            if info is None:
                return None
            return {"source": self.input_source(), "etag": info.etag, "size": info.size}
        return None

    def local_input(self) -> Path:
        """The job's input media as a local file (downloaded once)."""
        if self._local_input is not None:
            return self._local_input
        spec = self.job.spec.input
        if self.input_path is not None:
            if not self.input_path.is_file():
                raise InputError("InputNotFound", f"input file not found: {self.input_path}")
            self._local_input = self.input_path
        elif spec.url:
            self._local_input = self._download_url(spec.url)
        else:
            assert spec.bucket and spec.key
            name = Path(spec.key).name or "input"
            dest = self.scratch("input") / name
            try:
                self.store.for_bucket(spec.bucket).get_file(spec.key, dest)
            except ArtifactNotFound:
                raise InputError("InputNotFound", f"input object {self.input_source()} does not exist") from None
            self._local_input = dest
        return self._local_input

    def _download_url(self, url: str) -> Path:
        import httpx

        name = Path(url.split("?", 1)[0]).name or "input"
        dest = self.scratch("input") / name
        partial = dest.with_name(dest.name + ".part")
        try:
            with httpx.stream("GET", url, follow_redirects=True, timeout=60) as response:
                if response.status_code in (401, 403, 404, 410):
                    raise InputError("InputNotFound", f"input URL answered HTTP {response.status_code}")
                if response.status_code >= 400:
                    raise StageFailure("InputUnreachable", f"input URL answered HTTP {response.status_code}")
                with open(partial, "wb") as handle:
                    for chunk in response.iter_bytes(1 << 20):
                        handle.write(chunk)
        except httpx.HTTPError as error:
            partial.unlink(missing_ok=True)
            raise StageFailure("InputUnreachable", f"cannot download the input: {type(error).__name__}: {error}") from None
        partial.replace(dest)
        return dest

    # backends
    def backend(self, stage: str, requested: str, options: Mapping[str, Any]) -> Backend:
        from ..backends import registry

        memo = (stage, requested, cachekey.canonical_json(options))
        if memo not in self._backends:
            try:
                self._backends[memo] = registry.choose(stage, requested, self.backend_context, options)
            except registry.BackendUnavailable as error:
                raise StageFailure("BackendUnavailable", str(error), permanent=True) from None
            except ValueError as error:  # unknown backend name
                raise InputError("InvalidJob", str(error)) from None
        return self._backends[memo]

    # publishing final outputs
    def output_store(self) -> tuple[ArtifactStore, str | None]:
        out = self.job.spec.output
        if out is not None and out.bucket:
            return self.store.for_bucket(out.bucket), out.prefix
        return self.store, (out.prefix if out is not None else None)

    def publish(self, ref: Ref, name: str, language: str | None) -> str:
        """Copy a cached file to the job's outputs; return its key there."""
        target, override = self.output_store()
        key = f"{layout.job_outputs_prefix(self.namespace, self.name, language, override)}/{name}"
        if target is self.store:
            self.store.copy(ref.key, key)
        else:
            target.put_file(key, self.fetch(ref))
        return key


# --------------------------------------------------------------------------- stages


class Stage:
    """One pipeline stage. Subclasses say what their inputs are and do the work in :meth:`run`."""

    name: ClassVar[str]
    #: Bump when the stage's outputs change for the same inputs (invalidates old cache entries).
    version: ClassVar[int] = 1

    def inputs(self, ctx: StageContext, language: str | None) -> dict[str, Ref]:
        raise NotImplementedError

    def backend_options(self, ctx: StageContext, language: str | None, inputs: Mapping[str, Ref]) -> dict[str, Any]:
        return ctx.options(self.name)

    def requested_backend(self, ctx: StageContext, language: str | None, inputs: Mapping[str, Ref]) -> str:
        return ctx.requested_backend(self.name)

    def key_languages(self, ctx: StageContext, language: str | None, inputs: Mapping[str, Ref]) -> dict[str, str]:
        return {"target": language} if language else {}

    def run(self, ctx: StageContext, unit: Unit) -> UnitResult:
        raise NotImplementedError

    def publish(self, ctx: StageContext, language: str | None, outputs: Mapping[str, Ref]) -> dict[str, str]:
        """Copy final files out of the cache (mux, score); returns name → published key."""
        return {}

    def summary_outputs(self, published: Mapping[str, Mapping[str, Any]], entries: Mapping[str, Any]) -> dict[str, Any] | None:
        """The termination summary's ``outputs`` (per language: published keys, index entries); None: the default."""
        return None

    def index_extra(self, ctx: StageContext) -> dict[str, Any]:
        return {}


def stage_class(name: str) -> type[Stage]:
    import importlib

    if name not in STAGES:
        raise InputError("UnknownStage", f"unknown stage {name!r}; stages are {', '.join(STAGES)}")
    module = importlib.import_module(f"dubbing.stages.{name}")
    return module.STAGE


def _model_of(backend: Backend, identity: Mapping[str, Any], ctx: StageContext, options: Mapping[str, Any]) -> str | None:
    model = identity.get("model") or identity.get("voice")
    if model:
        return str(model)
    try:
        return type(backend).readiness(ctx.backend_context, options).model
    except Exception:  # noqa: BLE001 - the model name is informative only
        return None


def _complete_manifest(store: ArtifactStore, manifest_key: str) -> dict[str, Any] | None:
    """The entry's manifest if the entry is complete: the manifest exists and so does every output it lists."""
    try:
        manifest = store.get_json(manifest_key)
    except ArtifactNotFound:
        return None
    except (ValueError, UnicodeDecodeError):
        return None  # unreadable manifest: redo the work
    for ref in (manifest.get("outputs") or {}).values():
        info = store.stat(ref["key"])
        if info is None or info.size != int(ref["size"]):
            return None
    return manifest


def run_unit(stage: Stage, ctx: StageContext, language: str | None, progress: Progress) -> dict[str, Any]:
    """One unit of work (cache lookup, work, upload, manifest); returns its per-job index entry."""
    started = time.monotonic()
    inputs = stage.inputs(ctx, language)
    options = stage.backend_options(ctx, language, inputs)
    requested = stage.requested_backend(ctx, language, inputs)
    backend = ctx.backend(stage.name, requested, options)
    identity = backend.identity()
    model = _model_of(backend, identity, ctx, options)
    digests = {name: ref.sha256 for name, ref in inputs.items()}
    material = cachekey.key_material(stage.name, stage.version, identity, options, digests, stage.key_languages(ctx, language, inputs))
    key = cachekey.key_of(material)
    manifest_key = layout.manifest_key(stage.name, key)
    where = f" [{language}]" if language else ""

    manifest = _complete_manifest(ctx.store, manifest_key)
    hit = manifest is not None
    if manifest is not None:
        progress.update(100.0, f"cache hit{where}: {layout.cache_prefix(stage.name, key)}")
    else:
        progress.update(0.0, f"running {backend.name}{where}")
        out_dir = ctx.work_dir / "out" / stage.name / (language or layout.NO_LANGUAGE)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.mkdir(parents=True)
        unit = Unit(stage.name, language, backend, dict(options), inputs, key, out_dir, progress)
        result = stage.run(ctx, unit)
        wall = time.monotonic() - started
        manifest = {
            "apiVersion": MANIFEST_API,
            "stage": stage.name,
            "key": key,
            "language": language,
            "job": {"namespace": ctx.namespace, "name": ctx.name, "uid": ctx.job.metadata.uid},
            "backend": {"name": backend.name, "model": model, "identity": identity, "requested": requested},
            "options": cachekey.output_options(options),
            "keyMaterial": material,
            "inputs": {name: ref.as_dict() for name, ref in inputs.items()},
            "metrics": result.metrics,
            "tools": {
                "dubbing": __version__,
                "python": platform.python_version(),
                "ffmpeg": tool_version("ffmpeg"),
                "host": platform.node(),
                "device": ctx.backend_context.device,
            },
        }
        _store_entry(ctx.store, key, result.outputs, manifest, unit, started)
        progress.update(100.0, f"done{where} in {wall:.1f} s")
    return {
        "key": key,
        "manifest": manifest_key,
        "cacheHit": hit,
        "backend": backend.name,
        "model": model,
        "outputs": manifest["outputs"],
        "metrics": manifest.get("metrics", {}),
        "durationSeconds": round(time.monotonic() - started, 3),
    }


def _store_entry(store: ArtifactStore, key: str, outputs: Mapping[str, Path], manifest: dict[str, Any], unit: Unit, started: float) -> None:
    """Upload every output, then the manifest (last); on failure remove what was uploaded."""
    stage = unit.stage
    work = time.monotonic() - started
    uploaded: dict[str, Ref] = {}
    manifest_key = layout.manifest_key(stage, key)
    try:
        with unit.step("upload"):
            for name, path in sorted(outputs.items()):
                info = store.put_file(layout.cache_object(stage, key, name), Path(path))
                uploaded[name] = Ref(info.key, info.sha256 or sha256_file(Path(path)), info.size)
        manifest["outputs"] = {name: ref.as_dict() for name, ref in uploaded.items()}
        manifest["timings"] = {"wallSeconds": round(time.monotonic() - started, 3), "workSeconds": round(work, 3), "steps": dict(unit.steps)}
        manifest["createdAt"] = now_iso()
        store.put_json(manifest_key, manifest)
    except BaseException:
        with contextlib.suppress(Exception):
            if not store.exists(manifest_key):
                store.delete_prefix(layout.cache_prefix(stage, key) + "/")
        raise


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
            part = progress.part(number * share, (number + 1) * share, prefix=f"{language}: " if language and len(languages) > 1 else "")
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
    return {lang: (files.get("video") or files.get("audio") or next(iter(files.values()))) for lang, files in published.items()}


# ------------------------------------------------------------------------------ CLI


def load_job(job_file: str | None = None, env: Mapping[str, str] | None = None) -> DubbingJob:
    environ = os.environ if env is None else env
    try:
        if job_file:
            text = Path(job_file).read_text(encoding="utf-8")
            import yaml

            data = yaml.safe_load(text)
        else:
            raw = environ.get("DUBBING_JOB", "")
            if not raw:
                raise InputError("InvalidJob", "no job: set DUBBING_JOB (the DubbingJob as JSON) or pass --job-file")
            data = json.loads(raw)
    except (OSError, ValueError) as error:
        raise InputError("InvalidJob", f"cannot read the job: {error}") from None
    return parse_job(data)


def parse_job(data: Any) -> DubbingJob:
    """A DubbingJob from its manifest (status ignored); InputError(InvalidJob) naming the first bad field."""
    from pydantic import ValidationError

    if not isinstance(data, dict):
        raise InputError("InvalidJob", "the job is not a JSON/YAML object")
    data = {key: value for key, value in data.items() if key != "status"}
    try:
        return DubbingJob.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise InputError("InvalidJob", f"invalid DubbingJob: {where}: {first.get('msg')}") from None


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
        ctx = StageContext(
            job, store, BackendContext.from_env(), Path(args.work_dir) if args.work_dir else None, input_path=Path(args.input) if args.input else None
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
        )
    except StageFailure as failure:
        code = failure.exit_code
        sys.stderr.write(f"[{name}] failed: {failure.reason}: {failure.message}\n")
        summary = termination.summary(name, False, duration_seconds=time.monotonic() - started, reason=failure.reason, message=failure.message)
    except StoreError as error:
        code = 1
        sys.stderr.write(f"[{name}] failed: StoreUnavailable: {error}\n")
        summary = termination.summary(name, False, duration_seconds=time.monotonic() - started, reason="StoreUnavailable", message=str(error))
    except KeyboardInterrupt:
        code = 1
        summary = termination.summary(name, False, duration_seconds=time.monotonic() - started, reason="Interrupted", message="interrupted")
    except Exception as error:  # noqa: BLE001 - unexpected: traceback to stderr, summary still written
        code = 1
        traceback.print_exc()
        summary = termination.summary(
            name, False, duration_seconds=time.monotonic() - started, reason="InternalError", message=f"{type(error).__name__}: {error}"
        )
    finally:
        if ctx is not None:
            ctx.close()
    termination.write(args.termination_message_path, summary)
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
