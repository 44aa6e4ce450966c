"""Length budgets: how many characters a translation may have to be spoken in its segment's slot (pure).

A segment's slot runs from its start to the next segment's start (or the media's end), never
shorter than the segment itself: the time the time-fit (:mod:`.timefit`) can give its clip
without speeding it up.  The budget is the slot times a comfortable speaking rate of the target
language, in characters per second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from ..backends.base import SegmentToTranslate
from ..backends.languages import primary

#: Characters per second that a voice speaks comfortably, by primary language subtag (the
#: budget's rate); others take :data:`DEFAULT_CHARS_PER_SECOND`.  Scripts written without
#: spaces pack more speech into one character.
CHARS_PER_SECOND: Mapping[str, float] = {
    "en": 15.0, "es": 15.0, "pt": 14.5, "fr": 15.0, "it": 15.0, "de": 14.0, "nl": 14.0,
    "ru": 13.0, "pl": 13.0, "tr": 13.0, "hi": 12.0, "ar": 12.0,
    "ja": 7.5, "zh": 5.0, "ko": 6.5,
}  # fmt: skip
DEFAULT_CHARS_PER_SECOND = 14.0
#: No budget is set below this (a word or two always fits somewhere).
MIN_BUDGET_CHARS = 12


def chars_per_second(language: str) -> float:
    return CHARS_PER_SECOND.get(primary(language), DEFAULT_CHARS_PER_SECOND)


def slot_seconds(segments: Sequence[SegmentToTranslate], index: int, media_end: float | None) -> float:
    """The time segment ``index`` may be spoken in: to the next segment's start (or the media's end),
    never less than the segment itself.  ``segments`` are in time order."""
    segment = segments[index]
    following = segments[index + 1].start if index + 1 < len(segments) else media_end
    end = segment.end if following is None else max(segment.end, following)
    return max(0.0, end - segment.start)


def length_budget(seconds: float, target: str) -> int:
    """Most characters a translation spoken in ``seconds`` should have."""
    return max(MIN_BUDGET_CHARS, int(seconds * chars_per_second(target)))


def with_budgets(
    segments: Sequence[SegmentToTranslate], target: str, media_end: float | None
) -> list[SegmentToTranslate]:
    """The segments (time order) with ``max_chars`` set from each one's slot."""
    return [
        replace(segment, max_chars=length_budget(slot_seconds(segments, index, media_end), target))
        for index, segment in enumerate(segments)
    ]
