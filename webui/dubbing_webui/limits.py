"""Per-user caps on what a request may hold open or repeat, and the 429 they answer with.

:class:`StreamSlots` counts a user's open streams (job events and Pod logs, each a connection and,
for logs, a thread); :class:`RateLimit` counts actions in a sliding window (test notifications).
Both keep at most ``max_keys`` keys, so a flood of names cannot grow them.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict


class TooMany(Exception):
    """A cap was reached; the client may try again after ``retry_after`` seconds (HTTP 429)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class Slot:
    """One held stream; :meth:`release` gives it back (more than once is harmless)."""

    def __init__(self, owner: StreamSlots, key: str) -> None:
        self._owner = owner
        self._key = key
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._owner._give_back(self._key)


class StreamSlots:
    def __init__(self, per_user: int, retry_after: int = 10, what: str = "open streams") -> None:
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

    def _give_back(self, user: str) -> None:
        with self._lock:
            left = self._open.get(user, 0) - 1
            if left > 0:
                self._open[user] = left
            else:
                self._open.pop(user, None)


class RateLimit:
    def __init__(self, what: str, count: int, window_s: float, max_keys: int = 10_000) -> None:
        self.what = what
        self.count = count
        self.window_s = window_s
        self.max_keys = max_keys
        self._hits: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> None:
        """Count one action of ``key``, or raise :class:`TooMany` (not counted) when its window is full."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = [t for t in self._hits.pop(key, []) if now - t < self.window_s]
            if len(hits) >= self.count:
                self._hits[key] = hits
                wait = math.ceil(self.window_s - (now - hits[0]))
                raise TooMany(f"too many {self.what}: at most {self.count} per {self.window_s:g} s", wait)
            hits.append(now)
            self._hits[key] = hits
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
