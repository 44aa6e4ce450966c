"""Login throttling: failures per account and per client address, counted apart, in a window.

Guessing one account's password from many addresses hits the per-account limit; trying one
password on many accounts from one address (spraying) hits the per-client limit. Counts live in
Redis (with a TTL) when it is up and in a bounded in-process table otherwise: a name that cannot
be a user name is never tracked as an account, and the table drops its oldest keys past
``max_tracked``, so junk logins cannot grow the process.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import redis

from .redisconn import RedisLink
from .security import valid_username

#: Longest client address kept (an IPv6 address with a zone fits).
MAX_CLIENT_LEN = 64


def throttle_keys(username: str, client: str) -> tuple[str | None, str]:
    """The account key (None when the name cannot be a user) and the client key of one attempt."""
    account = f"dubbing:login-fail:user:{username}" if valid_username(username) else None
    return account, f"dubbing:login-fail:client:{client[:MAX_CLIENT_LEN]}"


class LoginThrottle:
    def __init__(
        self,
        link: RedisLink,
        max_failures: int,
        window_s: int,
        max_failures_per_client: int | None = None,
        max_tracked: int = 10_000,
    ) -> None:
        self.link = link
        self.max_failures = max_failures
        self.max_failures_per_client = max_failures_per_client or max_failures * 4
        self.window_s = window_s
        self.max_tracked = max_tracked
        self._local: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def tracked(self) -> int:
        """Keys held in process memory."""
        with self._lock:
            return len(self._local)

    def _limits(self, username: str, client: str) -> list[tuple[str, int]]:
        account, by_client = throttle_keys(username, client)
        keys = [(by_client, self.max_failures_per_client)]
        if account is not None:
            keys.append((account, self.max_failures))
        return keys

    def _local_count(self, key: str, now: float) -> int:
        with self._lock:
            hits = self._local.get(key)
            if hits is None:
                return 0
            hits[:] = [t for t in hits if now - t < self.window_s]
            if not hits:
                del self._local[key]
            return len(hits)

    def _local_add(self, key: str, now: float, cap: int) -> None:
        with self._lock:
            hits = self._local.pop(key, None) or []
            hits.append(now)
            self._local[key] = hits[-cap:]  # the most recently failed key last
            while len(self._local) > self.max_tracked:
                self._local.popitem(last=False)

    def blocked(self, username: str, client: str) -> bool:
        now = time.time()
        limits = self._limits(username, client)
        counts = [self._local_count(key, now) for key, _ in limits]
        r = self.link.client()
        if r is not None:
            try:
                remote = r.mget([key for key, _ in limits])
                counts = [max(c, int(v or 0)) for c, v in zip(counts, remote, strict=True)]
            except redis.RedisError:
                self.link.failed()
        return any(count >= limit for count, (_, limit) in zip(counts, limits, strict=True))

    def failure(self, username: str, client: str) -> None:
        now = time.time()
        limits = self._limits(username, client)
        for key, limit in limits:
            self._local_add(key, now, limit)
        r = self.link.client()
        if r is not None:
            try:
                pipe = r.pipeline()
                for key, _ in limits:
                    pipe.incr(key)
                    pipe.expire(key, self.window_s)
                pipe.execute()
            except redis.RedisError:
                self.link.failed()

    def success(self, username: str, client: str) -> None:
        """A good password clears its account's count; the client's failures on other accounts stay."""
        account, _ = throttle_keys(username, client)
        if account is None:
            return
        with self._lock:
            self._local.pop(account, None)
        r = self.link.client()
        if r is not None:
            try:
                r.delete(account)
            except redis.RedisError:
                self.link.failed()
