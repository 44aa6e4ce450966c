"""The operator against the local cluster with the test stage workload."""

from __future__ import annotations

import json
import statistics
import time
from datetime import datetime

import pytest

from dubbing.api.v1alpha1 import STAGES

from .conftest import PodWatch, apply_job, job_manifest, job_pods, wait_for, wait_phase

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
GPU_STAGES = {"separate", "diarize", "asr", "tts"}


def _container_times(pod):
    term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    return term["startedAt"], term["finishedAt"]


def _journal(plan_dir, namespace, name):
    path = plan_dir / f"{namespace}_{name}.log"
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def test_happy_path_one_pod_per_stage_gpu_placement_times_and_events(kube, namespace, start_operator, plan_dir, capsys):
    op = start_operator()
    watch = PodWatch(kube, namespace)
    apply_job(kube, job_manifest("happy", namespace), plan_dir, {"default": {"sleep": 0.4}})
    job = wait_phase(kube, namespace, "happy", ("Succeeded", "Failed"), timeout=180)
    watch.stop()
    st = job["status"]
    assert st["phase"] == "Succeeded", st
    pods = {p["metadata"]["labels"]["dubbing.dev/stage"]: p for p in job_pods(kube, namespace, "happy")}
    assert len(job_pods(kube, namespace, "happy")) == len(STAGES) and set(pods) == set(STAGES)
    for stage in STAGES:
        pod = pods[stage]
        limits = pod["spec"]["containers"][0]["resources"].get("limits", {})
        if stage in GPU_STAGES:
            assert pod["spec"]["nodeName"] == "dev-gpu-0" and limits.get("nvidia.com/gpu") == "1", stage
        else:
            assert "nvidia.com/gpu" not in limits and pod["spec"]["nodeName"] != "dev-gpu-0", stage
    stages = {s["name"]: s for s in st["stages"]}
    for stage in STAGES:
        started, finished = _container_times(pods[stage])
        s = stages[stage]
        assert (s["startedAt"], s["finishedAt"]) == (started, finished), stage
        assert s["podName"] == pods[stage]["metadata"]["name"] and s["attempts"] == 1 and s["phase"] == "Succeeded"
        assert s["backend"] == "test" and s["cacheHit"] is False
        assert s["lastLogLine"].startswith(f"[{stage}] 100%"), s
    # no overlap: each stage's process ended before the next one started (journal, sub-second times)
    journal = _journal(plan_dir, namespace, "happy")
    ends = {r[0]: float(r[3]) for r in journal if r[1] == "end"}
    begins = {r[0]: float(r[3]) for r in journal if r[1] == "start"}
    for a, b in zip(STAGES, STAGES[1:], strict=False):
        assert ends[a] <= begins[b], (a, b)
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Succeeded"]["status"] == "True" and conds["Ready"]["status"] == "True"
    assert conds["Succeeded"]["observedGeneration"] == job["metadata"]["generation"]
    describe = kube.kubectl("describe", "dj", "happy", "-n", namespace).stdout
    for reason in ("Admitted", "StageStarted", "StageSucceeded", "Succeeded"):
        assert reason in describe, describe
    # latency: stage process ended -> next stage Pod created (seen by a watch)
    lat = []
    for a, b in zip(STAGES, STAGES[1:], strict=False):
        lat.append(watch.added[pods[b]["metadata"]["name"]] - ends[a])
    lat.sort()
    p95 = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
    with capsys.disabled():
        print(f"\nstage transition latency (process end -> next Pod created): median {statistics.median(lat):.2f}s "
              f"p95 {p95:.2f}s max {max(lat):.2f}s n={len(lat)}")  # fmt: skip
    assert "dubbing_queue_backend" in op.metrics()


def test_retry_twice_then_success_and_always_failing_fails_the_job(kube, namespace, start_operator, plan_dir):
    start_operator()
    apply_job(kube, job_manifest("flaky", namespace), plan_dir,
              {"default": {"sleep": 0.1}, "extract": {"fail_times": 2}})  # fmt: skip
    apply_job(kube, job_manifest("broken", namespace, owner="other"), plan_dir,
              {"default": {"sleep": 0.1}, "extract": {"fail_times": 99}})  # fmt: skip
    broken = wait_phase(kube, namespace, "broken", ("Succeeded", "Failed"), timeout=180)["status"]
    assert broken["phase"] == "Failed" and broken["reason"] == "StageExtractFailed"
    assert "TestFailure" in broken["message"] and "3 attempt" in broken["message"]
    flaky = wait_phase(kube, namespace, "flaky", ("Succeeded", "Failed"), timeout=180)["status"]
    assert flaky["phase"] == "Succeeded"
    ex = flaky["stages"][0]
    assert ex["attempts"] == 3 and ex["podName"] == "flaky-extract-3"
    extract_pods = sorted(
        (p for p in job_pods(kube, namespace, "flaky") if p["metadata"]["labels"]["dubbing.dev/stage"] == "extract"),
        key=lambda p: int(p["metadata"]["labels"]["dubbing.dev/attempt"]),
    )
    assert [p["status"]["phase"] for p in extract_pods] == ["Failed", "Failed", "Succeeded"]

    # backoff: 1 s then 2 s between an attempt's end and the next one's start (second-resolution times)
    def t(p, which):
        return datetime.fromisoformat(_container_times(p)[which].replace("Z", "+00:00"))

    gaps = [(t(b, 0) - t(a, 1)).total_seconds() for a, b in zip(extract_pods, extract_pods[1:], strict=False)]
    assert gaps[0] >= 0 and gaps[1] >= 1, gaps
    describe = kube.kubectl("describe", "dj", "flaky", "-n", namespace).stdout
    assert "StageRetry" in describe


def test_cancel_in_a_long_stage(kube, namespace, start_operator, plan_dir):
    start_operator()
    apply_job(kube, job_manifest("long", namespace), plan_dir, {"default": {"sleep": 0.1}, "asr": {"sleep": 300}})
    wait_for(
        "asr to run", lambda: any(r[0] == "asr" and r[1] == "start" for r in _journal(plan_dir, namespace, "long")), 120
    )
    t0 = time.monotonic()
    kube.kubectl("patch", "dj", "long", "-n", namespace, "--type=merge", "-p", json.dumps({"spec": {"cancel": True}}))
    job = wait_phase(kube, namespace, "long", ("Cancelled",), timeout=30)
    took = time.monotonic() - t0
    assert took < 10, took
    assert any(r[0] == "asr" and r[1] == "sigterm" for r in _journal(plan_dir, namespace, "long"))
    assert {s["name"]: s["phase"] for s in job["status"]["stages"]}["asr"] == "Cancelled"
    left = [
        p["metadata"]["name"]
        for p in job_pods(kube, namespace, "long")
        if p["status"]["phase"] in ("Pending", "Running")
    ]
    assert left == []
    assert "long-asr-1" not in [p["metadata"]["name"] for p in job_pods(kube, namespace, "long")]
    # deleting the job goes through the finalizer and leaves nothing
    kube.kubectl("delete", "dj", "long", "-n", namespace, "--wait=true", timeout=60)
