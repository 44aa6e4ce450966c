"""The models page's pull decisions, without a cluster."""

from __future__ import annotations

from dubbing.modelpull.catalogue import lookup
from dubbing.modelpull.state import ModelState
from dubbing_webui.model_pulls import MODEL_LABEL, job_phase, pull_job, row

TEMPLATE = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"namespace": "media", "labels": {"app.kubernetes.io/component": "model-pull"}},
    "spec": {
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/component": "model-pull"}},
            "spec": {"containers": [{"name": "pull", "command": ["dubbing", "models", "pull"], "args": []}]},
        }
    },
}


def test_pull_job_fills_in_the_model_and_leaves_the_template_alone():
    job = pull_job(TEMPLATE, lookup("whisper-base"), "rel-dubbing-model-pull")
    assert job["metadata"]["generateName"] == "rel-dubbing-model-pull-" and "name" not in job["metadata"]
    assert job["metadata"]["labels"][MODEL_LABEL] == "whisper-base"
    assert job["spec"]["template"]["metadata"]["labels"][MODEL_LABEL] == "whisper-base"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["whisper-base"]
    assert TEMPLATE["spec"]["template"]["spec"]["containers"][0]["args"] == []
    assert MODEL_LABEL not in TEMPLATE["metadata"]["labels"]


def test_job_phase():
    assert job_phase(None) == "running"
    assert job_phase({"active": 1}) == "running"
    assert job_phase({"succeeded": 1}) == "succeeded"
    assert job_phase({"conditions": [{"type": "Complete", "status": "True"}]}) == "succeeded"
    assert job_phase({"conditions": [{"type": "Failed", "status": "True"}], "failed": 3}) == "failed"
    assert job_phase({"conditions": [{"type": "Failed", "status": "False"}], "active": 1}) == "running"


def test_row_merges_the_cache_state_and_the_job():
    entry = lookup("whisper-base")
    plain = row(entry, ModelState("absent"), None)
    assert plain["size"] == entry.size and plain["licence"] == "MIT" and "files" not in plain
    assert plain["status"]["state"] == "absent" and plain["job"] is None
    started = row(entry, ModelState("absent"), {"name": "p-1", "phase": "running"})
    assert started["status"]["state"] == "starting"
    failed = row(entry, ModelState("absent"), {"name": "p-1", "phase": "failed"})
    assert failed["status"]["message"] == "pull Job p-1 failed"
    ready = row(entry, ModelState("ready"), {"name": "p-1", "phase": "succeeded"})
    assert ready["status"]["state"] == "ready"
