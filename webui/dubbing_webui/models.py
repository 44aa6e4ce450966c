"""The models page: backend readiness per stage, and GPU nodes with their free GPUs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kubernetes.utils import parse_quantity

from dubbing.api.v1alpha1 import BACKENDS, STAGES

log = logging.getLogger(__name__)
GPU = "nvidia.com/gpu"
#: Pods that hold their resources (scheduled and not finished).
ACTIVE_PODS = "status.phase!=Succeeded,status.phase!=Failed"


def backend_rows() -> list[dict[str, Any]]:
    """Readiness of every backend of every stage, from the same checks the stages use."""
    try:
        from dubbing.backends.base import BackendContext
        from dubbing.backends.registry import readiness_report
    except ImportError as exc:
        return [
            {
                "stage": s,
                "backend": b,
                "installed": False,
                "enabled": False,
                "ready": False,
                "reason": f"readiness checks unavailable: {exc}",
            }
            for s in STAGES
            for b in BACKENDS[s]
            if b != "auto"
        ]
    rows = []
    for r in readiness_report(BackendContext.from_env()):
        d = r.as_dict()
        d["enabled"] = bool(d.get("details", {}).get("enabled", True))
        rows.append(d)
    return rows


def model_cache() -> Path:
    """The model cache as the stages see it (``DUBBING_MODEL_CACHE``; read-only here)."""
    from dubbing.config.stage import StageSettings

    return StageSettings.from_env().model_cache


def gpu_nodes(nodes: list[Any], pods: list[Any]) -> list[dict[str, Any]]:
    """Nodes advertising ``nvidia.com/gpu`` with allocatable, used (by running Pods) and free counts."""
    used: dict[str, int] = {}
    for pod in pods:
        if pod.status.phase not in ("Pending", "Running") or not pod.spec.node_name:
            continue
        n = 0
        for c in pod.spec.containers:
            req = (c.resources.limits or {}) if c.resources else {}
            n += int(parse_quantity(req.get(GPU, 0)))
        if n:
            used[pod.spec.node_name] = used.get(pod.spec.node_name, 0) + n
    rows = []
    for node in nodes:
        cap = int(parse_quantity((node.status.capacity or {}).get(GPU, 0)))
        if cap <= 0:
            continue
        alloc = int(parse_quantity((node.status.allocatable or {}).get(GPU, 0)))
        ready = any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
        taken = used.get(node.metadata.name, 0)
        rows.append(
            {
                "name": node.metadata.name,
                "capacity": cap,
                "allocatable": alloc,
                "used": taken,
                "free": max(0, alloc - taken),
                "ready": ready,
            }
        )
    return rows


def gpu_report(kube: Any, namespace: str) -> list[dict[str, Any]]:
    """GPU nodes and free GPUs; Pods counted cluster-wide, or in the jobs namespace when that is all RBAC allows."""
    from kubernetes.client.exceptions import ApiException

    nodes = kube.core.list_node().items
    try:
        pods = kube.core.list_pod_for_all_namespaces(field_selector=ACTIVE_PODS).items
    except ApiException as exc:
        if exc.status != 403:
            raise
        pods = kube.core.list_namespaced_pod(namespace, field_selector=ACTIVE_PODS).items
    return gpu_nodes(nodes, pods)
