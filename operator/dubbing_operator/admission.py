"""Admission: which waiting jobs may start, and everybody else's place in the queue.

``plan`` is pure.  A job is *active* once its status says Running (written
before its first Pod is created), so the API server alone always tells how
many slots are taken; Redis, when configured and up, mirrors the queue and
makes each claim of a slot atomic (a Lua script), which keeps several operator
replicas honest.  When Redis is unreachable the operator decides from the API
server view alone and says so (``mode``); when Redis answers again its sets are
rebuilt from the API server before it is used.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol, cast

log = logging.getLogger("dubbing_operator.admission")


@dataclass(frozen=True)
class QueueEntry:
    key: str  # "<namespace>/<name>"
    user: str
    priority: int
    created: datetime
    needs_gpu: bool
    active: bool  # holds a slot (Running, or cancelling/deleting with Pods)


@dataclass
class Plan:
    admit: list[str] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)  # 1-based, waiting jobs only
    reasons: dict[str, str] = field(default_factory=dict)  # why each waiting job waits
    running_gpu: int = 0

    def head(self, count: int) -> list[str]:
        """The jobs a change of the queue concerns first: those admitted now and the next ``count`` waiting."""
        return self.admit + self.waiting_head(count)

    def waiting_head(self, count: int) -> list[str]:
        """The first ``count`` waiting jobs (``positions`` is in queue order: no scan of the queue)."""
        return list(itertools.islice(self.positions, count))


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAR = datetime(9999, 1, 1, tzinfo=UTC)


def fair_order(
    waiting: Iterable[QueueEntry], running_per_user: Counter[str], served: dict[str, datetime] | None = None
) -> list[QueueEntry]:
    """Round-robin by user, then priority, then age.

    A user's turn comes by (jobs running or already picked, when the user was last
    served: the latest start of one of their jobs), so after a user's job ends the
    user who waited longest goes first.
    """
    last = dict(served or {})
    per_user: dict[str, list[QueueEntry]] = defaultdict(list)
    for e in waiting:
        per_user[e.user].append(e)
    for jobs in per_user.values():
        jobs.sort(key=lambda e: (-e.priority, e.created, e.key))
    taken = Counter(running_per_user)
    order: list[QueueEntry] = []
    while per_user:
        user = min(
            per_user,
            key=lambda u: (taken[u], last.get(u, EPOCH), -per_user[u][0].priority, per_user[u][0].created, u),
        )
        entry = per_user[user].pop(0)
        order.append(entry)
        taken[user] += 1
        last[user] = FAR
        if not per_user[user]:
            del per_user[user]
    return order


def plan(
    entries: Iterable[QueueEntry], max_gpu_jobs: int, max_per_user: int, served: dict[str, datetime] | None = None
) -> Plan:
    entries = list(entries)
    active = [e for e in entries if e.active]
    running_gpu = sum(1 for e in active if e.needs_gpu)
    per_user = Counter(e.user for e in active)
    out = Plan(running_gpu=running_gpu)
    position = 0
    for e in fair_order((e for e in entries if not e.active), per_user, served):
        gpu_ok = not e.needs_gpu or running_gpu < max_gpu_jobs
        user_ok = per_user[e.user] < max_per_user
        if gpu_ok and user_ok:
            out.admit.append(e.key)
            running_gpu += int(e.needs_gpu)
            per_user[e.user] += 1
            continue
        position += 1
        out.positions[e.key] = position
        why = []
        if not gpu_ok:
            why.append(f"all {max_gpu_jobs} GPU job slot(s) are taken")
        if not user_ok:
            why.append(f"{e.user} already runs {per_user[e.user]} job(s) (limit {max_per_user})")
        out.reasons[e.key] = " and ".join(why)
    return out


class SlotStore(Protocol):
    def claim(self, e: QueueEntry, max_gpu_jobs: int, max_per_user: int) -> bool: ...
    def release(self, key: str) -> None: ...
    def resync(self, active: list[QueueEntry], positions: dict[str, int]) -> None: ...
    def ping(self) -> bool: ...


# KEYS: gpu set, user set, owners hash. ARGV: key, needs_gpu, max_gpu, max_user, user
CLAIM_LUA = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 or redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  return 1
end
if ARGV[2] == '1' and redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 0 end
if ARGV[2] == '1' then redis.call('SADD', KEYS[1], ARGV[1]) end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[5])
return 1
"""
# KEYS: gpu set, owners hash, user-set prefix (as ARGV[2]). ARGV: key, user-set prefix
RELEASE_LUA = """
local user = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[1], ARGV[1])
if user then redis.call('SREM', ARGV[2] .. user, ARGV[1]) end
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
"""


class RedisSlots:
    """Slots and queue positions in Redis: sets of running jobs (GPU, per user), a sorted set of the queue."""

    def __init__(self, url: str, prefix: str = "dubbing") -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.p = prefix
        self._claim = self._redis.register_script(CLAIM_LUA)
        self._release = self._redis.register_script(RELEASE_LUA)

    def _user_set(self, user: str) -> str:
        return f"{self.p}:running:user:{user}"

    def ping(self) -> bool:
        return bool(self._redis.ping())

    def claim(self, e: QueueEntry, max_gpu_jobs: int, max_per_user: int) -> bool:
        keys = [f"{self.p}:running:gpu", self._user_set(e.user), f"{self.p}:running:owners"]
        args = [e.key, "1" if e.needs_gpu else "0", max_gpu_jobs, max_per_user, e.user]
        ok = bool(self._claim(keys=keys, args=args))
        if ok:
            self._redis.zrem(f"{self.p}:queue", e.key)
        return ok

    def release(self, key: str) -> None:
        self._release(keys=[f"{self.p}:running:gpu", f"{self.p}:running:owners"], args=[key, f"{self.p}:running:user:"])

    def resync(self, active: list[QueueEntry], positions: dict[str, int]) -> None:
        """Make Redis say what the API server says (the API server is the truth)."""
        pipe = self._redis.pipeline(transaction=True)
        for k in self._redis.scan_iter(f"{self.p}:running:*"):
            pipe.delete(k)
        pipe.delete(f"{self.p}:queue")
        for e in active:
            if e.needs_gpu:
                pipe.sadd(f"{self.p}:running:gpu", e.key)
            pipe.sadd(self._user_set(e.user), e.key)
            pipe.hset(f"{self.p}:running:owners", e.key, e.user)
        if positions:
            pipe.zadd(f"{self.p}:queue", {k: v for k, v in positions.items()})
        pipe.execute()

    def queue(self) -> list[str]:
        # decode_responses is off (from_url above), so members come back as bytes
        return [k.decode() for k in cast("list[bytes]", self._redis.zrange(f"{self.p}:queue", 0, -1))]


class Admission:
    """Holds the latest view of all jobs and answers "may this job start?" in either mode."""

    def __init__(self, max_gpu_jobs: int, max_per_user: int, store: SlotStore | None, on_mode: Any = None) -> None:
        self.max_gpu_jobs = max_gpu_jobs
        self.max_per_user = max_per_user
        self.store = store
        self.entries: dict[str, QueueEntry] = {}
        self._admitted_here: dict[str, float] = {}  # key -> monotonic time, until the watch shows it active
        self.mode = "redis" if store is not None else "apiserver"
        self._on_mode = on_mode
        self._needs_resync = store is not None
        self.served: dict[str, datetime] = {}  # user -> latest start of one of their jobs
        self.synced = False  # nothing is admitted before one full list of the jobs
        # The plan is computed again only when what it depends on changed: a queue of N
        # waiting jobs is asked N times after each change, and each plan costs O(N).
        self._version = 0
        self._plan: tuple[int, Plan] | None = None
        self._entries_changed = 0  # counts every change of ``entries`` (the plan's version skips some)
        self._active: tuple[int, int] | None = None  # (_entries_changed, jobs holding a slot)

    def served_at(self, user: str, started: datetime | None) -> None:
        if started is not None and started > self.served.get(user, EPOCH):
            self.served[user] = started
            self._version += 1

    # --- view
    def update(self, entry: QueueEntry | None, key: str) -> None:
        if entry is None:
            if self.entries.pop(key, None) is not None or self._admitted_here.pop(key, None) is not None:
                self._version += 1
                self._entries_changed += 1
            self._release(key)
            return
        old = self.entries.get(key)
        admitted_here = key in self._admitted_here
        if entry.active:
            self._admitted_here.pop(key, None)
        if old != entry:
            self.entries[key] = entry
            self._entries_changed += 1
            # A job this process admitted that now shows as active holds the same slot as before:
            # the plan stands (with thousands of jobs starting, each would cost a new plan).
            if not (admitted_here and entry.active and old is not None and replace(old, active=True) == entry):
                self._version += 1

    def replace_all(self, entries: dict[str, QueueEntry], served: dict[str, datetime] | None = None) -> None:
        for key in set(self.entries) - set(entries):
            self._release(key)
        self.entries = dict(entries)
        self._entries_changed += 1
        for user, when in (served or {}).items():
            self.served_at(user, when)
        self.synced = True
        self._version += 1

    def _expire(self) -> None:
        """Admissions this process made are taken as active for at most 120 s (oldest first: O(1) a call)."""
        now = time.monotonic()
        while self._admitted_here:
            key, when = next(iter(self._admitted_here.items()))
            if now - when < 120:
                return
            del self._admitted_here[key]
            self._version += 1

    def _view(self) -> list[QueueEntry]:
        self._expire()
        out = []
        for key, e in self.entries.items():
            if key in self._admitted_here and not e.active:
                e = QueueEntry(e.key, e.user, e.priority, e.created, e.needs_gpu, True)
            out.append(e)
        return out

    def current_plan(self) -> Plan:
        self._expire()  # first: it may drop expired admissions (a change)
        if self._plan is None or self._plan[0] != self._version:
            self._plan = (self._version, plan(self._view(), self.max_gpu_jobs, self.max_per_user, self.served))
        return self._plan[1]

    def active_count(self) -> int:
        """Jobs holding a slot (computed again only after a change)."""
        if self._active is None or self._active[0] != self._entries_changed:
            self._active = (self._entries_changed, sum(1 for e in self.entries.values() if e.active))
        return self._active[1]

    # --- mode
    def _set_mode(self, mode: str, why: str) -> None:
        if mode != self.mode:
            log.warning("queue backend: %s -> %s (%s)", self.mode, mode, why)
            self.mode = mode
            if self._on_mode:
                self._on_mode(mode)

    def _redis_failed(self, err: Exception) -> None:
        self._needs_resync = True
        self._set_mode("apiserver", f"Redis unreachable: {err}")

    def tick(self) -> None:
        """Periodic: try to (re)connect to Redis and mirror the API server's truth into it."""
        if self.store is None:
            return
        try:
            self.store.ping()
            p = self.current_plan()
            self.store.resync([e for e in self._view() if e.active], p.positions)
            self._needs_resync = False
            self._set_mode("redis", "Redis answers; its sets were rebuilt from the API server")
        except Exception as err:  # noqa: BLE001 - any Redis error means: fall back
            self._redis_failed(err)

    def _release(self, key: str) -> None:
        if self.store is None or self.mode != "redis":
            return
        try:
            self.store.release(key)
        except Exception as err:  # noqa: BLE001
            self._redis_failed(err)

    # --- the question
    def decide(self, key: str) -> tuple[bool, int | None, str]:
        """(admitted, queue position, why waiting) for a job that does not hold a slot yet."""
        if key in self._admitted_here:  # admitted by this process; the status write is still under way
            return True, None, ""
        if not self.synced:
            return False, None, "waiting for the operator's first full view of the queue"
        p = self.current_plan()
        if key not in p.admit:
            return False, p.positions.get(key), p.reasons.get(key, "")
        entry = self.entries[key]
        if self.store is not None and self.mode == "redis" and not self._needs_resync:
            try:
                if not self.store.claim(entry, self.max_gpu_jobs, self.max_per_user):
                    return False, 1, "another operator replica holds the slot (Redis)"
            except Exception as err:  # noqa: BLE001
                self._redis_failed(err)
        # The plan counted this job among those it admits, so it stands with the job moved from
        # "to admit" to "holding a slot": no new plan (thousands of jobs admitted at once would
        # each cost one).
        p.admit.remove(key)
        p.running_gpu += int(entry.needs_gpu)
        self._admitted_here[key] = time.monotonic()
        return True, None, ""

    def finished(self, key: str) -> None:
        if self._admitted_here.pop(key, None) is not None:
            self._version += 1
        self._release(key)
