"""Time-fit: where each dubbed clip goes and how fast it plays (pure functions).

Rules, in order (speech is never sped past ``max_stretch``: the chipmunk effect):

1. A clip that fits inside its segment plays as is (``fits``).
2. Else it may run on into the silence after the segment, up to the next segment's
   start (less ``guard`` seconds) or the end of the media (``usesPause``).
3. Else it is sped up (pitch preserved: ffmpeg ``atempo``) just enough to fit that
   window, if that needs at most ``max_stretch`` (``stretched``).
4. Else it plays at ``max_stretch`` and still runs over by ``overflow`` seconds
   (``tooLong``): it is reported, never squeezed further.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

FITS = "fits"
USES_PAUSE = "usesPause"
STRETCHED = "stretched"
TOO_LONG = "tooLong"


@dataclass(frozen=True)
class Slot:
    id: int
    start: float
    end: float
    clip_seconds: float


@dataclass(frozen=True)
class Placement:
    id: int
    start: float
    clip_seconds: float
    tempo: float  # playback speed factor (1.0 = as synthesised, 1.2 = 20 % faster)
    placed_seconds: float  # duration after the tempo change
    window_end: float  # the latest the clip may end without overlap
    status: str
    overflow: float = 0.0  # seconds past window_end (only for tooLong)

    @property
    def end(self) -> float:
        return self.start + self.placed_seconds

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["end"] = round(self.end, 4)
        return data


def _ceil(value: float, digits: int = 4) -> float:
    scale = 10**digits
    return math.ceil(value * scale - 1e-9) / scale


def plan(slots: Sequence[Slot], media_duration: float, max_stretch: float, guard: float = 0.05) -> list[Placement]:
    """One placement per slot (same order as sorted by start)."""
    if max_stretch < 1.0:
        raise ValueError("max_stretch must be at least 1.0")
    ordered = sorted(slots, key=lambda s: (s.start, s.id))
    result: list[Placement] = []
    for index, slot in enumerate(ordered):
        start = max(0.0, slot.start)
        following = next((other.start for other in ordered[index + 1 :] if other.start > start), None)
        limit = media_duration if following is None else min(following - guard, media_duration)
        # A window never ends before the segment's own end (when segments overlap, keep the segment).
        window_end = max(limit, min(slot.end, media_duration), start + 0.01)
        available = window_end - start
        clip = max(0.0, slot.clip_seconds)
        if clip <= max(slot.end - start, 0.0) + 1e-9 and start + clip <= window_end + 1e-9:
            result.append(Placement(slot.id, start, clip, 1.0, clip, window_end, FITS))
        elif clip <= available + 1e-9:
            result.append(Placement(slot.id, start, clip, 1.0, clip, window_end, USES_PAUSE))
        else:
            needed = _ceil(clip / available)
            if needed <= max_stretch + 1e-9:
                tempo = min(needed, max_stretch)
                result.append(Placement(slot.id, start, clip, tempo, clip / tempo, window_end, STRETCHED))
            else:
                placed = clip / max_stretch
                result.append(
                    Placement(
                        slot.id, start, clip, max_stretch, placed, window_end, TOO_LONG, overflow=placed - available
                    )
                )
    return result


def summary(placements: Sequence[Placement]) -> dict[str, Any]:
    """Counts per status, the largest tempo used, and the segments that did not fit."""
    counts = {FITS: 0, USES_PAUSE: 0, STRETCHED: 0, TOO_LONG: 0}
    for placement in placements:
        counts[placement.status] += 1
    return {
        "segments": len(placements),
        **counts,
        "maxTempo": round(max((p.tempo for p in placements), default=1.0), 4),
        "notFitting": [
            {"id": p.id, "start": round(p.start, 3), "overflowSeconds": round(p.overflow, 3)}
            for p in placements
            if p.status == TOO_LONG
        ],
    }


def atempo_chain(tempo: float) -> str:
    """An ffmpeg filter for ``tempo`` (atempo takes 0.5..2.0 per instance; chain beyond that)."""
    if tempo <= 0:
        raise ValueError("tempo must be positive")
    parts = []
    remaining = tempo
    while remaining > 2.0:
        parts.append("atempo=2.0")
        remaining /= 2.0
    while remaining < 0.5:
        parts.append("atempo=0.5")
        remaining /= 0.5
    parts.append(f"atempo={remaining:.6f}")
    return ",".join(parts)


def duck_envelope(
    regions: Sequence[tuple[float, float]], duration: float, rate: int, gain_db: float, ramp: float = 0.15
) -> Any:
    """Per-sample gain (numpy float32): ``gain_db`` inside the speech regions, 1.0 outside, linear ramps."""
    import numpy as np

    total = max(0, int(round(duration * rate)))
    env = np.ones(total, dtype=np.float32)
    if total == 0 or gain_db >= 0:
        return env
    low = float(10 ** (gain_db / 20.0))
    target = np.zeros(total, dtype=np.float32)  # 1 where ducked
    for start, end in regions:
        a = max(0, int(round((start - ramp) * rate)))
        b = min(total, int(round((end + ramp) * rate)))
        if b > a:
            target[a:b] = 1.0
    # Smooth the 0/1 mask with a moving average of ramp length (cumulative sums: O(n)): linear ramps.
    width = max(1, int(round(ramp * rate)))
    padded = np.concatenate(
        [
            np.zeros(width // 2, dtype=np.float64),
            target.astype(np.float64),
            np.zeros(width - width // 2, dtype=np.float64),
        ]
    )
    sums = np.cumsum(np.concatenate([[0.0], padded]))
    smooth = ((sums[width:] - sums[:-width]) / width)[:total].astype(np.float32)
    return (1.0 - smooth * (1.0 - low)).astype(np.float32)
