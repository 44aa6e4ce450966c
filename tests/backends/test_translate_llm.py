"""The llm translate backend: against a real server with real weights (llama.cpp's server with the
packaged 0.5B model, or the server ``DUBBING_TEST_LLM_ENDPOINT`` names), and against a scripted
loopback server for the edges a real model cannot be made to show on demand."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from dubbing.backends.base import BackendContext, GlossaryTerm, SegmentToTranslate
from dubbing.backends.llm_client import LlmError
from dubbing.backends.registry import BackendUnavailable, choose
from dubbing.backends.translate_llm import LlmTranslator
from dubbing.stages.budget import with_budgets
from tests.fixtures.llm import LlmServer, ScriptedLlm, chat_reply

SPANISH = {
    "el",
    "la",
    "los",
    "las",
    "de",
    "que",
    "y",
    "en",
    "un",
    "una",
    "para",
    "con",
    "por",
    "es",
    "se",
    "del",
    "cómo",
    "vamos",
    "hoy",
}
ENGLISH = {"the", "and", "of", "to", "we", "how", "with", "every", "in", "is", "you", "for", "today"}


def spanish_share(texts: list[str]) -> tuple[int, int]:
    """(Spanish stopwords, English stopwords) over the texts: a language check that needs no model."""
    words = [w for text in texts for w in re.findall(r"[a-záéíóúñü]+", text.lower())]
    return sum(w in SPANISH for w in words), sum(w in ENGLISH for w in words)


def segments(texts: list[str], seconds: float = 3.0) -> list[SegmentToTranslate]:
    items = [
        SegmentToTranslate(i, text, f"SPEAKER_0{i % 2}", i * seconds, i * seconds + seconds - 0.4)
        for i, text in enumerate(texts)
    ]
    return with_budgets(items, "es", len(texts) * seconds)


def context(tmp_path: Path, settings: dict[str, Any]) -> BackendContext:
    return BackendContext(model_cache=tmp_path / "models", settings=settings)


# ------------------------------------------------------------------ real server, real weights


@pytest.mark.slow
def test_real_model_translates_en_to_es_in_batches_with_glossary_and_budgets(
    tmp_path: Path, llm_server: LlmServer
) -> None:
    ctx = context(tmp_path, llm_server.settings(llmConcurrency=1))
    readiness = LlmTranslator.readiness(ctx, {})
    assert readiness.ready, readiness.reason
    # Two batches of one line each (the second with the first as context): few tokens, on a shared CPU.
    backend = choose("translate", "llm", ctx, {"sourceLanguage": "en", "targetLanguage": "es", "batchSize": 1})
    lines = segments(
        ["Today we will learn how to set up the server.", "Then we translate the subtitles with Kubernetes."],
        seconds=4.0,
    )
    glossary = [GlossaryTerm("Kubernetes"), GlossaryTerm("server", "servidor")]
    out = backend.translate_segments(lines, "en", "es", glossary)
    print("\n", json.dumps(out, ensure_ascii=False), backend.usage())
    assert len(out) == 2 and all(text.strip() for text in out)
    spanish, english = spanish_share(out)
    assert spanish >= 2 and spanish > 2 * english, out
    assert "Kubernetes" in out[1]
    assert "servidor" in out[0].lower()
    for line, text in zip(lines, out, strict=True):  # the schema's hard bound: twice the budget
        assert line.max_chars is not None and len(text) <= 2 * line.max_chars
    usage = backend.usage()
    assert usage["requests"] >= 2 and usage["promptTokens"] > 0 and usage["completionTokens"] > 0
    assert usage["responseFormat"] == "json_schema"


def test_real_server_readiness_names_a_model_it_does_not_serve(tmp_path: Path, llm_server: LlmServer) -> None:
    ctx = context(tmp_path, llm_server.settings(llmModel="no-such-model"))
    readiness = LlmTranslator.readiness(ctx, {})
    assert not readiness.ready and not readiness.transient
    assert "model 'no-such-model' not served by" in readiness.reason and llm_server.model in readiness.reason


# ------------------------------------------------------------------ the protocol's edges


def translations(*pairs: tuple[int, str]) -> str:
    return json.dumps({"translations": [{"id": i, "text": t} for i, t in pairs]})


def echo_spanish(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Answers every segment asked for with "es: <text>" (markers kept)."""
    asked = json.loads(body["messages"][1]["content"])["segments"]
    return 200, chat_reply(translations(*[(item["id"], "es: " + item["text"]) for item in asked]))


def test_batches_carry_context_speakers_budgets_and_a_schema(tmp_path: Path, scripted_llm: ScriptedLlm) -> None:
    scripted_llm.answers = [echo_spanish] * 3
    backend = LlmTranslator(context(tmp_path, scripted_llm.settings(llmConcurrency=1)), {"batchSize": 2})
    lines = segments(["one", "two", "three", "four", "five"])
    out = backend.translate_segments(lines, "en", "es")
    assert out == ["es: one", "es: two", "es: three", "es: four", "es: five"]
    asked = [json.loads(request["messages"][1]["content"]) for request in scripted_llm.requests]
    assert [[s["id"] for s in a["segments"]] for a in asked] == [[0, 1], [2, 3], [4]]
    assert [s["text"] for s in asked[1]["before"]] == ["one", "two"]
    assert [s["text"] for s in asked[1]["after"]] == ["five"]
    assert [s["speaker"] for s in asked[1]["segments"]] == ["SPEAKER_00", "SPEAKER_01"]
    assert all(s["maxChars"] == line.max_chars for s, line in zip(asked[0]["segments"], lines, strict=False))
    schema = scripted_llm.requests[1]["response_format"]["json_schema"]["schema"]["properties"]["translations"]
    assert schema["minItems"] == schema["maxItems"] == 2 and schema["items"]["properties"]["id"]["enum"] == [2, 3]
    assert "Spanish (es)" in scripted_llm.requests[0]["messages"][0]["content"]
    assert backend.usage()["promptTokens"] == 30 and backend.usage()["requests"] == 3


def test_invalid_output_is_sent_back_with_the_reason_and_retried(tmp_path: Path, scripted_llm: ScriptedLlm) -> None:
    scripted_llm.answers = [
        (200, chat_reply("Sure! Here is the translation: hola")),
        (200, chat_reply(translations((0, "hola")))),  # id 1 missing
        (200, chat_reply(translations((0, "hola"), (1, "adiós")))),
    ]
    backend = LlmTranslator(context(tmp_path, scripted_llm.settings()), {})
    assert backend.translate_segments(segments(["hello", "goodbye"]), "en", "es") == ["hola", "adiós"]
    assert backend.usage()["invalidReplies"] == 2
    retry = scripted_llm.requests[1]["messages"]
    assert retry[-2] == {"role": "assistant", "content": "Sure! Here is the translation: hola"}
    assert "the answer is not JSON" in retry[-1]["content"]
    assert "ids 1 are not translated" in scripted_llm.requests[2]["messages"][-1]["content"]


def test_a_batch_that_stays_invalid_is_split_then_fails_retryably(tmp_path: Path, scripted_llm: ScriptedLlm) -> None:
    bad = (200, chat_reply("{not json"))
    scripted_llm.answers = [bad, bad, echo_spanish, bad, bad]
    backend = LlmTranslator(context(tmp_path, scripted_llm.settings()), {"invalidRetries": 1})
    from dubbing.backends.base import BackendError

    with pytest.raises(BackendError) as caught:
        backend.translate_segments(segments(["hello", "goodbye"]), "en", "es")
    assert caught.value.reason == "InvalidTranslation" and caught.value.transient
    assert "segment 1 after 2 tries" in str(caught.value)
    asked = [[s["id"] for s in json.loads(r["messages"][1]["content"])["segments"]] for r in scripted_llm.requests]
    assert asked == [[0, 1], [0, 1], [0], [1], [1]]


def test_glossary_terms_go_in_rendered_and_must_come_back(tmp_path: Path, scripted_llm: ScriptedLlm) -> None:
    def lose_term(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, chat_reply(translations((0, "Configuramos el servidor en el clúster")))

    def keep_terms(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        asked = json.loads(body["messages"][1]["content"])
        assert asked["segments"][0]["text"] == "We set up the servidor on Kubernetes with Kubernetes."
        assert asked["terms"] == ["Kubernetes", "servidor"]
        return 200, chat_reply(translations((0, "Configuramos el Servidor en kubernetes con Kubernetes.")))

    scripted_llm.answers = [lose_term, keep_terms]
    backend = LlmTranslator(context(tmp_path, scripted_llm.settings()), {})
    glossary = [GlossaryTerm("Kubernetes"), GlossaryTerm("server", "servidor")]
    lines = segments(["We set up the server on Kubernetes with kubernetes."], seconds=6.0)
    out = backend.translate_segments(lines, "en", "es", glossary)
    assert out == ["Configuramos el servidor en Kubernetes con Kubernetes."]  # written as the glossary has them
    assert "must contain 'Kubernetes'" in scripted_llm.requests[1]["messages"][-1]["content"]
    assert "`terms` are fixed" in scripted_llm.requests[0]["messages"][0]["content"]


def test_an_untranslated_line_is_refused(tmp_path: Path, scripted_llm: ScriptedLlm) -> None:
    scripted_llm.answers = [
        (200, chat_reply(translations((0, "Then we translate the subtitles.")))),
        (200, chat_reply(translations((0, "Luego traducimos los subtítulos.")))),
    ]
    backend = LlmTranslator(context(tmp_path, scripted_llm.settings()), {})
    assert backend.translate_segments(segments(["Then we translate the subtitles."]), "en", "es") == [
        "Luego traducimos los subtítulos."
    ]
    assert "id 0 is not translated" in scripted_llm.requests[1]["messages"][-1]["content"]


def test_over_budget_translations_are_asked_shorter(tmp_path: Path, scripted_llm: ScriptedLlm) -> None:
    lines = segments(["Hi.", "Ok."], seconds=1.0)  # budgets: 1 s at 15 characters a second
    scripted_llm.answers = [
        (200, chat_reply(translations((0, "Hola a todos los que están mirando"), (1, "Vale")))),
        (200, chat_reply(translations((0, "Hola a todos")))),
    ]
    backend = LlmTranslator(context(tmp_path, scripted_llm.settings()), {})
    assert backend.translate_segments(lines, "en", "es") == ["Hola a todos", "Vale"]
    shorten = json.loads(scripted_llm.requests[1]["messages"][1]["content"])["segments"]
    assert shorten == [
        {
            "id": 0,
            "speaker": "SPEAKER_00",
            "original": "Hi.",
            "translation": "Hola a todos los que están mirando",
            "maxChars": 15,
        }
    ]
    assert backend.usage()["shortened"] == 1 and backend.usage()["overBudget"] == 0


def test_server_errors_are_retried_with_backoff_and_schema_refusal_falls_back(
    tmp_path: Path, scripted_llm: ScriptedLlm
) -> None:
    scripted_llm.answers = [
        (503, {"error": {"message": "loading model"}}),
        (429, {"error": {"message": "slow down"}}),
        (400, {"error": {"message": "response_format json_schema is not supported"}}),
        (200, chat_reply(translations((0, "hola")))),
    ]
    backend = LlmTranslator(context(tmp_path, scripted_llm.settings()), {"backoffSeconds": 0.01})
    assert backend.translate_segments(segments(["hello"]), "en", "es") == ["hola"]
    assert [r.get("response_format", {}).get("type") for r in scripted_llm.requests] == [
        "json_schema", "json_schema", "json_schema", "json_object",
    ]  # fmt: skip
    assert backend.usage()["retries"] == 2 and backend.usage()["responseFormat"] == "json_object"


def test_endpoint_down_is_a_readable_transient_readiness_reason_and_a_retryable_stage_failure(
    tmp_path: Path,
) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctx = context(tmp_path, {"llmEndpoint": f"http://127.0.0.1:{port}", "llmModel": "m"})
    readiness = LlmTranslator.readiness(ctx, {})
    assert not readiness.ready and readiness.transient
    assert readiness.reason.startswith(f"endpoint http://127.0.0.1:{port}/v1 unreachable")
    with pytest.raises(BackendUnavailable) as caught:
        choose("translate", "llm", ctx, {})
    assert caught.value.transient
    # Down after the stage chose it: the requests are retried with backoff, then fail retryably.
    backend = LlmTranslator(ctx, {"backoffSeconds": 0.01})
    backend.client.max_retries = 1
    with pytest.raises(LlmError) as failed:
        backend.translate_segments(segments(["hello"]), "en", "es")
    assert failed.value.transient and "unreachable" in str(failed.value) and "after 2 attempts" in str(failed.value)
    assert backend.usage()["requests"] == 2 and backend.usage()["retries"] == 1


def test_no_key_and_no_configuration_are_readable_reasons(tmp_path: Path, scripted_llm: ScriptedLlm) -> None:
    scripted_llm.required_key = "sk-test"
    readiness = LlmTranslator.readiness(context(tmp_path, scripted_llm.settings()), {})
    assert not readiness.ready and not readiness.transient
    assert "refused the API key (HTTP 401: Invalid API key)" in readiness.reason
    assert "no API key configured" in readiness.reason
    keyed = LlmTranslator.readiness(context(tmp_path, scripted_llm.settings(llmApiKey="sk-test")), {})
    assert keyed.ready, keyed.reason
    assert scripted_llm.headers == []  # readiness only lists models
    none = LlmTranslator.readiness(context(tmp_path, {}), {})
    assert none.reason == "no endpoint configured (DUBBING_LLM_ENDPOINT; the chart's llm.endpoint)"
    unnamed = LlmTranslator.readiness(context(tmp_path, {"llmEndpoint": scripted_llm.endpoint}), {})
    assert unnamed.reason.startswith("no model named")
    job_model = LlmTranslator.readiness(
        context(tmp_path, {"llmEndpoint": scripted_llm.endpoint, "llmApiKey": "sk-test"}), {"model": "scripted-model"}
    )
    assert job_model.ready
