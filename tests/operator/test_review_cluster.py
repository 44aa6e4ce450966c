"""A review pause against the local cluster (real API server, dev kubelets, the test stage workload)."""

from __future__ import annotations

import json

import pytest

from devcluster.stack.kube import job_events
from dubbing.api.v1alpha1 import STAGES

from .conftest import apply_job, get_job, job_manifest, job_pods, wait_phase

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
UPTO_TRANSLATE = STAGES[: STAGES.index("translate") + 1]


def test_job_waits_for_review_without_its_slot_then_goes_on_when_approved(kube, namespace, start_operator, plan_dir):
    start_operator(DUBBING_MAX_RUNNING_GPU_JOBS="1")
    plan = {"default": {"sleep": 0.2}}
    apply_job(kube, job_manifest("rev", namespace, review={"after": ["translate"]}), plan_dir, plan)
    job = wait_phase(kube, namespace, "rev", ("AwaitingReview", "Failed", "Succeeded"), timeout=240)
    st = job["status"]
    assert st["phase"] == "AwaitingReview", st
    assert {p["metadata"]["labels"]["dubbing.dev/stage"] for p in job_pods(kube, namespace, "rev")} == set(
        UPTO_TRANSLATE
    )
    cond = {c["type"]: c for c in st["conditions"]}["AwaitingReview"]
    assert cond["status"] == "True" and "spec.review.approved" in cond["message"]
    assert any(e["reason"] == "AwaitingReview" for e in job_events(kube, namespace, "rev"))

    # the only GPU slot is free while it waits: another job runs to the end
    apply_job(kube, job_manifest("other", namespace), plan_dir, plan)
    assert wait_phase(kube, namespace, "other", ("Succeeded", "Failed"), timeout=240)["status"]["phase"] == "Succeeded"
    assert get_job(kube, namespace, "rev")["status"]["phase"] == "AwaitingReview"

    patch = {"spec": {"review": {"after": ["translate"], "approved": ["translate"]}}}
    kube.kubectl("patch", "dj", "rev", "-n", namespace, "--type", "merge", "-p", json.dumps(patch))
    done = wait_phase(kube, namespace, "rev", ("Succeeded", "Failed"), timeout=240)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    pods = job_pods(kube, namespace, "rev")
    assert sorted(p["metadata"]["labels"]["dubbing.dev/stage"] for p in pods) == sorted(STAGES)  # none ran twice
    cond = {c["type"]: c for c in done["status"]["conditions"]}["AwaitingReview"]
    assert cond["status"] == "False" and cond["reason"] == "Approved"
