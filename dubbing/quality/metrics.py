"""Text error rates: word error rate (WER) and character error rate (CER). Pure functions.

Both texts are normalised the same way first (:func:`normalise_words`): Unicode NFKC,
lower case, punctuation dropped (apostrophes inside words kept), accents kept (``é`` and
``e`` are different letters in Portuguese), split on white space.  CER counts characters
of the normalised words joined by single spaces, so the spaces between words count too.

The edit distance is the Levenshtein distance, computed one row at a time with numpy
(the insertion term of a row is a running minimum), so a ten-minute transcript (about
10,000 characters) takes well under a second.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

#: Above this many cells the word alignment (substitutions/deletions/insertions) is not
#: traced back; the distance is still exact.
MAX_TRACE_CELLS = 4_000_000


def normalise_words(text: str) -> list[str]:
    """Lower case, accents kept, punctuation dropped (apostrophes inside words kept), split on spaces."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = re.sub(r"[^\w\s']", " ", text)
    return [word.strip("'") for word in text.split() if word.strip("'")]


def normalise_text(text: str) -> str:
    """The normalised words joined by single spaces (what CER is counted on)."""
    return " ".join(normalise_words(text))


def _codes(reference: Sequence[Hashable], hypothesis: Sequence[Hashable]) -> tuple[np.ndarray, np.ndarray]:
    """Both sequences as integer arrays over one shared vocabulary."""
    vocabulary: dict[Hashable, int] = {}
    ref = np.array([vocabulary.setdefault(item, len(vocabulary)) for item in reference], dtype=np.int64)
    hyp = np.array([vocabulary.setdefault(item, len(vocabulary)) for item in hypothesis], dtype=np.int64)
    return ref, hyp


def _rows(ref: np.ndarray, hyp: np.ndarray, keep: bool) -> tuple[int, np.ndarray | None]:
    """Levenshtein distance (and the whole matrix when ``keep``)."""
    width = len(hyp) + 1
    steps = np.arange(width, dtype=np.int64)
    previous = steps.copy()
    matrix = np.empty((len(ref) + 1, width), dtype=np.int32) if keep else None
    if matrix is not None:
        matrix[0] = previous
    for i, item in enumerate(ref, start=1):
        current = np.empty(width, dtype=np.int64)
        current[0] = i
        # deletion (from above) or substitution/match (diagonal) ...
        current[1:] = np.minimum(previous[1:] + 1, previous[:-1] + (hyp != item))
        # ... then insertions (from the left): current[j] = min_k<=j current[k] + (j - k)
        current = np.minimum.accumulate(current - steps) + steps
        previous = current
        if matrix is not None:
            matrix[i] = current
    return int(previous[-1]), matrix


def edit_distance(reference: Sequence[Hashable], hypothesis: Sequence[Hashable]) -> int:
    """Levenshtein distance over any items (substitutions, insertions, deletions cost 1)."""
    if not reference:
        return len(hypothesis)
    if not hypothesis:
        return len(reference)
    ref, hyp = _codes(reference, hypothesis)
    return _rows(ref, hyp, keep=False)[0]


@dataclass(frozen=True)
class Alignment:
    """Edit counts of one reference/hypothesis pair (``substitutions`` etc. None when not traced)."""

    reference: int  # items in the reference
    hypothesis: int  # items in the hypothesis
    distance: int
    substitutions: int | None = None
    deletions: int | None = None
    insertions: int | None = None

    @property
    def rate(self) -> float:
        """Errors per reference item (0 = perfect; can exceed 1 with many insertions).

        An empty reference scores 0.0 against an empty hypothesis and 1.0 against anything else.
        """
        if self.reference == 0:
            return 0.0 if self.hypothesis == 0 else 1.0
        return self.distance / self.reference


def align(reference: Sequence[Hashable], hypothesis: Sequence[Hashable], trace: bool = True) -> Alignment:
    """Edit distance with the substitution/deletion/insertion counts of one optimal alignment."""
    n, m = len(reference), len(hypothesis)
    if n == 0 or m == 0:
        return Alignment(n, m, n + m, 0, n, m)
    ref, hyp = _codes(reference, hypothesis)
    keep = trace and (n + 1) * (m + 1) <= MAX_TRACE_CELLS
    distance, matrix = _rows(ref, hyp, keep)
    if matrix is None:
        return Alignment(n, m, distance)
    subs = dels = ins = 0
    i, j = n, m
    while i > 0 or j > 0:
        here = matrix[i, j]
        if i > 0 and j > 0 and here == matrix[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            subs += int(ref[i - 1] != hyp[j - 1])
            i, j = i - 1, j - 1
        elif i > 0 and here == matrix[i - 1, j] + 1:
            dels += 1
            i -= 1
        else:
            ins += 1
            j -= 1
    return Alignment(n, m, distance, subs, dels, ins)


def word_alignment(reference: str, hypothesis: str) -> Alignment:
    return align(normalise_words(reference), normalise_words(hypothesis))


def character_alignment(reference: str, hypothesis: str) -> Alignment:
    return align(list(normalise_text(reference)), list(normalise_text(hypothesis)), trace=False)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, after :func:`normalise_words`."""
    return word_alignment(reference, hypothesis).rate


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Character edit distance / reference characters, on :func:`normalise_text` (spaces count)."""
    return character_alignment(reference, hypothesis).rate
