"""sourceLanguage auto: the packaged Whisper detects the language of the generated English clip, and
the detection reaches the transcript, the stage's summary (the operator's status), the translate
stage's language pair, the job status and the web UI's label."""

from __future__ import annotations

import json

import pytest

from dubbing.api.v1alpha1 import DubbingJobStatus
from dubbing.artifacts import LocalStore
from dubbing.stages.context import StageContext
from dubbing.stages.pipeline import make_job
from dubbing.stages.runner import run_stage
from dubbing_operator.decisions import detected_language
from dubbing_webui.jobs import source_language_label


def quiet(stage, percent, message):
    pass


@pytest.mark.slow
def test_auto_detects_english_on_the_generated_clip(tmp_path, short_clip):
    store = LocalStore(tmp_path / "store")
    # en-GB: the same language, so translate is the identity and the test stays on Whisper.
    job = make_job(
        short_clip.path,
        ["en-GB"],
        "auto",
        {"separate": {"backend": "none"}, "diarize": {"backend": "single"}, "asr": {"model": "base"}},
        name="detect",
    )
    assert job.spec.sourceLanguage == "auto"
    ctx = StageContext(job, store, sink=quiet, input_path=short_clip.path)
    try:
        for stage in ("extract", "separate", "diarize"):
            run_stage(stage, ctx)
        asr = run_stage("asr", ctx)
        metrics = asr.index["entries"]["_"]["metrics"]
        assert metrics["language"] == "en" and metrics["languageDetected"] is True
        assert asr.outputs["language"] == "en"  # the termination summary the operator reads
        transcript = json.loads(ctx.fetch(ctx.upstream("asr")["transcript.json"]).read_text())
        assert transcript["language"] == "en"
        translate = run_stage("translate", ctx)
        assert translate.backend == "identity"
        translation = json.loads(ctx.fetch(ctx.upstream("translate", "en-GB")["translation.json"]).read_text())
        assert translation["sourceLanguage"] == "en" and translation["targetLanguage"] == "en-GB"
    finally:
        ctx.close()
    summary = {"stage": "asr", "ok": True, "outputs": asr.outputs}
    status = DubbingJobStatus(detectedSourceLanguage=detected_language(summary))
    assert status.detectedSourceLanguage == "en"
    assert source_language_label("auto", status.detectedSourceLanguage) == "en (detected)"


def test_a_given_language_is_not_reported_as_detected():
    from dubbing.stages.asr import Asr

    entries = {"_": {"key": "cache/asr/k", "metrics": {"language": "pt-BR", "languageDetected": False}}}
    assert Asr().summary_outputs({}, entries) == {"key": "cache/asr/k"}
    entries["_"]["metrics"] = {"language": "es", "languageDetected": True}
    assert Asr().summary_outputs({}, entries) == {"key": "cache/asr/k", "language": "es"}


def test_status_takes_only_a_language_tag_from_a_summary():
    assert detected_language({"outputs": {"language": "es"}}) == "es"
    assert detected_language({"outputs": {"language": "pt-BR"}}) == "pt-BR"
    assert detected_language({"outputs": {"language": "<script>"}}) is None
    assert detected_language({"outputs": {"language": 3}}) is None
    assert detected_language({"outputs": "cache/asr/k"}) is None
    assert detected_language(None) is None


def test_job_page_label():
    assert source_language_label("pt-BR", "en") == "pt-BR"
    assert source_language_label("auto", "es") == "es (detected)"
    assert source_language_label("auto", None) == "detecting…"
    assert source_language_label(None, None) == "detecting…"
