"""The engine's workers over its work queue, with a stand-in reconcile (no cluster)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import cast

from kubernetes.client.rest import ApiException

from dubbing_operator.admission import Admission
from dubbing_operator.engine import Engine
from dubbing_operator.kube import Kube
from dubbing_operator.settings import Settings


class StubEngine(Engine):
    """An engine whose reconcile is a stand-in."""

    def __init__(self, workers: int) -> None:
        super().__init__(cast(Kube, None), Settings(api_workers=workers), Admission(10, 10, None))
        self.stub: Callable[[str], Awaitable[None]] | None = None

    async def reconcile(self, key: str) -> None:
        assert self.stub is not None
        await self.stub(key)


def make_engine(workers: int) -> StubEngine:
    return StubEngine(workers)


def test_reconciles_run_at_most_api_workers_at_once_and_one_per_job():
    async def main():
        engine = make_engine(3)
        running: list[str] = []
        peak = 0
        overlaps: list[str] = []
        done: list[str] = []

        async def reconcile(key: str) -> None:
            nonlocal peak
            if key in running:
                overlaps.append(key)
            running.append(key)
            peak = max(peak, len(running))
            await asyncio.sleep(0.01)
            if key == "ns/j0" and done.count(key) == 0:
                engine.trigger(key)  # a change seen while it runs: looked at once more, afterwards
                engine.trigger(key)
            running.remove(key)
            done.append(key)

        engine.stub = reconcile
        for i in range(8):
            engine.trigger(f"ns/j{i}")
            engine.trigger(f"ns/j{i}")  # coalesced
        while len(done) < 9:
            await asyncio.sleep(0.005)
        await engine.stop()
        return peak, overlaps, sorted(done), done[:3]

    peak, overlaps, done, first = asyncio.run(asyncio.wait_for(main(), 10))
    assert peak == 3 and overlaps == []
    assert done == sorted(["ns/j0", "ns/j0"] + [f"ns/j{i}" for i in range(1, 8)])
    assert sorted(first) == ["ns/j0", "ns/j1", "ns/j2"]  # started in the order asked for


def test_a_failed_reconcile_is_retried_later():
    async def main():
        engine = make_engine(2)
        calls: list[str] = []

        async def reconcile(key: str) -> None:
            calls.append(key)
            if len(calls) == 1:
                raise ApiException(status=409, reason="Conflict")

        engine.stub = reconcile
        engine.trigger("ns/j")
        while len(calls) < 2:
            await asyncio.sleep(0.01)
        await engine.stop()
        return calls, "ns/j" in engine._last_reconciled

    assert asyncio.run(asyncio.wait_for(main(), 10)) == (["ns/j", "ns/j"], True)


def test_a_deleted_job_is_forgotten_once_nobody_waits_for_it():
    async def main():
        engine = make_engine(1)

        async def reconcile(key: str) -> None:
            engine._own_versions[key] = "7"
            engine._gone.add(key)

        engine.stub = reconcile
        engine.trigger("ns/j")
        await asyncio.sleep(0.05)
        await engine.stop()
        return dict(engine._last_reconciled), dict(engine._own_versions), set(engine._gone)

    assert asyncio.run(asyncio.wait_for(main(), 10)) == ({}, {}, set())
