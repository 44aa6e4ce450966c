"""The development kubelet against the real apiserver, scheduler and controller-manager."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from devcluster.stack.kube import wait_for

pytestmark = pytest.mark.cluster

GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def _pod(name: str, script: str, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": "dubbing/stage:dev", "command": ["python", "-c", script]}
    container.update(spec.pop("container", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, **spec.pop("metadata", {})},
        "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 5, "containers": [container], **spec},
    }


def _get(kube, namespace: str, name: str) -> dict[str, Any] | None:
    proc = kube.kubectl("get", "pod", name, "-n", namespace, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def _phase(kube, namespace: str, name: str, *phases: str) -> dict[str, Any] | None:
    pod = _get(kube, namespace, name)
    return pod if pod and pod.get("status", {}).get("phase") in phases else None


def _apply(kube, namespace: str, obj: dict[str, Any]) -> None:
    kube.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(obj))


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _gpu_nodes(kube) -> list[str]:
    nodes = json.loads(kube.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    return [n["metadata"]["name"] for n in nodes if int(n["status"].get("capacity", {}).get("nvidia.com/gpu", "0")) > 0]


def test_gpu_pod_is_scheduled_run_and_reported(kube, namespace):
    gpu_nodes = _gpu_nodes(kube)
    assert gpu_nodes, "no node advertises nvidia.com/gpu"
    script = (
        "import time, json\n"
        "for i in range(3): print(f'line {i}', flush=True)\n"
        "time.sleep(1.2)\n"
        "open('/dev/termination-log', 'w').write(json.dumps({'ok': True, 'stage': 'asr'}))\n"
    )
    body = _pod(
        "gpu-ok",
        script,
        tolerations=[GPU_TOLERATION],
        container={"resources": {"limits": {"nvidia.com/gpu": "1"}, "requests": {"cpu": "100m"}}},
    )
    created = time.monotonic()
    _apply(kube, namespace, body)
    running = wait_for("Running", lambda: _phase(kube, namespace, "gpu-ok", "Running", "Succeeded"), every=0.05)
    to_running = time.monotonic() - created
    pod = wait_for("Succeeded", lambda: _phase(kube, namespace, "gpu-ok", "Succeeded", "Failed"))
    print(f"\ncreate -> Running observed after {to_running:.2f}s (phase seen: {running['status']['phase']})")
    assert pod["status"]["phase"] == "Succeeded", pod["status"]
    assert pod["spec"]["nodeName"] in gpu_nodes
    term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 0 and term["reason"] == "Completed"
    assert _time(term["startedAt"]) <= _time(term["finishedAt"])
    assert (_time(term["finishedAt"]) - _time(term["startedAt"])).total_seconds() >= 1
    assert json.loads(term["message"]) == {"ok": True, "stage": "asr"}
    conds = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert conds["PodScheduled"] == "True" and conds["Ready"] == "False" and conds["Initialized"] == "True"
    assert pod["status"]["podIP"] == "127.0.0.1" and pod["status"]["startTime"]

    text = kube.core().read_namespaced_pod_log("gpu-ok", namespace)
    assert text == "line 0\nline 1\nline 2\n"
    assert kube.kubectl("logs", "-n", namespace, "gpu-ok").stdout == text
    tail = kube.kubectl("logs", "-n", namespace, "gpu-ok", "--tail=1", "--timestamps").stdout
    assert tail.endswith(" line 2\n") and tail.startswith(term["startedAt"][:4])


def test_kubectl_logs_follow_streams_until_the_container_ends(kube, namespace):
    script = "import time\nfor i in range(6):\n    print(f'tick {i}', flush=True)\n    time.sleep(0.7)\n"
    _apply(kube, namespace, _pod("follow", script))
    wait_for("Running", lambda: _phase(kube, namespace, "follow", "Running"), every=0.05)
    proc = subprocess.Popen(
        [kube.kubectl_path, f"--kubeconfig={kube.kubeconfig}", "logs", "-f", "-n", namespace, "follow"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    arrivals: list[tuple[float, str]] = []
    for line in proc.stdout:
        arrivals.append((time.monotonic(), line.rstrip("\n")))
    assert proc.wait(timeout=30) == 0
    assert [text for _, text in arrivals] == [f"tick {i}" for i in range(6)]
    # Lines came as they were written, not all at once at the end.
    assert arrivals[-1][0] - arrivals[0][0] > 1.5
    assert _phase(kube, namespace, "follow", "Succeeded")


def test_pod_wanting_more_gpus_than_any_node_stays_pending(kube, namespace):
    body = _pod(
        "too-many",
        "print('never')",
        tolerations=[GPU_TOLERATION],
        container={"resources": {"limits": {"nvidia.com/gpu": "64"}}},
    )
    _apply(kube, namespace, body)

    def unschedulable() -> dict[str, Any] | None:
        pod = _get(kube, namespace, "too-many")
        for cond in (pod or {}).get("status", {}).get("conditions", []):
            if cond["type"] == "PodScheduled" and cond["status"] == "False":
                return cond
        return None

    cond = wait_for("Unschedulable", unschedulable)
    assert cond["reason"] == "Unschedulable" and "nvidia.com/gpu" in cond["message"]
    time.sleep(1)
    pod = _get(kube, namespace, "too-many")
    assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName")


def test_deleting_a_running_pod_sends_sigterm_then_removes_it(kube, namespace, tmp_path):
    tmp_path.chmod(0o777)
    script = (
        "import signal, sys, time\n"
        "def bye(sig, frame):\n"
        "    open('/marks/term', 'w').write(str(sig)); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "print('ready', flush=True)\n"
        "time.sleep(120)\n"
    )
    body = _pod(
        "victim",
        script,
        volumes=[{"name": "marks", "hostPath": {"path": str(tmp_path)}}],
        container={"volumeMounts": [{"name": "marks", "mountPath": "/marks"}]},
    )
    _apply(kube, namespace, body)
    wait_for("Running", lambda: _phase(kube, namespace, "victim", "Running"))
    wait_for("ready line", lambda: "ready" in kube.kubectl("logs", "-n", namespace, "victim", check=False).stdout)
    started = time.monotonic()
    kube.kubectl("delete", "pod", "victim", "-n", namespace, "--wait=false")
    wait_for("pod removal", lambda: _get(kube, namespace, "victim") is None, timeout=30)
    print(f"\ndelete -> object gone after {time.monotonic() - started:.2f}s")
    assert (tmp_path / "term").read_text() == "15"


def test_active_deadline_fails_the_pod(kube, namespace):
    _apply(kube, namespace, _pod("late", "import time; time.sleep(120)", activeDeadlineSeconds=3))
    pod = wait_for("Failed", lambda: _phase(kube, namespace, "late", "Failed", "Succeeded"), timeout=40)
    assert pod["status"]["phase"] == "Failed"
    assert pod["status"]["reason"] == "DeadlineExceeded"
    assert "deadline" in pod["status"]["message"]
    term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] in (137, 143)
    runtime = (_time(term["finishedAt"]) - _time(pod["status"]["startTime"])).total_seconds()
    assert 2 <= runtime <= 8


def test_env_from_secret_and_configmap_emptydir_and_message_path(kube, namespace):
    _apply(
        kube,
        namespace,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds"},
            "stringData": {"TOKEN": "t0ps3cret", "USER": "alice"},
        },
    )
    _apply(
        kube,
        namespace,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings"},
            "data": {"MODE": "fast", "LANG_TO": "es"},
        },
    )
    script = (
        "import json, os\n"
        "open('/scratch/a.txt', 'w').write('kept')\n"
        "keys = ['TOKEN', 'CFG_MODE', 'CFG_LANG_TO', 'WHO', 'MODE', 'POD', 'NS', 'PATH_HEAD']\n"
        "out = {k: os.environ.get(k) for k in keys}\n"
        "out['scratch'] = open('/scratch/a.txt').read()\n"
        "out['cwd'] = os.getcwd()\n"
        "open('/run/out/message', 'w').write(json.dumps(out))\n"
    )
    body = _pod(
        "envs",
        script,
        volumes=[{"name": "scratch", "emptyDir": {}}],
        container={
            "workingDir": "/scratch",
            "terminationMessagePath": "/run/out/message",
            "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
            "envFrom": [{"secretRef": {"name": "creds"}}, {"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
            "env": [
                {"name": "WHO", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "USER"}}},
                {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "MODE"}}},
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "PATH_HEAD", "value": "$(WHO)@$(NS)"},
            ],
        },
    )
    _apply(kube, namespace, body)
    pod = wait_for("finished", lambda: _phase(kube, namespace, "envs", "Succeeded", "Failed"))
    term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert pod["status"]["phase"] == "Succeeded", term
    assert json.loads(term["message"]) == {
        "TOKEN": "t0ps3cret",
        "CFG_MODE": "fast",
        "CFG_LANG_TO": "es",
        "WHO": "alice",
        "MODE": "fast",
        "POD": "envs",
        "NS": namespace,
        "PATH_HEAD": f"alice@{namespace}",
        "scratch": "kept",
        "cwd": "/scratch",
    }
    assert not os.path.exists("/scratch/a.txt"), "the emptyDir must only be mounted inside the pod"


def test_missing_secret_waits_with_config_error_then_runs(kube, namespace):
    body = _pod(
        "later",
        "import os; print(os.environ['KEY'])",
        container={"env": [{"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "late", "key": "k"}}}]},
    )
    _apply(kube, namespace, body)

    def config_error() -> bool:
        pod = _get(kube, namespace, "later") or {}
        for cs in pod.get("status", {}).get("containerStatuses", []):
            waiting = cs.get("state", {}).get("waiting", {})
            if waiting.get("reason") == "CreateContainerConfigError":
                return "late" in waiting.get("message", "")
        return False

    wait_for("CreateContainerConfigError", config_error)
    _apply(
        kube, namespace, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "late"}, "stringData": {"k": "v"}}
    )
    wait_for("Succeeded", lambda: _phase(kube, namespace, "later", "Succeeded"), timeout=30)
    assert kube.kubectl("logs", "-n", namespace, "later").stdout == "v\n"


def test_deleting_the_owner_garbage_collects_its_pods(kube, namespace, tmp_path):
    tmp_path.chmod(0o777)
    _apply(kube, namespace, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}, "data": {}})
    owner = json.loads(kube.kubectl("get", "configmap", "owner", "-n", namespace, "-o", "json").stdout)
    script = "import os, time\nopen('/marks/pid', 'w').write(str(os.getpid()))\ntime.sleep(120)\n"
    body = _pod(
        "owned",
        script,
        metadata={
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
            ]
        },
        volumes=[{"name": "marks", "hostPath": {"path": str(tmp_path)}}],
        container={"volumeMounts": [{"name": "marks", "mountPath": "/marks"}]},
    )
    _apply(kube, namespace, body)
    wait_for("Running", lambda: _phase(kube, namespace, "owned", "Running"))
    pid = int(wait_for("pid file", lambda: (tmp_path / "pid").exists() and (tmp_path / "pid").read_text()))
    assert Path(f"/proc/{pid}").exists()
    kube.kubectl("delete", "configmap", "owner", "-n", namespace)
    wait_for("garbage collection", lambda: _get(kube, namespace, "owned") is None, timeout=60)
    wait_for("process exit", lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), timeout=10)


def _start_kubelet(kube, node: str, port: int, state_dir: Path, log: Path, *extra: str) -> subprocess.Popen:
    pki = kube.kubeconfig.parent / "pki"
    argv = [
        sys.executable,
        "-m",
        "devcluster.kubelet",
        "--kubeconfig",
        str(kube.kubeconfig),
        "--node-name",
        node,
        "--port",
        str(port),
        "--tls-cert",
        str(pki / "kubelet.crt"),
        "--tls-key",
        str(pki / "kubelet.key"),
        "--gpus",
        "0",
        "--cpu",
        "2",
        "--memory",
        "2Gi",
        "--state-dir",
        str(state_dir),
        "--taint",
        "devcluster/restart-test=yes:NoSchedule",
        *extra,
    ]
    proc = subprocess.Popen(argv, stdout=open(log, "a"), stderr=subprocess.STDOUT)

    def ready() -> bool:
        out = kube.kubectl("get", "node", node, "-o", "json", check=False)
        if out.returncode != 0:
            return False
        conds = json.loads(out.stdout)["status"].get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)

    wait_for(f"node {node} Ready", ready, timeout=30)
    return proc


def test_kubelet_restart_fails_pods_it_lost_and_keeps_finished_ones(kube, namespace, tmp_path):
    if kube.external:
        pytest.skip("starts an extra development kubelet; only for the local cluster")
    node, port = f"restart-{namespace}", 10290 + int(namespace[-2:], 16) % 50
    state, log = tmp_path / "node", tmp_path / "kubelet.log"
    first = _start_kubelet(kube, node, port, state, log)
    try:
        tmp_path.chmod(0o777)
        long_script = "import os, time\nopen('/marks/pid', 'w').write(str(os.getpid()))\ntime.sleep(300)\n"
        _apply(kube, namespace, _pod("done", "print('finished')", nodeName=node))
        _apply(
            kube,
            namespace,
            _pod(
                "long",
                long_script,
                nodeName=node,
                volumes=[{"name": "marks", "hostPath": {"path": str(tmp_path)}}],
                container={"volumeMounts": [{"name": "marks", "mountPath": "/marks"}]},
            ),
        )
        wait_for("done", lambda: _phase(kube, namespace, "done", "Succeeded"))
        wait_for("long Running", lambda: _phase(kube, namespace, "long", "Running"))
        pid = int(wait_for("pid file", lambda: (tmp_path / "pid").exists() and (tmp_path / "pid").read_text()))
        assert Path(f"/proc/{pid}").exists()
        first.kill()  # node loss: no chance to clean up
        first.wait()
        second = _start_kubelet(kube, node, port, state, log)
        try:
            pod = wait_for("long Failed", lambda: _phase(kube, namespace, "long", "Failed"), timeout=30)
            assert pod["status"]["reason"] == "NodeRestarted"
            term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
            assert term["reason"] == "ContainerStatusUnknown" and term["exitCode"] == 137
            assert _phase(kube, namespace, "done", "Succeeded")
            assert kube.kubectl("logs", "-n", namespace, "done").stdout == "finished\n"
            # The process the first kubelet left behind was killed by the second one.
            wait_for("orphan killed", lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), timeout=10)
            kube.kubectl("delete", "pod", "done", "long", "-n", namespace, "--wait=false")
            wait_for(
                "pods removed", lambda: _get(kube, namespace, "done") is None and _get(kube, namespace, "long") is None
            )
        finally:
            second.terminate()
            second.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
        kube.kubectl("delete", "node", node, "--ignore-not-found", check=False)


TOOL = """#!/bin/sh
set -e
echo weights > /models/w.bin
touch /tmp/{scratch}
printf '{"token": "%s", "models": "%s"}' "$(cat /etc/creds/token)" "$(cat /models/w.bin)" > /dev/termination-log
"""


def test_a_tmp_emptydir_mounted_first_hides_no_volume_source_and_nothing_lands_on_the_host(kube, namespace):
    """A node whose state and image live under /tmp, a Pod that mounts an emptyDir at /tmp before its others.

    The other volumes' sources (the model cache, the Secret) and the image itself live
    under the host's /tmp, which the Pod's own /tmp hides once mounted: every source is
    resolved before anything is mounted, the image's files are shown again where they
    were, and the mount targets (/models, /etc/creds, /dev/termination-log) are created
    in the container's own root, never on the host.
    """
    if kube.external:
        pytest.skip("starts an extra development kubelet; only for the local cluster")
    assert not any(os.path.lexists(p) for p in ("/models", "/etc/creds", "/dev/termination-log")), (
        "a mount target is already on the host (left by an earlier run?)"
    )
    base = Path(tempfile.mkdtemp(prefix="devkubelet-", dir="/tmp"))
    node, port = f"tmpstate-{namespace}", 10340 + int(namespace[-2:], 16) % 50
    image_bin = base / "image" / "bin"
    image_bin.mkdir(parents=True)
    scratch = f"scratch-{namespace}"  # a name no host has (a developer's own /tmp/scratch is no failure)
    (image_bin / "probe-tool").write_text(TOOL.replace("{scratch}", scratch))
    (image_bin / "probe-tool").chmod(0o755)
    image_map = json.dumps({"dubbing/under-tmp": {"bin": str(image_bin)}})
    kubelet = _start_kubelet(kube, node, port, base / "node", base / "kubelet.log", "--image-map", image_map)
    try:
        _apply(
            kube,
            namespace,
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "stringData": {"token": "t0k3n"}},
        )
        body = _pod(
            "under-tmp",
            "",
            nodeName=node,
            volumes=[
                {"name": "tmp", "emptyDir": {}},
                {"name": "model-cache", "emptyDir": {}},
                {"name": "creds", "secret": {"secretName": "creds"}},
            ],
            container={
                "image": "dubbing/under-tmp:dev",
                "command": ["probe-tool"],
                "volumeMounts": [
                    {"name": "tmp", "mountPath": "/tmp"},
                    {"name": "model-cache", "mountPath": "/models"},
                    {"name": "creds", "mountPath": "/etc/creds"},
                ],
            },
        )
        _apply(kube, namespace, body)
        pod = wait_for("finished", lambda: _phase(kube, namespace, "under-tmp", "Succeeded", "Failed"))
        term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert pod["status"]["phase"] == "Succeeded", (term, (base / "kubelet.log").read_text()[-2000:])
        assert json.loads(term["message"]) == {"token": "t0k3n", "models": "weights"}
        pod_dir = next((base / "node" / "pods").glob(f"{namespace}_under-tmp_*"))
        assert (pod_dir / "volumes" / "empty-dir" / "model-cache" / "w.bin").read_text() == "weights\n"
        assert (pod_dir / "volumes" / "empty-dir" / "tmp" / scratch).exists()
        for leftover in ("/models", "/etc/creds", "/dev/termination-log", f"/tmp/{scratch}"):
            assert not os.path.lexists(leftover), f"{leftover} was left on the host"
        kube.kubectl("delete", "pod", "under-tmp", "-n", namespace, "--wait=false")
        wait_for("pod removed", lambda: _get(kube, namespace, "under-tmp") is None)
    finally:
        kubelet.terminate()
        kubelet.wait(timeout=30)
        kube.kubectl("delete", "node", node, "--ignore-not-found", check=False)
        shutil.rmtree(base, ignore_errors=True)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))


def test_pods_reach_the_apiserver_with_in_cluster_config(kube, namespace):
    """The ServiceAccount token volume and the kubernetes Service env make load_incluster_config work."""
    kube.kubectl(
        "create",
        "rolebinding",
        "sa-view",
        "--clusterrole=view",
        f"--serviceaccount={namespace}:default",
        "-n",
        namespace,
    )
    script = (
        "from kubernetes import client, config\n"
        "config.load_incluster_config()\n"
        f"pods = client.CoreV1Api().list_namespaced_pod({namespace!r}).items\n"
        "print('version', client.VersionApi().get_code().git_version)\n"
        "print('pods', len(pods))\n"
    )
    _apply(kube, namespace, _pod("in-cluster", script))
    pod = wait_for("in-cluster pod to finish", lambda: _phase(kube, namespace, "in-cluster", "Succeeded", "Failed"))
    logs = kube.kubectl("logs", "in-cluster", "-n", namespace).stdout
    assert pod["status"]["phase"] == "Succeeded", logs
    assert "version v1.31.4" in logs and "pods 1" in logs


def test_hollow_node_runs_a_stage_pod_to_succeeded_without_a_process(kube, namespace):
    """A hollow node reports a stage Pod Running, then Succeeded with the stage's JSON summary, and
    removes it when deleted; it never starts the (here impossible) command."""
    if kube.external:
        pytest.skip("adds a development kubelet: needs the local development cluster, not DUBBING_KUBECONFIG")
    import secrets

    from devcluster import cluster
    from devcluster.config import ClusterConfig, NodeSpec
    from devcluster.ports import free_port

    pool = f"hollow-{secrets.token_hex(3)}"
    node = NodeSpec(f"dev-{pool}", free_port(), pods=500, hollow=1.5, labels=(("dubbing.dev/pool", pool),))
    cfg = ClusterConfig.from_env()
    cluster.start_kubelet(node, cfg=cfg, timeout=90)
    try:
        pod = _pod("j-asr-1", "raise SystemExit('a hollow node must not run this')",
                   nodeSelector={"dubbing.dev/pool": pool},
                   metadata={"labels": {"dubbing.dev/stage": "asr"}},
                   container={"command": ["/nonexistent/binary"]})  # fmt: skip
        _apply(kube, namespace, pod)
        running = wait_for("Running", lambda: _phase(kube, namespace, "j-asr-1", "Running", "Succeeded"), 60)
        assert running["spec"]["nodeName"] == node.name
        done = wait_for("Succeeded", lambda: _phase(kube, namespace, "j-asr-1", "Succeeded", "Failed"), 30)
        assert done["status"]["phase"] == "Succeeded", done["status"]
        term = done["status"]["containerStatuses"][0]["state"]["terminated"]
        summary = json.loads(term["message"])
        assert term["exitCode"] == 0 and summary["stage"] == "asr" and summary["ok"] is True
        ran = (_time(term["finishedAt"]) - _time(term["startedAt"])).total_seconds()
        assert 1 <= ran <= 10, term  # about the configured 1.5 s (the times have whole seconds)
        kube.kubectl("delete", "pod", "j-asr-1", "-n", namespace, "--wait=false")
        wait_for("the Pod removed", lambda: _get(kube, namespace, "j-asr-1") is None, 30)
    finally:
        cluster.stop_kubelet(node.name, delete_node=True, cfg=cfg)
