"""Share one development cluster between test sessions running at the same time.

Each use of the cluster registers an entry ``<pid>.<n>`` under ``<state>/users/``;
one process may hold several at once (a pytest session that runs a gate script's
``main`` in-process joins twice), and each ``leave`` gives back only the newest entry
that process took. A cluster brought up by a test session is marked ``test-owned``;
it is stopped when the last entry of a live process is gone. A cluster a developer
started by hand (no mark) is never stopped by tests; where it runs without the configured
nodes (``DUBBING_DEVCLUSTER_NODES=none``, as for the hollow-node benchmark), a test session
starts them, writes their names in the ``test-nodes`` mark, and stops only those at the end.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

from . import cluster
from .paths import StatePaths

OWNED_MARK = "test-owned"
NODES_MARK = "test-nodes"

# Entries this process holds, per state directory, newest last.
_held: dict[Path, list[str]] = {}
_sequence = itertools.count(1)


def _users_dir(state: StatePaths) -> Path:
    return state.root / "users"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def live_users(state: StatePaths) -> list[int]:
    """Pids of the sessions registered as users that are still running (dead entries are dropped)."""
    users = _users_dir(state)
    live = []
    for entry in users.glob("*") if users.exists() else []:
        try:
            pid = int(entry.name.split(".", 1)[0])
        except ValueError:
            continue
        if _alive(pid):
            live.append(pid)
        else:
            entry.unlink(missing_ok=True)
    return sorted(set(live))


@contextlib.contextmanager
def _sessions_lock(state: StatePaths) -> Iterator[None]:
    state.root.mkdir(parents=True, exist_ok=True)
    with open(state.root / ".sessions.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def join(state: StatePaths | None = None, *, timeout: float = 90.0) -> bool:
    """Use the cluster from this process, starting it if it is not healthy. True if this call started it.

    If starting fails, whatever did start is stopped again (unless another session uses it).
    """
    state = state or StatePaths.default()
    with _sessions_lock(state):
        started = False
        if not cluster.is_healthy(state=state):
            # a control plane brought up by hand stays the developer's, whatever this session adds to it
            theirs = cluster.is_healthy(state=state, kubelets=False) and not (state.root / OWNED_MARK).exists()
            before = set(cluster.running_kubelets(state))
            try:
                cluster.up(state=state, timeout=timeout)
            except BaseException:
                if not live_users(state) and not theirs:
                    cluster.down(state)
                raise
            if theirs:
                _add_test_nodes(state, set(cluster.running_kubelets(state)) - before)
            else:
                (state.root / OWNED_MARK).touch()
            started = True
        users = _users_dir(state)
        users.mkdir(parents=True, exist_ok=True)
        entry = f"{os.getpid()}.{next(_sequence)}"
        (users / entry).touch()
        _held.setdefault(state.root.resolve(), []).append(entry)
        return started


def leave(state: StatePaths | None = None, *, keep: bool = False) -> bool:
    """Give back this process's newest use of the cluster; stop the cluster if it is
    test-owned and no use of a live process remains. True if stopped."""
    state = state or StatePaths.default()
    with _sessions_lock(state):
        held = _held.get(state.root.resolve(), [])
        if held:
            (_users_dir(state) / held.pop()).unlink(missing_ok=True)
        mark = state.root / OWNED_MARK
        if keep or live_users(state):
            return False
        if mark.exists():
            cluster.down(state, purge=True)
            mark.unlink(missing_ok=True)
            return True
        nodes = _test_nodes(state)
        for name in nodes:  # the developer's control plane keeps running, as they left it
            cluster.stop_kubelet(name, state=state, delete_node=True)
        (state.root / NODES_MARK).unlink(missing_ok=True)
        return bool(nodes)


def _test_nodes(state: StatePaths) -> list[str]:
    try:
        return sorted(set((state.root / NODES_MARK).read_text().split()))
    except FileNotFoundError:
        return []


def _add_test_nodes(state: StatePaths, names: set[str]) -> None:
    (state.root / NODES_MARK).write_text("".join(f"{n}\n" for n in sorted(names | set(_test_nodes(state)))))


def started_by_hand(state: StatePaths | None = None) -> None:
    """The developer brought the cluster up (``python -m devcluster up``): it is theirs, and no test
    session stops it, even if one that started an earlier cluster here was killed before it left
    (its mark would otherwise make the next session's ``leave`` stop the developer's cluster)."""
    state = state or StatePaths.default()
    with _sessions_lock(state):
        (state.root / OWNED_MARK).unlink(missing_ok=True)
        (state.root / NODES_MARK).unlink(missing_ok=True)
