"""Time-fit: where each dubbed clip goes and how fast it plays (pure functions).

Each clip gets a window: from its segment's start to the next segment's start (less
``guard`` seconds) or the end of the media; the window never ends before the segment's own
end.  Rules, in order (speech is never sped past ``max_stretch``: the chipmunk effect):

1. A clip that fits inside its segment plays as is, at the segment's start (``fits``).
2. Else it runs on into the free time after the segment, up to the window's end
   (``usesPause``).
3. Else it starts earlier, into the free time before the segment: at most ``max_lead``
   seconds before the segment's start and never sooner than ``gap`` seconds after the
   previous clip ends (``shifted``): only as early as it needs.  (Its window's end stays:
   a clip never runs into the next segment to avoid a speed-up.)
4. Else it is sped up (pitch preserved: ffmpeg ``atempo``) just enough to fit the window
   from that earliest start, if that needs at most ``max_stretch`` (``stretched``).
5. Else it plays at ``max_stretch`` from the earliest start and still runs over the window
   by ``overflow`` seconds (``tooLong``): reported, never squeezed further.  The next clip
   then starts ``guard`` seconds after it ends (a positive ``shift``): two dubbed lines
   never play at once.

Every placement says what the clip needed (``needed_tempo``: the speed-up it would take
from its own start, the segment's or later after an overrunning clip, to the window's end;
1.0 when none), what was allowed
(``max_tempo``), what was done (``tempo``, ``shift`` = start - segment start) and what
still overruns (``overflow`` seconds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

FITS = "fits"
USES_PAUSE = "usesPause"
SHIFTED = "shifted"
STRETCHED = "stretched"
TOO_LONG = "tooLong"
STATUSES = (FITS, USES_PAUSE, SHIFTED, STRETCHED, TOO_LONG)

#: Defaults of :func:`plan`: the gap kept after the previous clip, how early a clip may start.
GUARD_SECONDS = 0.05
GAP_SECONDS = 0.2
MAX_LEAD_SECONDS = 0.5
EPS = 1e-9
#: ``needed_tempo`` when a clip has no room at all (an earlier clip overran its whole window).
NO_ROOM_TEMPO = 99.0


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
    window_end: float  # the latest the clip may end without overlapping the next segment
    status: str
    overflow: float = 0.0  # seconds past window_end (only for tooLong)
    segment_start: float = 0.0
    segment_end: float = 0.0
    window_start: float = 0.0  # the earliest the clip could start (lead, previous clip)
    needed_tempo: float = 1.0  # speed-up needed from its own start to window_end (1.0 = none)
    max_tempo: float = 1.0  # the bound it was planned under (maxStretch)

    @property
    def end(self) -> float:
        return self.start + self.placed_seconds

    @property
    def shift(self) -> float:
        """Seconds the clip starts after (positive) or before (negative) its segment."""
        return self.start - self.segment_start

    @property
    def in_slot(self) -> bool:
        return self.status != TOO_LONG

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["end"] = round(self.end, 4)
        data["shift"] = round(self.shift, 4)
        return data


def _ceil(value: float, digits: int = 4) -> float:
    scale = 10**digits
    return math.ceil(value * scale - 1e-9) / scale


def plan(
    slots: Sequence[Slot],
    media_duration: float,
    max_stretch: float,
    guard: float = GUARD_SECONDS,
    max_lead: float = MAX_LEAD_SECONDS,
    gap: float = GAP_SECONDS,
) -> list[Placement]:
    """One placement per slot, sorted by start (then id).  See the module's rules."""
    if max_stretch < 1.0:
        raise ValueError("max_stretch must be at least 1.0")
    if max_lead < 0 or gap < 0 or guard < 0:
        raise ValueError("max_lead, gap and guard must not be negative")
    ordered = sorted(slots, key=lambda s: (s.start, s.id))
    result: list[Placement] = []
    previous_end: float | None = None
    for index, slot in enumerate(ordered):
        start = min(max(0.0, slot.start), media_duration)
        following = next((other.start for other in ordered[index + 1 :] if other.start > start), None)
        limit = media_duration if following is None else min(following - guard, media_duration)
        # A window never ends before the segment's own end (when segments overlap, keep the segment).
        window_end = max(limit, min(slot.end, media_duration), start + 0.01)
        clip = max(0.0, slot.clip_seconds)
        # Its own start, later only when the previous clip overran (then ``guard`` after it) ...
        base = start if previous_end is None else max(start, previous_end + guard)
        room = window_end - base
        needed = min(NO_ROOM_TEMPO, max(1.0, _ceil(clip / room))) if room > 0 else NO_ROOM_TEMPO
        # ... and the earliest it may be moved to: the lead before the segment, ``gap`` after the previous clip.
        earliest = max(0.0, start - max_lead)
        if previous_end is not None:
            earliest = max(earliest, previous_end + gap)
        earliest = min(earliest, base)
        common = dict(
            segment_start=start, segment_end=slot.end, window_start=earliest, needed_tempo=needed, max_tempo=max_stretch
        )
        if base + clip <= window_end + EPS:
            status = FITS if base == start and clip <= max(slot.end - start, 0.0) + EPS else USES_PAUSE
            placement = Placement(slot.id, base, clip, 1.0, clip, window_end, status, **common)
        elif earliest + clip <= window_end + EPS:
            placement = Placement(
                slot.id, max(earliest, window_end - clip), clip, 1.0, clip, window_end, SHIFTED, **common
            )
        else:
            first = earliest  # as early as allowed, then as little speed-up as that needs
            available = window_end - first
            tempo = _ceil(clip / available) if available > 0 else math.inf
            if tempo <= max_stretch + EPS:
                tempo = min(tempo, max_stretch)
                placement = Placement(slot.id, first, clip, tempo, clip / tempo, window_end, STRETCHED, **common)
            else:
                placed = clip / max_stretch
                overflow = first + placed - window_end
                placement = Placement(
                    slot.id, first, clip, max_stretch, placed, window_end, TOO_LONG, overflow=overflow, **common
                )
        result.append(placement)
        previous_end = placement.end if previous_end is None else max(previous_end, placement.end)
    return result


def summary(placements: Sequence[Placement]) -> dict[str, Any]:
    """Counts per status, the share in their slot, the largest tempo and shifts, and what did not fit."""
    counts = {status: 0 for status in STATUSES}
    for placement in placements:
        counts[placement.status] += 1
    count = len(placements)
    return {
        "segments": count,
        **counts,
        "inSlotShare": round(sum(1 for p in placements if p.in_slot) / count, 4) if count else 1.0,
        "maxTempo": round(max((p.tempo for p in placements), default=1.0), 4),
        "maxNeededTempo": round(max((p.needed_tempo for p in placements), default=1.0), 4),
        "maxLeadSeconds": round(max((-p.shift for p in placements if p.shift < 0), default=0.0), 4),
        "maxDelaySeconds": round(max((p.shift for p in placements if p.shift > 0), default=0.0), 4),
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
