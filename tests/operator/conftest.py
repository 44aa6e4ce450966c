"""Fixtures for the operator tests against a cluster: nodes, the operator as a subprocess, jobs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
FAKE_STAGE = Path(__file__).with_name("fake_stage.py")


def wait_for(what: str, fn: Callable[[], Any], timeout: float = 60, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


@pytest.fixture(scope="session")
def dev_nodes(kube) -> list[str]:
    """The configured development nodes are running (started if needed)."""
    if kube.external:
        return []
    from devcluster import cluster
    from devcluster.config import ClusterConfig

    cfg = ClusterConfig.from_env()
    for node in cfg.nodes:
        cluster.start_kubelet(node, cfg=cfg)
    return [n.name for n in cfg.nodes]


class OperatorProcess:
    def __init__(self, kubeconfig: Path, namespace: str, env: dict[str, str], log: Path) -> None:
        self.kubeconfig, self.namespace, self.env, self.log = kubeconfig, namespace, env, log
        self.proc: subprocess.Popen | None = None
        self.metrics_port = int(env["DUBBING_METRICS_PORT"])

    def start(self) -> None:
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        out = self.log.open("a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dubbing_operator", "--kubeconfig", str(self.kubeconfig), "--namespace", self.namespace],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip

    def kill(self) -> None:
        """SIGKILL: no cleanup, no last status write."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def metrics(self) -> str:
        import httpx

        try:
            return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=3).text
        except httpx.TransportError as err:
            raise OSError(str(err)) from err


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def plan_dir() -> Iterator[Path]:
    # Not under /tmp: a stage Pod gets its own emptyDir there.
    d = Path(tempfile.mkdtemp(prefix="fake-stage-", dir="/var/tmp"))
    d.chmod(0o777)
    yield d


@pytest.fixture
def stage_env(kube, namespace) -> str:
    """The S3 Secret the stage Pods reference (the test workload does not use it)."""
    kube.kubectl("create", "secret", "generic", "dubbing-s3", "-n", namespace,
                 "--from-literal=accessKey=test", "--from-literal=secretKey=test")  # fmt: skip
    return namespace


@pytest.fixture
def start_operator(kube, namespace, plan_dir, dubbingjob_crd, dev_nodes, stage_env, tmp_path):
    procs: list[OperatorProcess] = []

    def start(**overrides: str) -> OperatorProcess:
        env = {
            "DUBBING_STAGE_COMMAND": json.dumps([sys.executable, str(FAKE_STAGE), "{stage}", str(plan_dir)]),
            "DUBBING_METRICS_PORT": str(_free_port()),
            "DUBBING_BACKOFF_BASE_SECONDS": "1",
            "DUBBING_BACKOFF_FACTOR": "2",
            "DUBBING_STAGE_GRACE_SECONDS": "10",
            "DUBBING_RESYNC_SECONDS": "3",
            "DUBBING_REDIS_PREFIX": f"dubbing-{namespace}",
            **overrides,
        }
        op = OperatorProcess(kube.kubeconfig, namespace, env, tmp_path / "operator.log")
        op.start()
        procs.append(op)
        return op

    yield start
    for op in procs:
        op.stop()


def job_manifest(name: str, namespace: str, owner: str | None = None, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if owner:
        meta["labels"] = {"dubbing.dev/owner": owner}
    return {
        "apiVersion": "dubbing.dev/v1alpha1",
        "kind": "DubbingJob",
        "metadata": meta,
        "spec": {"input": {"bucket": "media", "key": "in.mp4"}, "targetLanguages": ["es"], **spec},
    }


def apply_job(kube, manifest: dict[str, Any], plan_dir: Path, plan: dict[str, Any] | None = None) -> None:
    meta = manifest["metadata"]
    (plan_dir / f"{meta['namespace']}_{meta['name']}.json").write_text(json.dumps(plan or {}))
    kube.kubectl("apply", "-f", "-", input=json.dumps(manifest))


def get_job(kube, namespace: str, name: str) -> dict[str, Any]:
    return json.loads(kube.kubectl("get", "dj", name, "-n", namespace, "-o", "json").stdout)


def job_pods(kube, namespace: str, name: str) -> list[dict[str, Any]]:
    out = kube.kubectl("get", "pods", "-n", namespace, "-l", f"dubbing.dev/job={name}", "-o", "json").stdout
    return json.loads(out)["items"]


def wait_phase(kube, namespace: str, name: str, phases: tuple[str, ...], timeout: float = 120) -> dict[str, Any]:
    def check():
        job = get_job(kube, namespace, name)
        return job if (job.get("status") or {}).get("phase") in phases else None

    return wait_for(f"{name} to reach {phases}", check, timeout, every=0.5)


class PodWatch:
    """Records when each Pod of a namespace was first seen (ADDED), with millisecond timing."""

    def __init__(self, kube, namespace: str) -> None:
        self.added: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(kube, namespace), daemon=True)
        self._thread.start()

    def _run(self, kube, namespace: str) -> None:
        from kubernetes import watch

        core = kube.core()
        while not self._stop.is_set():
            w = watch.Watch()
            try:
                for ev in w.stream(core.list_namespaced_pod, namespace, timeout_seconds=5):
                    name = ev["object"].metadata.name
                    if ev["type"] == "ADDED" and name not in self.added:
                        self.added[name] = time.time()
            except Exception:  # noqa: BLE001
                time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
