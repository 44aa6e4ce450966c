"""No GPU node for a job: a condition with the scheduler's reason, then a node joins and the job finishes.

The shared development cluster keeps its own nodes (other tests use them).  The
"GPU pool" of this test is a node label nobody has, so it starts empty:

* job ``gpu-wait`` runs under an operator whose GPU Pods select that pool
  (``DUBBING_GPU_NODE_SELECTOR``): ``extract`` runs on the CPU node, ``separate``
  waits for a GPU;
* job ``pool-wait`` selects the pool itself (``spec.placement.nodeSelector``) and
  tolerates the GPU taint, so even its first (CPU) stage waits, as Unschedulable.

Then an extra GPU kubelet with that label joins, both jobs proceed and succeed,
and the ``Scheduled`` condition flips back to True.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest

from devcluster.ports import free_port
from dubbing.api.v1alpha1 import STAGES

from .conftest import apply_job, get_job, job_manifest, job_pods, wait_for, wait_phase

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
GPU_STAGES = ("separate", "diarize", "asr", "tts")
POOL_LABEL = "dubbing.dev/pool"


@pytest.fixture
def gpu_pool(kube) -> Iterator[dict]:
    """An empty pool (a label value no node has) and a way to add a GPU node to it; the node is removed after."""
    if kube.external:
        pytest.skip("adds a development kubelet: needs the local development cluster, not DUBBING_KUBECONFIG")
    from devcluster import cluster
    from devcluster.config import GPU_LABEL, GPU_TAINT, ClusterConfig, NodeSpec

    pool = f"test-{secrets.token_hex(3)}"
    node = NodeSpec(
        name=f"dev-gpu-{pool}", port=free_port(), gpus=2,
        labels=(GPU_LABEL, (POOL_LABEL, pool)), taints=(GPU_TAINT,),
    )  # fmt: skip
    cfg = ClusterConfig.from_env()
    started: list[str] = []

    def add_node() -> str:
        cluster.start_kubelet(node, cfg=cfg, timeout=90)
        started.append(node.name)
        return node.name

    yield {"pool": pool, "node": node.name, "add_node": add_node}
    cluster.stop_kubelet(node.name, delete_node=True, cfg=cfg)
    assert kube.kubectl("get", "node", node.name, check=False).returncode != 0, "the extra node was not deleted"


def _condition(job: dict, type_: str) -> dict | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond["type"] == type_:
            return cond
    return None


def _pod_unschedulable_message(kube, namespace: str, pod: str) -> str | None:
    out = kube.kubectl("get", "pod", pod, "-n", namespace, "-o", "json").stdout
    for cond in json.loads(out)["status"].get("conditions") or []:
        if cond["type"] == "PodScheduled" and cond["status"] == "False" and cond.get("reason") == "Unschedulable":
            return cond["message"]
    return None


def _events(kube, namespace: str, name: str) -> list[dict]:
    out = kube.kubectl("get", "events", "-n", namespace, "--field-selector",
                       f"involvedObject.kind=DubbingJob,involvedObject.name={name}", "-o", "json").stdout  # fmt: skip
    return json.loads(out)["items"]


def _waiting(kube, namespace: str, name: str, stage: str) -> dict | None:
    job = get_job(kube, namespace, name)
    cond = _condition(job, "Scheduled")
    if cond and cond["status"] == "False" and (job["status"].get("currentStage") == stage):
        return job
    return None


def test_no_gpu_node_is_a_condition_then_a_new_node_lets_the_jobs_finish(
    kube, namespace, start_operator, plan_dir, gpu_pool
):
    pool = gpu_pool["pool"]
    start_operator(DUBBING_GPU_NODE_SELECTOR=json.dumps({POOL_LABEL: pool}))
    plan = {"default": {"sleep": 0.2}}
    apply_job(kube, job_manifest("gpu-wait", namespace), plan_dir, plan)
    placed = job_manifest("pool-wait", namespace, owner="other", placement={
        "nodeSelector": {POOL_LABEL: pool},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    })  # fmt: skip
    apply_job(kube, placed, plan_dir, plan)

    # --- the GPU stage waits for a GPU: condition with the scheduler's own message, not Failed, an Event
    job = wait_for(
        "gpu-wait's separate stage to wait for a node", lambda: _waiting(kube, namespace, "gpu-wait", "separate"), 120
    )
    st = job["status"]
    cond = _condition(job, "Scheduled")
    assert st["phase"] == "Running" and cond["reason"] == "WaitingForGPU", st
    sched_msg = _pod_unschedulable_message(kube, namespace, "gpu-wait-separate-1")
    assert sched_msg and "didn't match Pod's node affinity/selector" in sched_msg, sched_msg
    # the operator copies the scheduler's message (it may have been refreshed since: compare the words)
    assert "didn't match Pod's node affinity/selector" in cond["message"] and cond["message"].startswith("0/")
    assert cond["observedGeneration"] == job["metadata"]["generation"]
    stages = {s["name"]: s for s in st["stages"]}
    assert stages["extract"]["phase"] == "Succeeded" and stages["separate"]["phase"] == "Pending"
    assert stages["separate"]["reason"] == "WaitingForGPU" and stages["separate"]["gpus"] == 1
    failed = _condition(job, "Failed")
    assert failed is None or failed["status"] == "False"
    ev = [e for e in _events(kube, namespace, "gpu-wait") if e["reason"] == "WaitingForGPU"]
    assert ev and ev[0]["type"] == "Warning" and "node affinity/selector" in ev[0]["message"], ev

    # --- the job that selects the empty pool waits at its first (CPU) stage: Unschedulable
    other = wait_for("pool-wait's extract to wait", lambda: _waiting(kube, namespace, "pool-wait", "extract"), 60)
    ocond = _condition(other, "Scheduled")
    assert other["status"]["phase"] == "Running" and ocond["reason"] == "Unschedulable"
    assert "didn't match Pod's node affinity/selector" in ocond["message"]
    assert any(e["reason"] == "Unschedulable" for e in _events(kube, namespace, "pool-wait"))
    assert kube.kubectl("describe", "dj", "gpu-wait", "-n", namespace).stdout.count("WaitingForGPU") >= 1

    # still waiting a while later: a wait, not a hang that turns into a failure
    for name in ("gpu-wait", "pool-wait"):
        assert get_job(kube, namespace, name)["status"]["phase"] == "Running"
    assert [p["metadata"]["name"] for p in job_pods(kube, namespace, "gpu-wait")] == [
        "gpu-wait-extract-1",
        "gpu-wait-separate-1",
    ]

    # --- a GPU node joins the pool: both proceed and finish
    node = gpu_pool["add_node"]()
    for name in ("gpu-wait", "pool-wait"):
        done = wait_phase(kube, namespace, name, ("Succeeded", "Failed", "Cancelled"), timeout=180)
        assert done["status"]["phase"] == "Succeeded", done["status"]
        cond = _condition(done, "Scheduled")
        assert cond["status"] == "True" and cond["reason"] == "Scheduled", cond
        assert done["status"].get("reason") == "Succeeded"
        assert all("reason" not in s for s in done["status"]["stages"]), done["status"]["stages"]
        assert any(e["reason"] == "Scheduled" for e in _events(kube, namespace, name))

    pods = {p["metadata"]["labels"]["dubbing.dev/stage"]: p for p in job_pods(kube, namespace, "gpu-wait")}
    assert set(pods) == set(STAGES) and len(job_pods(kube, namespace, "gpu-wait")) == len(STAGES)
    for stage in STAGES:
        expected_on_pool = stage in GPU_STAGES
        assert (pods[stage]["spec"]["nodeName"] == node) == expected_on_pool, (stage, pods[stage]["spec"]["nodeName"])
    # the waiting Pod was not replaced: it is the one that ran, attempt 1
    assert pods["separate"]["metadata"]["name"] == "gpu-wait-separate-1"
    assert {p["spec"]["nodeName"] for p in job_pods(kube, namespace, "pool-wait")} == {node}
