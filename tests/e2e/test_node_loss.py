"""Gate: the GPU node's kubelet dies in the middle of a stage; the stage gets a new
attempt, waits for a GPU with a clear condition, and the job finishes once the node is back.

A dedicated extra GPU kubelet (label ``dubbing.dev/pool=<tag>`` that only it has) is
started, and the job is steered there with ``spec.placement.nodeSelector``, so the shared
``dev-gpu-0`` is not disturbed.  While ``separate`` runs, the kubelet is SIGKILLed and
the stage process with it (the node is gone).  What has to happen: the node goes
NotReady (node-monitor grace), the lifecycle controller taints it, the stage Pod's
short not-ready/unreachable toleration runs out and the taint eviction deletes it,
nobody confirms that deletion so the operator force-deletes it, counts the attempt as
lost (``StageLost``), creates attempt 2, which waits (``Scheduled=False``) until the
kubelet starts again; then the job succeeds.  Control loop only: the stages are the
stand-in stage program.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from dubbing.api.v1alpha1 import STAGES

from . import common as c

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

POOL_LABEL = "dubbing.dev/pool"
LOST_STAGE = "separate"


def _condition(job: dict, type_: str) -> dict | None:
    return next((x for x in (job.get("status") or {}).get("conditions") or [] if x["type"] == type_), None)


def _node_ready(kube, name: str) -> str | None:
    out = kube.kubectl("get", "node", name, "-o", "json", check=False)
    if out.returncode != 0:
        return None
    conds = json.loads(out.stdout)["status"].get("conditions") or []
    return next((x["status"] for x in conds if x["type"] == "Ready"), None)


def test_node_loss(gate: c.Gate, cluster: c.KubeCluster) -> None:
    kube = cluster
    if kube.external:
        pytest.skip(
            "kills and restarts a development kubelet: needs the local development cluster, not DUBBING_KUBECONFIG"
        )
    from devcluster import cluster as devc
    from devcluster import procs
    from devcluster.config import GPU_LABEL, GPU_TAINT, ClusterConfig, NodeSpec

    cfg = ClusterConfig.from_env()
    state = devc.StatePaths.default()
    tag = f"loss-{os.urandom(3).hex()}"
    node = NodeSpec(name=f"dev-gpu-{tag}", port=c.free_port(), gpus=1,
                    labels=(GPU_LABEL, (POOL_LABEL, tag)), taints=(GPU_TAINT,))  # fmt: skip
    gate.summary.update(node=node.name, node_grace_s=cfg.node_monitor_grace_seconds)
    devc.start_kubelet(node, cfg=cfg, timeout=90)
    try:
        with c.namespace(kube, "gate-node") as ns:
            c.s3_secret(kube, ns)
            plans = c.plan_dir()
            env = {
                **c.fake_stage_env(plans),
                "DUBBING_NODE_LOST_TOLERATION_SECONDS": "10",
                "DUBBING_FORCE_DELETE_AFTER_SECONDS": "10",
                "DUBBING_STAGE_GRACE_SECONDS": "5",
            }
            log = plans / "operator.log"
            gate.logs.append(log)
            op = c.start_operator(kube, ns, env, log)
            name = "node-loss"
            manifest = c.job_manifest(name, ns, placement={
                "nodeSelector": {POOL_LABEL: tag},
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            })  # fmt: skip
            plan = {"default": {"sleep": 0.2}, LOST_STAGE: {"sleep": 600}}
            try:
                c.apply(kube, manifest, plans, plan)

                def running() -> int | None:
                    return next(
                        (pid for s, w, pid, _ in c.journal(plans, ns, name) if s == LOST_STAGE and w == "start"), None
                    )

                stage_pid = c.wait_for(f"{LOST_STAGE} to run on {node.name}", running, 120)
                pod1 = c.pods(kube, ns, name)
                on = {p["metadata"]["name"]: p["spec"].get("nodeName") for p in pod1}
                c.check(set(on.values()) == {node.name}, f"Pods not on the gate's node: {on}")
                # --- the node dies: kubelet and its stage process, without a word to the API server
                kpid = procs.running_pid(state.pid_file(devc.kubelet_process(node.name)), devc.KUBELET_MODULE)
                c.check(kpid is not None, "the gate's kubelet is not running")
                os.kill(kpid, signal.SIGKILL)
                try:
                    os.kill(stage_pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                t0 = time.monotonic()
                plan[LOST_STAGE] = {"sleep": 0.3}  # the next attempt is quick
                (plans / f"{ns}_{name}.json").write_text(json.dumps(plan))

                c.wait_for(
                    "the node to go NotReady",
                    lambda: _node_ready(kube, node.name) in ("False", "Unknown"),
                    120,
                    every=1,
                )
                gate.summary["node_not_ready_after_s"] = round(time.monotonic() - t0, 1)
                first = f"{name}-{LOST_STAGE}-1"
                c.wait_for(
                    f"{first} to be gone",
                    lambda: first not in {p["metadata"]["name"] for p in c.pods(kube, ns, name)},
                    150,
                    every=1,
                )
                gate.summary["lost_pod_gone_after_s"] = round(time.monotonic() - t0, 1)

                def waiting() -> dict | None:
                    job = c.get_job(kube, ns, name)
                    cond = _condition(job, "Scheduled")
                    stage = next((s for s in job["status"].get("stages") or [] if s["name"] == LOST_STAGE), {})
                    ok = cond and cond["status"] == "False" and stage.get("attempts") == 2
                    return job if ok else None

                job = c.wait_for("attempt 2 to wait for a node", waiting, 60, every=1)
                cond = _condition(job, "Scheduled")
                gate.summary["waiting_condition"] = {k: cond[k] for k in ("reason", "message")}
                gate.summary["waiting_after_s"] = round(time.monotonic() - t0, 1)
                c.check(job["status"]["phase"] == "Running", f"job is {job['status']['phase']} while waiting")
                time.sleep(5)
                c.check(c.phase(kube, ns, name) == "Running", "the job did not keep waiting")
                # --- the node comes back
                devc.start_kubelet(node, cfg=cfg, timeout=90)
                t_back = time.monotonic()
                job = c.wait_phase(kube, ns, name, ("Succeeded", "Failed", "Cancelled"), 180)
                gate.summary["finished_after_node_back_s"] = round(time.monotonic() - t_back, 1)
            finally:
                op.stop()

            st = job["status"]
            gate.summary["phase"] = st["phase"]
            c.check(st["phase"] == "Succeeded", f"job ended {st['phase']}: {st.get('message')}")
            stages = {s["name"]: s for s in st["stages"]}
            c.check(stages[LOST_STAGE]["attempts"] == 2, f"{LOST_STAGE} attempts {stages[LOST_STAGE]['attempts']}")
            c.check(stages[LOST_STAGE]["podName"] == f"{name}-{LOST_STAGE}-2", stages[LOST_STAGE]["podName"])
            c.check(all(stages[s]["phase"] == "Succeeded" for s in STAGES), f"stages: {stages}")
            # the eviction also removes the ended Pods of the lost node: finished stages must not run again
            starts = {
                s: sum(1 for st_, w, _, _ in c.journal(plans, ns, name) if st_ == s and w == "start") for s in STAGES
            }
            gate.summary["stage_starts"] = starts
            c.check(starts == {s: 2 if s == LOST_STAGE else 1 for s in STAGES}, f"stage process starts: {starts}")
            final = c.pods(kube, ns, name)
            c.check({p["spec"].get("nodeName") for p in final} == {node.name}, "a Pod ran off the gate's node")
            reasons = [e["reason"] for e in c.events(kube, ns, name)]
            c.check("StageLost" in reasons, f"no StageLost event: {reasons}")
            gate.summary["events"] = sorted(set(reasons))
    finally:
        devc.stop_kubelet(node.name, delete_node=True, cfg=cfg)
