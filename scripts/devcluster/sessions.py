"""Share one development cluster between test sessions running at the same time.

Each session that uses the cluster registers its pid under ``<state>/users/``. A
cluster brought up by a test session is marked ``test-owned``; it is stopped when
the last live session using it leaves. A cluster a developer started by hand (no
mark) is never stopped by tests.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from . import cluster
from .paths import StatePaths

OWNED_MARK = "test-owned"


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
            pid = int(entry.name)
        except ValueError:
            continue
        if _alive(pid):
            live.append(pid)
        else:
            entry.unlink(missing_ok=True)
    return sorted(live)


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
            try:
                cluster.up(state=state, timeout=timeout)
            except BaseException:
                if not live_users(state):
                    cluster.down(state)
                raise
            (state.root / OWNED_MARK).touch()
            started = True
        users = _users_dir(state)
        users.mkdir(parents=True, exist_ok=True)
        (users / str(os.getpid())).touch()
        return started


def leave(state: StatePaths | None = None, *, keep: bool = False) -> bool:
    """Stop using the cluster; stop it if it is test-owned and no other session uses it. True if stopped."""
    state = state or StatePaths.default()
    with _sessions_lock(state):
        (_users_dir(state) / str(os.getpid())).unlink(missing_ok=True)
        mark = state.root / OWNED_MARK
        if keep or not mark.exists() or live_users(state):
            return False
        cluster.down(state, purge=True)
        mark.unlink(missing_ok=True)
        return True
