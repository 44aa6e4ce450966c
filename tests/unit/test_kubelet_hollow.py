"""Pure parts of the hollow node: its run plan, status documents, termination message, node specs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from devcluster.config import NodeSpec, parse_node_spec
from devcluster.kubelet_hollow import hollow_message, hollow_status, run_plan

T0 = datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)


def stage_pod(restart: str = "Never", deadline: int | None = None, inits: int = 0) -> dict:
    spec: dict = {
        "restartPolicy": restart,
        "containers": [{"name": "stage", "image": "dubbing:dev"}],
        "initContainers": [{"name": f"init{i}", "image": "busybox"} for i in range(inits)],
    }
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    return {"metadata": {"name": "j-asr-1", "namespace": "ns", "uid": "u1",
                         "labels": {"dubbing.dev/stage": "asr"}}, "spec": spec}  # fmt: skip


def test_run_plan():
    assert run_plan(stage_pod(), 2.0) == (2.0, None)
    assert run_plan(stage_pod(restart="Always"), 2.0) is None  # runs until deleted
    seconds, outcome = run_plan(stage_pod(deadline=1), 2.0)  # type: ignore[misc]
    assert seconds == 1.0 and outcome is not None and outcome.reason == "DeadlineExceeded"
    assert run_plan(stage_pod(deadline=5), 2.0) == (2.0, None)


def test_message_is_a_stage_summary_only_for_stage_pods():
    summary = json.loads(hollow_message(stage_pod(), 2.0))
    assert summary["stage"] == "asr" and summary["ok"] is True and summary["durationSeconds"] == 2.0
    assert summary["outputs"] == {} and summary["reason"] == "Completed"
    other = stage_pod()
    other["metadata"]["labels"] = {}
    assert hollow_message(other, 2.0) == ""


def test_running_then_succeeded():
    pod = stage_pod(inits=1)
    running = hollow_status(pod, started=T0, finished=None, seconds=2.0, now=T0)
    assert running["phase"] == "Running"
    assert running["containerStatuses"][0]["state"] == {"running": {"startedAt": "2026-12-02T10:00:00Z"}}
    assert running["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    pod["status"] = running
    end = T0 + timedelta(seconds=2)
    done = hollow_status(pod, started=T0, finished=end, seconds=2.0, now=end)
    assert done["phase"] == "Succeeded"
    term = done["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 0 and term["finishedAt"] == "2026-12-02T10:00:02Z"
    assert json.loads(term["message"])["stage"] == "asr"
    ready = {c["type"]: c["status"] for c in done["conditions"]}
    assert ready["Ready"] == "False" and ready["PodScheduled"] == "True"


def test_deadline_fails_the_pod():
    pod = stage_pod(deadline=1)
    _, outcome = run_plan(pod, 2.0)  # type: ignore[misc]
    done = hollow_status(pod, started=T0, finished=T0 + timedelta(seconds=1), seconds=2.0, now=T0, outcome=outcome)
    assert done["phase"] == "Failed" and done["reason"] == "DeadlineExceeded"
    assert done["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 137


def test_node_spec_pods_and_hollow():
    spec = parse_node_spec("name=h0,port=10900,gpus=64,pods=3000,hollow=2.5")
    assert spec.pods == 3000 and spec.hollow == 2.5 and spec.gpus == 64
    assert parse_node_spec("name=c0,port=10901").hollow is None
    with pytest.raises(ValueError, match="hollow"):
        NodeSpec("h1", 10902, hollow=-1.0)
    with pytest.raises(ValueError, match="pods"):
        NodeSpec("h1", 10902, pods=0)
