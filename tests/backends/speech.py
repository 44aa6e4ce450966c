"""Test speech made with espeak-ng, with the ground truth (text, speaker and timing) kept."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from dubbing.espeak_run import run_espeak

SENTENCES: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Yesterday we walked to the market and bought fresh bread and cheese.",
    "Please remember to close the window before you leave the house.",
    "The weather forecast says it will rain heavily tomorrow afternoon.",
)


@dataclass(frozen=True)
class Utterance:
    start: float
    end: float
    voice: str
    text: str


def espeak_samples(text: str, voice: str, work: Path, rate: int = 16000, words_per_minute: int = 150) -> np.ndarray:
    raw = work / f"espeak-{abs(hash((text, voice)))}.wav"
    run_espeak(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(raw), "--stdin"], text=text)
    samples, source_rate = sf.read(str(raw), dtype="float32")
    if source_rate != rate:
        samples = resample_poly(samples, rate, source_rate).astype(np.float32)
    return samples


def dialogue(lines: list[tuple[str, str]], out_wav: Path, gap_s: float = 0.6, rate: int = 16000) -> list[Utterance]:
    """Write (voice, text) lines one after another with ``gap_s`` of silence; return what was said when."""
    pieces: list[np.ndarray] = []
    truth: list[Utterance] = []
    clock = 0.0
    for voice, text in lines:
        samples = espeak_samples(text, voice, out_wav.parent, rate)
        truth.append(Utterance(clock, clock + len(samples) / rate, voice, text))
        pieces += [samples, np.zeros(int(gap_s * rate), dtype=np.float32)]
        clock += len(samples) / rate + gap_s
    sf.write(str(out_wav), np.concatenate(pieces), rate, subtype="PCM_16")
    return truth
