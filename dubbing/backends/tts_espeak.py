"""TTS backend ``espeak``: the espeak-ng command line (formant voices for about a hundred languages).

Voices: each speaker gets their own variant of the language's voice (``pt-br+f3``, ``pt-br+m1``;
:func:`dubbing.backends.casting.distinct_cast` over the installed variants, by the pitch of
the speaker's voice where it is known).  The ``voice`` option gives every speaker that one
voice; ``spec.voices`` names a variant (or a full ``lang+variant``) per speaker.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ..espeak_run import run_espeak
from .audio import duration_of
from .base import BackendContext, Readiness, Synthesizer, check_rate
from .casting import ESPEAK_FEMALE, ESPEAK_MALE, distinct_cast, espeak_order, espeak_variants, named_voices
from .languages import TARGET_LANGUAGE_OPTION, primary

BINARY = "espeak-ng"
DEFAULT_WORDS_PER_MINUTE = 160
#: espeak-ng's own bounds for ``-s``.
WORDS_PER_MINUTE_RANGE = (80, 450)

# BCP-47 tags whose espeak-ng voice is not simply the lower-cased tag or its primary subtag.
SPECIAL: dict[str, str] = {
    "zh": "cmn",
    "zh-CN": "cmn",
    "zh-TW": "cmn",
    "zh-Hans": "cmn",
    "en": "en-us",
    "fr": "fr-fr",
    "nb": "nb",
    "no": "nb",
}


@functools.lru_cache(maxsize=2)
def installed_voices(binary: str) -> frozenset[str]:
    """Language names espeak-ng lists (``espeak-ng --voices``), lower case."""
    result = subprocess.run([binary, "--voices"], capture_output=True, text=True, timeout=30, check=True)
    names = set()
    for line in result.stdout.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 2:
            names.add(fields[1].lower())
    return frozenset(names)


@functools.lru_cache(maxsize=2)
def installed_variants(binary: str) -> frozenset[str]:
    """Variant names espeak-ng lists (``espeak-ng --voices=variant``)."""
    result = subprocess.run([binary, "--voices=variant"], capture_output=True, text=True, timeout=30, check=True)
    return espeak_variants(result.stdout)


def unknown_variants(wanted: Sequence[str], variants: frozenset[str]) -> list[str]:
    """The voices in ``wanted`` whose variant (after ``+``, or the whole name) espeak-ng does not have."""
    return [name for name in dict.fromkeys(wanted) if name.rpartition("+")[2] not in variants]


def voice_for(language: str, available: frozenset[str]) -> str | None:
    """The espeak-ng voice for a BCP-47 tag: special cases, then the full tag, then the primary subtag."""
    candidates = [SPECIAL.get(language), language.lower(), SPECIAL.get(primary(language)), primary(language)]
    for candidate in candidates:
        if candidate and candidate.lower() in available:
            return candidate.lower()
    return None


def words_per_minute(base: int, rate: float) -> int:
    """The ``-s`` value for ``rate`` times the base speed, rounded, within espeak-ng's bounds."""
    low, high = WORDS_PER_MINUTE_RANGE
    return max(low, min(high, int(round(base * rate))))


def espeak_voice_argument(language_voice: str, option: str | None) -> str:
    """``-v`` argument: the language voice, with the job's ``voice`` option as a variant (``pt-br+f3``).

    An option that already has a ``+`` (``en-gb+m2``) is used as it stands.
    """
    if not option:
        return language_voice
    if "+" in option:
        return option
    return f"{language_voice}+{option}"


class EspeakSynthesizer(Synthesizer):
    name: ClassVar[str] = "espeak"
    rate_control: ClassVar[str | None] = "wordsPerMinute"
    phoneme_alphabet: ClassVar[str | None] = "espeak"  # [[...]] in the text: espeak-ng mnemonics

    @classmethod
    def readiness(cls, context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        binary = shutil.which(BINARY)
        if binary is None:
            return Readiness(
                cls.stage, cls.name, installed=False, ready=False, reason=f"binary {BINARY} not found on PATH"
            )
        try:
            voices = installed_voices(binary)
        except (OSError, subprocess.SubprocessError) as error:
            return Readiness(
                cls.stage, cls.name, installed=True, ready=False, reason=f"{BINARY} --voices failed: {error}"
            )
        language = options.get(TARGET_LANGUAGE_OPTION)
        if language:
            voice = voice_for(str(language), voices)
            if voice is None:
                return Readiness(
                    cls.stage, cls.name, installed=True, ready=False, reason=f"no espeak-ng voice for {language}"
                )
            missing = unknown_variants(list(named_voices(options).values()), installed_variants(binary))
            if missing:
                return Readiness(
                    cls.stage,
                    cls.name,
                    installed=True,
                    ready=False,
                    reason=f"no espeak-ng variant named {', '.join(missing)} (spec.voices; e.g. f3, m1)",
                )
            return Readiness(cls.stage, cls.name, installed=True, ready=True, model=voice)
        return Readiness(cls.stage, cls.name, installed=True, ready=True, details={"voices": len(voices)})

    #: Bump when the way speakers are given voices changes (part of the tts cache key).
    CASTING: ClassVar[int] = 1

    def __init__(self, context: BackendContext, options: Mapping[str, Any]) -> None:
        super().__init__(context, options)
        self._cast: dict[str, str] = {}  # speaker → variant

    def identity(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "voice": self.options.get("voice"),
            "rate": self.options.get("wordsPerMinute", DEFAULT_WORDS_PER_MINUTE),
            "casting": self.CASTING,
        }

    def cast(
        self,
        speakers: Sequence[str],
        language: str,
        pitches: Mapping[str, str] | None = None,
        fixed: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Distinct variants for distinct speakers (none when the ``voice`` option names one voice for all)."""
        if self.options.get("voice"):
            self._cast = dict(fixed or {})
            return dict(self._cast)
        binary = shutil.which(BINARY)
        order = espeak_order(installed_variants(binary)) if binary else ()
        if not order:
            self._cast = dict(fixed or {})
            return dict(self._cast)
        self._cast = distinct_cast(speakers, order, fixed, pitches, {"high": ESPEAK_FEMALE, "low": ESPEAK_MALE})
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
        """``rate`` scales the words per minute (the option, 160 by default)."""
        factor = check_rate(rate, self.rate_control, self.name)
        binary = shutil.which(BINARY)
        if binary is None:
            raise FileNotFoundError(f"binary {BINARY} not found on PATH")
        voice = voice_for(language, installed_voices(binary))
        if voice is None:
            raise ValueError(f"no espeak-ng voice for {language}")
        out_wav.parent.mkdir(parents=True, exist_ok=True)
        command = [
            binary,
            "-v",
            espeak_voice_argument(voice, self._cast.get(speaker or "") or self.options.get("voice")),
            "-s",
            str(words_per_minute(int(self.options.get("wordsPerMinute", DEFAULT_WORDS_PER_MINUTE)), factor)),
            "-w",
            str(out_wav),
            "--stdin",
        ]
        run_espeak(command, text=text, timeout=120)
        return duration_of(out_wav)
