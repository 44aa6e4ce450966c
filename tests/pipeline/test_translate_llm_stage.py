"""The translate and tts stages with the llm backend, on the short clip: the translator speaks HTTP to a
scripted loopback OpenAI-compatible server (the real model is in tests/backends/test_translate_llm.py);
diarize, asr and tts are the doubles. Shown: budgets and glossary in the requests, token usage in the
stage manifest, the second pass shortening the clips the time-fit cannot place, and an endpoint that
is down failing the stage retryably."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from dubbing.api.v1alpha1 import GlossaryEntry
from dubbing.artifacts import LocalStore
from dubbing.backends.base import BackendContext
from dubbing.stages.context import StageContext
from dubbing.stages.errors import StageFailure
from dubbing.stages.pipeline import make_job
from dubbing.stages.runner import run_stage
from tests.fixtures.llm import chat_reply

from . import doubles


def quiet(stage, percent, message):
    pass


def answer(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Translations are "es <text>"; shortening keeps the first half of the words, and the glossary's terms."""
    payload = json.loads(body["messages"][1]["content"])
    asked, terms = payload["segments"], payload.get("terms", [])
    out = []
    for item in asked:
        if "translation" in item:
            words = item["translation"].split()
            half = words[: max(1, len(words) // 2)]
            half += [w for w in words[len(half) :] if w.strip(",.") in terms]
            out.append({"id": item["id"], "text": " ".join(half)})
        else:
            out.append({"id": item["id"], "text": "es " + item["text"]})
    return 200, chat_reply(json.dumps({"translations": out}), prompt_tokens=100, completion_tokens=20)


def job_for(clip, name: str):
    return make_job(
        clip.path,
        ["es"],
        "en",
        {"separate": {"backend": "none"}, "translate": {"backend": "llm", "styleNotes": "informal"}},
        name=name,
    )


def test_llm_translation_then_the_second_pass_shortens_misfits(tmp_path, short_clip, monkeypatch, scripted_llm):
    doubles.install(monkeypatch, short_clip, stages=("diarize", "asr", "tts"))
    doubles.FakeSynthesizer.seconds_per_char = 0.12  # long clips: the time-fit cannot place some
    scripted_llm.answers = [answer] * 50
    store = LocalStore(tmp_path / "store")
    job = job_for(short_clip, "llmstage")
    word = short_clip.segments[0].text.split()[1].strip(",.")
    job.spec.glossary = [GlossaryEntry(source=word)]
    context = BackendContext(model_cache=tmp_path / "models", settings=scripted_llm.settings())
    ctx = StageContext(job, store, context, sink=quiet, input_path=short_clip.path)
    try:
        for stage in ("extract", "separate", "diarize", "asr"):
            run_stage(stage, ctx)
        translate = run_stage("translate", ctx)
        assert translate.backend == "llm"
        metrics = translate.index["entries"]["es"]["metrics"]
        assert metrics["llm"]["promptTokens"] >= 100 and metrics["llm"]["requests"] >= 1
        assert metrics["llm"]["model"] == "scripted-model" and metrics["glossary"]["terms"] == 1
        manifests = [
            store.get_json(info.key) for info in store.list("cache/translate/") if info.key.endswith("/manifest.json")
        ]
        assert [m["metrics"]["llm"] for m in manifests] == [metrics["llm"]]  # token usage in the stage manifest
        first = json.loads(scripted_llm.requests[0]["messages"][1]["content"])
        assert all(isinstance(s["maxChars"], int) for s in first["segments"])
        assert "Style: informal" in scripted_llm.requests[0]["messages"][0]["content"]
        assert first["terms"] == [word]
        translation = json.loads(ctx.fetch(ctx.upstream("translate", "es")["translation.json"]).read_text())
        assert translation["translator"]["backend"] == "llm"
        assert all(s["translation"].startswith("es ") for s in translation["segments"])
        assert word in translation["segments"][0]["translation"]
        sent = len(scripted_llm.requests)
        tts = run_stage("tts", ctx)
        shortening = tts.index["entries"]["es"]["metrics"]["shortening"]
        assert shortening["misfits"] >= 1 and shortening["shortened"] >= 1, shortening
        assert len(scripted_llm.requests) == sent + 1  # one request for the misfits together
        assert shortening["llm"]["requests"] == 1 and shortening["llm"]["invalidReplies"] == 0
        ask = json.loads(scripted_llm.requests[sent]["messages"][1]["content"])["segments"][0]
        assert ask["maxChars"] < len(ask["translation"]) and ask["maxChars"] >= int(0.6 * len(ask["translation"]))
        clips = json.loads(ctx.fetch(ctx.upstream("tts", "es")["clips.json"]).read_text())["clips"]
        shortened = [c for c in clips if "longerText" in c]
        assert len(shortened) == shortening["shortened"]
        for clip in shortened:
            assert len(clip["text"]) < len(clip["longerText"])
            assert clip["seconds"] == pytest.approx(max(0.2, len(clip["text"]) * 0.12), abs=0.01)
    finally:
        ctx.close()


def test_endpoint_down_fails_the_translate_stage_retryably(tmp_path, short_clip, monkeypatch):
    doubles.install(monkeypatch, short_clip, stages=("diarize", "asr"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = LocalStore(tmp_path / "store")
    context = BackendContext(
        model_cache=tmp_path / "models", settings={"llmEndpoint": f"http://127.0.0.1:{port}/v1", "llmModel": "m"}
    )
    ctx = StageContext(job_for(short_clip, "llmdown"), store, context, sink=quiet, input_path=short_clip.path)
    try:
        for stage in ("extract", "separate", "diarize", "asr"):
            run_stage(stage, ctx)
        with pytest.raises(StageFailure) as failed:
            run_stage("translate", ctx)
    finally:
        ctx.close()
    assert failed.value.reason == "BackendUnreachable" and failed.value.exit_code == 1
    assert f"endpoint http://127.0.0.1:{port}/v1 unreachable" in failed.value.message
