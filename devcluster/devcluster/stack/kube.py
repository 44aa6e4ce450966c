"""A Kubernetes cluster as tests and benchmarks use it: the development cluster, or one given by kubeconfig.

* ``DUBBING_KUBECONFIG`` (or an explicit kubeconfig) set: that cluster (kind, a real GPU cluster, ...)
  is used as is.
* Otherwise the local development cluster is joined as a session user (started, or reused when one
  is already running and healthy) and left afterwards: a cluster started this way is stopped when
  its last user leaves (``DUBBING_KEEP_CLUSTER=1`` keeps it); one started by hand keeps running
  (see :mod:`devcluster.sessions`).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import Unavailable

TERMINAL_PHASES = ("Succeeded", "Failed", "Cancelled")


@dataclass
class KubeCluster:
    """A cluster reachable through ``kubeconfig``, with client and kubectl helpers."""

    kubeconfig: Path
    kubectl_path: str
    external: bool  # given by DUBBING_KUBECONFIG rather than the local dev cluster

    def api_client(self):  # -> kubernetes.client.ApiClient
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def core(self):  # -> kubernetes.client.CoreV1Api
        from kubernetes import client

        return client.CoreV1Api(self.api_client())

    def custom(self):  # -> kubernetes.client.CustomObjectsApi
        from kubernetes import client

        return client.CustomObjectsApi(self.api_client())

    def delete_namespace(self, name: str) -> None:
        """Delete a namespace a test made, without leaving it Terminating.

        By now the operator that would take its finalizer off each DubbingJob has
        usually stopped, so the finalizers are cleared first; otherwise the jobs,
        and the namespace with them, would wait for it forever.
        """
        from devcluster.namespaces import clear_job_finalizers_quietly

        clear_job_finalizers_quietly(self.custom(), name)
        self.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this cluster; raise with its stderr if ``check`` and it fails."""
        proc = subprocess.run(
            [self.kubectl_path, f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc


def kubectl_path() -> str | None:
    """The pinned kubectl the development cluster built, else one on PATH, else None."""
    from devcluster import build

    pinned = build.kubectl_binary()
    return str(pinned) if pinned is not None else shutil.which("kubectl")


def wait_for(what: str, fn: Callable[[], Any], timeout: float = 60, every: float = 0.2) -> Any:
    """Call ``fn`` until it returns something true; return that, or raise AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def start_dev_nodes() -> list[str]:
    """The configured development kubelets are running (started if needed); their node names."""
    from devcluster import cluster
    from devcluster.config import ClusterConfig

    cfg = ClusterConfig.from_env()
    for node in cfg.nodes:
        cluster.start_kubelet(node, cfg=cfg)
    return [n.name for n in cfg.nodes]


@contextmanager
def connect(kubeconfig: str | Path | None = None, *, nodes: bool = True) -> Iterator[KubeCluster]:
    """The given cluster (argument, else ``DUBBING_KUBECONFIG``), else the development cluster.

    The development cluster is joined as a session user and left afterwards; with ``nodes`` its
    configured kubelets are started too. Raises :class:`Unavailable` when no cluster can be had.
    """
    from devcluster import build, cluster, sessions

    given = kubeconfig or os.environ.get("DUBBING_KUBECONFIG")
    if given:
        kubectl = kubectl_path()
        if kubectl is None:
            raise Unavailable("no kubectl on PATH for the given kubeconfig")
        yield KubeCluster(Path(given), kubectl, external=True)
        return
    state = cluster.StatePaths.default()
    try:
        sessions.join(state)
    except (build.BuildError, cluster.ClusterError, RuntimeError, OSError) as err:
        raise Unavailable(f"the development cluster cannot start: {err}") from err
    try:
        kubectl = kubectl_path()
        assert kubectl is not None, "kubectl missing after a successful devcluster up"
        if nodes:
            start_dev_nodes()
        yield KubeCluster(state.kubeconfig, kubectl, external=False)
    finally:
        sessions.leave(state, keep=os.environ.get("DUBBING_KEEP_CLUSTER") == "1")


def install_crd(kube: KubeCluster) -> None:
    """Apply the DubbingJob CRD (server-side, so a changed schema replaces the old one); wait until it is served."""
    from dubbing.api import crd as crd_module

    kube.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(crd_module.CRD_PATHS[0]))
    wait_for(
        "the DubbingJob CRD to be served", lambda: kube.kubectl("get", "dj", "-A", check=False).returncode == 0, 30
    )


@contextmanager
def namespace(kube: KubeCluster, prefix: str) -> Iterator[str]:
    """A fresh namespace ``<prefix>-<random>`` with its default ServiceAccount; deleted afterwards
    (kept with ``DUBBING_GATE_KEEP_NAMESPACE=1``)."""
    name = f"{prefix}-{secrets.token_hex(3)}"
    kube.kubectl("create", "namespace", name)
    wait_for(
        "the default ServiceAccount",
        lambda: kube.kubectl("get", "sa", "default", "-n", name, check=False).returncode == 0,
        30,
    )
    try:
        yield name
    finally:
        if os.environ.get("DUBBING_GATE_KEEP_NAMESPACE") != "1":
            kube.delete_namespace(name)


# ------------------------------------------------------------------------------------------- jobs


def job_manifest(name: str, namespace: str, owner: str | None = None, **spec: Any) -> dict[str, Any]:
    """A minimal DubbingJob (input media/in.mp4, target es); ``spec`` fields are added or replaced."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if owner:
        meta["labels"] = {"dubbing.dev/owner": owner}
    return {
        "apiVersion": "dubbing.dev/v1alpha1",
        "kind": "DubbingJob",
        "metadata": meta,
        "spec": {"input": {"bucket": "media", "key": "in.mp4"}, "targetLanguages": ["es"], **spec},
    }


def apply_job(
    kube: KubeCluster, manifest: dict[str, Any], plan_dir: Path | None = None, plan: dict[str, Any] | None = None
) -> None:
    """``kubectl apply`` the job; with ``plan_dir``, first write the stand-in stage program's plan for it."""
    meta = manifest["metadata"]
    if plan_dir is not None:
        (plan_dir / f"{meta['namespace']}_{meta['name']}.json").write_text(json.dumps(plan or {}))
    kube.kubectl("apply", "-f", "-", input=json.dumps(manifest))


def get_job(kube: KubeCluster, namespace: str, name: str) -> dict[str, Any]:
    return json.loads(kube.kubectl("get", "dj", name, "-n", namespace, "-o", "json").stdout)


def job_phase(kube: KubeCluster, namespace: str, name: str) -> str | None:
    return (get_job(kube, namespace, name).get("status") or {}).get("phase")


def job_pods(kube: KubeCluster, namespace: str, name: str | None = None) -> list[dict[str, Any]]:
    """The Pods of one job (all the namespace's Pods when ``name`` is None)."""
    sel = ["-l", f"dubbing.dev/job={name}"] if name else []
    return json.loads(kube.kubectl("get", "pods", "-n", namespace, *sel, "-o", "json").stdout)["items"]


def wait_phase(
    kube: KubeCluster, namespace: str, name: str, phases: tuple[str, ...], timeout: float = 120
) -> dict[str, Any]:
    """The job, once its phase is one of ``phases``."""

    def check() -> dict[str, Any] | None:
        job = get_job(kube, namespace, name)
        return job if (job.get("status") or {}).get("phase") in phases else None

    return wait_for(f"{name} to reach {phases}", check, timeout, every=0.5)


def job_events(kube: KubeCluster, namespace: str, name: str) -> list[dict[str, Any]]:
    out = kube.kubectl("get", "events", "-n", namespace, "--field-selector",
                       f"involvedObject.kind=DubbingJob,involvedObject.name={name}", "-o", "json").stdout  # fmt: skip
    return json.loads(out)["items"]
