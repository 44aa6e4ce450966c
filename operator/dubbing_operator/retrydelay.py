"""How long a job's reconcile waits after it failed: exponential backoff with jitter.

A reconcile fails when the API server refuses a write (409: someone wrote first), answers an error,
or does not answer in time. Retrying at a fixed pace makes thousands of jobs hammer an API server
that is already struggling, in step; doubling the delay per consecutive failure of that job, and
spreading each delay randomly over its upper half, lets it recover. A conflict is retried quickly
at first: it only means the job changed meanwhile.
"""

from __future__ import annotations

import random
from collections.abc import Callable

FIRST_DELAY_SECONDS = 1.0
FIRST_CONFLICT_DELAY_SECONDS = 0.2
MAX_DELAY_SECONDS = 60.0


def retry_delay(
    failures: int, *, conflict: bool = False, uniform: Callable[[float, float], float] = random.uniform
) -> float:
    """Seconds before the next reconcile of a job whose last ``failures`` (>= 1) reconciles failed.

    The ceiling doubles per failure from the first delay up to ``MAX_DELAY_SECONDS``; the delay is
    drawn from ``[ceiling / 2, ceiling]``.
    """
    first = FIRST_CONFLICT_DELAY_SECONDS if conflict else FIRST_DELAY_SECONDS
    ceiling = min(MAX_DELAY_SECONDS, first * 2 ** min(max(failures, 1) - 1, 30))
    return uniform(ceiling / 2, ceiling)
