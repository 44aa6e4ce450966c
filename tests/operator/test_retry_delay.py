"""The reconcile's backoff after failures: doubling per consecutive failure, jittered, capped; reset by a success."""

from __future__ import annotations

import asyncio
import random

import pytest
import urllib3
from kubernetes.client.rest import ApiException

from dubbing_operator import engine as engine_module
from dubbing_operator.retrydelay import MAX_DELAY_SECONDS, retry_delay

from .test_engine_workers import make_engine


def upper(lo: float, hi: float) -> float:
    return hi


def lower(lo: float, hi: float) -> float:
    return lo


def test_the_ceiling_doubles_per_failure_and_is_capped():
    assert [retry_delay(n, uniform=upper) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert retry_delay(50, uniform=upper) == MAX_DELAY_SECONDS
    assert retry_delay(10_000, uniform=upper) == MAX_DELAY_SECONDS  # no overflow for a job failing for days


def test_a_conflict_is_retried_sooner_at_first():
    assert retry_delay(1, conflict=True, uniform=upper) < retry_delay(1, uniform=upper)


def test_the_delay_is_spread_over_the_upper_half_of_the_ceiling():
    rng = random.Random(7)
    draws = [retry_delay(3, uniform=rng.uniform) for _ in range(500)]
    assert min(draws) >= 2.0 and max(draws) <= 4.0
    assert max(draws) - min(draws) > 1.5  # spread, so that jobs failing together do not retry in step
    assert retry_delay(3, uniform=lower) == 2.0


@pytest.mark.parametrize(
    "error",
    [ApiException(status=500, reason="Internal"), urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out")],
    ids=["api-error", "timeout"],
)
def test_the_engine_backs_off_per_job_and_forgets_after_a_success(monkeypatch, error):
    asked: list[int] = []

    def fake_delay(failures: int, conflict: bool = False) -> float:
        asked.append(failures)
        return 0.01

    monkeypatch.setattr(engine_module, "retry_delay", fake_delay)

    async def main():
        engine = make_engine(1)
        calls = 0

        async def reconcile(key: str) -> None:
            nonlocal calls
            calls += 1
            if calls <= 3:
                raise error

        engine.stub = reconcile
        engine.trigger("ns/j")
        while calls < 4:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.02)
        failures_after = dict(engine._failures)
        await engine.stop()
        return failures_after

    assert asyncio.run(asyncio.wait_for(main(), 10)) == {}
    assert asked == [1, 2, 3]  # three failures in a row: three growing delays; the success reset the count
