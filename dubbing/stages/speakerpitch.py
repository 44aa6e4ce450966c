"""The pitch of a speaker's voice, from their reference clip: for casting a stock voice.

Backends with stock voices (Kokoro) give a speaker a voice of the same register as theirs
where that can be told: the median fundamental frequency (F0) of the clip's voiced frames
(normalised autocorrelation, 60-400 Hz, 16 kHz).  Adult low voices centre around 85-155 Hz,
high ones around 165-255 Hz, and the ranges overlap: a median at or below 145 Hz is told
``low``, at or above 160 Hz ``high`` (Kokoro's own pt-BR voices measure 129 and 134 Hz for
pm_alex and pm_santa, 169 Hz for pf_dora); one in between, or too little clearly voiced speech (a
short clip, music under the voice when nothing was separated), tells nothing: ``register``
None, and the voices are then given by speaking order.  This is the voice's pitch, not who
the speaker is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

RATE = 16000
FRAME_SECONDS = 0.04
HOP_SECONDS = 0.01
F0_RANGE = (60.0, 400.0)
#: A frame is voiced when its normalised autocorrelation peak reaches this ...
VOICING = 0.6
#: ... and its energy is within this many dB of the loud frames (the 95th percentile).
ENERGY_WINDOW_DB = 30.0
#: Less voiced speech than this tells nothing.
MIN_VOICED_SECONDS = 1.0
#: Medians at or below this are ``low``, at or above the next ``high``; between: not told.
LOW_MAX_HZ = 145.0
HIGH_MIN_HZ = 160.0
#: At most this much of the clip is analysed (the median settles long before).
MAX_SECONDS = 30.0
LOW, HIGH = "low", "high"


@dataclass(frozen=True)
class Pitch:
    median_hz: float | None
    voiced_seconds: float
    register: str | None  # LOW, HIGH or None (not told)

    def as_dict(self) -> dict[str, Any]:
        return {
            "medianHz": None if self.median_hz is None else round(self.median_hz, 1),
            "voicedSeconds": round(self.voiced_seconds, 2),
            "register": self.register,
        }


def register_of(median_hz: float | None, voiced_seconds: float) -> str | None:
    """``low``, ``high`` or None (too little voiced speech, or a median between the two ranges)."""
    if median_hz is None or voiced_seconds < MIN_VOICED_SECONDS:
        return None
    if median_hz <= LOW_MAX_HZ:
        return LOW
    if median_hz >= HIGH_MIN_HZ:
        return HIGH
    return None


def frame_f0(samples: np.ndarray, rate: int = RATE) -> np.ndarray:
    """Per frame: its F0 in Hz, or NaN where it is not clearly voiced (quiet, noisy, outside the range)."""
    frame, hop = int(FRAME_SECONDS * rate), int(HOP_SECONDS * rate)
    if samples.size < frame:
        return np.zeros(0)
    count = 1 + (samples.size - frame) // hop
    index = np.arange(frame)[None, :] + hop * np.arange(count)[:, None]
    frames = samples[index].astype(np.float64)
    frames -= frames.mean(axis=1, keepdims=True)
    energy = (frames**2).sum(axis=1)
    loud = np.percentile(energy, 95) if energy.size else 0.0
    size = 1 << int(np.ceil(np.log2(2 * frame)))
    spectrum = np.fft.rfft(frames * np.hanning(frame), n=size, axis=1)
    auto = np.fft.irfft(np.abs(spectrum) ** 2, n=size, axis=1)[:, :frame]
    shortest, longest = int(rate / F0_RANGE[1]), min(frame - 1, int(rate / F0_RANGE[0]))
    window = auto[:, shortest : longest + 1]
    lag = np.argmax(window, axis=1) + shortest
    peak = window[np.arange(count), lag - shortest] / np.maximum(auto[:, 0], 1e-12)
    # The Hann window lowers the autocorrelation at a lag: undo that so the peak reads 0..1.
    taper = np.correlate(np.hanning(frame), np.hanning(frame), "full")[frame - 1 :]
    peak = peak * taper[0] / np.maximum(taper[lag], 1e-12)
    quiet = energy < loud * 10 ** (-ENERGY_WINDOW_DB / 10)
    voiced = (peak >= VOICING) & ~quiet & (energy > 0)
    return np.where(voiced, rate / lag, np.nan)


def measure(samples: np.ndarray, rate: int = RATE) -> Pitch:
    """The median F0 of the voiced frames of 16 kHz mono ``samples`` and what register it tells."""
    f0 = frame_f0(samples[: int(MAX_SECONDS * rate)], rate)
    voiced = f0[~np.isnan(f0)]
    seconds = voiced.size * HOP_SECONDS
    median = float(np.median(voiced)) if voiced.size else None
    return Pitch(median, seconds, register_of(median, seconds))


def estimate(path: Path) -> Pitch:
    """:func:`measure` of a sound file (any rate, channels averaged)."""
    from ..backends.audio import read_mono_at

    return measure(read_mono_at(path, RATE))
