"""A log-mel front end in numpy (Slaney mel scale, power spectrum, log10).

Parameters are those the d-vector speaker encoder was trained with: 16 kHz, 512-point
FFT over a 400-sample (25 ms) periodic Hamming window centred in the FFT frame, 10 ms
hop, no centre padding, 40 mel bands with area-normalised triangles, ``log10(S + 1e-10)``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MelConfig:
    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 40
    floor: float = 1e-10


_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ * 3.0 / 200.0  # 15: the scale is linear (3 mel per 200 Hz) below 1 kHz
_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(hz: float | np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz * 3.0 / 200.0
    logarithmic = _MIN_LOG_MEL + np.log(np.maximum(hz, 1e-12) / _MIN_LOG_HZ) / _LOG_STEP
    return np.where(hz >= _MIN_LOG_HZ, logarithmic, linear)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * 200.0 / 3.0
    logarithmic = _MIN_LOG_HZ * np.exp(_LOG_STEP * (mel - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, logarithmic, linear)


@functools.lru_cache(maxsize=4)
def mel_filterbank(config: MelConfig = MelConfig()) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters, each normalised to unit area in Hz."""
    fft_hz = np.linspace(0.0, config.sample_rate / 2.0, config.n_fft // 2 + 1)
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(config.sample_rate / 2.0), config.n_mels + 2))
    widths = np.diff(edges_hz)
    offsets = edges_hz[:, None] - fft_hz[None, :]
    bank = np.zeros((config.n_mels, fft_hz.size), dtype=np.float64)
    for band in range(config.n_mels):
        rising = -offsets[band] / widths[band]
        falling = offsets[band + 2] / widths[band + 1]
        bank[band] = np.maximum(0.0, np.minimum(rising, falling))
    bank *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    return bank.astype(np.float32)


@functools.lru_cache(maxsize=4)
def analysis_window(config: MelConfig = MelConfig()) -> np.ndarray:
    """Periodic Hamming window of ``win_length`` zero-padded to ``n_fft`` (centred)."""
    n = np.arange(config.win_length)
    window = 0.54 - 0.46 * np.cos(2.0 * np.pi * n / config.win_length)
    left = (config.n_fft - config.win_length) // 2
    padded = np.zeros(config.n_fft, dtype=np.float64)
    padded[left : left + config.win_length] = window
    return padded


def log_mel(samples: np.ndarray, config: MelConfig = MelConfig()) -> np.ndarray:
    """(frames, n_mels) log10 mel power of mono ``samples`` at ``config.sample_rate``."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.size < config.n_fft:
        samples = np.pad(samples, (0, config.n_fft - samples.size))
    count = 1 + (samples.size - config.n_fft) // config.hop_length
    strides = (samples.strides[0] * config.hop_length, samples.strides[0])
    frames = np.lib.stride_tricks.as_strided(samples, shape=(count, config.n_fft), strides=strides)
    power = np.abs(np.fft.rfft(frames * analysis_window(config), axis=1)) ** 2
    mel = power @ mel_filterbank(config).T.astype(np.float64)
    return np.log10(mel + config.floor).astype(np.float32)
