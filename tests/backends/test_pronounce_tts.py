"""Glossary pronunciation hints reach the real TTS backends in the form each takes: phonemes for
espeak-ng (its mnemonics), piper and kokoro (IPA), inline as [[...]] (kokoro's own phonemizer
spells the brackets out, so the backend splices the block into the phonemes of the rest).  Whisper tiny.en reads the clips
back: a made-up written word whose phonemes say "library" is heard as "library"."""

from __future__ import annotations

from pathlib import Path

import pytest

from dubbing.backends.base import BackendContext
from dubbing.backends.registry import choose
from dubbing.backends.whisper_weights import MeetingNoterTinyEn
from dubbing.stages.pronounce import spoken_text

HINT = {"written": "Zorblax", "phonemes": {"espeak": "l'aIbre@ri", "ipa": "ˈlaɪbɹɛɹi"}}
TEXT = "Welcome to the Zorblax meetup."


@pytest.fixture(scope="module")
def whisper():  # type: ignore[no-untyped-def]
    from faster_whisper import WhisperModel

    return WhisperModel(str(MeetingNoterTinyEn().materialise()), device="cpu", compute_type="int8")


@pytest.mark.parametrize(("backend", "alphabet"), [("espeak", "espeak"), ("piper", "ipa"), ("kokoro", "ipa")])
def test_phonemes_are_spoken_in_place_of_the_written_word(backend: str, alphabet: str, whisper, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tts = choose("tts", backend, BackendContext(model_cache=tmp_path / "models"), {"targetLanguage": "en"})
    assert tts.phoneme_alphabet == alphabet  # type: ignore[attr-defined]
    given, applied = spoken_text(TEXT, [HINT], alphabet)
    assert given == f"Welcome to the [[{HINT['phonemes'][alphabet]}]] meetup." and applied == {"Zorblax": 1}
    heard = {}
    for label, text in (("written", TEXT), ("hinted", given)):
        out = tmp_path / f"{label}.wav"
        tts.synthesize(text, "en", [], out)  # type: ignore[attr-defined]
        segments, _ = whisper.transcribe(str(out), language="en")
        heard[label] = " ".join(s.text for s in segments).lower()
    print(backend, heard)
    assert "library" in heard["hinted"] and "library" not in heard["written"]
