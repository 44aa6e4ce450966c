"""A job's ``spec.voices``: what the tts stage is told, and the checks made before anything runs.

* ``{voice: name}`` must be a voice of the tts backend for every target language (the
  backend's readiness says so: an unknown Kokoro voice, espeak-ng variant, Piper speaker);
* ``{library: id}`` must be a voice of the job owner's library (another user's id is refused
  with that reason, an unknown one as unknown);
* ``{clone: true}`` needs a backend that clones (xtts with ``cloneVoices``).

The size and the shape of the mapping are the API's (at most 32 speakers; one source each).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..api.v1alpha1 import DubbingJob, DubbingJobSpec
from ..artifacts import ArtifactStore
from ..backends.base import Backend, BackendContext
from ..backends.casting import VOICES_OPTION
from ..backends.languages import TARGET_LANGUAGE_OPTION
from .library import Voice, VoiceError, VoiceLibrary, job_owner

#: The tts backend option with the library voices the job names (speaker → id, name, stock voices).
LIBRARY_OPTION = "libraryVoices"


def voices_option(spec: DubbingJobSpec) -> dict[str, dict[str, Any]]:
    """The mapping as the tts backend options carry it (and so the tts cache key)."""
    return {speaker: choice.model_dump(exclude_none=True) for speaker, choice in sorted((spec.voices or {}).items())}


def library_choices(spec: DubbingJobSpec) -> dict[str, str]:
    return {speaker: str(choice.library) for speaker, choice in (spec.voices or {}).items() if choice.library}


def clone_choices(spec: DubbingJobSpec) -> list[str]:
    return sorted(speaker for speaker, choice in (spec.voices or {}).items() if choice.clone)


def resolve_library(store: ArtifactStore, job: DubbingJob) -> dict[str, Voice]:
    """Speaker → the owner's library voice the job names; VoiceError for the first that is not the owner's."""
    choices = library_choices(job.spec)
    if not choices:
        return {}
    library = VoiceLibrary(store, job_owner(job))
    return {speaker: library.get(voice_id) for speaker, voice_id in sorted(choices.items())}


def library_option(voices: Mapping[str, Voice]) -> dict[str, dict[str, Any]]:
    """What the tts backend options say of the library voices (part of the cache key)."""
    return {
        speaker: {
            "id": voice.id,
            "name": voice.name,
            "files": dict(voice.meta.get("files") or {}),
            "stockVoices": dict(voice.meta.get("stockVoices") or {}),
        }
        for speaker, voice in sorted(voices.items())
    }


def tts_options(spec: DubbingJobSpec, language: str) -> dict[str, Any]:
    from ..stages.plan import stage_options

    options = {**stage_options(spec, "tts"), TARGET_LANGUAGE_OPTION: language}
    if spec.voices:
        options[VOICES_OPTION] = voices_option(spec)
    return options


def can_clone(backend: Backend) -> bool:
    return backend.name == "xtts" and bool(getattr(backend, "clone_voices", False))


def clone_problem(backend: Backend, speakers: list[str]) -> str | None:
    if speakers and not can_clone(backend):
        return (
            f"clone: true for {', '.join(speakers)} needs a backend that clones voices (xtts with cloneVoices); "
            f"the tts backend here is {backend.name}"
        )
    return None


def preflight(job: DubbingJob, store: ArtifactStore, context: BackendContext) -> list[str]:
    """Why the job's ``spec.voices`` cannot be honoured, before any stage runs; [] when it can."""
    from ..backends import registry

    spec = job.spec
    if not spec.voices:
        return []
    problems: list[str] = []
    try:
        resolve_library(store, job)
    except VoiceError as error:
        problems.append(f"{error.reason}: {error}")
    requested = str(tts_options(spec, spec.targetLanguages[0]).get("backend", "auto"))
    for language in dict.fromkeys(spec.targetLanguages):
        try:
            backend = registry.choose("tts", requested, context, tts_options(spec, language))
        except registry.BackendUnavailable as error:
            problems.append(f"tts for {language}: {error}")
            continue
        problem = clone_problem(backend, clone_choices(spec))
        if problem:
            problems.append(problem)
    return problems
