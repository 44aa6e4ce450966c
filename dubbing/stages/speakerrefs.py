"""Which stretches of a speaker's own voice become their reference clips for voice cloning. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from ..segments import Segment


def choose_reference_spans(
    segments: Sequence[Segment], speaker: str, max_total: float = 15.0, min_span: float = 1.0, max_span: float = 10.0
) -> list[tuple[float, float]]:
    """Longest segments of ``speaker`` first, each at most ``max_span`` s, until ``max_total`` s; in time order."""
    own = [s for s in segments if s.speaker == speaker and s.duration >= min_span]
    own.sort(key=lambda s: (-s.duration, s.start))
    chosen: list[tuple[float, float]] = []
    total = 0.0
    for segment in own:
        if total >= max_total:
            break
        length = min(segment.duration, max_span, max_total - total)
        if length < min_span:
            continue
        chosen.append((segment.start, segment.start + length))
        total += length
    if not chosen:  # only short segments: take what there is
        shorts = sorted((s for s in segments if s.speaker == speaker and s.duration > 0), key=lambda s: -s.duration)
        for segment in shorts[:5]:
            chosen.append((segment.start, segment.end))
    return sorted(chosen)
