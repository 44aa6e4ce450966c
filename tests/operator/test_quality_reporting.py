"""The dub's quality where people look, on the operator's side (pure: no cluster): one scorecard
line per language in the success message, and the quality histograms observed once per outcome."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dubbing.api.v1alpha1 import STAGES, DubbingJobStatus, LanguageOutput, LanguageQuality
from dubbing_operator import metrics
from dubbing_operator.actions import Notify, PatchStatus
from dubbing_operator.decisions import ClusterView, decide
from dubbing_operator.notify import build_message, quality_line
from dubbing_operator.observe import view_pod
from dubbing_operator.settings import Settings

from .helpers import T0, make_job, make_pod

S = Settings(ntfy_url="http://ntfy.test", ntfy_default_topic="dubs", public_base_url="https://dub.example")
PT = {"wer": 0.08, "cer": 0.03, "fitShare": 1.0, "inSlot": 13, "segments": 13, "overrunSeconds": 0.0,
      "maxCrossSpeakerSimilarity": 0.64, "lufs": -16.2, "truePeak": -1.5}  # fmt: skip
ES = {"wer": 0.315, "fitShare": 0.9231, "inSlot": 12, "segments": 13, "overrunSeconds": 1.2, "lufs": -13.4,
      "maxCrossSpeakerSimilarity": 0.99}  # fmt: skip


def out(lang: str, quality: dict | None) -> LanguageOutput:
    return LanguageOutput(language=lang, quality=LanguageQuality.model_validate(quality) if quality else None)


def test_quality_line_is_one_short_line_from_the_status_figures() -> None:
    assert quality_line(out("pt-BR", PT)) == "pt-BR: WER 8 %, 13/13 in slot, \u221216.2 LUFS"
    assert quality_line(out("es", ES)) == "es: WER 32 %, 12/13 in slot, \u221213.4 LUFS"
    # an older summary without the counts: the share; a section that was not measured says so
    assert quality_line(out("fr", {"fitShare": 0.9231, "lufs": -16.0, "unmeasured": ["intelligibility", "voice"]})) == (
        "fr: 92 % in slot, \u221216.0 LUFS, not measured: intelligibility voice"
    )
    assert quality_line(out("de", {"lufs": 0.04})) == "de: 0.0 LUFS"  # no "−0.0", no sign on zero
    assert quality_line(out("it", None)) is None


def _succeeded(languages: list[tuple[str, dict | None]]) -> dict:
    return {"phase": "Succeeded", "observedRerun": 0, "outputs": {"bucket": "b", "prefix": "jobs/ns/clip/outputs", "languages": [
        {"language": lang, "video": f"jobs/ns/clip/outputs/{lang}/dubbed.mp4", **({"quality": q} if q else {})}
        for lang, q in languages]}}  # fmt: skip


def test_success_message_carries_one_scorecard_line_per_language() -> None:
    job = make_job(status=_succeeded([("pt-BR", PT), ("es", ES), ("it", None)]), targetLanguages=["pt-BR", "es", "it"])
    msg = build_message(job, "succeeded", "dubs", "uid-1-0-succeeded", S)
    assert msg.body.splitlines() == [
        "clip is dubbed into pt-BR, es, it.",
        "pt-BR: WER 8 %, 13/13 in slot, \u221216.2 LUFS",
        "es: WER 32 %, 12/13 in slot, \u221213.4 LUFS",
    ]
    assert msg.click == "https://dub.example/jobs/ns/clip" and "Title" in msg.headers()
    msg.body.encode("utf-8")  # the body (not a header) carries the typographic minus
    # no quality reported (an older operator's status, or a cut termination message): the plain sentence
    plain = build_message(make_job(status=_succeeded([("es", None)])), "succeeded", "dubs", "x", S)
    assert plain.body == "clip is dubbed into es."
    failed = build_message(
        make_job(status={"phase": "Failed", "message": "stage tts failed"}), "failed", "dubs", "x", S
    )
    assert failed.body == "clip failed: stage tts failed"


def _counts() -> dict[str, float]:
    names = ("dubbing_dub_wer_ratio", "dubbing_dub_in_slot_ratio", "dubbing_dub_loudness_deviation_lu",
             "dubbing_dub_cross_speaker_similarity_max")  # fmt: skip
    return {n: metrics.REGISTRY.get_sample_value(f"{n}_count") or 0.0 for n in names}


def _sum(name: str) -> float:
    return metrics.REGISTRY.get_sample_value(f"{name}_sum") or 0.0


def test_quality_samples_per_language_with_the_loudness_deviation_from_the_mix_target() -> None:
    status = DubbingJobStatus.model_validate(_succeeded([("pt-BR", PT), ("es", {"lufs": -15.0}), ("it", None)]))
    pt, es = metrics.quality_samples(status, -16.0)
    assert (pt.language, pt.wer, pt.in_slot, pt.cross_speaker) == ("pt-BR", 0.08, 1.0, 0.64)
    assert pt.loudness_deviation == pytest.approx(0.2)
    assert (es.wer, es.in_slot, es.cross_speaker, es.loudness_deviation) == (None, None, None, pytest.approx(1.0))
    assert metrics.loudness_target(make_job(stages={"mix": {"loudnessLufs": -23.0}})) == -23.0
    assert metrics.loudness_target(make_job()) == -16.0 == metrics.loudness_target(None)


def test_quality_is_observed_once_for_the_write_that_makes_the_job_succeed() -> None:
    running = DubbingJobStatus(phase="Running")
    done = DubbingJobStatus.model_validate(_succeeded([("pt-BR", PT), ("es", ES)]))
    before, wer_sum = _counts(), _sum("dubbing_dub_wer_ratio")
    assert metrics.observe_quality(running, done, -16.0) == 8  # 4 figures x 2 languages
    after = _counts()
    assert all(after[n] == before[n] + 2 for n in after), (before, after)
    assert _sum("dubbing_dub_wer_ratio") - wer_sum == pytest.approx(0.08 + 0.315)
    # later writes of the finished job (notification state, a restarted operator): nothing more
    assert metrics.observe_quality(done, done, -16.0) == 0
    assert metrics.observe_quality(running, DubbingJobStatus(phase="Failed"), -16.0) == 0
    assert _counts() == after


def test_the_decisions_write_success_once_so_the_histograms_see_each_outcome_once() -> None:
    """Through the real decision: the reconcile that finds every stage done writes Succeeded (observed);
    the next reconciles of the finished job, here the one after the ntfy message, do not observe again."""
    score = {
        "stage": "score",
        "ok": True,
        "outputs": {"pt-BR": {"report": "jobs/ns/clip/outputs/pt-BR/scorecard.json", "quality": PT}},
    }
    pods = [make_pod(s) for s in STAGES if s != "score"] + [make_pod("score", summary=score)]
    job = make_job(status={"phase": "Running", "startedAt": "2025-01-01T12:00:00Z"}, targetLanguages=["pt-BR"],
                   notify={"enabled": True, "topic": "dubs"})  # fmt: skip
    views = [view_pod(p) for p in pods]
    now = T0 + timedelta(minutes=1)
    acts = decide(job, views, ClusterView(admitted=True), S, now)
    [patch] = [a for a in acts if isinstance(a, PatchStatus)]
    assert any(isinstance(a, Notify) for a in acts)
    new = DubbingJobStatus.model_validate(patch.status)
    assert new.outputs and new.outputs.languages and new.outputs.languages[0].quality.inSlot == 13  # type: ignore[union-attr]
    assert metrics.observe_quality(job.status, new, metrics.loudness_target(job)) == 4
    sent = {**patch.status, "notification": {**patch.status["notification"], "state": "sent"}}
    later = make_job(status=sent, targetLanguages=["pt-BR"], notify={"enabled": True, "topic": "dubs"})
    for a in decide(later, views, ClusterView(admitted=True), S, now + timedelta(minutes=5)):
        if isinstance(a, PatchStatus):
            assert metrics.observe_quality(later.status, DubbingJobStatus.model_validate(a.status), -16.0) == 0
