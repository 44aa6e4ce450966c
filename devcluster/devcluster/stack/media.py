"""Files for tests and benchmarks: valid WAV media of any size (fast to make), and their SHA-256."""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path


def make_wav(path: Path, size: int, rate: int = 48000, channels: int = 2) -> str:
    """A PCM WAV of exactly ``size`` bytes filled with noise; returns its SHA-256 (hex)."""
    data_len = size - 44
    assert data_len > 0 and data_len % (2 * channels) == 0, "size must leave whole frames after the header"
    header = b"RIFF" + struct.pack("<I", 36 + data_len) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * 2 * channels, 2 * channels, 16)
    header += b"data" + struct.pack("<I", data_len)
    digest = hashlib.sha256(header)
    with path.open("wb") as fh:
        fh.write(header)
        left = data_len
        while left:
            block = os.urandom(min(left, 4 * 1024 * 1024))
            digest.update(block)
            fh.write(block)
            left -= len(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()
