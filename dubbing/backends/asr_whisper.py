"""ASR backend ``faster-whisper``: Whisper (CTranslate2) with word timestamps, speakers from the turns."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import soundfile as sf

from ..segments import Segment, SpeakerTurn, Transcript, Word
from .audio import read_mono_span
from .base import BackendContext, Readiness, Transcriber, module_available
from .speaker_assign import assign_speakers
from .whisper_weights import locate, resolve

DEFAULT_MODEL = "base"
WHISPER_RATE = 16000
#: Audio transcribed at a time: a longer input is cut into chunks of at most this long (faster-whisper's
#: VAD holds state in proportion to the audio it is given: 600 s chunks took 1.46x the memory of 300 s)...
CHUNK_SECONDS = 300.0
#: ... each cut in the quietest moment of its chunk's last this-many seconds.
CUT_SEARCH_SECONDS = 30.0


def compute_type_for(device: str, requested: str | None) -> str:
    """int8 on CPU, float16 on CUDA, unless the job asks for a specific type."""
    if requested and requested != "auto":
        return requested
    return "float16" if device == "cuda" else "int8"


class FasterWhisper(Transcriber):
    name: ClassVar[str] = "faster-whisper"
    gpu_preferred: ClassVar[bool] = True

    @classmethod
    def readiness(cls, context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        model = str(options.get("model") or DEFAULT_MODEL)
        if not module_available("faster_whisper"):
            return Readiness(
                cls.stage,
                cls.name,
                installed=False,
                ready=False,
                reason="module faster_whisper not installed",
                model=model,
            )
        location = locate(context.model_cache, model)
        if not location.found:
            return Readiness(
                cls.stage, cls.name, installed=True, ready=False, reason=location.reason_absent(), model=model
            )
        return Readiness(
            cls.stage, cls.name, installed=True, ready=True, model=model, details={"weights": location.describe()}
        )

    def __init__(self, context: BackendContext, options: Mapping[str, Any]) -> None:
        super().__init__(context, options)
        self.model_name = str(self.options.get("model") or DEFAULT_MODEL)
        self._model: Any = None

    def identity(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model_name,
            "weights": locate(self.context.model_cache, self.model_name).describe(),
            "beamSize": int(self.options.get("beamSize", 5)),
            "vad": bool(self.options.get("vad", True)),
            "computeType": compute_type_for(self.context.device, self.options.get("computeType")),
        }

    def load(self) -> Any:
        if self._model is None:
            from faster_whisper import WhisperModel

            folder = resolve(self.context.model_cache, self.model_name)
            device = "cuda" if self.context.device == "cuda" else "cpu"
            self._model = WhisperModel(
                str(folder),
                device=device,
                compute_type=compute_type_for(device, self.options.get("computeType")),
                cpu_threads=int(self.options.get("cpuThreads", 0)),
            )
        return self._model

    def transcribe(self, speech_wav: Path, language: str | None, turns: Sequence[SpeakerTurn]) -> Transcript:
        """Transcribe a chunk of at most ``CHUNK_SECONDS`` at a time (cut in the quietest moment near
        its end), so memory does not grow with the input; a shorter input is one chunk, as a whole."""
        model = self.load()
        whisper_language = None if language in (None, "", "auto") else language.split("-", 1)[0].lower()
        segments: list[Segment] = []
        detected: str | None = None
        with contextlib.ExitStack() as stack:
            sound = stack.enter_context(sf.SoundFile(str(as_whisper_audio(speech_wav, stack))))
            total = int(sound.frames)
            for first, last in chunk_bounds(sound, CHUNK_SECONDS, CUT_SEARCH_SECONDS):
                pieces, info = model.transcribe(
                    read_mono_span(sound, first, last),
                    language=whisper_language or detected,
                    beam_size=int(self.options.get("beamSize", 5)),
                    word_timestamps=True,
                    vad_filter=bool(self.options.get("vad", True)),
                    condition_on_previous_text=False,
                )
                offset = first / WHISPER_RATE
                before = len(segments)
                segments += [
                    Segment(
                        id=len(segments) + index,
                        start=offset + float(piece.start),
                        end=offset + float(piece.end),
                        text=piece.text.strip(),
                        words=tuple(
                            Word(
                                offset + float(word.start), offset + float(word.end), word.word, float(word.probability)
                            )
                            for word in (piece.words or ())
                        ),
                    )
                    for index, piece in enumerate(pieces)
                ]
                if detected is None and (len(segments) > before or last >= total):
                    detected = info.language  # the first chunk with speech decides for the rest
        return Transcript(
            language=language or detected or "",
            segments=tuple(assign_speakers(segments, turns)),
            duration=total / WHISPER_RATE,
        )


def as_whisper_audio(path: Path, stack: contextlib.ExitStack) -> Path:
    """``path`` when it is 16 kHz mono already, else a 16 kHz mono PCM copy (ffmpeg, streamed) that
    ``stack`` removes."""
    info = sf.info(str(path))
    if info.samplerate == WHISPER_RATE and info.channels == 1:
        return path
    from ..stages.media import run_ffmpeg

    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dubbing-asr-")))
    out = folder / "speech16k.wav"
    run_ffmpeg(
        ["-i", str(path), "-ac", "1", "-ar", str(WHISPER_RATE), "-c:a", "pcm_s16le", str(out)], "resample for ASR"
    )
    return out


def chunk_bounds(sound: Any, chunk_seconds: float, search_seconds: float) -> list[tuple[int, int]]:
    """``[first, last)`` sample ranges of at most ``chunk_seconds`` covering an open sound file; each
    cut lies in the quietest 30 ms frame of the last ``search_seconds`` of its chunk (between words)."""
    rate, total = int(sound.samplerate), int(sound.frames)
    size, search = int(chunk_seconds * rate), int(search_seconds * rate)
    bounds: list[tuple[int, int]] = []
    first = 0
    while first < total:
        last = min(total, first + size)
        if last < total:
            window_start = max(first + 1, last - search)
            last = window_start + quietest_frame(read_mono_span(sound, window_start, last), rate)
        bounds.append((first, last))
        first = last
    return bounds


def quietest_frame(samples: np.ndarray, rate: int, frame_s: float = 0.03) -> int:
    """Sample offset of the middle of the quietest ``frame_s`` frame (the last of equals), or the end
    when there is not one whole frame."""
    size = max(1, int(round(frame_s * rate)))
    count = len(samples) // size
    if count == 0:
        return len(samples)
    energy = np.square(samples[: count * size].astype(np.float64)).reshape(count, size).sum(axis=1)
    index = count - 1 - int(np.argmin(energy[::-1]))
    return index * size + size // 2
