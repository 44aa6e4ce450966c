"""Small audio helpers for the light backends: reading mono float audio and an energy VAD."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf


def read_mono(path: Path, expected_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Read a sound file as float32 mono (channels averaged); check the rate if one is expected."""
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1).astype(np.float32)
    if expected_rate is not None and rate != expected_rate:
        raise ValueError(f"{path}: sample rate {rate} Hz, expected {expected_rate} Hz")
    return mono, int(rate)


def read_mono_at(path: Path, rate: int) -> np.ndarray:
    """Read a sound file as float32 mono at ``rate`` (polyphase resampling when it differs)."""
    samples, source_rate = read_mono(path)
    if source_rate == rate:
        return samples
    from math import gcd

    from scipy.signal import resample_poly

    common = gcd(rate, source_rate)
    return resample_poly(samples, rate // common, source_rate // common).astype(np.float32)


def duration_of(path: Path) -> float:
    info = sf.info(str(path))
    return float(info.frames) / float(info.samplerate)


@dataclass(frozen=True)
class VadConfig:
    frame_s: float = 0.03
    #: A frame is speech when its energy is within this many dB of the loud frames (95th percentile).
    relative_db: float = 30.0
    #: ... and above this absolute floor (dBFS), so digital silence never counts.
    floor_db: float = -55.0
    #: Gaps shorter than this inside speech are bridged.
    min_gap_s: float = 0.25
    #: Regions shorter than this are dropped.
    min_region_s: float = 0.2
    #: Each region is widened by this much on both sides.
    pad_s: float = 0.15


def frame_energy_db(samples: np.ndarray, rate: int, frame_s: float) -> np.ndarray:
    """RMS energy in dBFS of consecutive non-overlapping frames."""
    size = max(1, int(round(frame_s * rate)))
    count = len(samples) // size
    if count == 0:
        return np.zeros(0, dtype=np.float64)
    frames = samples[: count * size].astype(np.float64).reshape(count, size)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return 20.0 * np.log10(rms + 1e-10)


#: Frames read at a time by the file helpers (a minute at 16 kHz is under 4 MB of float32).
READ_SECONDS = 60.0


def file_frame_energy_db(path: Path, frame_s: float) -> tuple[np.ndarray, int, int]:
    """(:func:`frame_energy_db` of the file's mono samples, its rate, its length in samples), read a
    block at a time: the same figures as on the whole file, in memory bounded by the block."""
    with sf.SoundFile(str(path)) as sound:
        rate = int(sound.samplerate)
        size = max(1, int(round(frame_s * rate)))
        block = size * max(1, int(READ_SECONDS * rate) // size)
        parts: list[np.ndarray] = []
        carry = np.zeros(0, dtype=np.float32)
        while True:
            data = sound.read(block, dtype="float32", always_2d=True)
            if not len(data):
                break
            samples = np.concatenate([carry, data.mean(axis=1).astype(np.float32)])
            whole = len(samples) // size * size
            parts.append(frame_energy_db(samples[:whole], rate, frame_s))
            carry = samples[whole:]
        return (np.concatenate(parts) if parts else np.zeros(0, dtype=np.float64)), rate, int(sound.frames)


def read_mono_span(sound: Any, first: int, last: int) -> np.ndarray:
    """Samples ``[first, last)`` of an open ``soundfile.SoundFile`` as float32 mono (channels averaged)."""
    first, last = max(0, first), min(int(sound.frames), last)
    if last <= first:
        return np.zeros(0, dtype=np.float32)
    sound.seek(first)
    return sound.read(last - first, dtype="float32", always_2d=True).mean(axis=1).astype(np.float32)


def speech_regions(samples: np.ndarray, rate: int, config: VadConfig = VadConfig()) -> list[tuple[float, float]]:
    """Speech regions (start, end) in seconds from frame energies relative to the loud frames."""
    return regions_from_energy(frame_energy_db(samples, rate, config.frame_s), len(samples) / rate, config)


def file_speech_regions(path: Path, config: VadConfig = VadConfig()) -> tuple[list[tuple[float, float]], int, int]:
    """(:func:`speech_regions` of a sound file read a block at a time, its rate, its length in samples)."""
    energy, rate, frames = file_frame_energy_db(path, config.frame_s)
    return regions_from_energy(energy, frames / rate, config), rate, frames


def regions_from_energy(energy: np.ndarray, total: float, config: VadConfig = VadConfig()) -> list[tuple[float, float]]:
    """Speech regions from frame energies (``config.frame_s`` apart) of ``total`` seconds of audio."""
    if energy.size == 0:
        return []
    threshold = max(config.floor_db, float(np.percentile(energy, 95)) - config.relative_db)
    active = energy > threshold
    regions: list[tuple[float, float]] = []
    start: int | None = None
    for index, flag in enumerate(active):
        if flag and start is None:
            start = index
        elif not flag and start is not None:
            regions.append((start * config.frame_s, index * config.frame_s))
            start = None
    if start is not None:
        regions.append((start * config.frame_s, len(active) * config.frame_s))
    merged: list[tuple[float, float]] = []
    for begin, end in regions:
        if merged and begin - merged[-1][1] < config.min_gap_s:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((begin, end))
    return [
        (max(0.0, begin - config.pad_s), min(total, end + config.pad_s))
        for begin, end in merged
        if end - begin >= config.min_region_s
    ]
