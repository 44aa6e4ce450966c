"""Save a speaker of a finished job into the owner's voice library.

The reference clip is cut from the job's separated vocals (the ``separate`` stage's
``vocals.wav``) over the speaker's cleanest speech (:func:`dubbing.voices.refspans.cleanest_spans`
on the ``asr`` stage's transcript); the XTTS conditioning latents come along when the job's
``tts`` stage made them (``latents/<speaker>.pt``).  Everything is checked before anything is
written.  Whether the job is the user's is the caller's check (the web UI asks the API server;
``dubbing voices save`` works on the user's own artifact store).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..artifacts import ArtifactNotFound, ArtifactStore
from ..segments import Transcript
from ..stages import layout
from .library import Voice, VoiceError, VoiceLibrary, check_consent, check_name
from .refspans import MAX_TOTAL_SECONDS, Span, cleanest_spans

CRITERION = "asr-confidence"


def _output(store: ArtifactStore, namespace: str, job: str, stage: str, name: str) -> str | None:
    """The store key of one output of a stage of the job (any language), or None."""
    try:
        index = store.get_json(layout.job_index_key(namespace, job, stage))
    except (ArtifactNotFound, ValueError):
        return None
    for entry in (index.get("entries") or {}).values():
        ref = (entry.get("outputs") or {}).get(name)
        if ref and ref.get("key"):
            return str(ref["key"])
    return None


def stock_voices(store: ArtifactStore, namespace: str, job: str, speaker: str) -> dict[str, dict[str, str]]:
    """Backend → language → the stock voice ``speaker`` had in the job's tts stage (its ``clips.json``)."""
    try:
        index = store.get_json(layout.job_index_key(namespace, job, "tts"))
    except (ArtifactNotFound, ValueError):
        return {}
    found: dict[str, dict[str, str]] = {}
    for language, entry in sorted((index.get("entries") or {}).items()):
        ref = (entry.get("outputs") or {}).get("clips.json")
        if not ref:
            continue
        try:
            voice = (store.get_json(str(ref["key"])).get("voices") or {}).get(speaker)
        except (ArtifactNotFound, ValueError, AttributeError):
            continue
        if voice:
            found.setdefault(str(entry.get("backend")), {})[language] = str(voice)
    return found


def cut_spans(vocals: Path, spans: Sequence[Span], out: Path, gap_seconds: float = 0.2) -> float:
    """Write the spans of ``vocals`` (channels averaged) joined by short pauses as a mono WAV; its seconds."""
    import numpy as np
    import soundfile as sf

    pieces = []
    with sf.SoundFile(str(vocals)) as sound:
        rate = sound.samplerate
        gap = np.zeros(int(gap_seconds * rate), dtype=np.float32)
        for span in spans:
            first, last = max(0, int(span.start * rate)), min(sound.frames, int(span.end * rate))
            if last <= first:
                continue
            sound.seek(first)
            piece = sound.read(last - first, dtype="float32", always_2d=True).mean(axis=1)
            pieces.extend([piece, gap])
    if not pieces:
        return 0.0
    audio = np.concatenate(pieces[:-1])
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(out), audio, rate, subtype="PCM_16")
    return audio.size / rate


def save_from_job(
    store: ArtifactStore, owner: str, namespace: str, job: str, speaker: str, name: str, consent: str
) -> Voice:
    """Cut ``speaker``'s reference clip from the finished job and keep it as a new voice of ``owner``."""
    library = VoiceLibrary(store, owner)
    name, consent = check_name(name), check_consent(consent)
    transcript_key = _output(store, namespace, job, "asr", "transcript.json")
    vocals_key = _output(store, namespace, job, "separate", "vocals.wav")
    if transcript_key is None or vocals_key is None:
        raise VoiceError("VoiceNotFound", f"job {namespace}/{job} has no transcript and separated vocals yet")
    transcript = Transcript.from_dict(store.get_json(transcript_key))
    speakers = sorted({segment.speaker for segment in transcript.segments})
    if speaker not in speakers:
        raise VoiceError(
            "VoiceNotFound", f"job {namespace}/{job} has no speaker {speaker[:64]!r} (it has {', '.join(speakers)})"
        )
    spans = cleanest_spans(transcript.segments, speaker, MAX_TOTAL_SECONDS)
    if not spans:
        raise VoiceError("InvalidVoice", f"speaker {speaker} of {namespace}/{job} has no segment of 1 s or more")
    latents_key = _output(store, namespace, job, "tts", f"latents/{speaker}.pt")
    with tempfile.TemporaryDirectory(prefix="dubbing-voice-") as tmp:
        vocals = store.get_file(vocals_key, Path(tmp) / "vocals.wav")
        reference = Path(tmp) / "ref.wav"
        seconds = cut_spans(vocals, spans, reference)
        latents = store.get_file(latents_key, Path(tmp) / "latents.pt") if latents_key else None
        details: dict[str, Any] = {
            "sourceJob": {"namespace": namespace, "name": job},
            "speaker": speaker,
            "seconds": round(seconds, 2),
            "spans": [span.as_dict() for span in spans],
            "criterion": CRITERION,
            "stockVoices": stock_voices(store, namespace, job, speaker),
        }
        return library.save(name, consent, reference, details, latents)
