"""Fixtures for the operator tests against a cluster: the operator as a subprocess, jobs.

The job helpers are :mod:`devcluster.stack.kube`'s, the operator process tests/fixtures/operator.py's;
the development nodes are the shared ``dev_nodes`` fixture (tests/fixtures/cluster.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devcluster.ports import free_port
from devcluster.stack.kube import apply_job, get_job, job_manifest, job_pods, wait_for, wait_phase
from devcluster.workloads import fake_stage_env
from devcluster.workloads import plan_dir as make_plan_dir
from tests.fixtures.operator import FAKE_STAGE, OperatorProcess

# Imported by the tests of this folder from here.
__all__ = [
    "FAKE_STAGE",
    "OperatorProcess",
    "PodWatch",
    "apply_job",
    "get_job",
    "job_manifest",
    "job_pods",
    "wait_for",
    "wait_phase",
]


@pytest.fixture
def plan_dir() -> Iterator[Path]:
    # Not under /tmp: a stage Pod gets its own emptyDir there.
    yield make_plan_dir()


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
            **fake_stage_env(plan_dir),
            "DUBBING_METRICS_PORT": str(free_port()),
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
