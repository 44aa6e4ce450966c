"""Per-user caps on what a request may hold open or repeat, and the 429 they answer with.

:class:`StreamSlots` counts a user's open streams (job events and Pod logs, each a connection and,
for logs, a thread); :class:`RateLimit` counts actions in a sliding window (test notifications).
Both count in the store, so every replica counts the same: a slot is a row with a lease that its
replica renews (:meth:`StreamSlots.renew`) while the stream lasts, so the slots of a replica that
died run out by themselves. Only users' own actions are counted, so the rows stay few.
"""

from __future__ import annotations

import math
import secrets
import threading
from typing import Protocol

from .store import Store

#: Seconds a stream slot is held without renewal; replicas renew theirs every third of it.
SLOT_LEASE_S = 60.0


class TooMany(Exception):
    """A cap was reached; the client may try again after ``retry_after`` seconds (HTTP 429)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class _SlotOwner(Protocol):
    def _give_back(self, slot_id: str) -> None: ...


class Slot:
    """One held stream; :meth:`release` gives it back (more than once is harmless)."""

    def __init__(self, owner: _SlotOwner, slot_id: str) -> None:
        self._owner = owner
        self.id = slot_id
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._owner._give_back(self.id)


class StreamSlots:
    def __init__(self, store: Store, per_user: int, retry_after: int = 10, lease_s: float = SLOT_LEASE_S) -> None:
        self.store = store
        self.per_user = per_user
        self.retry_after = retry_after
        self.lease_s = lease_s
        self._mine: set[str] = set()  # the slots this replica holds (and renews)
        self._lock = threading.Lock()

    def acquire(self, user: str) -> Slot:
        slot_id = secrets.token_hex(12)
        held = self.store.take_slot(user, slot_id, self.per_user, self.lease_s)
        if held >= self.per_user:
            raise TooMany(
                f"too many open streams: {held} of at most {self.per_user} per user; close one and retry",
                self.retry_after,
            )
        with self._lock:
            self._mine.add(slot_id)
        return Slot(self, slot_id)

    def held(self, user: str) -> int:
        return self.store.held_slots(user)

    def renew(self) -> None:
        """Extend the leases of this replica's open slots."""
        with self._lock:
            mine = sorted(self._mine)
        self.store.renew_slots(mine, self.lease_s)

    def _give_back(self, slot_id: str) -> None:
        with self._lock:
            self._mine.discard(slot_id)
        self.store.drop_slot(slot_id)


class LocalSlots:
    """A per-user cap on what this replica holds (chunks it proxies to MinIO, each a connection of
    its own): counted in memory, since the resource is the replica's."""

    def __init__(self, per_user: int, retry_after: int = 10, what: str = "chunks in flight") -> None:
        self.per_user = per_user
        self.retry_after = retry_after
        self.what = what
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, user: str) -> Slot:
        with self._lock:
            held = self._open.get(user, 0)
            if held >= self.per_user:
                raise TooMany(
                    f"too many {self.what}: {held} of at most {self.per_user} per user; close one and retry",
                    self.retry_after,
                )
            self._open[user] = held + 1
        return Slot(self, user)

    def held(self, user: str) -> int:
        with self._lock:
            return self._open.get(user, 0)

    def _give_back(self, slot_id: str) -> None:
        with self._lock:
            left = self._open.get(slot_id, 0) - 1
            if left > 0:
                self._open[slot_id] = left
            else:
                self._open.pop(slot_id, None)


class RateLimit:
    def __init__(self, store: Store, what: str, count: int, window_s: float) -> None:
        self.store = store
        self.what = what
        self.count = count
        self.window_s = window_s

    def hit(self, key: str) -> None:
        """Count one action of ``key``, or raise :class:`TooMany` (not counted) when its window is full."""
        wait = self.store.hit(f"{self.what}:{key}", self.count, self.window_s)
        if wait is not None:
            raise TooMany(
                f"too many {self.what}: at most {self.count} per {self.window_s:g} s", math.ceil(max(wait, 1))
            )
