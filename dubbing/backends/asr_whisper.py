"""ASR backend ``faster-whisper``: Whisper (CTranslate2) with word timestamps, speakers from the turns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ..segments import Segment, SpeakerTurn, Transcript, Word
from .base import BackendContext, Readiness, Transcriber, module_available
from .speaker_assign import assign_speakers
from .whisper_weights import locate, resolve

DEFAULT_MODEL = "base"


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
        model = self.load()
        whisper_language = None if language in (None, "", "auto") else language.split("-", 1)[0].lower()
        pieces, info = model.transcribe(
            str(speech_wav),
            language=whisper_language,
            beam_size=int(self.options.get("beamSize", 5)),
            word_timestamps=True,
            vad_filter=bool(self.options.get("vad", True)),
            condition_on_previous_text=False,
        )
        segments = [
            Segment(
                id=index,
                start=float(piece.start),
                end=float(piece.end),
                text=piece.text.strip(),
                words=tuple(
                    Word(float(word.start), float(word.end), word.word, float(word.probability))
                    for word in (piece.words or ())
                ),
            )
            for index, piece in enumerate(pieces)
        ]
        return Transcript(
            language=language or info.language,
            segments=tuple(assign_speakers(segments, turns)),
            duration=float(info.duration),
        )
