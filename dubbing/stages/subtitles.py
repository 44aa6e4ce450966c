"""Subtitle text (SRT and WebVTT) from timed segments. Pure functions."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..segments import Segment

MAX_LINE = 42  # characters per subtitle line (a common broadcast guideline)
MIN_CUE = 0.5  # seconds


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def _clock(seconds: float, separator: str) -> str:
    millis = max(0, int(round(seconds * 1000)))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def srt_time(seconds: float) -> str:
    return _clock(seconds, ",")


def vtt_time(seconds: float) -> str:
    return _clock(seconds, ".")


def wrap(text: str, width: int = MAX_LINE) -> str:
    """One or two lines of at most ``width`` characters where possible (never splits words)."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    lines = textwrap.wrap(text, width=width, break_long_words=False, break_on_hyphens=False)
    if len(lines) <= 2:
        return "\n".join(lines)
    # Balance into two lines rather than many short ones.
    words = text.split()
    best = (10**9, 1)
    for cut in range(1, len(words)):
        first, second = " ".join(words[:cut]), " ".join(words[cut:])
        score = max(len(first), len(second))
        if score < best[0]:
            best = (score, cut)
    cut = best[1]
    return " ".join(words[:cut]) + "\n" + " ".join(words[cut:])


def cues_from_segments(segments: Sequence[Segment], use_translation: bool, duration: float | None = None) -> list[Cue]:
    """Cues sorted by time, without overlaps, at least MIN_CUE long where room allows; empty texts dropped."""
    ordered = sorted(segments, key=lambda s: (s.start, s.id))
    cues: list[Cue] = []
    for index, segment in enumerate(ordered):
        text = (segment.translation if use_translation and segment.translation is not None else segment.text) or ""
        text = " ".join(text.split())
        if not text:
            continue
        start = max(0.0, segment.start)
        end = max(segment.end, start + MIN_CUE)
        following = next((s.start for s in ordered[index + 1 :] if s.start > start), None)
        if following is not None:
            end = min(end, following)
        if duration is not None:
            end = min(end, duration)
        if end <= start:
            end = start + 0.001
        cues.append(Cue(start, end, wrap(text)))
    return cues


def to_srt(cues: Iterable[Cue]) -> str:
    blocks = []
    for number, cue in enumerate(cues, start=1):
        blocks.append(f"{number}\n{srt_time(cue.start)} --> {srt_time(cue.end)}\n{cue.text}\n")
    return "\n".join(blocks)


def to_vtt(cues: Iterable[Cue]) -> str:
    blocks = ["WEBVTT\n"]
    for cue in cues:
        # "-->" must not appear in a cue's text; a blank line would end the cue.
        text = cue.text.replace("-->", "->")
        blocks.append(f"{vtt_time(cue.start)} --> {vtt_time(cue.end)}\n{text}\n")
    return "\n".join(blocks)
