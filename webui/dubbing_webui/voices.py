"""The user's voice library in the web UI (:mod:`dubbing.voices.library`, in the artifacts bucket).

Owner-only: every call works on ``voices/<user>/``; another user's voice id is refused as
not in the user's library (404), exactly like an unknown one, so ids are no oracle.  A voice is saved from one of the user's own
jobs (an admin may see other users' jobs, but keeps only voices of their own).  A job request
naming library voices (``options.voices``) is checked here before the job is created.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dubbing.api import v1alpha1 as api
from dubbing.artifacts import ArtifactStore, StoreError
from dubbing.voices.fromjob import save_from_job
from dubbing.voices.library import Voice, VoiceError, VoiceLibrary

from .config import Settings
from .editor import artifacts_store
from .jobs import JobService
from .objects import ObjectStore, StoreUnavailable
from .store import User

#: Library refusals the web UI gives as "not in your library", whichever it is (ids are no oracle).
UNSEEN = frozenset({"VoiceNotFound", "VoiceOfAnotherUser"})


class VoiceService:
    def __init__(self, settings: Settings, objects: ObjectStore, jobs: JobService) -> None:
        self.store: ArtifactStore = artifacts_store(settings, objects)  # where the stage Pods read them
        self.jobs = jobs
        self.namespace = settings.namespace

    def library(self, user: User) -> VoiceLibrary:
        return VoiceLibrary(self.store, user.name)

    def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except StoreError as error:
            raise StoreUnavailable(str(error)) from error

    def list(self, user: User) -> list[Voice]:
        return list(self._call(self.library(user).list))

    def get(self, user: User, voice_id: str) -> Voice:
        return self._call(self.library(user).get, voice_id)

    def rename(self, user: User, voice_id: str, name: str) -> Voice:
        return self._call(self.library(user).rename, voice_id, name)

    def delete(self, user: User, voice_id: str) -> Voice:
        return self._call(self.library(user).delete, voice_id)

    def forget_user(self, name: str) -> int:
        """Remove a deleted account's whole library."""
        return int(self._call(VoiceLibrary(self.store, name).delete_all))

    def save(self, user: User, job: str, speaker: str, name: str, consent: str) -> Voice:
        """Keep ``speaker`` of the user's own job ``job`` (JobNotFound when it is not theirs to see)."""
        obj = self.jobs.get(user, job)
        owner = ((obj.get("metadata") or {}).get("labels") or {}).get(api.OWNER_LABEL)
        if owner != user.name:
            raise VoiceError(
                "VoiceOfAnotherUser", f"job {job} belongs to another user: only its owner may keep its voices"
            )
        return self._call(save_from_job, self.store, user.name, self.namespace, job, speaker, name, consent)

    def check_request(self, user: User, voices: Any) -> None:
        """Refuse a job request whose ``options.voices`` names a library voice that is not the user's."""
        if not voices:
            return
        if not isinstance(voices, Mapping):
            raise VoiceError("InvalidVoice", "options.voices: a mapping of speaker to {voice|library|clone}")
        if len(voices) > api.MAX_VOICE_MAPPINGS:
            raise VoiceError("InvalidVoice", f"options.voices: at most {api.MAX_VOICE_MAPPINGS} speakers")
        library = self.library(user)
        for speaker, choice in voices.items():
            if isinstance(choice, Mapping) and isinstance(choice.get("library"), str):
                try:
                    self._call(library.get, choice["library"])
                except VoiceError as error:
                    where = f"options.voices.{str(speaker)[:64]}"
                    if error.reason in UNSEEN:  # another user's voice answers like a missing one
                        raise VoiceError(
                            "VoiceNotFound", f"{where}: no voice {error.voice_id} in your voice library"
                        ) from None
                    raise VoiceError(error.reason, f"{where}: {error}") from None


def view(voice: Voice) -> dict[str, Any]:
    """What the API and the page show of a voice (the file digests stay in the store)."""
    meta = voice.meta
    return {
        "id": voice.id,
        "name": voice.name,
        "consent": meta.get("consent"),
        "speaker": meta.get("speaker"),
        "sourceJob": (meta.get("sourceJob") or {}).get("name"),
        "seconds": meta.get("seconds"),
        "created": meta.get("created"),
        "latents": "latents.pt" in (meta.get("files") or {}),
        "stockVoices": meta.get("stockVoices") or {},
    }
