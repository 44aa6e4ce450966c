"""Review pauses in the reconcile decision and the admission queue (pure: no cluster)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from dubbing.api.v1alpha1 import STAGES
from dubbing_operator.actions import CreatePod, EmitEvent, Notify, PatchStatus
from dubbing_operator.decisions import ClusterView, decide
from dubbing_operator.engine import queue_entry
from dubbing_operator.notify import build_message
from dubbing_operator.observe import view_pod
from dubbing_operator.review import review_hold
from dubbing_operator.settings import Settings

from .helpers import T0, make_job, make_pod

S = Settings(ntfy_url="http://ntfy.test", ntfy_default_topic="dubs", public_base_url="https://dub.example")
UPTO_TRANSLATE = STAGES[: STAGES.index("translate") + 1]


def only(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def decide_now(job, pods, admitted=True):
    return decide(job, [view_pod(p) for p in pods], ClusterView(admitted=admitted), S, T0 + timedelta(minutes=1))


def status_of(actions):
    [patch] = only(actions, PatchStatus)
    return patch.status


def running(**spec):
    return make_job(status={"phase": "Running", "startedAt": "2025-01-01T12:00:00Z"}, **spec)


def test_review_hold_is_the_first_unapproved_finished_stage():
    job = make_job(review={"after": ["translate", "asr"], "approved": []})
    assert review_hold(job, ["extract", "separate"]) is None
    assert review_hold(job, ["extract", "separate", "diarize", "asr"]) == "asr"
    assert review_hold(job, UPTO_TRANSLATE) == "asr"
    approved = make_job(review={"after": ["translate", "asr"], "approved": ["asr"]})
    assert review_hold(approved, UPTO_TRANSLATE) == "translate"
    assert review_hold(make_job(), UPTO_TRANSLATE) is None
    with pytest.raises(ValidationError):
        make_job(review={"after": ["tts"]})


def test_job_waits_after_translate_with_no_pod_condition_event_and_a_review_message():
    job = running(review={"after": ["translate"]})
    acts = decide_now(job, [make_pod(s) for s in UPTO_TRANSLATE])
    assert not only(acts, CreatePod)  # tts does not start
    st = status_of(acts)
    assert st["phase"] == "AwaitingReview" and "spec.review.approved" in st["message"]
    assert [s["phase"] for s in st["stages"][: len(UPTO_TRANSLATE)]] == ["Succeeded"] * len(UPTO_TRANSLATE)
    cond = {c["type"]: c for c in st["conditions"]}["AwaitingReview"]
    assert cond["status"] == "True" and cond["reason"] == "AwaitingReview"
    assert any(e.reason == "AwaitingReview" and "after translate" in e.message for e in only(acts, EmitEvent))
    [notify] = only(acts, Notify)
    assert notify.outcome == "review-translate" and notify.id == "uid-1-0-review-translate"
    msg = build_message(job, notify.outcome, notify.topic, notify.id, S)
    assert msg.title == "Ready for review: clip" and "after translate" in msg.body
    assert msg.click == "https://dub.example/jobs/ns/clip/edit#review-translate"


def test_waiting_job_holds_no_slot_until_approved_then_queues_and_runs_tts():
    pods = [make_pod(s) for s in UPTO_TRANSLATE]
    waiting_status = status_of(decide_now(running(review={"after": ["translate"]}), pods))
    assert waiting_status["notification"]["state"] == "sending"
    waiting_status["notification"]["state"] = "sent"  # what the engine writes once ntfy took it
    waiting = make_job(status=waiting_status, review={"after": ["translate"]})
    assert queue_entry(waiting, False, S) is None  # no admission slot held or wanted
    # looked at again while waiting (not admitted): still waiting, nothing new
    again = decide_now(waiting, pods, admitted=False)
    assert not only(again, CreatePod) and not only(again, Notify)
    assert not only(again, PatchStatus) or status_of(again)["phase"] == "AwaitingReview"

    approved = make_job(status=waiting_status, review={"after": ["translate"], "approved": ["translate"]})
    entry = queue_entry(approved, False, S)
    assert entry is not None and not entry.active  # back in the queue for a slot
    queued = status_of(decide_now(approved, pods, admitted=False))
    assert queued["phase"] == "Queued"
    acts = decide_now(approved, pods)
    assert [c.name for c in only(acts, CreatePod)] == ["clip-tts-1"]
    st = status_of(acts)
    assert st["phase"] == "Running"
    assert {c["type"]: c for c in st["conditions"]}["AwaitingReview"]["status"] == "False"


def test_review_message_only_when_the_job_asks_for_it():
    job = running(review={"after": ["asr"]}, notify={"events": ["succeeded"]})
    acts = decide_now(job, [make_pod(s) for s in STAGES[: STAGES.index("asr") + 1]])
    assert status_of(acts)["phase"] == "AwaitingReview" and not only(acts, Notify)
    assert status_of(acts)["notification"]["state"] == "skipped"


def test_cancel_while_waiting_ends_cancelled():
    job = make_job(status={"phase": "AwaitingReview"}, review={"after": ["asr"]}, cancel=True)
    acts = decide_now(job, [make_pod(s) for s in STAGES[: STAGES.index("asr") + 1]])
    assert status_of(acts)["phase"] == "Cancelled"
