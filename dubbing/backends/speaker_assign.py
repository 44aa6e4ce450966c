"""Give transcript segments the speaker of the diarization turns (pure functions).

Each word takes the speaker whose turns overlap it most (the nearest turn when none
overlaps).  A segment whose words change speaker is split at the change; a lone word
between two changes stays with the run before it (one word is too little evidence).
A segment without word timings takes the speaker overlapping its whole span most.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from ..segments import Segment, SpeakerTurn, Word

DEFAULT_SPEAKER = "S0"


def speaker_for_span(start: float, end: float, turns: Sequence[SpeakerTurn]) -> str:
    """The speaker with the most overlap with [start, end]; the nearest turn's if none overlaps."""
    if not turns:
        return DEFAULT_SPEAKER
    overlap: dict[str, float] = defaultdict(float)
    for turn in turns:
        shared = min(end, turn.end) - max(start, turn.start)
        if shared > 0:
            overlap[turn.speaker] += shared
    if overlap:
        return max(overlap.items(), key=lambda item: item[1])[0]
    middle = (start + end) / 2
    nearest = min(
        turns,
        key=lambda turn: (
            0.0 if turn.start <= middle <= turn.end else min(abs(turn.start - middle), abs(turn.end - middle))
        ),
    )
    return nearest.speaker


def _runs(words: Sequence[Word], speakers: Sequence[str]) -> list[tuple[str, list[Word]]]:
    runs: list[tuple[str, list[Word]]] = []
    for word, speaker in zip(words, speakers, strict=False):
        if runs and runs[-1][0] == speaker:
            runs[-1][1].append(word)
        else:
            runs.append((speaker, [word]))
    # A one-word run joins its predecessor (or, at the start, its successor).
    joined: list[tuple[str, list[Word]]] = []
    for speaker, run in runs:
        if joined and (len(run) == 1 or joined[-1][0] == speaker):
            joined[-1][1].extend(run)
        else:
            joined.append((speaker, list(run)))
    if len(joined) > 1 and len(joined[0][1]) == 1:
        first = joined.pop(0)
        joined[0] = (joined[0][0], first[1] + joined[0][1])
    return joined


def _text(words: Sequence[Word]) -> str:
    return "".join(word.word for word in words).strip()


def assign_speakers(segments: Sequence[Segment], turns: Sequence[SpeakerTurn]) -> list[Segment]:
    """Segments with speakers set (split at speaker changes), renumbered from 0."""
    result: list[Segment] = []
    for segment in segments:
        pieces: list[tuple[str, float, float, str, tuple[Word, ...]]]
        if not segment.words:
            pieces = [
                (speaker_for_span(segment.start, segment.end, turns), segment.start, segment.end, segment.text, ())
            ]
        else:
            speakers = [speaker_for_span(word.start, word.end, turns) for word in segment.words]
            runs = _runs(segment.words, speakers)
            if len(runs) == 1:
                pieces = [(runs[0][0], segment.start, segment.end, segment.text, segment.words)]
            else:
                pieces = [(speaker, run[0].start, run[-1].end, _text(run), tuple(run)) for speaker, run in runs]
        for speaker, start, end, text, words in pieces:
            result.append(
                Segment(id=len(result), start=start, end=end, text=text.strip(), speaker=speaker, words=tuple(words))
            )
    return result
