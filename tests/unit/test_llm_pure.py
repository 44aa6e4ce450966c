"""The llm translate backend's decisions, the length budgets and the second pass's bounds (pure)."""

from __future__ import annotations

import json

import pytest

from dubbing.api.v1alpha1 import DubbingJobSpec, GlossaryEntry, TranslateOptions
from dubbing.backends import llm_prompt as prompt
from dubbing.backends.base import GlossaryTerm, SegmentToTranslate
from dubbing.backends.llm_client import backoff_seconds, endpoint_base
from dubbing.backends.translate_ct2 import candidate_folders, is_folder_name
from dubbing.demo import uses_llm
from dubbing.stages import shorten, timefit
from dubbing.stages.budget import length_budget, slot_seconds, with_budgets
from dubbing.stages.translate import glossary_for, glossary_kept

GLOSSARY = [
    GlossaryTerm("Kubernetes"),
    GlossaryTerm("server", "servidor"),
    GlossaryTerm("Kubernetes operator", "operador de Kubernetes"),
]


def test_terms_go_in_rendered_longest_first_and_are_checked_and_written_exactly():
    text, used = prompt.apply_terms("The Kubernetes operator talks to the SERVER, not to kubernetes.", GLOSSARY)
    assert text == "The operador de Kubernetes talks to the servidor, not to Kubernetes."
    assert used == ["operador de Kubernetes", "Kubernetes", "servidor"]
    assert prompt.apply_terms("servers and observer", GLOSSARY) == ("servers and observer", [])  # whole words only
    assert prompt.missing_terms("El Servidor y k8s", ["servidor", "Kubernetes"]) == ["Kubernetes"]
    assert prompt.exact_terms("el Operador de kubernetes y el Servidor", GLOSSARY) == (
        "el operador de Kubernetes y el servidor"
    )
    assert prompt.apply_terms(r"a server", [GlossaryTerm("server", r"serv\1dor")])[0] == r"a serv\1dor"


def test_replies_are_refused_with_a_reason():
    sent = {0: ["Kubernetes"], 1: []}
    originals = {0: "We run it on Kubernetes.", 1: "Hello there my friend", 2: "A line of the context"}
    good = json.dumps({"translations": [{"id": 0, "text": "con Kubernetes"}, {"id": 1, "text": " hola  mundo "}]})
    assert prompt.parse_reply(good, sent, originals) == {0: "con Kubernetes", 1: "hola mundo"}
    assert prompt.parse_reply("```json\n" + good + "\n```", sent)[1] == "hola mundo"
    cases = {
        "no JSON here": "the answer is not JSON",
        "[1, 2]": "must be an object",
        '{"translations": {}}': 'must be an object {"translations": [...]}',
        '{"translations": [{"id": 0}]}': "each translation must be an object",
        '{"translations": [{"id": 7, "text": "x"}]}': "id 7 was not asked for",
        '{"translations": [{"id": 0, "text": "Kubernetes"}, {"id": 0, "text": "y"}]}': "id 0 is translated twice",
        '{"translations": [{"id": 1, "text": "  "}]}': "the translation of id 1 is empty",
        '{"translations": [{"id": 0, "text": "con k8s"}, {"id": 1, "text": "x"}]}': "must contain 'Kubernetes'",
        '{"translations": [{"id": 0, "text": "Kubernetes"}, {"id": 1, "text": "¡¡¡¡¡¡¡¡"}]}': "repeats one character",
        '{"translations": [{"id": 0, "text": "Kubernetes"}, {"id": 1, "text": "Hello there, my friend!"}]}': "id 1 is not translated",
        '{"translations": [{"id": 0, "text": "Kubernetes"}, {"id": 1, "text": "a line of the context."}]}': "id 1 is not translated: it is line 2 as given",
        '{"translations": [{"id": 0, "text": "Kubernetes"}]}': "ids 1 are not translated",
        '{"translations": [{"id": "x", "text": "Kubernetes"}]}': "is not a number",
    }
    for content, reason in cases.items():
        with pytest.raises(prompt.InvalidReply) as refused:
            prompt.parse_reply(content, sent, originals)
        assert reason in str(refused.value), content


def test_batches_carry_neighbours_and_skip_silence():
    items = [SegmentToTranslate(i, t) for i, t in enumerate(["a", "b", " ", "c", "d", "e"])]
    groups = prompt.batches(items, 2, 1)
    assert [g.ids for g in groups] == [[0, 1], [3, 4], [5]]
    assert [s.id for s in groups[1].before] == [1] and [s.id for s in groups[1].after] == [5]
    assert groups[0].before == () and groups[2].after == ()


def test_schema_pins_ids_count_and_length():
    schema = prompt.reply_schema([3, 4], 90)["properties"]["translations"]
    assert schema["minItems"] == schema["maxItems"] == 2
    assert schema["items"]["properties"]["id"]["enum"] == [3, 4]
    assert schema["items"]["properties"]["text"]["maxLength"] == 90


def test_budgets_come_from_the_slot_up_to_the_next_segment():
    items = [SegmentToTranslate(0, "a", start=0.0, end=2.0), SegmentToTranslate(1, "b", start=3.0, end=4.0)]
    assert slot_seconds(items, 0, 10.0) == 3.0 and slot_seconds(items, 1, 10.0) == 7.0
    assert slot_seconds(items, 1, None) == 1.0
    assert [s.max_chars for s in with_budgets(items, "es", 10.0)] == [45, 105]
    assert length_budget(0.2, "es") == 12  # never below the minimum
    assert length_budget(2.0, "ja") == 15


def test_second_pass_budget_is_bounded():
    misfit = shorten.Misfit(id=1, needed_tempo=1.5, max_tempo=1.25, overflow=0.4)
    assert shorten.shorter_budget(100, misfit) == 76  # 100 * 1.25 / 1.5 * 0.92
    hopeless = shorten.Misfit(id=1, needed_tempo=4.0, max_tempo=1.25, overflow=3.0)
    assert shorten.shorter_budget(100, hopeless) == 60  # never below 60 % of the line
    assert shorten.shorter_budget(100, shorten.Misfit(1, timefit.NO_ROOM_TEMPO, 1.25, 2.0)) == 60
    placements = timefit.plan(
        [timefit.Slot(0, 0.0, 1.0, 8.0), timefit.Slot(1, 5.0, 6.0, 1.0)], media_duration=10.0, max_stretch=1.25
    )
    assert [m.id for m in shorten.misfits(placements)] == [0]


def test_backoff_and_endpoint():
    assert [backoff_seconds(n, 0.5) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert backoff_seconds(10, 1.0) == 30.0
    assert backoff_seconds(1, 1.0, "7") == 7.0 and backoff_seconds(1, 1.0, "soon") == 1.0
    assert endpoint_base("http://h:8000") == "http://h:8000/v1" == endpoint_base("http://h:8000/v1/")


def test_job_glossary_per_target_language():
    entries = [
        GlossaryEntry(source="Kubernetes"),
        GlossaryEntry(source="server", target="servidor", languages=["es", "pt-BR"]),
        GlossaryEntry(source="job", target="Auftrag", languages=["de"]),
    ]
    assert glossary_for(entries, "es-419") == [{"source": "Kubernetes"}, {"source": "server", "target": "servidor"}]
    assert glossary_for(entries, "de") == [{"source": "Kubernetes"}, {"source": "job", "target": "Auftrag"}]
    assert glossary_for(None, "es") == []
    terms = [GlossaryTerm("server", "servidor"), GlossaryTerm("Kubernetes")]
    assert glossary_kept(
        ["The server and the server", "On Kubernetes"], ["El servidor y el host", "En k8s"], terms
    ) == (3, 1)


def test_api_accepts_llm_options_and_a_glossary():
    spec = DubbingJobSpec.model_validate(
        {
            "input": {"url": "https://example.org/a.mp4"},
            "targetLanguages": ["es"],
            "glossary": [{"source": "Kubernetes"}, {"source": "server", "target": "servidor", "languages": ["es"]}],
            "stages": {"translate": {"backend": "llm", "model": "qwen2.5:7b-instruct", "temperature": 0.3,
                                     "styleNotes": "informal, tú"}},
        }
    )  # fmt: skip
    assert spec.glossary is not None and spec.glossary[0].target is None
    assert TranslateOptions(model="Qwen/Qwen2.5-7B-Instruct").model == "Qwen/Qwen2.5-7B-Instruct"
    for bad in ("../etc", "/abs", "", "a b"):
        with pytest.raises(ValueError):
            TranslateOptions(model=bad)
    with pytest.raises(ValueError):
        TranslateOptions(temperature=3.0)
    with pytest.raises(ValueError):
        GlossaryEntry(source="")


def test_ctranslate2_takes_only_folder_names():
    assert is_folder_name("opus-mt-en-es") and not is_folder_name("qwen2.5:7b") and not is_folder_name("a/b")
    assert candidate_folders(__import__("pathlib").Path("/m"), "qwen2.5:7b", "en", "es") == []


def test_demo_uses_the_llm_where_no_packaged_model_has_the_pair():
    assert uses_llm("es", False) and uses_llm("fr", False)
    assert not uses_llm("pt-BR", False) and not uses_llm("pt", False)
    assert uses_llm("pt-BR", True) and uses_llm("pt-PT", False)


def test_gguf_checks_name_what_is_wrong(tmp_path):
    from dubbing.backends import llm_weights

    parts = [tmp_path / "a", tmp_path / "b"]
    for part in parts:
        part.write_bytes(b"x" * 10)
    assert "model parts size mismatch: the 2 parts hold 20 bytes, expected 491400064" in (
        llm_weights.check_parts(parts) or ""
    )
    assert llm_weights.check_model_file(parts[0]) == (
        f"model size mismatch: {parts[0]} has 10 bytes, expected 491400064"
    )
    with pytest.raises(ValueError, match="joined model is wrong: 20 bytes"):
        llm_weights.join_model(parts, tmp_path / "out" / llm_weights.MODEL_FILE)
    assert not (tmp_path / "out" / llm_weights.MODEL_FILE).exists()  # nothing half-written is left
    assert list((tmp_path / "out").iterdir()) == []
