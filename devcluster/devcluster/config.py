"""Settings of the development cluster: ports, timings and the node topology.

Everything has a default that stays clear of a developer's own cluster, and
each can be changed through the environment:

* ``DUBBING_DEVCLUSTER_APISERVER_PORT`` (16443), ``DUBBING_DEVCLUSTER_ETCD_PORT``
  (12379; the peer port is the next one), ``DUBBING_DEVCLUSTER_CONTROLLER_MANAGER_PORT``
  (16257), ``DUBBING_DEVCLUSTER_SCHEDULER_PORT`` (16259).
* ``DUBBING_DEVCLUSTER_NODE_GRACE`` (seconds without a heartbeat before a node
  turns NotReady; 40).
* ``DUBBING_DEVCLUSTER_GPUS`` (GPUs on ``dev-gpu-0``; 2), ``DUBBING_DEVCLUSTER_CPU``
  and ``DUBBING_DEVCLUSTER_MEMORY`` (capacity each node advertises).
* ``DUBBING_DEVCLUSTER_NODES``: replaces the default topology with node specs
  separated by ``;``, each as ``name=dev-gpu-1,gpus=1,port=10252[,cpu=4][,memory=8Gi]``
  ``[,pods=500][,hollow=2.0]`` (see :func:`parse_node_spec`); ``none`` means no nodes
  (control plane only).  A *hollow* node runs no process for its Pods: each goes Running,
  then Succeeded after that many seconds (for benchmarks of the control loop).
* ``DUBBING_DEVCLUSTER_PROFILING``: ``1`` serves the API server's Go profiles at
  ``/debug/pprof`` on its secure port (cluster admins only; off by default), so a
  benchmark can record where the API server spends its CPU.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

GPU_RESOURCE = "nvidia.com/gpu"
GPU_LABEL = ("nvidia.com/gpu.present", "true")
GPU_TAINT = "nvidia.com/gpu=present:NoSchedule"
DEFAULT_CPU = "8"
DEFAULT_MEMORY = "16Gi"
_TAINT_RE = re.compile(r"^[\w./-]+(=[\w.-]*)?:(NoSchedule|PreferNoSchedule|NoExecute)$")


@dataclass(frozen=True)
class NodeSpec:
    """One development kubelet and the Node it registers."""

    name: str
    port: int
    gpus: int = 0
    cpu: str = DEFAULT_CPU
    memory: str = DEFAULT_MEMORY
    labels: tuple[tuple[str, str], ...] = ()
    taints: tuple[str, ...] = ()
    pods: int = 110
    hollow: float | None = None  # seconds each Pod "runs" on a hollow node; None: a real node

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", self.name):
            raise ValueError(f"node name {self.name!r} is not a valid DNS subdomain")
        if self.gpus < 0:
            raise ValueError(f"node {self.name}: gpus must be >= 0, got {self.gpus}")
        if self.pods < 1:
            raise ValueError(f"node {self.name}: pods must be >= 1, got {self.pods}")
        if self.hollow is not None and not self.hollow >= 0:
            raise ValueError(f"node {self.name}: hollow must be seconds >= 0, got {self.hollow}")
        for taint in self.taints:
            if not _TAINT_RE.match(taint):
                raise ValueError(f"node {self.name}: taint {taint!r} is not key[=value]:Effect")


def gpu_node(name: str, port: int, gpus: int, cpu: str = DEFAULT_CPU, memory: str = DEFAULT_MEMORY) -> NodeSpec:
    """A node advertising ``nvidia.com/gpu``, labelled and tainted like a real GPU node."""
    return NodeSpec(name, port, gpus, cpu, memory, labels=(GPU_LABEL,), taints=(GPU_TAINT,))


def parse_node_spec(text: str, *, cpu: str = DEFAULT_CPU, memory: str = DEFAULT_MEMORY) -> NodeSpec:
    """Parse ``name=N,port=P[,gpus=G][,cpu=C][,memory=M][,pods=K][,hollow=S][,label=k:v...][,taint=k=v:Effect...]``.

    A node with ``gpus`` > 0 gets the GPU label and taint unless it names its own taints.
    """
    fields: dict[str, str] = {}
    labels: list[tuple[str, str]] = []
    taints: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"node spec {text!r}: {part!r} is not key=value")
        if key == "label":
            lk, _, lv = value.partition(":")
            labels.append((lk, lv))
        elif key == "taint":
            taints.append(value)
        elif key in ("name", "port", "gpus", "cpu", "memory", "pods", "hollow"):
            fields[key] = value
        else:
            raise ValueError(f"node spec {text!r}: unknown field {key!r}")
    if "name" not in fields or "port" not in fields:
        raise ValueError(f"node spec {text!r} needs name= and port=")
    gpus = int(fields.get("gpus", "0"))
    extra: dict[str, Any] = {"pods": int(fields.get("pods", "110"))}
    if "hollow" in fields:
        extra["hollow"] = float(fields["hollow"])
    if gpus > 0:
        base = gpu_node(fields["name"], int(fields["port"]), gpus, fields.get("cpu", cpu), fields.get("memory", memory))
        return replace(base, labels=base.labels + tuple(labels), taints=tuple(taints) or base.taints, **extra)
    return NodeSpec(
        fields["name"],
        int(fields["port"]),
        gpus,
        fields.get("cpu", cpu),
        fields.get("memory", memory),
        labels=tuple(labels),
        taints=tuple(taints),
        **extra,
    )


def default_nodes(env: Mapping[str, str]) -> tuple[NodeSpec, ...]:
    cpu = env.get("DUBBING_DEVCLUSTER_CPU", DEFAULT_CPU)
    memory = env.get("DUBBING_DEVCLUSTER_MEMORY", DEFAULT_MEMORY)
    spec = env.get("DUBBING_DEVCLUSTER_NODES", "").strip()
    if spec.lower() == "none":
        return ()
    if spec:
        return tuple(parse_node_spec(s, cpu=cpu, memory=memory) for s in spec.split(";") if s.strip())
    gpus = int(env.get("DUBBING_DEVCLUSTER_GPUS", "2"))
    return (
        gpu_node("dev-gpu-0", 10250, gpus, cpu, memory),
        NodeSpec("dev-cpu-0", 10251, 0, cpu, memory),
    )


@dataclass(frozen=True)
class ClusterConfig:
    apiserver_port: int = 16443
    etcd_client_port: int = 12379
    etcd_peer_port: int = 12380
    controller_manager_port: int = 16257
    scheduler_port: int = 16259
    node_monitor_grace_seconds: int = 40
    service_cidr: str = "10.96.0.0/16"
    apiserver_profiling: bool = False
    nodes: tuple[NodeSpec, ...] = field(default_factory=lambda: default_nodes({}))

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    @property
    def etcd_url(self) -> str:
        return f"http://127.0.0.1:{self.etcd_client_port}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ClusterConfig:
        env = os.environ if env is None else env
        etcd_port = int(env.get("DUBBING_DEVCLUSTER_ETCD_PORT", "12379"))
        return cls(
            apiserver_port=int(env.get("DUBBING_DEVCLUSTER_APISERVER_PORT", "16443")),
            etcd_client_port=etcd_port,
            etcd_peer_port=etcd_port + 1,
            controller_manager_port=int(env.get("DUBBING_DEVCLUSTER_CONTROLLER_MANAGER_PORT", "16257")),
            scheduler_port=int(env.get("DUBBING_DEVCLUSTER_SCHEDULER_PORT", "16259")),
            node_monitor_grace_seconds=int(env.get("DUBBING_DEVCLUSTER_NODE_GRACE", "40")),
            apiserver_profiling=env.get("DUBBING_DEVCLUSTER_PROFILING", "") == "1",
            nodes=default_nodes(env),
        )
