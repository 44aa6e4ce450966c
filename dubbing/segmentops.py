"""Merging two segments into one and splitting one in two (pure).

What a merge or a split makes of the segments' times, texts, words and translations; the
edits document (:mod:`dubbing.edits`) says which segments and under which new ids.
"""

from __future__ import annotations

from dataclasses import replace

from .segments import Segment, Word

#: A piece of a split is at least this long (seconds).
MIN_PIECE_S = 0.1


def join_texts(first: str | None, second: str | None) -> str | None:
    """Two texts one after the other (None when both are None)."""
    parts = [part.strip() for part in (first, second) if part is not None and part.strip()]
    if not parts and first is None and second is None:
        return None
    return " ".join(parts)


def merge(first: Segment, second: Segment, into: int) -> Segment:
    """``first`` and ``second`` (in time order) as one segment ``into``: from the first's start to
    the second's end, the texts, words and translations joined, the first's speaker."""
    return Segment(
        id=into,
        start=min(first.start, second.start),
        end=max(first.end, second.end),
        text=join_texts(first.text, second.text) or "",
        speaker=first.speaker,
        words=first.words + second.words,
        translation=join_texts(first.translation, second.translation),
    )


def split_text(text: str, fraction: float) -> tuple[str, str]:
    """``text`` cut at the word boundary nearest ``fraction`` of its words; ("", "") pieces are
    possible only for texts of fewer than two words."""
    tokens = text.split()
    if len(tokens) < 2:
        return text.strip(), ""
    cut = min(len(tokens) - 1, max(1, round(fraction * len(tokens))))
    return " ".join(tokens[:cut]), " ".join(tokens[cut:])


def _split_words(words: tuple[Word, ...], at: float) -> tuple[tuple[Word, ...], tuple[Word, ...]]:
    before = tuple(w for w in words if (w.start + w.end) / 2 < at)
    return before, tuple(w for w in words if (w.start + w.end) / 2 >= at)


def split(segment: Segment, at: float, into: tuple[int, int]) -> tuple[Segment, Segment]:
    """``segment`` cut at ``at`` seconds into ``into[0]`` (before) and ``into[1]`` (after).

    The text goes by the recognised words' times when they match the text and fall on both
    sides; otherwise it is cut at the word boundary nearest the same share of its words.  A
    translation is cut by the same share."""
    span = segment.end - segment.start
    fraction = (at - segment.start) / span if span > 0 else 0.5
    before, after = _split_words(segment.words, at)
    spoken = " ".join(w.word.strip() for w in segment.words)
    if before and after and spoken.split() == segment.text.split():
        texts = (" ".join(w.word.strip() for w in before), " ".join(w.word.strip() for w in after))
    else:
        texts = split_text(segment.text, fraction)
        before, after = (), ()
    translations: tuple[str | None, str | None] = (None, None)
    if segment.translation is not None:
        translations = split_text(segment.translation, fraction)
    first = replace(segment, id=into[0], end=at, text=texts[0], words=before, translation=translations[0])
    second = replace(segment, id=into[1], start=at, text=texts[1], words=after, translation=translations[1])
    return first, second
