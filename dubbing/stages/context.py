"""The stage context: the job, the artifact store, scratch space, the inputs and the backends of one stage run."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..api.v1alpha1 import DubbingJob
from ..artifacts import ArtifactNotFound, ArtifactStore, LocalStore
from ..backends.base import Backend, BackendContext
from ..config.stage import StageSettings
from . import cachekey, layout
from .datatypes import Ref
from .errors import InputError, MissingInput, StageFailure
from .plan import stage_options
from .progress import Sink, print_sink


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
        self.work_dir = (
            Path(work_dir)
            if work_dir
            else Path(tempfile.mkdtemp(prefix="dubbing-work-", dir=StageSettings.from_env().work_dir))
        )
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
            raise MissingInput(
                f"stage {stage} has not run for job {self.namespace}/{self.name} (no {self.index_key(stage)})"
            )
        entry = (index.get("entries") or {}).get(language or layout.NO_LANGUAGE)
        if entry is None:
            raise MissingInput(
                f"stage {stage} has no output for language {language} in job {self.namespace}/{self.name}"
            )
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
        return (
            f"s3://{spec.bucket}/{spec.key}"
            if self.store.scheme == "s3"
            else self.store.for_bucket(spec.bucket or "").url(spec.key or "")
        )

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

        from .. import safefetch
        from ..netpolicy import UrlPolicy, UrlRefused, parse_networks

        settings = StageSettings.from_env()
        policy = UrlPolicy(enabled=settings.input_urls, allow=parse_networks(settings.input_url_allow_networks))
        name = Path(url.split("?", 1)[0]).name or "input"
        dest = self.scratch("input") / name
        partial = dest.with_name(dest.name + ".part")
        try:
            with safefetch.get(url, policy) as response:
                if response.status_code in (401, 403, 404, 410):
                    raise InputError("InputNotFound", f"input URL answered HTTP {response.status_code}")
                if response.status_code >= 400:
                    raise StageFailure("InputUnreachable", f"input URL answered HTTP {response.status_code}")
                with open(partial, "wb") as handle:
                    for chunk in response.iter_bytes(1 << 20):
                        handle.write(chunk)
        except UrlRefused as error:
            raise InputError("InputURLRefused", f"input URL refused: {error}") from None
        except httpx.HTTPError as error:
            partial.unlink(missing_ok=True)
            raise StageFailure("InputUnreachable", f"cannot download the input: {type(error).__name__}") from None
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
                # A server that does not answer now may later: that failure is retried.
                reason = "BackendUnreachable" if error.transient else "BackendUnavailable"
                raise StageFailure(reason, str(error), permanent=not error.transient) from None
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
