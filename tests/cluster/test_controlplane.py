"""The control plane itself, against the real API server: health, version, RBAC, garbage collection."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

from devcluster.ports import free_port

pytestmark = pytest.mark.cluster

PINNED_VERSION = "v1.31.4"


def wait_for(predicate, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_readyz_passes_every_check(kube):
    verbose = kube.kubectl("get", "--raw", "/readyz?verbose").stdout
    assert "readyz check passed" in verbose
    assert "[+]etcd ok" in verbose
    assert "[-]" not in verbose


def test_server_reports_the_pinned_version(kube):
    server = json.loads(kube.kubectl("version", "-o", "json").stdout)["serverVersion"]
    if kube.external:
        assert server["major"] == "1", server
    else:
        assert server["gitVersion"] == PINNED_VERSION, server
        assert (server["major"], server["minor"]) == ("1", "31")


def test_controller_manager_populates_new_namespaces(kube, namespace):
    # The fixture already waited for the default ServiceAccount (serviceaccount controller);
    # the root-CA publisher must also have written the cluster CA into the namespace.
    def published():
        proc = kube.kubectl("get", "configmap", "kube-root-ca.crt", "-n", namespace, "-o", "json", check=False)
        return proc if proc.returncode == 0 else None

    ca = wait_for(published, timeout=30, what="kube-root-ca.crt")
    assert "BEGIN CERTIFICATE" in json.loads(ca.stdout)["data"]["ca.crt"]


def can_i(kube, namespace: str, user: str, *verb_resource: str) -> bool:
    proc = kube.kubectl("auth", "can-i", *verb_resource, "-n", namespace, f"--as={user}", check=False)
    answer = proc.stdout.strip()
    assert answer in ("yes", "no"), f"unexpected can-i answer: {proc.stdout!r} {proc.stderr!r}"
    return answer == "yes"


def test_rbac_denies_until_a_role_is_bound(kube, namespace):
    kube.kubectl("create", "serviceaccount", "reader", "-n", namespace)
    sa = f"system:serviceaccount:{namespace}:reader"
    assert not can_i(kube, namespace, sa, "list", "secrets")
    assert not can_i(kube, namespace, sa, "create", "pods")

    kube.kubectl("create", "role", "secret-reader", "--verb=list,get", "--resource=secrets", "-n", namespace)
    kube.kubectl(
        "create",
        "rolebinding",
        "reader-binding",
        "--role=secret-reader",
        f"--serviceaccount={namespace}:reader",
        "-n",
        namespace,
    )
    assert wait_for(lambda: can_i(kube, namespace, sa, "list", "secrets"), 15, "the binding to take effect")
    # The grant is exactly what the Role says: other verbs and namespaces stay forbidden.
    assert not can_i(kube, namespace, sa, "delete", "secrets")
    assert not can_i(kube, "default", sa, "list", "secrets")

    # A real request (not only the SubjectAccessReview) is refused the same way.
    denied = kube.kubectl("get", "pods", "-n", namespace, f"--as={sa}", check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower(), denied.stderr


def _configmap(name: str, namespace: str, owner: dict | None = None) -> str:
    meta: dict = {"name": name, "namespace": namespace}
    if owner is not None:
        meta["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": owner["name"], "uid": owner["uid"]}
        ]
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}})


def _make_owner_and_dependent(kube, namespace: str, owner: str, dependent: str) -> None:
    kube.kubectl("apply", "-f", "-", input=_configmap(owner, namespace))
    uid = kube.kubectl("get", "configmap", owner, "-n", namespace, "-o", "jsonpath={.metadata.uid}").stdout
    assert uid
    kube.kubectl("apply", "-f", "-", input=_configmap(dependent, namespace, {"name": owner, "uid": uid}))


def _exists(kube, namespace: str, kind: str, name: str) -> bool:
    proc = kube.kubectl("get", kind, name, "-n", namespace, "--ignore-not-found", "-o", "name", check=False)
    assert proc.returncode == 0, proc.stderr
    return bool(proc.stdout.strip())


def test_garbage_collector_deletes_dependents_of_a_deleted_owner(kube, namespace):
    _make_owner_and_dependent(kube, namespace, "owner", "dependent")
    kube.kubectl("delete", "configmap", "owner", "-n", namespace)  # background propagation
    wait_for(lambda: not _exists(kube, namespace, "configmap", "dependent"), 60, "the dependent to be collected")


def test_garbage_collector_leaves_orphans_when_asked(kube, namespace):
    _make_owner_and_dependent(kube, namespace, "owner", "dependent")
    kube.kubectl("delete", "configmap", "owner", "-n", namespace, "--cascade=orphan")
    # The orphan finalizer is handled by the garbage collector: it strips the reference.
    wait_for(
        lambda: (
            kube.kubectl(
                "get", "configmap", "dependent", "-n", namespace, "-o", "jsonpath={.metadata.ownerReferences}"
            ).stdout.strip()
            == ""
        ),
        60,
        "the owner reference to be removed",
    )
    time.sleep(2)
    assert _exists(kube, namespace, "configmap", "dependent")


def _ready_status(kube, node: str) -> str:
    return kube.kubectl(
        "get", "node", node, "-o", 'jsonpath={.status.conditions[?(@.type=="Ready")].status}', check=False
    ).stdout.strip()


@pytest.mark.slow
def test_a_node_whose_kubelet_stops_turns_not_ready(kube):
    if kube.external:
        pytest.skip("starts an extra development kubelet; only meaningful on the local dev cluster")
    from devcluster import cluster
    from devcluster.config import ClusterConfig, gpu_node

    grace = ClusterConfig.from_env().node_monitor_grace_seconds
    base = gpu_node(f"extra-gpu-{time.monotonic_ns() % 100000}", free_port(), gpus=1)
    # An extra taint keeps other tests' Pods off this short-lived node.
    node = dataclasses.replace(base, taints=base.taints + ("devcluster.test/extra=true:NoSchedule",))
    cluster.start_kubelet(node)  # waits for Ready
    try:
        capacity = kube.kubectl("get", "node", node.name, "-o", "jsonpath={.status.capacity.nvidia\\.com/gpu}").stdout
        assert capacity == "1"
        assert cluster.stop_kubelet(node.name)
        stopped_at = time.monotonic()
        wait_for(lambda: _ready_status(kube, node.name) not in ("True", ""), grace + 30, "the node to go NotReady")
        assert time.monotonic() - stopped_at >= grace - 15  # not before the heartbeat grace has run out
        taints = kube.kubectl("get", "node", node.name, "-o", "jsonpath={.spec.taints[*].key}").stdout
        assert "node.kubernetes.io/unreachable" in taints
    finally:
        cluster.stop_kubelet(node.name, delete_node=True)
