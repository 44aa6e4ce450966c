"""The tts stage's side of ``spec.voices`` (:mod:`dubbing.voices.check`).

* the mapping goes into the backend options (so into the tts cache key), with the library
  voices it names resolved in the owner's library (their ids, names, file digests);
* a library voice's files are inputs of the stage (``library/<speaker>.wav``, and
  ``library/<speaker>.pt`` for XTTS latents): their digests are in the cache key, and the
  stage cuts no reference clip for that speaker;
* the voices named per speaker, and the stock voice a library voice had in its source job
  for this backend and language, are cast first (``fixed``); the other speakers get distinct
  voices (:func:`dubbing.backends.casting.distinct_cast`);
* ``clips.json`` says where each speaker's voice came from (``voiceSources``).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..backends.base import Backend
from ..backends.casting import named_voices
from ..voices import check
from ..voices.library import LATENTS, REFERENCE, VoiceError, VoiceLibrary, job_owner
from .context import StageContext
from .datatypes import Ref
from .errors import InputError

LIBRARY_INPUT = "library/"


def _resolved(ctx: StageContext) -> dict[str, Any]:
    try:
        return check.resolve_library(ctx.store, ctx.job)
    except VoiceError as error:
        raise InputError("InvalidVoices", f"spec.voices: {error}") from None


def backend_options(ctx: StageContext, language: str) -> dict[str, Any]:
    options = check.tts_options(ctx.job.spec, language)
    voices = _resolved(ctx)
    if voices:
        options[check.LIBRARY_OPTION] = check.library_option(voices)
    clone = check.clone_choices(ctx.job.spec)
    if clone and options.get("backend") not in ("auto", "xtts"):
        raise InputError("InvalidVoices", f"spec.voices: clone: true needs the xtts backend, not {options['backend']}")
    return options


def library_inputs(ctx: StageContext) -> dict[str, Ref]:
    """``library/<speaker>.wav`` (and ``.pt``) for each library voice the job names."""
    voices = _resolved(ctx)
    if not voices:
        return {}
    library = VoiceLibrary(ctx.store, job_owner(ctx.job))
    refs: dict[str, Ref] = {}
    for speaker, voice in voices.items():
        for stored, suffix in ((REFERENCE, ".wav"), (LATENTS, ".pt")):
            found = library.file_ref(voice, stored)
            if found is not None:
                refs[f"{LIBRARY_INPUT}{speaker}{suffix}"] = Ref(*found)
    return refs


def library_refs(ctx: StageContext, inputs: Mapping[str, Ref], refs_dir: Path) -> dict[str, list[Path]]:
    """Speaker → their library files as local paths: ``refs/<speaker>.wav`` first, then latents."""
    found: dict[str, list[Path]] = {}
    for name, ref in sorted(inputs.items()):
        if not name.startswith(LIBRARY_INPUT) or not name.endswith(".wav"):
            continue
        speaker = name[len(LIBRARY_INPUT) : -len(".wav")]
        refs_dir.mkdir(parents=True, exist_ok=True)
        wav = refs_dir / f"{speaker}.wav"
        shutil.copyfile(ctx.fetch(ref), wav)
        found[speaker] = [wav]
        latents = inputs.get(f"{LIBRARY_INPUT}{speaker}.pt")
        if latents is not None:
            found[speaker].append(ctx.fetch(latents))
    return found


def fixed_voices(options: Mapping[str, Any], backend: str, language: str) -> dict[str, str]:
    """Voices cast before the others: those the job names, and each library voice's stock voice
    for this backend and language (the one its speaker had in the job it was saved from)."""
    fixed = named_voices(options)
    for speaker, entry in (options.get(check.LIBRARY_OPTION) or {}).items():
        stock = ((entry.get("stockVoices") or {}).get(backend) or {}).get(language)
        if stock and speaker not in fixed:
            fixed[speaker] = str(stock)
    return fixed


def export_latents(backend: Backend, refs: Mapping[str, Path], cut: Sequence[str], out_dir: Path) -> dict[str, Path]:
    """XTTS conditioning latents of the speakers whose clips this job cut (for the voice library)."""
    export = getattr(backend, "export_voice", None)
    if export is None or not check.can_clone(backend):
        return {}
    saved: dict[str, Path] = {}
    for speaker in cut:
        path = out_dir / f"{speaker}.pt"
        if export([refs[speaker]], path):
            saved[speaker] = path
    return saved


def voice_sources(
    speakers: Sequence[str], options: Mapping[str, Any], cut: Sequence[str], voices: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """Per speaker: where their voice came from (``library``, ``named``, ``cast``, with ``cut``: a
    reference clip cut from this job's audio)."""
    library = options.get(check.LIBRARY_OPTION) or {}
    named = named_voices(options)
    out: dict[str, dict[str, Any]] = {}
    for speaker in sorted(set(speakers) | set(library) | set(cut)):
        entry: dict[str, Any]
        if speaker in library:
            entry = {"source": "library", "id": library[speaker]["id"], "name": library[speaker]["name"]}
        elif speaker in named:
            entry = {"source": "named"}
        else:
            entry = {"source": "cast" if speaker in voices else "clone"}
        if speaker in voices:
            entry["voice"] = voices[speaker]
        entry["cut"] = speaker in cut
        out[speaker] = entry
    return out
