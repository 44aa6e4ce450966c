"""The small interfaces every backend implements, and how a backend says whether it can run.

A stage (dubbing/stages/) picks a backend by name ("auto" = the first ready one in
the stage's preference order), asks it for its :class:`Readiness`, and calls the one
method of its stage's interface.  The same readiness answers feed the web UI's model
page, so the reasons must be the real ones ("module faster_whisper not installed",
"weights absent: /models/whisper/large-v3/model.bin", "terms not accepted",
"no GPU visible").
"""

from __future__ import annotations

import abc
import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..segments import SpeakerTurn, Transcript


@dataclass(frozen=True)
class Readiness:
    """Whether a backend can run here, and if not, why."""

    stage: str
    backend: str
    installed: bool
    ready: bool
    reason: str = ""
    needs_gpu: bool = False
    model: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    #: Not ready for a reason that may pass by itself (a server not answering): a stage that
    #: needs this backend fails retryably instead of for good.
    transient: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "backend": self.backend,
            "installed": self.installed,
            "ready": self.ready,
            "reason": self.reason,
            "needsGpu": self.needs_gpu,
            "model": self.model,
            "details": dict(self.details),
            "transient": self.transient,
        }


class BackendError(RuntimeError):
    """A backend's work failed for a known reason (CamelCase ``reason``, one-line message);
    ``transient`` says whether trying again later may help (the stage then fails retryably)."""

    def __init__(self, reason: str, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.reason = reason
        self.transient = transient


@dataclass(frozen=True)
class BackendContext:
    """What a backend may know about where it runs."""

    model_cache: Path
    device: str = "cpu"  # "cpu" or "cuda"
    settings: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"coquiTermsAccepted": True, "hfToken": "..."}

    @classmethod
    def from_env(cls) -> BackendContext:
        from ..config.stage import StageSettings

        stage = StageSettings.from_env()
        device = stage.device
        if device == "auto":
            device = "cuda" if cuda_available() else "cpu"
        settings: dict[str, Any] = {
            "coquiTermsAccepted": stage.coqui_terms_accepted or stage.coqui_tos_agreed,
            "hfToken": stage.hf_token,
            "llmEndpoint": stage.llm_endpoint,
            "llmModel": stage.llm_model,
            "llmApiKey": stage.llm_api_key,
            "llmTimeoutSeconds": stage.llm_timeout_seconds,
            "llmConcurrency": stage.llm_concurrency,
        }
        return cls(model_cache=stage.model_cache, device=device, settings=settings)


def module_available(name: str) -> bool:
    """True if ``import name`` would find the module (without importing it)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def cuda_available() -> bool:
    """A GPU is usable: torch sees one, or CTranslate2 does (no torch needed)."""
    if module_available("ctranslate2"):
        try:
            import ctranslate2

            if ctranslate2.get_cuda_device_count() > 0:
                return True
        except Exception:  # noqa: BLE001 - a broken CUDA install means "no GPU"
            pass
    if module_available("torch"):
        try:
            import torch

            return bool(torch.cuda.is_available())
        except Exception:  # noqa: BLE001
            return False
    return False


class Backend(abc.ABC):
    """One way of doing one stage's work."""

    stage: ClassVar[str]
    name: ClassVar[str]
    #: Prefers a GPU (the operator gives its Pod one by default).
    gpu_preferred: ClassVar[bool] = False

    def __init__(self, context: BackendContext, options: Mapping[str, Any]) -> None:
        self.context = context
        self.options = dict(options)

    @classmethod
    @abc.abstractmethod
    def readiness(cls, context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        """Can this backend run here with these options? Must be cheap: no model loading."""

    def identity(self) -> dict[str, Any]:
        """What determines this backend's output besides its inputs: part of the stage's cache key."""
        return {"backend": self.name}


class Separator(Backend):
    stage: ClassVar[str] = "separate"

    @abc.abstractmethod
    def separate(self, audio: Path, out_dir: Path) -> tuple[Path, Path]:
        """Split full-rate stereo ``audio`` into (vocals.wav, background.wav) written in ``out_dir``."""


def check_rate(rate: float, control: str | None, backend: str) -> float:
    """``rate`` as a float, refused when it is not positive or when the backend has no rate control."""
    value = float(rate)
    if not value > 0:
        raise ValueError(f"speaking rate must be positive, got {rate}")
    if control is None and value != 1.0:
        raise ValueError(f"the {backend} backend has no speaking-rate control (asked for rate {value:g})")
    return value


class Diarizer(Backend):
    stage: ClassVar[str] = "diarize"

    @abc.abstractmethod
    def diarize(self, speech_wav: Path) -> list[SpeakerTurn]:
        """Speaker turns of a 16 kHz mono file, sorted by start time."""


class Transcriber(Backend):
    stage: ClassVar[str] = "asr"

    @abc.abstractmethod
    def transcribe(self, speech_wav: Path, language: str | None, turns: Sequence[SpeakerTurn]) -> Transcript:
        """Timed segments with words; ``language`` None means detect it."""


@dataclass(frozen=True)
class GlossaryTerm:
    """A term the translation must render one way: ``target``, or the term itself when None (keep as is)."""

    source: str
    target: str | None = None

    @property
    def rendering(self) -> str:
        return self.source if self.target is None else self.target


@dataclass(frozen=True)
class SegmentToTranslate:
    """One segment with what a contextual translator may use: its speaker, its time slot, a length budget."""

    id: int
    text: str
    speaker: str = "SPEAKER_00"
    start: float = 0.0
    end: float = 0.0
    #: Most characters the translation should have to be spoken in the slot (None: no budget).
    max_chars: int | None = None


class Translator(Backend):
    stage: ClassVar[str] = "translate"
    #: How the job's glossary reaches this backend: ``"placeholders"`` (the stage protects each
    #: term through translation, :mod:`.termguard`), ``"prompt"`` (the backend follows the glossary
    #: itself, ``llm``) or ``"none"`` (the text is not translated, ``identity``).
    glossary_mode: ClassVar[str] = "placeholders"

    @abc.abstractmethod
    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        """Translate each text; same length and order as ``texts``."""

    def translate_segments(
        self,
        segments: Sequence[SegmentToTranslate],
        source: str,
        target: str,
        glossary: Sequence[GlossaryTerm] = (),
    ) -> list[str]:
        """Translate whole segments, in order.  Sentence translators see only the texts (this
        default); contextual ones (``llm``) also use the neighbours, speakers, budgets and glossary."""
        return self.translate([segment.text for segment in segments], source, target)

    def usage(self) -> dict[str, Any]:
        """What the translations so far cost (token counts, requests), for the stage's manifest."""
        return {}


class Synthesizer(Backend):
    stage: ClassVar[str] = "tts"
    #: The backend's own speaking-rate control (``speed``, ``wordsPerMinute``, ``lengthScale``),
    #: or None when it has none: then :meth:`synthesize` takes only ``rate=1.0`` and the time-fit
    #: can only stretch its clips.
    rate_control: ClassVar[str | None] = None
    #: The phoneme alphabet the backend reads inline as ``[[...]]`` (``"espeak"`` mnemonics,
    #: ``"ipa"``), or None: glossary pronunciation hints then reach it as respellings only.
    phoneme_alphabet: ClassVar[str | None] = None

    def cast(
        self,
        speakers: Sequence[str],
        language: str,
        pitches: Mapping[str, str] | None = None,
        fixed: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Choose a voice per speaker (``speakers`` in the order they first speak); called before synthesis.

        Backends with several stock voices give each speaker their own
        (:func:`dubbing.backends.casting.distinct_cast`; ``pitches``: the speakers whose voice
        pitch could be told, ``"low"`` or ``"high"``, see :mod:`dubbing.stages.speakerpitch`;
        ``fixed``: the voices the job names for some speakers, ``spec.voices``); backends that
        clone or have one voice per language return ``fixed`` (the default).
        """
        return dict(fixed or {})

    @abc.abstractmethod
    def synthesize(
        self,
        text: str,
        language: str,
        speaker_refs: Sequence[Path],
        out_wav: Path,
        *,
        speaker: str | None = None,
        rate: float = 1.0,
    ) -> float:
        """Speak ``text`` into ``out_wav`` (any rate, mono); return its duration in seconds.

        ``speaker_refs`` are clips of the original speaker (for voice cloning); backends
        that cannot clone ignore them.  ``speaker`` is the segment's speaker label, for
        backends that cast a voice per speaker (:meth:`cast`); the others ignore it.
        ``rate`` is the speaking rate relative to the backend's normal one (1.2 = 20 %
        faster), through its :attr:`rate_control`; backends without one refuse anything but 1.0.
        """
