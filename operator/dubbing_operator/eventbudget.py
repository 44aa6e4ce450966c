"""A token bucket for the Events every stage tells (``StageStarted``, ``StageSucceeded``).

With a handful of jobs each of them is posted; with thousands of jobs moving at once they
would be most of the operator's API calls, so beyond ``rate`` a second (after a ``burst``)
they are dropped and counted.  Warnings and the job's own Events (admitted, finished,
failed, retried) are never held back.  The client-go event recorder limits its Events
per object in the same spirit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TokenBucket:
    rate: float  # tokens added per second
    burst: float  # most tokens held
    tokens: float = -1.0  # starts full
    at: float | None = None  # when ``tokens`` was last brought up to date

    def take(self, now: float) -> bool:
        """Spend one token if there is one (``now``: a monotonic clock in seconds)."""
        if self.tokens < 0:
            self.tokens = self.burst
        if self.at is not None:
            self.tokens = min(self.burst, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
