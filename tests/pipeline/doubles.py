"""Test doubles for the model backends, so stage tests run in seconds (the real backends
are exercised by the end-to-end test and the backends' own tests)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import soundfile as sf

from dubbing.backends.base import (
    BackendContext,
    Diarizer,
    Readiness,
    Synthesizer,
    Transcriber,
    Translator,
    check_rate,
)
from dubbing.segments import Segment, SpeakerTurn, Transcript, Word


class FakeDiarizer(Diarizer):
    name: ClassVar[str] = "fake-diarizer"
    turns: ClassVar[list[SpeakerTurn]] = []

    @classmethod
    def readiness(cls, context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        return Readiness(cls.stage, cls.name, True, True)

    def diarize(self, speech_wav: Path) -> list[SpeakerTurn]:
        return list(self.turns)


class FakeTranscriber(Transcriber):
    name: ClassVar[str] = "fake-asr"
    segments: ClassVar[list[tuple[float, float, str, str]]] = []  # start, end, text, speaker
    calls: ClassVar[int] = 0

    @classmethod
    def readiness(cls, context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        return Readiness(cls.stage, cls.name, True, True, model="fake")

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "model": "fake-1"}

    def transcribe(self, speech_wav: Path, language: str | None, turns: Sequence[SpeakerTurn]) -> Transcript:
        type(self).calls += 1
        segments = []
        for index, (start, end, text, speaker) in enumerate(self.segments):
            words = text.split()
            step = (end - start) / max(1, len(words))
            segments.append(
                Segment(
                    index,
                    start,
                    end,
                    text,
                    speaker,
                    tuple(Word(start + i * step, start + (i + 1) * step, w, 0.9) for i, w in enumerate(words)),
                )
            )
        return Transcript(language or "en", tuple(segments), sf.info(str(speech_wav)).duration)


class FakeTranslator(Translator):
    name: ClassVar[str] = "fake-translate"

    @classmethod
    def readiness(cls, context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        return Readiness(cls.stage, cls.name, True, True)

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        return [f"{text} ({target})" for text in texts]


class FakeSynthesizer(Synthesizer):
    """A tone whose length follows the text: ``seconds_per_char`` seconds per character."""

    name: ClassVar[str] = "fake-tts"
    seconds_per_char: ClassVar[float] = 0.04
    fail_on: ClassVar[int | None] = None  # raise at this call number
    calls: ClassVar[int] = 0
    refs_seen: ClassVar[list[list[Path]]] = []
    speakers_seen: ClassVar[list[str | None]] = []
    cast_seen: ClassVar[list[list[str]]] = []
    rates_seen: ClassVar[list[float]] = []
    texts_seen: ClassVar[list[str]] = []
    #: None: no speaking-rate control (a test sets one: the clip then lasts ``1/rate`` as long).
    rate_control: ClassVar[str | None] = None

    @classmethod
    def readiness(cls, context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        return Readiness(cls.stage, cls.name, True, True)

    def identity(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "secondsPerChar": self.seconds_per_char,
            "cloning": True,
            "rateControl": self.rate_control,
        }

    def cast(
        self,
        speakers: Sequence[str],
        language: str,
        pitches: Mapping[str, str] | None = None,
        fixed: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Stock voices, one per speaker in the order given (like kokoro); ``fixed`` ones kept."""
        type(self).cast_seen.append(list(speakers))
        return {speaker: f"voice-{index}" for index, speaker in enumerate(speakers)} | dict(fixed or {})

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
        factor = check_rate(rate, self.rate_control, self.name)
        type(self).calls += 1
        type(self).rates_seen.append(factor)
        type(self).texts_seen.append(text)
        type(self).refs_seen.append(list(speaker_refs))
        type(self).speakers_seen.append(speaker)
        if self.fail_on is not None and self.calls >= self.fail_on:
            raise RuntimeError("synthesizer exploded")
        rate = 22050
        seconds = max(0.2, len(text) * self.seconds_per_char / factor)
        t = np.arange(int(seconds * rate)) / rate
        sf.write(str(out_wav), (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), rate, subtype="PCM_16")
        return seconds


FAKES = {"diarize": FakeDiarizer, "asr": FakeTranscriber, "translate": FakeTranslator, "tts": FakeSynthesizer}


def install(monkeypatch: pytest.MonkeyPatch, clip, stages=("diarize", "asr", "translate", "tts")) -> None:
    """Route the given stages to the doubles; the known segments of ``clip`` are what the fake ASR hears."""
    from dubbing.backends import registry

    FakeDiarizer.turns = [SpeakerTurn(s.start, s.end, "S0" if s.speaker == "A" else "S1") for s in clip.segments]
    FakeTranscriber.segments = [(s.start, s.end, s.text, "S0" if s.speaker == "A" else "S1") for s in clip.segments]
    FakeTranscriber.calls = 0
    FakeSynthesizer.calls = 0
    FakeSynthesizer.fail_on = None
    FakeSynthesizer.seconds_per_char = 0.04
    FakeSynthesizer.refs_seen = []
    FakeSynthesizer.speakers_seen = []
    FakeSynthesizer.cast_seen = []
    FakeSynthesizer.rates_seen = []
    FakeSynthesizer.texts_seen = []
    FakeSynthesizer.rate_control = None
    real = registry.choose

    def choose(stage, requested, context, options):
        if stage in stages and stage in FAKES and requested in ("auto", FAKES[stage].name):
            return FAKES[stage](context, options)
        return real(stage, requested, context, options)

    monkeypatch.setattr(registry, "choose", choose)
