"""The per-user voice library, kept in the artifact store.

::

    voices/<owner>/<id>/meta.json     name, consent note, source job, speaker, created, the files below
    voices/<owner>/<id>/ref.wav       the speaker's reference clip (their cleanest speech, at most 20 s)
    voices/<owner>/<id>/latents.pt    XTTS conditioning latents, when the job's backend made them
    voice-ids/<id>.json               {"owner": ...}: which user an id belongs to (the refusal names it so)

``meta.json`` is written LAST on save and removed FIRST on delete: a voice without it does
not exist.  A job's stage Pods may read ``voices/<owner>/`` of the job's owner only
(operator/dubbing_operator/s3policy.py), so a job can never reach another user's voices.
Ids are random; names are the user's and may repeat.  Every bound is checked before anything
is written (nothing half-applied): at most :data:`MAX_VOICES` voices per user, names of at
most 80 characters, consent notes of at most 1,000.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..api.v1alpha1 import OWNER_LABEL, VOICE_ID_PATTERN, DubbingJob
from ..artifacts import ArtifactNotFound, ArtifactStore, StoreError
from ..artifacts.base import join

ROOT = "voices"
IDS = "voice-ids"
META = "meta.json"
REFERENCE = "ref.wav"
LATENTS = "latents.pt"
MAX_VOICES = 100
MAX_NAME = 80
MAX_CONSENT = 1000
OWNER_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9_.@-]{0,61}[A-Za-z0-9])?$"
#: A reference clip or latents file larger than this is refused (20 s of 48 kHz stereo float is 7.7 MB).
MAX_FILE_BYTES = 16 * 1024 * 1024


class VoiceError(ValueError):
    """A refused library request: ``reason`` (CamelCase) and a one-line message for the user."""

    STATUS = {"VoiceNotFound": 404, "VoiceOfAnotherUser": 403, "InvalidVoice": 422, "VoiceLibraryFull": 409}

    def __init__(self, reason: str, message: str, voice_id: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.voice_id = voice_id

    @property
    def http_status(self) -> int:
        return self.STATUS.get(self.reason, 400)


@dataclass(frozen=True)
class Voice:
    id: str
    owner: str
    meta: Mapping[str, Any]

    @property
    def name(self) -> str:
        return str(self.meta.get("name", ""))

    def key(self, name: str) -> str:
        return voice_key(self.owner, self.id, name)

    def as_dict(self) -> dict[str, Any]:
        return {**self.meta, "id": self.id, "owner": self.owner}


def job_owner(job: DubbingJob) -> str:
    """The user a job belongs to: its owner label, else its namespace (as the operator tells it)."""
    return (job.metadata.labels or {}).get(OWNER_LABEL) or job.metadata.namespace or "default"


def check_owner(owner: str) -> str:
    if not re.fullmatch(OWNER_PATTERN, owner or "") or ".." in owner:
        raise VoiceError("InvalidVoice", f"bad owner name {owner[:80]!r}")
    return owner


def check_id(voice_id: str) -> str:
    if not re.fullmatch(VOICE_ID_PATTERN, voice_id or ""):
        raise VoiceError("InvalidVoice", f"bad voice id {str(voice_id)[:80]!r} (3-63 lower-case letters, digits, '-')")
    return voice_id


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise VoiceError("InvalidVoice", f"a voice name is 1-{MAX_NAME} printable characters")
    return name


def check_consent(note: str) -> str:
    note = (note or "").strip()
    if not note:
        raise VoiceError("InvalidVoice", "a consent note is required: who agreed to this voice being kept, and how")
    if len(note) > MAX_CONSENT:
        raise VoiceError("InvalidVoice", f"the consent note is longer than {MAX_CONSENT} characters")
    return note


def owner_prefix(owner: str) -> str:
    return join(ROOT, check_owner(owner))


def voice_prefix(owner: str, voice_id: str) -> str:
    return join(owner_prefix(owner), check_id(voice_id))


def voice_key(owner: str, voice_id: str, name: str) -> str:
    return join(voice_prefix(owner, voice_id), name)


def id_key(voice_id: str) -> str:
    return join(IDS, f"{check_id(voice_id)}.json")


def new_id() -> str:
    return f"v-{secrets.token_hex(8)}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class VoiceLibrary:
    """One user's view of the library in ``store`` (the artifact store)."""

    def __init__(self, store: ArtifactStore, owner: str) -> None:
        self.store = store
        self.owner = check_owner(owner)

    def _meta(self, voice_id: str) -> dict[str, Any] | None:
        try:
            meta = self.store.get_json(voice_key(self.owner, voice_id, META))
        except ArtifactNotFound:
            return None
        return meta if isinstance(meta, dict) else None

    def get(self, voice_id: str) -> Voice:
        """The owner's voice ``voice_id``; refused with the reason when it is another user's or absent."""
        check_id(voice_id)
        meta = self._meta(voice_id)
        if meta is not None:
            return Voice(voice_id, self.owner, meta)
        try:
            other = self.store.get_json(id_key(voice_id)).get("owner")
        except (StoreError, AttributeError, ValueError):
            other = None  # absent, or not readable with a job's keys (they reach the owner's voices only)
        if other and other != self.owner:
            raise VoiceError(
                "VoiceOfAnotherUser", f"voice {voice_id} belongs to another user, not to {self.owner}", voice_id
            )
        raise VoiceError("VoiceNotFound", f"no voice {voice_id} in {self.owner}'s voice library", voice_id)

    def list(self) -> list[Voice]:
        found = []
        for info in self.store.list(owner_prefix(self.owner) + "/"):
            parts = info.key.split("/")
            if len(parts) == 4 and parts[3] == META and re.fullmatch(VOICE_ID_PATTERN, parts[2]):
                meta = self._meta(parts[2])
                if meta is not None:
                    found.append(Voice(parts[2], self.owner, meta))
        return sorted(found, key=lambda v: (str(v.meta.get("created", "")), v.id))

    def save(
        self,
        name: str,
        consent: str,
        reference: Path,
        details: Mapping[str, Any],
        latents: Path | None = None,
    ) -> Voice:
        """Store a new voice: the reference clip (and latents), then ``meta.json`` last."""
        name, consent = check_name(name), check_consent(consent)
        for path in (reference, latents):
            if path is not None and (not path.is_file() or path.stat().st_size > MAX_FILE_BYTES):
                raise VoiceError("InvalidVoice", f"{path.name}: missing or larger than {MAX_FILE_BYTES} bytes")
        if len(self.list()) >= MAX_VOICES:
            raise VoiceError("VoiceLibraryFull", f"{self.owner}'s voice library holds {MAX_VOICES} voices already")
        voice_id = new_id()
        written: list[str] = []
        try:
            files: dict[str, Any] = {}
            for stored, path in ((REFERENCE, reference), (LATENTS, latents)):
                if path is None:
                    continue
                info = self.store.put_file(voice_key(self.owner, voice_id, stored), path)
                written.append(info.key)
                files[stored] = {"sha256": info.sha256, "size": info.size}
            self.store.put_json(id_key(voice_id), {"owner": self.owner})
            written.append(id_key(voice_id))
            meta = {
                **dict(details),
                "name": name,
                "consent": consent,
                "created": now_iso(),
                "files": files,
            }
            self.store.put_json(voice_key(self.owner, voice_id, META), meta)
        except BaseException:
            for key in written:
                self.store.delete(key)
            raise
        return Voice(voice_id, self.owner, meta)

    def rename(self, voice_id: str, name: str) -> Voice:
        voice = self.get(voice_id)
        name = check_name(name)
        meta = {**voice.meta, "name": name}
        self.store.put_json(voice.key(META), meta)
        return Voice(voice.id, self.owner, meta)

    def delete(self, voice_id: str) -> Voice:
        voice = self.get(voice_id)
        self.store.delete(voice.key(META))  # first: from here on the voice does not exist
        for info in list(self.store.list(voice_prefix(self.owner, voice_id) + "/")):
            self.store.delete(info.key)
        self.store.delete(id_key(voice_id))
        return voice

    def delete_all(self) -> int:
        """Remove every voice of the owner (their account is gone: a new account of the same name must
        not inherit voices someone consented to for another person); returns how many."""
        voices = self.list()
        for voice in voices:
            self.delete(voice.id)
        for info in list(self.store.list(owner_prefix(self.owner) + "/")):  # half-saved leftovers
            self.store.delete(info.key)
        return len(voices)

    def file_ref(self, voice: Voice, stored: str) -> tuple[str, str, int] | None:
        """(key, sha256, size) of one of the voice's files, as its meta.json records it."""
        entry = (voice.meta.get("files") or {}).get(stored)
        if not isinstance(entry, Mapping) or not entry.get("sha256"):
            return None
        return voice.key(stored), str(entry["sha256"]), int(entry["size"])


def describe(voice: Voice) -> str:
    """One line for the CLI: id, name, speaker and source job, created."""
    meta = voice.meta
    job = meta.get("sourceJob") or {}
    return (
        f"{voice.id}  {voice.name!r}  speaker {meta.get('speaker', '?')} of "
        f"{job.get('namespace', '?')}/{job.get('name', '?')}  {meta.get('seconds', '?')} s  {meta.get('created', '')}"
    )


def dumps(voice: Voice) -> str:
    return json.dumps(voice.as_dict(), ensure_ascii=False)
