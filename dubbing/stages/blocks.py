"""Audio in blocks: what the mix needs, in memory bounded by the block size whatever the input's length.

A block is ``[begin, end)`` in samples.  :func:`envelope_block` is the slice
``[begin, end)`` of :func:`dubbing.stages.timefit.duck_envelope`, bit for bit, without
the whole-length array; :func:`add_clips` adds the part of each placed clip that falls in a
block; :func:`read_frames` reads a block of a sound file as stereo float32, padded with
silence past its end.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Samples per block: 10 s at 48 kHz stereo float32 is under 4 MB per array.
BLOCK_SECONDS = 10.0


def block_ranges(total: int, size: int) -> Iterator[tuple[int, int]]:
    """``[begin, end)`` of consecutive blocks of ``size`` samples covering ``total`` samples."""
    if size <= 0:
        raise ValueError("block size must be positive")
    for begin in range(0, max(0, total), size):
        yield begin, min(total, begin + size)


def envelope_block(
    regions: Sequence[tuple[float, float]],
    total: int,
    rate: int,
    gain_db: float,
    begin: int,
    end: int,
    ramp: float = 0.15,
) -> np.ndarray:
    """Samples ``[begin, end)`` of ``timefit.duck_envelope(regions, total / rate, rate, gain_db, ramp)``.

    The whole-length envelope is a moving average (``ramp`` long) of a 0/1 mask; each
    sample's average only needs the mask around it, and sums of 0/1 values are exact
    in float64, so the slice computed alone equals the slice of the whole.
    """
    end = min(end, total)
    if end <= begin:
        return np.ones(0, dtype=np.float32)
    if gain_db >= 0:
        return np.ones(end - begin, dtype=np.float32)
    low = float(10 ** (gain_db / 20.0))
    width = max(1, int(round(ramp * rate)))
    # smooth[i] averages mask[i - width // 2 : i - width // 2 + width] (zeros outside [0, total)).
    lo = begin - width // 2
    hi = end - width // 2 + width
    mask = np.zeros(hi - lo, dtype=np.float64)
    for start, stop in regions:
        a = max(0, int(round((start - ramp) * rate)))
        b = min(total, int(round((stop + ramp) * rate)))
        a, b = max(a, lo), min(b, hi)
        if b > a:
            mask[a - lo : b - lo] = 1.0
    sums = np.cumsum(np.concatenate([[0.0], mask]))
    smooth = ((sums[width:] - sums[:-width]) / width)[: end - begin].astype(np.float32)
    return (1.0 - smooth * (1.0 - low)).astype(np.float32)


@dataclass(frozen=True)
class PlacedClip:
    """A fitted clip (stereo float WAV) that starts at sample ``begin`` and lasts ``frames`` samples."""

    path: Path
    begin: int
    frames: int


def add_clips(block: np.ndarray, begin: int, clips: Sequence[PlacedClip]) -> None:
    """Add to ``block`` (samples ``[begin, begin + len(block))``, shape ``(samples, 1 or 2)``) the parts
    of ``clips`` inside it, in the order given (the sums are those of adding each whole clip to a
    whole-length track)."""
    import soundfile as sf

    end = begin + len(block)
    for clip in clips:
        lo, hi = max(begin, clip.begin), min(end, clip.begin + clip.frames)
        if hi <= lo:
            continue
        with sf.SoundFile(str(clip.path)) as sound:
            sound.seek(lo - clip.begin)
            part = sound.read(hi - lo, dtype="float32", always_2d=True)
        part = _stereo(part) if block.shape[1] == 2 else part[:, : block.shape[1]]
        block[lo - begin : lo - begin + len(part)] += part


def _stereo(data: np.ndarray) -> np.ndarray:
    if data.shape[1] == 1:
        data = np.repeat(data, 2, axis=1)
    return data[:, :2]


def read_frames(sound: Any, frames: int) -> np.ndarray:
    """The next ``frames`` samples of an open ``soundfile.SoundFile`` as stereo float32; silence past its end."""
    out = np.zeros((frames, 2), dtype=np.float32)
    data = _stereo(sound.read(frames, dtype="float32", always_2d=True))
    out[: len(data)] = data
    return out


def copy_exact(source: Path, dest: Path, total: int, block: int) -> None:
    """``source`` as 16-bit PCM of exactly ``total`` samples (cut, or padded with silence), block by block."""
    import soundfile as sf

    with (
        sf.SoundFile(str(source)) as reader,
        sf.SoundFile(str(dest), "w", reader.samplerate, reader.channels, subtype="PCM_16") as writer,
    ):
        for begin, end in block_ranges(total, block):
            data = reader.read(end - begin, dtype="int16", always_2d=True)
            if len(data) < end - begin:
                data = np.concatenate([data, np.zeros((end - begin - len(data), reader.channels), dtype=np.int16)])
            writer.write(data)
