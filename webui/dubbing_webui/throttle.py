"""Login throttling: failures per (user, client) in a window; Redis when up, memory otherwise."""

from __future__ import annotations

import threading
import time

import redis

from .redisconn import RedisLink


class LoginThrottle:
    def __init__(self, link: RedisLink, max_failures: int, window_s: int) -> None:
        self.link = link
        self.max_failures = max_failures
        self.window_s = window_s
        self._local: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(username: str, client: str) -> str:
        return f"dubbing:login-fail:{username}:{client}"

    def _local_count(self, key: str, now: float) -> int:
        with self._lock:
            hits = [t for t in self._local.get(key, []) if now - t < self.window_s]
            self._local[key] = hits
            return len(hits)

    def blocked(self, username: str, client: str) -> bool:
        key = self._key(username, client)
        now = time.time()
        count = self._local_count(key, now)
        r = self.link.client()
        if r is not None:
            try:
                count = max(count, int(r.get(key) or 0))
            except redis.RedisError:
                self.link.failed()
        return count >= self.max_failures

    def failure(self, username: str, client: str) -> None:
        key = self._key(username, client)
        with self._lock:
            self._local.setdefault(key, []).append(time.time())
        r = self.link.client()
        if r is not None:
            try:
                pipe = r.pipeline()
                pipe.incr(key)
                pipe.expire(key, self.window_s)
                pipe.execute()
            except redis.RedisError:
                self.link.failed()

    def success(self, username: str, client: str) -> None:
        key = self._key(username, client)
        with self._lock:
            self._local.pop(key, None)
        r = self.link.client()
        if r is not None:
            try:
                r.delete(key)
            except redis.RedisError:
                self.link.failed()
