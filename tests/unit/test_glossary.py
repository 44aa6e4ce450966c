"""The glossary's pure parts: term protection through a sentence translator, the fallback and
its misses, pronunciation hints, parsing with its bounds, conflicts, and the merge (job wins)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from dubbing.api.v1alpha1 import DubbingJobSpec, GlossaryEntry, Phonemes
from dubbing.backends.base import GlossaryTerm
from dubbing.backends.termguard import guarded_translate, protect, restore
from dubbing.glossary import MAX_ENTRIES, GlossaryError, conflicts, dump, loads, merge, parse
from dubbing.stages.pronounce import hints_for, spoken_text

TERMS = [GlossaryTerm("library", "Mediateca"), GlossaryTerm("city library", "Biblioteca Central"), GlossaryTerm("Qux")]


def test_protect_longest_first_case_insensitive_whole_words() -> None:
    guard = protect("The City  Library and the library, not libraryX or qux-ish Qux.", TERMS)
    assert guard.text == "The [T0] and the [T1], not libraryX or [T2]-ish [T3]."
    assert guard.slots == (1, 0, 2, 2)
    assert restore("A [T0] e a [t1], [T2] [T3].", guard, TERMS) == ("A Biblioteca Central e a Mediateca, Qux Qux.")
    assert restore("A [ T0 ] e a [T1 ], [T2] [t3]", guard, TERMS) == "A Biblioteca Central e a Mediateca, Qux Qux"


@pytest.mark.parametrize("answer", ["A e a [T1]", "A [T0] [T0] [T1]", "[T0] [T1] [T7]"])
def test_restore_refuses_a_lost_repeated_or_strange_placeholder(answer: str) -> None:
    guard = protect("the city library and the library", TERMS)
    assert restore(answer, guard, TERMS) is None


def fake_nmt(lines: list[str], drop: bool) -> list[str]:
    """A word-for-word 'translator' that drops placeholders when asked (the failure the fallback is for)."""
    words = {"the": "a", "library": "biblioteca", "opens": "abre", "reading": "sala", "room": "leitura"}
    out = []
    for line in lines:
        said = [words.get(w.lower(), w) for w in line.split()]
        if drop:
            said = [w for w in said if not w.startswith("[T")]
        out.append(" ".join(said))
    return out


def test_guarded_translation_applies_terms_and_reports_them() -> None:
    calls: list[list[str]] = []

    def nmt(lines: list[str]) -> list[str]:
        calls.append(lines)
        return fake_nmt(lines, drop=False)

    out, report = guarded_translate([7, 8], ["the library opens", "the room"], TERMS, nmt)
    assert out == ["a Mediateca abre", "a leitura"]
    assert calls == [["the [T0] opens", "the room"]]  # one call, nothing to fall back on
    assert report.as_dict() == {
        "method": "placeholders",
        "applied": {"library": 1},
        "retries": [],
        "fallbacks": [],
        "misses": [],
    }


def test_lost_placeholder_falls_back_to_substitution_or_reports_a_miss() -> None:
    terms = [GlossaryTerm("library", "Mediateca"), GlossaryTerm("reading room", "salão")]
    calls: list[list[str]] = []

    def nmt(lines: list[str]) -> list[str]:
        calls.append(lines)
        return fake_nmt(lines, drop=len(calls) <= 2)  # the first try and the retry lose them

    out, report = guarded_translate([3, 4], ["the library opens", "the reading room"], terms, nmt)
    # second call: numbered from 10; third: the lines as they are, then each lost term alone
    assert calls[1] == ["the [T10] opens", "the [T10]"]
    assert calls[2] == ["the library opens", "the reading room", "library", "reading room"]
    assert out[0] == "a Mediateca abre"  # the model's own "biblioteca" replaced
    assert out[1] == "a salão"  # "reading room" alone gives "sala leitura", found in the line and replaced
    assert report.retries == [3, 4] and report.fallbacks == [3, 4]
    assert report.applied == {"library": 1, "reading room": 1} and report.misses == []


def test_miss_is_reported_when_the_term_cannot_be_found() -> None:
    def nmt(lines: list[str]) -> list[str]:
        return ["something else entirely" if " " in line else "biblioteca" for line in lines]

    out, report = guarded_translate([5], ["the library opens"], [GlossaryTerm("library", "Mediateca")], nmt)
    assert out == ["something else entirely"]
    assert report.misses == [(5, "library")] and report.applied == {} and report.fallbacks == [5]
    assert report.retries == [5]


def test_a_line_that_lost_a_placeholder_is_tried_again_with_other_numbers() -> None:
    calls: list[list[str]] = []

    def nmt(lines: list[str]) -> list[str]:
        calls.append(lines)
        return fake_nmt(lines, drop=len(calls) == 1)

    out, report = guarded_translate([1, 2], ["the library opens", "the room"], TERMS[:1], nmt)
    assert calls == [["the [T0] opens", "the room"], ["the [T10] opens"]]
    assert out == ["a Mediateca abre", "a leitura"]
    assert report.retries == [1] and report.fallbacks == [] and report.applied == {"library": 1}


def test_pronunciation_hints_phonemes_where_taken_else_respelling() -> None:
    entries = [
        GlossaryEntry(
            source="library", target="Mediateca", pronounce="Médiatéca", phonemes=Phonemes(espeak="m'edZat'Eka")
        ),
        GlossaryEntry(source="Kubernetes", pronounce="Cubernêtis", languages=["pt-BR"]),
        GlossaryEntry(source="server", target="servidor"),  # no hint: not given to the tts
        GlossaryEntry(source="job", pronounce="djób", languages=["de"]),
    ]
    hints = hints_for(entries, "pt-BR")
    assert [h["written"] for h in hints] == ["Mediateca", "Kubernetes"]
    text = "A mediateca usa Kubernetes no servidor."
    assert spoken_text(text, hints, "espeak") == (
        "A [[m'edZat'Eka]] usa Cubernêtis no servidor.",
        {"Mediateca": 1, "Kubernetes": 1},
    )
    assert spoken_text(text, hints, "ipa")[0] == "A Médiatéca usa Cubernêtis no servidor."  # no IPA given
    assert spoken_text(text, hints, None)[0] == "A Médiatéca usa Cubernêtis no servidor."
    assert spoken_text("Mediatecas", hints, None) == ("Mediatecas", {})  # whole words only


def test_100000_entries_refused_with_the_reason_everywhere() -> None:
    huge = [{"source": f"t{i}"} for i in range(100_000)]
    with pytest.raises(GlossaryError, match="100000 entries: a glossary holds at most 500"):
        parse(huge)
    with pytest.raises(GlossaryError, match="100000 entries"):
        loads(json.dumps(huge))
    with pytest.raises(GlossaryError, match="larger than any glossary of at most 500 entries"):
        loads(json.dumps([{"source": f"term number {i}", "target": f"termo número {i}"} for i in range(100_000)]))
    with pytest.raises(ValidationError, match="at most 500 items"):
        DubbingJobSpec.model_validate(
            {"input": {"bucket": "media", "key": "k"}, "targetLanguages": ["pt-BR"], "glossary": huge}
        )
    assert len(parse(huge[:MAX_ENTRIES])) == MAX_ENTRIES


def test_bad_entries_and_conflicts_refused_whole_with_their_numbers() -> None:
    with pytest.raises(GlossaryError, match=r"entry 2: source: .*at least 1 character.*entry 3: extra: Extra inputs"):
        parse([{"source": "ok"}, {"source": ""}, {"source": "x", "extra": 1}])
    with pytest.raises(GlossaryError, match="a glossary is a JSON list"):
        loads('{"source": "x"}')
    with pytest.raises(GlossaryError, match="not JSON"):
        loads("[{")
    clash = [
        {"source": "Library", "target": "Mediateca"},
        {"source": "library ", "target": "Biblioteca", "languages": ["pt-BR"]},
        {"source": "library", "target": "Bücherei", "languages": ["de"]},
        {"source": "server", "languages": ["es"]},
        {"source": "server", "target": "servidor", "languages": ["pt-BR"]},  # other language: fine
    ]
    with pytest.raises(GlossaryError) as caught:
        parse(clash)
    assert str(caught.value) == (
        "entries 1 and 2 are two entries for 'Library' (pt-BR); entries 1 and 3 are two entries for 'Library' (de)"
    )
    with pytest.raises(ValidationError, match="glossary: entries 1 and 2 are the same entry twice"):
        DubbingJobSpec.model_validate(
            {"input": {"bucket": "media", "key": "k"}, "targetLanguages": ["es"], "glossary": [{"source": "a"}] * 2}
        )
    assert conflicts(parse(clash[2:])) == []


def test_merge_job_entries_win_and_the_bound_holds() -> None:
    mine = parse(
        [{"source": "library", "target": "Mediateca"}, {"source": "cafe"}, {"source": "room", "languages": ["de"]}]
    )
    job = parse([{"source": "Library", "target": "Biblioteca"}, {"source": "room", "languages": ["es"]}])
    merged = merge(mine, job)
    assert dump(merged) == [
        {"source": "cafe"},
        {"source": "room", "languages": ["de"]},
        {"source": "Library", "target": "Biblioteca"},
        {"source": "room", "languages": ["es"]},
    ]
    many = parse([{"source": f"t{i}"} for i in range(MAX_ENTRIES)])
    with pytest.raises(GlossaryError, match="501 entries with the job's own"):
        merge(many, parse([{"source": "one more"}]))


def test_kokoro_splices_ipa_blocks_into_the_phonemes_of_the_rest() -> None:
    from dubbing.backends.tts_kokoro import splice_phonemes

    def phonemize(part: str) -> str:
        return "/" + part.strip() + "/"

    assert splice_phonemes("A Mediateca abre.", phonemize) is None
    assert splice_phonemes("A [[ midʒiaˈtɛka ]] abre, [[x]]", phonemize) == "/A/ midʒiaˈtɛka /abre,/ x"


def test_only_the_glossary_imports_get_a_larger_body_cap() -> None:
    from dubbing.glossary import MAX_BYTES
    from dubbing_webui.bodylimit import limit_for

    assert limit_for("POST", "/settings/glossary/import", 65536) > MAX_BYTES
    assert limit_for("PUT", "/api/settings/glossary", 65536) > MAX_BYTES
    for method, path in (("POST", "/settings/glossary"), ("GET", "/api/settings/glossary"), ("POST", "/api/jobs")):
        assert limit_for(method, path, 65536) == 65536


def test_cli_glossary_file_refused_with_the_reason(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dubbing.cli import read_glossary
    from dubbing.stages.errors import StageFailure

    good = tmp_path / "good.json"
    good.write_text(json.dumps({"glossary": [{"source": "library", "target": "Mediateca"}]}), encoding="utf-8")
    assert read_glossary(str(good)) == [{"source": "library", "target": "Mediateca"}]
    clash = tmp_path / "clash.json"
    clash.write_text(json.dumps([{"source": "library"}, {"source": "LIBRARY", "target": "x"}]), encoding="utf-8")
    for path, reason in (
        (clash, "entries 1 and 2 are two entries for 'library' (every language)"),
        (tmp_path / "absent.json", "No such file or directory"),
    ):
        with pytest.raises(StageFailure) as caught:
            read_glossary(str(path))
        assert caught.value.reason == "InvalidGlossary" and reason in caught.value.message
