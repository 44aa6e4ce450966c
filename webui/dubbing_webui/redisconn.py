"""Redis, when it is there: a client with short timeouts and a cached health flag.

Nothing authoritative lives in Redis; when it is down, callers fall back and the
pages show a "degraded" banner.
"""

from __future__ import annotations

import logging
import time

import redis

log = logging.getLogger(__name__)


class RedisLink:
    def __init__(self, url: str | None, recheck_s: float = 2.0) -> None:
        self.url = url
        self._recheck_s = recheck_s
        self._client = (
            redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5, health_check_interval=5)
            if url
            else None
        )
        self._ok = False
        self._checked = 0.0

    @property
    def configured(self) -> bool:
        return self._client is not None

    def client(self) -> redis.Redis | None:
        """The client if Redis answered recently, else None (callers use their fallback)."""
        return self._client if self.available() else None

    def available(self) -> bool:
        if self._client is None:
            return False
        now = time.monotonic()
        if now - self._checked >= self._recheck_s:
            self._checked = now
            try:
                self._ok = bool(self._client.ping())
            except redis.RedisError as exc:
                if self._ok:
                    log.warning("redis unavailable: %s", exc)
                self._ok = False
        return self._ok

    def failed(self) -> None:
        """A caller saw an error: treat Redis as down until the next check."""
        self._ok = False
        self._checked = time.monotonic()

    @property
    def degraded(self) -> bool:
        """Configured but not answering."""
        return self.configured and not self.available()
