"""The segment editor's service: a job's segments as they are now, saving edits as a new
version in the artifact store (:mod:`dubbing.stages.editstore`), merging and splitting,
approving a review pause, rerunning with the edits, and a segment's source audio.

Only the job's owner reads or changes its segments; every refusal lists its reasons and
stores nothing.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from kubernetes.client.exceptions import ApiException

from dubbing.api import v1alpha1 as api
from dubbing.artifacts import ArtifactNotFound, parse_store_url
from dubbing.artifacts.base import StoreError, join
from dubbing.artifacts.minio_store import MinioStore, S3Settings
from dubbing.editcli import segment_rows
from dubbing.edits import EditsDocument, EditsError, with_merge, with_split
from dubbing.segments import Transcript
from dubbing.stages import editstore, layout

from .config import Settings
from .jobs import JobNotFound, JobService
from .objects import ObjectStore
from .segment_forms import FINISHED, approve_patch, changes_from_form, clip_span, paused_stage, speakers_of
from .store import User

CUT_TIMEOUT_S = 20.0
#: 16 kHz mono 16-bit WAV: what a cut of MAX_CLIP_S seconds can weigh, with room for the header.
MAX_CLIP_BYTES = 2 * 1024 * 1024


class EditorError(Exception):
    """Refused; ``reasons`` says why, every one."""

    def __init__(self, reasons: list[str], status: int = 422) -> None:
        self.reasons = reasons
        self.status = status
        super().__init__("; ".join(reasons))


def artifacts_store(settings: Settings, objects: ObjectStore) -> MinioStore:
    """The operator's artifact store, reached with the web UI's own MinIO client."""
    url = settings.artifacts_url or f"s3://{settings.upload_bucket}"
    scheme, bucket, prefix = parse_store_url(url)
    if scheme != "s3":
        raise ValueError(f"DUBBING_ARTIFACTS_URL must be s3://<bucket>[/<prefix>], not {url!r}")
    s3 = S3Settings(
        endpoint=settings.minio_endpoint,
        access_key=settings.minio_access_key,
        secret_key=settings.minio_secret_key,
        secure=settings.minio_secure,
        region=settings.minio_region,
    )
    return MinioStore(bucket, prefix, s3, client=objects.client)


class EditorService:
    def __init__(self, jobs: JobService, objects: ObjectStore, store: MinioStore) -> None:
        self.jobs = jobs
        self.objects = objects
        self.store = store

    # ------------------------------------------------------------------ reading
    def job(self, user: User, name: str) -> dict[str, Any]:
        """The job, for its owner only (another user's job is not found)."""
        obj = self.jobs.get(user, name)
        if ((obj.get("metadata") or {}).get("labels") or {}).get(api.OWNER_LABEL) != user.name:
            raise JobNotFound(name)
        return obj

    def _segments(self, name: str) -> tuple[Transcript, dict[str, Transcript]]:
        try:
            return editstore.job_segments(self.store, self.jobs.namespace, name)
        except EditsError as error:
            raise EditorError(["the job has no segments yet: they appear once asr has run"], 409) from error
        except (StoreError, KeyError, ValueError) as error:
            raise EditorError([f"the job's segments cannot be read: {error}"], 503) from error

    def _current(self, name: str) -> tuple[EditsDocument | None, int]:
        known = editstore.versions(self.store, self.jobs.namespace, name)
        document = editstore.load(self.store, self.jobs.namespace, name) if known else None
        return document, (known[-1] if known else 0)

    def view(self, user: User, name: str) -> dict[str, Any]:
        obj = self.job(user, name)
        transcript, translations = self._segments(name)
        document, version = self._current(name)
        rows = segment_rows(document, transcript, translations)
        phase = (obj.get("status") or {}).get("phase") or "Pending"
        return {
            "rows": rows,
            "languages": list(translations),
            "speakers": speakers_of(rows),
            "version": version,
            "phase": phase,
            "paused": paused_stage(obj),
            "finished": phase in FINISHED,
            "operations": len(document.structure) if document else 0,
        }

    # ------------------------------------------------------------------ changing
    def _check_version(self, name: str, based_on: int) -> EditsDocument | None:
        document, version = self._current(name)
        if based_on != version:
            raise EditorError(
                [f"the segments were saved meanwhile (version {version}, this page shows {based_on}): reload the page"],
                409,
            )
        return document

    def _store(self, obj: dict[str, Any], name: str, document: EditsDocument, replace_all: bool) -> int:
        transcript, translations = self._segments(name)
        languages = list((obj.get("spec") or {}).get("targetLanguages") or translations)
        try:
            saved = editstore.save(
                self.store,
                self.jobs.namespace,
                name,
                document,
                transcript,
                languages,
                replace_all=replace_all,
                translations=translations,
            )
        except EditsError as error:
            raise EditorError(error.reasons) from None
        return saved.version

    def save(self, user: User, name: str, form: Mapping[str, str], based_on: int, rerun: bool = False) -> int | None:
        """Store the form's changes as the next version (None: nothing changed, nothing stored);
        with ``rerun``, then run the finished job again (refused before anything is stored when
        it has not finished)."""
        obj = self.job(user, name)
        phase = (obj.get("status") or {}).get("phase") or "Pending"
        if rerun and phase not in FINISHED:
            raise EditorError([f"the job is {phase}: it can be rerun once it has finished"], 409)
        self._check_version(name, based_on)
        transcript, translations = self._segments(name)
        document, _ = self._current(name)
        rows = segment_rows(document, transcript, translations)
        try:
            changes = changes_from_form(rows, form, speakers_of(rows))
        except EditsError as error:
            raise EditorError(error.reasons) from None
        version = None if changes.is_empty() else self._store(obj, name, changes, replace_all=False)
        if rerun:
            with _changed_meanwhile():
                self.jobs.rerun(user, name)
        return version

    def save_document(self, user: User, name: str, changes: EditsDocument, based_on: int) -> int:
        """Store an edits document (API) laid over the newest version."""
        obj = self.job(user, name)
        self._check_version(name, based_on)
        if changes.is_empty():
            raise EditorError(["the edits document changes nothing"])
        return self._store(obj, name, changes, replace_all=False)

    def restructure(
        self,
        user: User,
        name: str,
        based_on: int,
        merge: tuple[int, int] | None = None,
        split: tuple[int, float] | None = None,
    ) -> int:
        """Merge two neighbours or split one segment, as the next version."""
        obj = self.job(user, name)
        document = self._check_version(name, based_on) or EditsDocument()
        transcript, translations = self._segments(name)
        try:
            if merge is not None:
                document = with_merge(document, transcript, translations, *merge)
            elif split is not None:
                document = with_split(document, transcript, translations, *split)
            else:
                raise EditsError(["neither a merge nor a split"])
        except EditsError as error:
            raise EditorError(error.reasons) from None
        return self._store(obj, name, document, replace_all=True)

    def approve(self, user: User, name: str) -> str:
        """Let the paused job go on: its stage joins ``spec.review.approved``."""
        obj = self.job(user, name)
        stage = paused_stage(obj)
        if stage is None:
            phase = (obj.get("status") or {}).get("phase") or "Pending"
            raise EditorError([f"the job is not waiting for review (it is {phase})"], 409)
        with _changed_meanwhile():
            self.jobs.patch(user, name, approve_patch(obj, stage))
        return stage

    # ------------------------------------------------------------------ audio
    def audio(self, user: User, name: str, ident: int) -> bytes:
        """The segment's span of the job's extracted speech, as 16 kHz mono WAV (cut by ffmpeg)."""
        self.job(user, name)
        transcript, translations = self._segments(name)
        document, _ = self._current(name)
        rows = {row["id"]: row for row in segment_rows(document, transcript, translations)}
        if ident not in rows:
            raise EditorError([f"segment {ident}: no such segment"], 404)
        try:
            offset, length = clip_span(rows[ident]["start"], rows[ident]["end"], transcript.duration)
        except EditsError as error:
            raise EditorError(error.reasons, 404) from None
        try:
            index = self.store.get_json(layout.job_index_key(self.jobs.namespace, name, "extract"))
            key = index["entries"][layout.NO_LANGUAGE]["outputs"]["speech.wav"]["key"]
        except (ArtifactNotFound, KeyError, TypeError):
            raise EditorError(["the job's extracted audio is not there"], 404) from None
        url = self.objects.client.presigned_get_object(
            self.store.bucket, join(self.store.prefix, key), expires=timedelta(minutes=2)
        )
        return cut_wav(url, offset, length)


@contextmanager
def _changed_meanwhile() -> Iterator[None]:
    """A patch refused because the job changed since it was read (HTTP 409): say so."""
    try:
        yield
    except ApiException as error:
        if error.status == 409:
            raise EditorError(["the job changed meanwhile: reload the page and try again"], 409) from None
        raise


def cut_wav(source: str, offset: float, length: float) -> bytes:
    """``length`` seconds of ``source`` (a file or an http(s) URL) from ``offset``, as 16 kHz mono
    WAV (written to a temporary file, so its header carries the sizes)."""
    with tempfile.TemporaryDirectory(prefix="dubbing-cut-") as tmp:
        out = Path(tmp) / "segment.wav"
        command = [
            "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
            "-ss", f"{offset:.3f}", "-t", f"{length:.3f}", "-i", source,
            "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", "-fs", str(MAX_CLIP_BYTES), str(out),
        ]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, timeout=CUT_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise EditorError(["cutting the segment's audio took too long"], 503) from None
        if done.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
            raise EditorError([f"cutting the segment's audio failed: {tail[0][:300]}"], 503)
        if out.stat().st_size > MAX_CLIP_BYTES + 4096:
            raise EditorError(["the segment's audio is larger than a segment's can be"], 503)
        return out.read_bytes()
