"""Rate before stretch: how much faster the TTS backend reads a line that would overrun (pure).

The time-fit (:mod:`dubbing.stages.timefit`) first uses the pause after a segment and a
little lead before it; a clip that still does not fit would then be sped up by ``atempo``.
A backend with its own speaking-rate control (Kokoro ``speed``, espeak-ng words per minute,
Piper's length scale, XTTS ``speed``) reads the line faster instead, which sounds more
natural than a stretched recording: the tts stage plans each clip as the mix would, and a
clip that needs a speed-up is synthesised again at :func:`choose_rate`, at most
``max_rate``.  Only what the faster reading leaves is stretched by the mix (up to its
``maxStretch``).  A speaking rate does not shorten pauses as much as speech, so up to
:data:`MAX_CORRECTIONS` more readings (:func:`corrected_rate`) aim again from what the last one measured.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from . import timefit

#: The tts stage's ``maxRate`` default: the fastest reading asked of a backend.
DEFAULT_MAX_RATE = 1.25
#: The stretch the tts stage plans earlier clips with: as if each were squeezed into its window,
#: so one line that stays too long does not make the lines after it read faster.
PLANNING_STRETCH = 100.0
#: Speed-ups within this of 1.0 are not worth a second synthesis (``atempo`` does them inaudibly).
MIN_USEFUL_RATE = 1.02
#: At most this many more readings aim again after the first faster one (Kokoro's clips shorten in
#: steps: 5.65 s read at 1.09 and 1.12 gave 5.33 s both times on the demo's tighter sample).
MAX_CORRECTIONS = 2
#: The reading ``rate`` counts as close enough when its clip is within this share of the target.
TOLERANCE = 0.01


def _ceil(value: float) -> float:
    return math.ceil(value * 100 - 1e-9) / 100


def needed_speedup(placement: timefit.Placement) -> float:
    """The speed-up a clip needs to fit its window from the earliest start it may take
    (1.0 when it fits with the pause after it or a lead before it)."""
    if placement.status in (timefit.FITS, timefit.USES_PAUSE, timefit.SHIFTED):
        return 1.0
    room = placement.window_end - placement.window_start
    if room <= 0:
        return timefit.NO_ROOM_TEMPO
    return max(1.0, placement.clip_seconds / room)


def choose_rate(needed: float, max_rate: float) -> float:
    """The speaking rate for a clip that needs ``needed`` times its length: that, rounded up to
    a hundredth and at most ``max_rate``; 1.0 when the need is below :data:`MIN_USEFUL_RATE`."""
    if max_rate < 1.0:
        raise ValueError("max_rate must be at least 1.0")
    if needed < MIN_USEFUL_RATE:
        return 1.0
    return min(max_rate, _ceil(needed))


def corrected_rate(rate: float, seconds: float, target: float, max_rate: float) -> float | None:
    """After reading at ``rate`` gave ``seconds`` where ``target`` was wanted: the rate for one
    more reading (the length assumed to scale inversely with the rate), or None when the
    reading is close enough or the bound is reached."""
    if target <= 0 or seconds <= target * (1 + TOLERANCE) or rate >= max_rate:
        return None
    better = min(max_rate, _ceil(rate * seconds / target))
    return better if better > rate else None


def first_to_speed_up(
    placements: Sequence[timefit.Placement], done: set[int], max_rate: float
) -> tuple[int, float] | None:
    """The earliest clip (by placement) not yet read faster that needs a rate, and that rate; None if none.

    Clips are taken in order because a clip's window depends on where the ones before it end."""
    for placement in placements:
        if placement.id in done:
            continue
        rate = choose_rate(needed_speedup(placement), max_rate)
        if rate > 1.0:
            return placement.id, rate
    return None
