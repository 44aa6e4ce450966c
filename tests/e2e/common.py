"""Shared harness of the operator-side reliability gates (``scripts/e2e_*.py``).

A gate gets a cluster (``--kubeconfig`` or the local development cluster,
started or reused through ``devcluster.sessions`` as the test fixtures do), a
fresh namespace with the CRD installed, and the operator as a subprocess
(``python -m dubbing_operator``, settings from env as in docs/operator.md).
It prints one JSON summary and exits 0 (pass), 1 (fail) or 0 with
``"skipped": "<reason>"`` when a dependency truly cannot run.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for _p in (REPO, REPO / "scripts", REPO / "operator"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from tests.fixtures.cluster import KubeCluster, _kubectl_path  # noqa: E402
from tests.operator.conftest import FAKE_STAGE, OperatorProcess, job_manifest, wait_for  # noqa: E402

__all__ = ["FAKE_STAGE", "GateSkip", "GateFailure", "Gate", "job_manifest", "wait_for", "run_gate"]


class GateSkip(Exception):
    """A dependency cannot run here; the message says which and why."""


class GateFailure(AssertionError):
    """A gate's claim does not hold."""


def check(ok: bool, what: str) -> None:
    if not ok:
        raise GateFailure(what)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def cluster(kubeconfig: str | None) -> Iterator[KubeCluster]:
    """The given cluster, else the development cluster (joined as a session user, left afterwards)."""
    given = kubeconfig or os.environ.get("DUBBING_KUBECONFIG")
    kubectl = _kubectl_path()
    if given:
        if kubectl is None:
            raise GateSkip("no kubectl for the given kubeconfig")
        yield KubeCluster(Path(given), kubectl, external=True)
        return
    try:
        from devcluster import build, sessions
        from devcluster import cluster as devc
    except ImportError as err:
        raise GateSkip(f"no --kubeconfig and the devcluster package is not importable: {err}") from err
    state = devc.StatePaths.default()
    try:
        sessions.join(state)
    except (build.BuildError, devc.ClusterError, RuntimeError, OSError) as err:
        raise GateSkip(f"the development cluster cannot start: {err}") from err
    try:
        kubectl = _kubectl_path()
        assert kubectl is not None
        from devcluster.config import ClusterConfig

        cfg = ClusterConfig.from_env()
        for node in cfg.nodes:
            devc.start_kubelet(node, cfg=cfg)
        yield KubeCluster(state.kubeconfig, kubectl, external=False)
    finally:
        sessions.leave(state, keep=os.environ.get("DUBBING_KEEP_CLUSTER") == "1")


def install_crd(kube: KubeCluster) -> None:
    from dubbing.api import crd as crd_module

    kube.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(crd_module.CRD_PATHS[0]))
    wait_for("the DubbingJob CRD to be served", lambda: kube.kubectl("get", "dj", "-A", check=False).returncode == 0, 30)


@contextmanager
def namespace(kube: KubeCluster, prefix: str) -> Iterator[str]:
    name = f"{prefix}-{secrets.token_hex(3)}"
    kube.kubectl("create", "namespace", name)
    wait_for("the default ServiceAccount", lambda: kube.kubectl("get", "sa", "default", "-n", name, check=False).returncode == 0, 30)
    try:
        yield name
    finally:
        if os.environ.get("DUBBING_GATE_KEEP_NAMESPACE") != "1":
            kube.delete_namespace(name)


def plan_dir() -> Path:
    """A directory stage processes (another uid) can write: not under /tmp, which a Pod gets as its own emptyDir."""
    d = Path(tempfile.mkdtemp(prefix="e2e-gate-", dir="/var/tmp"))
    d.chmod(0o777)
    return d


def fake_stage_env(plans: Path) -> dict[str, str]:
    """Operator settings for control-loop gates: the test stage program, quick retries and resyncs."""
    return {
        "DUBBING_STAGE_COMMAND": json.dumps([sys.executable, str(FAKE_STAGE), "{stage}", str(plans)]),
        "DUBBING_BACKOFF_BASE_SECONDS": "1",
        "DUBBING_BACKOFF_FACTOR": "2",
        "DUBBING_STAGE_GRACE_SECONDS": "10",
        "DUBBING_RESYNC_SECONDS": "3",
    }


def start_operator(kube: KubeCluster, ns: str, env: dict[str, str], log: Path) -> OperatorProcess:
    env = {"DUBBING_METRICS_PORT": str(free_port()), "DUBBING_REDIS_PREFIX": f"dubbing-{ns}", **env}
    op = OperatorProcess(kube.kubeconfig, ns, env, log)
    op.start()
    return op


def s3_secret(kube: KubeCluster, ns: str, access: str = "test", secret: str = "test") -> None:
    kube.kubectl("create", "secret", "generic", "dubbing-s3", "-n", ns,
                 f"--from-literal=accessKey={access}", f"--from-literal=secretKey={secret}")  # fmt: skip


def apply(kube: KubeCluster, manifest: dict[str, Any], plans: Path | None = None, plan: dict[str, Any] | None = None) -> None:
    meta = manifest["metadata"]
    if plans is not None:
        (plans / f"{meta['namespace']}_{meta['name']}.json").write_text(json.dumps(plan or {}))
    kube.kubectl("apply", "-f", "-", input=json.dumps(manifest))


def get_job(kube: KubeCluster, ns: str, name: str) -> dict[str, Any]:
    return json.loads(kube.kubectl("get", "dj", name, "-n", ns, "-o", "json").stdout)


def pods(kube: KubeCluster, ns: str, job: str | None = None) -> list[dict[str, Any]]:
    sel = ["-l", f"dubbing.dev/job={job}"] if job else []
    return json.loads(kube.kubectl("get", "pods", "-n", ns, *sel, "-o", "json").stdout)["items"]


def phase(kube: KubeCluster, ns: str, name: str) -> str | None:
    return (get_job(kube, ns, name).get("status") or {}).get("phase")


def wait_phase(kube: KubeCluster, ns: str, name: str, phases: tuple[str, ...], timeout: float) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        job = get_job(kube, ns, name)
        return job if (job.get("status") or {}).get("phase") in phases else None

    return wait_for(f"{name} to reach {phases}", done, timeout, every=0.5)


def events(kube: KubeCluster, ns: str, name: str) -> list[dict[str, Any]]:
    out = kube.kubectl("get", "events", "-n", ns, "--field-selector",
                       f"involvedObject.kind=DubbingJob,involvedObject.name={name}", "-o", "json").stdout  # fmt: skip
    return json.loads(out)["items"]


def journal(plans: Path, ns: str, job: str) -> list[tuple[str, str, int, float]]:
    """fake_stage's journal: (stage, what, pid, time) per line."""
    path = plans / f"{ns}_{job}.log"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        stage, what, pid, t = line.split()
        out.append((stage, what, int(pid), float(t)))
    return out


@dataclass
class Gate:
    """What a gate records as it goes; ``summary`` becomes the printed JSON."""

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


def parse_args(argv: list[str] | None, description: str, extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--kubeconfig", help="use this cluster (default: start or reuse the local development cluster)")
    if extra:
        extra(parser)
    return parser.parse_args(argv)


def run_gate(name: str, body: Callable[[Gate], None]) -> int:
    """Run ``body``; print ``{"gate", "result": pass|fail|skip, "seconds", ...}``; 0 on pass or skip, 1 on fail."""
    gate = Gate(name)
    result, code = "pass", 0
    try:
        body(gate)
    except GateSkip as skip:
        result, code = "skip", 0
        gate.summary["skipped"] = str(skip)
    except Exception as err:  # noqa: BLE001 - any failure is the gate's verdict, with its trace on stderr
        result, code = "fail", 1
        gate.summary["error"] = f"{type(err).__name__}: {err}"[:2000]
        traceback.print_exc()
        tail = gate.tail_logs()
        if tail:
            print(tail, file=sys.stderr)
    out = {"gate": name, "result": result, "seconds": round(time.monotonic() - gate.started, 1), **gate.summary}
    print(json.dumps(out, default=str))
    return code
