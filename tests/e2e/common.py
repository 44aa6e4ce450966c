"""What the reliability gates (tests/e2e/test_*.py) share, on top of :mod:`devcluster.stack`.

A gate runs against the suite's cluster (the ``cluster`` fixture: ``DUBBING_KUBECONFIG``'s,
else the local development cluster with its kubelets, the CRD installed) in a fresh
namespace of its own, with the operator as a subprocess (``python -m dubbing_operator``,
settings from env as in docs/operator.md). It records what it measured in ``gate.summary``
(the ``gate`` fixture prints it as one JSON line) and states each claim with :func:`check`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devcluster.ports import free_port
from devcluster.stack.kube import KubeCluster, get_job, job_manifest, namespace, wait_for, wait_phase
from devcluster.stack.kube import apply_job as apply
from devcluster.stack.kube import job_events as events
from devcluster.stack.kube import job_phase as phase
from devcluster.stack.kube import job_pods as pods
from devcluster.workloads import FAKE_STAGE, fake_stage_env, journal, plan_dir
from tests.fixtures.operator import OperatorProcess

__all__ = [
    "FAKE_STAGE",
    "Gate",
    "GateFailure",
    "KubeCluster",
    "apply",
    "check",
    "events",
    "fake_stage_env",
    "free_port",
    "get_job",
    "job_manifest",
    "journal",
    "namespace",
    "phase",
    "plan_dir",
    "pods",
    "s3_secret",
    "start_operator",
    "wait_for",
    "wait_phase",
]


class GateFailure(AssertionError):
    """A gate's claim does not hold."""


def check(ok: bool, what: str) -> None:
    if not ok:
        raise GateFailure(what)


def start_operator(kube: KubeCluster, ns: str, env: dict[str, str], log: Path) -> OperatorProcess:
    env = {"DUBBING_METRICS_PORT": str(free_port()), "DUBBING_REDIS_PREFIX": f"dubbing-{ns}", **env}
    op = OperatorProcess(kube.kubeconfig, ns, env, log)
    op.start()
    return op


def s3_secret(kube: KubeCluster, ns: str, access: str = "test", secret: str = "test") -> None:
    kube.kubectl("create", "secret", "generic", "dubbing-s3", "-n", ns,
                 f"--from-literal=accessKey={access}", f"--from-literal=secretKey={secret}")  # fmt: skip


@dataclass
class Gate:
    """What a gate records as it goes; ``summary`` becomes the printed JSON, ``logs`` are shown on failure."""

    name: str
    summary: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    logs: list[Path] = field(default_factory=list)

    def tail_logs(self, lines: int = 40) -> str:
        out = []
        for log in self.logs:
            if log.exists():
                out.append(f"--- {log}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(out)
