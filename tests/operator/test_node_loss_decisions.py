"""A stage Pod on a lost node: its overdue deletion is forced, and the stage gets a new attempt (pure)."""

from __future__ import annotations

from datetime import timedelta

from dubbing.api.v1alpha1 import StageStatus
from dubbing_operator.actions import CreatePod, DeletePod, EmitEvent, PatchStatus
from dubbing_operator.decisions import ClusterView, attempt_of, decide, lost_pod, overdue_deletions
from dubbing_operator.observe import view_pod
from dubbing_operator.settings import Settings

from .helpers import T0, make_job, make_pod

S = Settings(force_delete_after_seconds=30, max_attempts=3)
NOW = T0 + timedelta(minutes=5)
BEFORE_ASR = ("extract", "separate", "diarize")


def only(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def done_pods():
    return [make_pod(s) for s in BEFORE_ASR]


def job_running_asr(attempts: int = 1, pod: str = "clip-asr-1", **spec):
    stages = [{"name": s, "phase": "Succeeded", "attempts": 1, "podName": f"clip-{s}-1"} for s in BEFORE_ASR]
    stages.append({"name": "asr", "phase": "Running", "attempts": attempts, "podName": pod, "nodeName": "gpu-x"})
    return make_job(status={"phase": "Running", "startedAt": "2025-01-01T12:00:00Z", "stages": stages}, **spec)


def decide_at(job, pods, now=NOW, settings=S):
    return decide(job, [view_pod(p) for p in pods], ClusterView(admitted=True), settings, now)


def test_overdue_deletion_is_forced_only_after_the_slack():
    evicted = make_pod("asr", phase="Running", finished=None, node="gpu-x", deletion_at=NOW - timedelta(seconds=31))
    assert overdue_deletions([view_pod(evicted)], NOW, S) == [DeletePod("clip-asr-1", 0)]
    fresh = make_pod("asr", phase="Running", finished=None, node="gpu-x", deletion_at=NOW - timedelta(seconds=29))
    assert overdue_deletions([view_pod(fresh)], NOW, S) == []
    ended = make_pod("asr", phase="Failed", exit_code=143, deletion_at=NOW - timedelta(minutes=10))
    assert overdue_deletions([view_pod(ended)], NOW, S) == []  # not active: the kubelet ended it


def test_decide_forces_the_stuck_pod_and_keeps_waiting_for_it():
    stuck = make_pod("asr", phase="Running", finished=None, node="gpu-x", deletion_at=NOW - timedelta(minutes=1))
    acts = decide_at(job_running_asr(), done_pods() + [stuck])
    assert only(acts, DeletePod) == [DeletePod("clip-asr-1", 0)]
    assert not only(acts, CreatePod)  # no second Pod of the stage while the first still exists


def test_cancel_with_a_dead_kubelet_forces_the_pod_away():
    stuck = make_pod("asr", phase="Running", finished=None, node="gpu-x", deletion_at=NOW - timedelta(minutes=1))
    acts = decide_at(job_running_asr(cancel=True), done_pods() + [stuck])
    assert DeletePod("clip-asr-1", 0) in only(acts, DeletePod)


def test_a_vanished_pod_is_an_attempt_and_the_next_gets_a_new_name():
    acts = decide_at(job_running_asr(), done_pods())
    created = only(acts, CreatePod)
    assert [c.manifest["metadata"]["name"] for c in created] == ["clip-asr-2"]
    status = only(acts, PatchStatus)[0].status
    asr = next(s for s in status["stages"] if s["name"] == "asr")
    assert asr["attempts"] == 2 and asr["podName"] == "clip-asr-2" and asr["reason"] == "PodLost"
    lost = [e for e in only(acts, EmitEvent) if e.reason == "StageLost"]
    assert lost and lost[0].type == "Warning" and "clip-asr-1" in lost[0].message and "gpu-x" in lost[0].message
    assert any(e.reason == "StageRetry" for e in only(acts, EmitEvent))


def test_the_replacement_keeps_the_attempt_count_while_it_runs():
    replacement = make_pod("asr", 2, phase="Running", finished=None, node="gpu-y")
    acts = decide_at(job_running_asr(attempts=2, pod="clip-asr-2"), done_pods() + [replacement])
    asr = next(s for s in only(acts, PatchStatus)[0].status["stages"] if s["name"] == "asr")
    assert asr["attempts"] == 2 and asr["nodeName"] == "gpu-y" and not only(acts, CreatePod)


def test_losing_the_last_allowed_attempt_fails_the_job_with_the_reason():
    acts = decide_at(job_running_asr(attempts=3, pod="clip-asr-3"), done_pods())
    assert not only(acts, CreatePod)
    status = only(acts, PatchStatus)[0].status
    assert status["phase"] == "Failed" and status["reason"] == "StageAsrFailed"
    assert "PodLost" in status["message"] and "after 3 attempt(s)" in status["message"]


def test_lost_pod_and_attempt_of():
    assert lost_pod(StageStatus(name="asr", phase="Running", podName="j-asr-1"), {"j-asr-2"}) == "j-asr-1"
    assert lost_pod(StageStatus(name="asr", phase="Running", podName="j-asr-1"), {"j-asr-1"}) is None
    assert lost_pod(StageStatus(name="asr", phase="Succeeded", podName="j-asr-1"), set()) is None
    assert lost_pod(StageStatus(name="asr", phase="Cancelled", podName="j-asr-1"), set()) is None
    assert (
        attempt_of("my-job-asr-12", "asr") == 12
        and attempt_of("my-job-tts-1", "asr") == 0
        and attempt_of("", "asr") == 0
    )


def test_a_succeeded_stage_whose_pod_was_evicted_with_its_node_is_not_run_again():
    # extract's Pod is gone (the taint eviction deletes ended Pods of a lost node too); status recorded its success
    acts = decide_at(job_running_asr(attempts=2, pod="clip-asr-2"), [make_pod(s) for s in BEFORE_ASR[1:]])
    assert [c.manifest["metadata"]["name"] for c in only(acts, CreatePod)] == ["clip-asr-3"]
    extract = next(s for s in only(acts, PatchStatus)[0].status["stages"] if s["name"] == "extract")
    assert extract["phase"] == "Succeeded" and extract["podName"] == "clip-extract-1"
