"""The development kubelet's Pod worker against a stand-in API server (real processes, no cluster)."""

from __future__ import annotations

import copy
import threading
import time
from pathlib import Path
from typing import Any, cast

import pytest

import devcluster.kubelet_pods as kp
from devcluster.kubelet_api import KubeApi


class FakeApi:
    """Records status writes, Events and deletions; answers a status write with the Pod as written."""

    base_url = "https://127.0.0.1:6443"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pods: dict[str, dict[str, Any]] = {}
        self.statuses: dict[str, list[dict[str, Any]]] = {}
        self.events: dict[str, list[str]] = {}
        self.deleted: list[str] = []
        self.rv = 100

    def merge_patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        name = path.split("/")[-2]
        with self.lock:
            self.rv += 1
            pod = copy.deepcopy(self.pods[name])
            pod["status"] = body["status"]
            pod["metadata"]["resourceVersion"] = str(self.rv)
            self.pods[name] = pod
            self.statuses.setdefault(name, []).append(body["status"])
        return pod

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("kind") == "Event":
            with self.lock:
                self.events.setdefault(body["involvedObject"]["name"], []).append(body["reason"])
        return body

    def get_or_none(self, path: str) -> None:
        return None

    def delete(self, path: str, body: dict[str, Any]) -> None:
        with self.lock:
            self.deleted.append(path.split("/")[-1])

    def phase(self, name: str) -> str | None:
        with self.lock:
            writes = self.statuses.get(name) or [{}]
            return writes[-1].get("phase")


def sh(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "command": ["/bin/sh", "-c", script], **extra}


def make_pod(name: str, containers: list[dict[str, Any]], inits: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": containers, "restartPolicy": "Never", "terminationGracePeriodSeconds": 1}
    if inits:
        spec["initContainers"] = inits
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "resourceVersion": "1"}, "spec": spec}


def main_state(status: dict[str, Any]) -> dict[str, Any]:
    return status["containerStatuses"][0]["state"]


@pytest.fixture
def api_and_manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(kp, "mounts_supported", lambda probe=None: (False, "not in this test"))
    api = FakeApi()
    return api, kp.PodManager(cast(KubeApi, api), "n1", tmp_path, {}, {})


def run_pods(api: FakeApi, manager: kp.PodManager, pods: list[dict[str, Any]], timeout: float = 20.0) -> None:
    """Run the Pods to an end, then delete them and wait for their workers to finish."""
    workers = []
    for pod in pods:
        api.pods[pod["metadata"]["name"]] = pod
        worker = kp.PodWorker(manager, copy.deepcopy(pod))
        manager.workers[worker.uid] = worker
        worker.start()
        workers.append(worker)
    deadline = time.monotonic() + timeout
    while any(api.phase(w.pod_name) not in kp.TERMINAL for w in workers):
        assert time.monotonic() < deadline, {w.pod_name: api.phase(w.pod_name) for w in workers}
        time.sleep(0.05)
    for worker in workers:
        with api.lock:
            pod = copy.deepcopy(api.pods[worker.pod_name])
        pod["metadata"].update(deletionTimestamp="2025-01-01T00:00:00Z", resourceVersion=str(10**6))
        worker.update(pod)
    for worker in workers:
        worker.join(timeout)
        assert not worker.is_alive()


def test_pods_run_to_their_end_and_are_removed_when_deleted(api_and_manager):
    api, manager = api_and_manager
    pods = [
        make_pod("ok", [sh("c", "echo hi")]),
        make_pod("fails", [sh("c", "echo bad >&2; exit 3", terminationMessagePolicy="FallbackToLogsOnError")]),
        make_pod("no-binary", [{"name": "c", "image": "busybox", "command": ["no-such-binary-xyz"]}]),
        make_pod("inits", [sh("c", "exit 0")], inits=[sh("i1", "exit 0"), sh("i2", "exit 0")]),
        make_pod("init-fails", [sh("c", "exit 0")], inits=[sh("i1", "exit 1")]),
    ]
    run_pods(api, manager, pods)
    last = {name: writes[-1] for name, writes in api.statuses.items()}

    assert last["ok"]["phase"] == "Succeeded" and main_state(last["ok"])["terminated"]["exitCode"] == 0
    assert api.statuses["ok"][0]["phase"] == "Pending"
    assert any(s["phase"] == "Running" for s in api.statuses["ok"])
    assert api.events["ok"] == ["Pulled", "Created", "Started"]

    failed = main_state(last["fails"])["terminated"]
    assert last["fails"]["phase"] == "Failed" and failed["exitCode"] == 3 and failed["reason"] == "Error"
    assert "bad" in failed["message"]  # FallbackToLogsOnError: the log's tail

    start_error = main_state(last["no-binary"])["terminated"]
    assert last["no-binary"]["phase"] == "Failed" and start_error["exitCode"] == 128
    assert start_error["reason"] == "StartError" and "no-such-binary-xyz" in start_error["message"]
    assert api.events["no-binary"] == ["Failed"]

    assert last["inits"]["phase"] == "Succeeded"
    assert [c["state"]["terminated"]["exitCode"] for c in last["inits"]["initContainerStatuses"]] == [0, 0]
    assert api.events["inits"] == ["Pulled", "Created", "Started"] * 3

    assert last["init-fails"]["phase"] == "Failed"
    assert main_state(last["init-fails"])["waiting"]["reason"] == "PodInitializing"

    # each Pod deleted exactly once (a method named _delete once overrode threading.Thread._delete,
    # which Python calls again as the thread ends, so every Pod was deleted twice)
    assert sorted(api.deleted) == sorted(p["metadata"]["name"] for p in pods)
    assert manager.workers == {} and not list((manager.state_dir / "pods").glob("*"))


def test_a_running_pod_is_stopped_when_deleted(api_and_manager):
    api, manager = api_and_manager
    pod = make_pod("long", [sh("c", "sleep 60")])
    api.pods["long"] = pod
    worker = kp.PodWorker(manager, copy.deepcopy(pod))
    manager.workers[worker.uid] = worker
    worker.start()
    deadline = time.monotonic() + 20
    while api.phase("long") != "Running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with api.lock:
        current = copy.deepcopy(api.pods["long"])
    current["metadata"].update(
        deletionTimestamp="2025-01-01T00:00:00Z", resourceVersion=str(10**6), deletionGracePeriodSeconds=1
    )
    worker.update(current)
    worker.join(20)
    assert not worker.is_alive()
    assert api.events["long"] == ["Pulled", "Created", "Started", "Killing"]
    assert "terminated" in main_state(api.statuses["long"][-1]) and set(api.deleted) == {"long"}
