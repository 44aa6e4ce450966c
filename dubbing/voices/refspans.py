"""Which stretches of a speaker's speech make their library reference clip (pure).

The cleanest speech first, by a measured criterion: the ASR's confidence in the words of a
segment (the mean of its words' probabilities), then the segment's length.  Segments
shorter than ``min_span`` are left out, each span is at most ``max_span`` long, and the spans
add up to at most ``max_total`` seconds.  Returned in time order, with the score of each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..segments import Segment

#: A segment whose words carry no probability counts as this confident.
UNKNOWN_CONFIDENCE = 0.5
MAX_TOTAL_SECONDS = 20.0


@dataclass(frozen=True)
class Span:
    start: float
    end: float
    confidence: float
    segment: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "confidence": round(self.confidence, 4),
            "segment": self.segment,
        }


def confidence(segment: Segment) -> float:
    """Mean word probability of the segment (the ASR's confidence), or :data:`UNKNOWN_CONFIDENCE`."""
    known = [word.probability for word in segment.words if word.probability is not None]
    return sum(known) / len(known) if known else UNKNOWN_CONFIDENCE


def cleanest_spans(
    segments: Sequence[Segment],
    speaker: str,
    max_total: float = MAX_TOTAL_SECONDS,
    min_span: float = 1.0,
    max_span: float = 8.0,
) -> list[Span]:
    """The speaker's most confidently recognised segments, at most ``max_total`` s in all; in time order."""
    own = [s for s in segments if s.speaker == speaker and s.duration >= min_span]
    own.sort(key=lambda s: (-confidence(s), -s.duration, s.start))
    chosen: list[Span] = []
    total = 0.0
    for segment in own:
        length = min(segment.duration, max_span, max_total - total)
        if length < min_span:
            break
        chosen.append(Span(segment.start, segment.start + length, confidence(segment), segment.id))
        total += length
    return sorted(chosen, key=lambda span: span.start)
