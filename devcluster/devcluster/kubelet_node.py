"""Node registration and liveness for the development kubelet.

`node_object` and `node_conditions` are pure; `NodeAgent` does the I/O: it
registers the Node, renews its Lease in kube-node-lease every few seconds and
refreshes the Ready condition, so the node lifecycle controller keeps the node
Ready while this process lives and marks it NotReady when it stops.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from devcluster.kubelet_api import ApiError, KubeApi

log = logging.getLogger("devkubelet.node")

KUBELET_VERSION = "v1.31.4"
LEASE_DURATION_SECONDS = 40
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


@dataclass(frozen=True)
class NodeSpec:
    """What the command line says about this node."""

    name: str
    port: int
    cpu: str
    memory: str
    gpus: int = 0
    pods: int = 110
    ephemeral_storage: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[dict[str, str], ...] = ()


def parse_label(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"label must be key=value, got {text!r}")
    return key, value


def parse_taint(text: str) -> dict[str, str]:
    """Parse `key=value:Effect` or `key:Effect` into a Node taint."""
    head, sep, effect = text.rpartition(":")
    if not sep or effect not in TAINT_EFFECTS:
        raise ValueError(f"taint must be key[=value]:Effect with Effect in {TAINT_EFFECTS}, got {text!r}")
    key, _, value = head.partition("=")
    if not key:
        raise ValueError(f"taint has no key: {text!r}")
    taint = {"key": key, "effect": effect}
    if value:
        taint["value"] = value
    return taint


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def resources(spec: NodeSpec) -> dict[str, str]:
    res = {"cpu": spec.cpu, "memory": spec.memory, "pods": str(spec.pods)}
    if spec.ephemeral_storage:
        res["ephemeral-storage"] = spec.ephemeral_storage
    if spec.gpus > 0:
        res["nvidia.com/gpu"] = str(spec.gpus)
    return res


def node_labels(spec: NodeSpec) -> dict[str, str]:
    labels = {
        "kubernetes.io/hostname": spec.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": _go_arch(),
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": _go_arch(),
    }
    labels.update(spec.labels)
    return labels


def node_conditions(now: datetime, previous: list[dict[str, Any]] | None, ready: bool = True) -> list[dict[str, Any]]:
    """Conditions for a healthy node; lastTransitionTime is kept while a status holds."""
    prev = {c.get("type"): c for c in previous or []}
    wanted = [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        (
            "Ready",
            "True" if ready else "False",
            "KubeletReady" if ready else "KubeletNotReady",
            "development kubelet is posting ready status" if ready else "development kubelet is stopping",
        ),
    ]
    out = []
    for ctype, status, reason, message in wanted:
        old = prev.get(ctype)
        transition = (
            old["lastTransitionTime"]
            if old and old.get("status") == status and old.get("lastTransitionTime")
            else rfc3339(now)
        )
        out.append(
            {
                "type": ctype,
                "status": status,
                "reason": reason,
                "message": message,
                "lastHeartbeatTime": rfc3339(now),
                "lastTransitionTime": transition,
            }
        )
    return out


def node_status(spec: NodeSpec, now: datetime, previous_conditions: list[dict[str, Any]] | None) -> dict[str, Any]:
    res = resources(spec)
    return {
        "capacity": res,
        "allocatable": dict(res),
        "conditions": node_conditions(now, previous_conditions),
        "addresses": [
            {"type": "InternalIP", "address": "127.0.0.1"},
            {"type": "Hostname", "address": spec.name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": spec.port}},
        "nodeInfo": {
            "machineID": _machine_id(),
            "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_DNS, spec.name)),
            "bootID": _boot_id(),
            "kernelVersion": platform.release(),
            "osImage": _os_image(),
            "containerRuntimeVersion": "devkubelet://0.1.0",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION,
            "operatingSystem": "linux",
            "architecture": _go_arch(),
        },
    }


def node_object(spec: NodeSpec) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": spec.name,
            "labels": node_labels(spec),
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "devcluster/kubelet": "python"},
        },
        "spec": {},
    }
    if spec.taints:
        obj["spec"]["taints"] = [dict(t) for t in spec.taints]
    return obj


def lease_object(spec: NodeSpec, node_uid: str, now: datetime) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": spec.name,
            "namespace": "kube-node-lease",
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": spec.name, "uid": node_uid}],
        },
        "spec": {
            "holderIdentity": spec.name,
            "leaseDurationSeconds": LEASE_DURATION_SECONDS,
            "renewTime": micro_time(now),
        },
    }


class NodeAgent:
    """Registers the Node and keeps its Lease and Ready condition fresh."""

    def __init__(self, api: KubeApi, spec: NodeSpec, lease_every: float = 10.0, status_every: float = 20.0) -> None:
        self.api = api
        self.spec = spec
        self.lease_every = lease_every
        self.status_every = status_every
        self._stop = threading.Event()
        self._node_uid = ""
        self._thread = threading.Thread(target=self._loop, name="node-heartbeat", daemon=True)

    @property
    def node_path(self) -> str:
        return f"/api/v1/nodes/{self.spec.name}"

    def register(self) -> None:
        obj = node_object(self.spec)
        existing = self.api.get_or_none(self.node_path)
        if existing is None:
            try:
                existing = self.api.create("/api/v1/nodes", obj)
                log.info("registered node %s", self.spec.name)
            except ApiError as exc:
                if exc.status != 409:
                    raise
                existing = self.api.get(self.node_path)
        if existing.get("metadata", {}).get("resourceVersion") and existing.get("spec") is not None:
            # Re-registration: bring labels and our taints up to date, keep taints others added.
            ours = {(t["key"], t["effect"]) for t in self.spec.taints}
            kept = [
                t
                for t in existing.get("spec", {}).get("taints", []) or []
                if (t.get("key"), t.get("effect")) not in ours
            ]
            existing = self.api.merge_patch(
                self.node_path,
                {
                    "metadata": {"labels": obj["metadata"]["labels"]},
                    "spec": {"taints": kept + [dict(t) for t in self.spec.taints] or None},
                },
            )
        self._node_uid = existing["metadata"]["uid"]
        self.post_status()
        self.renew_lease()

    def post_status(self, ready: bool = True) -> None:
        current = self.api.get(self.node_path)
        previous = current.get("status", {}).get("conditions")
        status = node_status(self.spec, datetime.now(UTC), previous)
        if not ready:
            status["conditions"] = node_conditions(datetime.now(UTC), previous, ready=False)
        self.api.merge_patch(self.node_path + "/status", {"status": status})

    def renew_lease(self) -> None:
        now = datetime.now(UTC)
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.spec.name}"
        try:
            self.api.merge_patch(path, {"spec": {"holderIdentity": self.spec.name, "renewTime": micro_time(now)}})
        except ApiError as exc:
            if exc.status != 404:
                raise
            self.api.create(
                "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                lease_object(self.spec, self._node_uid, now),
            )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        last_status = 0.0
        clock = 0.0
        while not self._stop.wait(self.lease_every):
            clock += self.lease_every
            try:
                self.renew_lease()
                if clock - last_status >= self.status_every:
                    self.post_status()
                    last_status = clock
            except Exception as exc:  # noqa: BLE001 - keep beating through apiserver hiccups
                log.warning("heartbeat failed: %s", exc)


def disk_quantity(path: str) -> str:
    total = shutil.disk_usage(path).total
    return f"{total // (1024 * 1024)}Mi"


def _go_arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


def _read(path: str, default: str) -> str:
    try:
        with open(path) as fh:
            return fh.read().strip() or default
    except OSError:
        return default


def _machine_id() -> str:
    return _read("/etc/machine-id", uuid.uuid5(uuid.NAMESPACE_DNS, platform.node()).hex)


def _boot_id() -> str:
    return _read("/proc/sys/kernel/random/boot_id", "unknown")


def _os_image() -> str:
    text = _read("/etc/os-release", "")
    for line in text.splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return os.uname().sysname
