"""Sharing one development cluster: a test-owned cluster stops only when its last use ends."""

from __future__ import annotations

import os
from typing import Any

import pytest

from devcluster import cluster, sessions
from devcluster.paths import StatePaths


@pytest.fixture
def fake_cluster(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A control plane and two configured nodes, as flags; ``kubelets`` are the running node processes."""
    calls: dict[str, Any] = {"up": 0, "down": 0, "healthy": False, "kubelets": [], "stopped": []}

    def up(*, state, timeout):
        calls["up"] += 1
        calls["healthy"] = True
        calls["kubelets"] = sorted(set(calls["kubelets"]) | {"dev-cpu-0", "dev-gpu-0"})

    def down(state, purge=False):
        calls["down"] += 1
        calls["healthy"] = False
        calls["kubelets"] = []
        return []

    def is_healthy(*, state, kubelets=True):
        return calls["healthy"] and (not kubelets or set(calls["kubelets"]) >= {"dev-cpu-0", "dev-gpu-0"})

    def stop_kubelet(name, *, state, delete_node=False):
        calls["kubelets"].remove(name)
        calls["stopped"].append((name, delete_node))
        return True

    monkeypatch.setattr(cluster, "is_healthy", is_healthy)
    monkeypatch.setattr(cluster, "up", up)
    monkeypatch.setattr(cluster, "down", down)
    monkeypatch.setattr(cluster, "running_kubelets", lambda state: list(calls["kubelets"]))
    monkeypatch.setattr(cluster, "stop_kubelet", stop_kubelet)
    return calls


def test_nested_use_in_one_process_keeps_the_cluster_until_the_outer_use_leaves(tmp_path, fake_cluster):
    # A pytest session joins, then runs a gate in-process that joins and leaves again.
    state = StatePaths(root=tmp_path / "dc")
    assert sessions.join(state) is True
    assert sessions.join(state) is False
    assert len(list((state.root / "users").iterdir())) == 2

    assert sessions.leave(state) is False
    assert fake_cluster["down"] == 0 and fake_cluster["healthy"]
    assert len(list((state.root / "users").iterdir())) == 1

    assert sessions.leave(state) is True
    assert fake_cluster["down"] == 1 and not (state.root / sessions.OWNED_MARK).exists()


def test_a_cluster_started_by_hand_is_never_stopped(tmp_path, fake_cluster):
    fake_cluster["healthy"] = True
    fake_cluster["kubelets"] = ["dev-cpu-0", "dev-gpu-0"]
    state = StatePaths(root=tmp_path / "dc")
    assert sessions.join(state) is False
    assert sessions.leave(state) is False
    assert fake_cluster["down"] == 0


def test_a_cluster_brought_up_by_hand_after_a_killed_session_is_not_stopped_by_the_next(tmp_path, fake_cluster):
    state = StatePaths(root=tmp_path / "dc")
    sessions.join(state)  # a test session starts the cluster, then is killed before it leaves
    (state.root / "users").rename(tmp_path / "gone")
    sessions.started_by_hand(state)  # the developer runs `python -m devcluster up`
    assert sessions.join(state) is False
    assert sessions.leave(state) is False and fake_cluster["down"] == 0


def test_entries_of_dead_processes_do_not_keep_the_cluster(tmp_path, fake_cluster):
    state = StatePaths(root=tmp_path / "dc")
    sessions.join(state)
    (state.root / "users" / "999999999.1").touch()  # no such process
    assert sessions.live_users(state) == [os.getpid()]
    assert sessions.leave(state) is True
    assert fake_cluster["down"] == 1


def test_a_control_plane_started_by_hand_without_nodes_keeps_running_and_loses_only_the_tests_nodes(
    tmp_path, fake_cluster
):
    # `DUBBING_DEVCLUSTER_NODES=none python -m devcluster up` (a hollow-node benchmark uses the control
    # plane, its own hollow node is running); a test session then needs the development nodes
    fake_cluster["healthy"] = True
    fake_cluster["kubelets"] = ["dev-hollow-1"]
    state = StatePaths(root=tmp_path / "dc")
    assert sessions.join(state) is True and fake_cluster["up"] == 1  # the nodes were started
    assert sessions.join(state) is False  # a second session shares them
    assert sessions.leave(state) is False and fake_cluster["stopped"] == []
    assert sessions.leave(state) is True
    assert fake_cluster["down"] == 0 and fake_cluster["healthy"]  # the developer's control plane runs on
    assert sorted(fake_cluster["stopped"]) == [("dev-cpu-0", True), ("dev-gpu-0", True)]
    assert fake_cluster["kubelets"] == ["dev-hollow-1"]
    assert not (state.root / sessions.NODES_MARK).exists() and not (state.root / sessions.OWNED_MARK).exists()
