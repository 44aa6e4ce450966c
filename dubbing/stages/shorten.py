"""The second pass after synthesis: which clips the time-fit cannot place, and how short their
text should get (pure functions; the tts stage asks the translator and speaks them again).

The time-fit (:mod:`.timefit`) is run on the clips as synthesised, under the mix's
``maxStretch``.  A ``tooLong`` clip needs a speed-up beyond the bound; its text's new budget is
its length scaled by what the bound allows over what it needs, a little under that, but never
below :data:`MIN_KEEP` of the current text (the bound: a line is shortened, not gutted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import timefit

#: A shortened line keeps at least this share of its characters.
MIN_KEEP = 0.6
#: Aim a little under the exact fit (speech length is not exactly proportional to characters).
MARGIN = 0.92


@dataclass(frozen=True)
class Misfit:
    id: int
    needed_tempo: float
    max_tempo: float
    overflow: float


def misfits(placements: Sequence[timefit.Placement]) -> list[Misfit]:
    return [Misfit(p.id, p.needed_tempo, p.max_tempo, p.overflow) for p in placements if p.status == timefit.TOO_LONG]


def shorter_budget(current_chars: int, misfit: Misfit) -> int:
    """Characters the line should have to fit at the allowed speed-up, within :data:`MIN_KEEP`."""
    if misfit.needed_tempo <= 0 or misfit.needed_tempo >= timefit.NO_ROOM_TEMPO:
        fit = 0.0  # no room at all: as short as the bound lets it be
    else:
        fit = current_chars * misfit.max_tempo / misfit.needed_tempo * MARGIN
    return max(int(current_chars * MIN_KEEP + 0.999), min(current_chars - 1, int(fit)))
