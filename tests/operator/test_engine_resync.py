"""The resync safety net leaves alone the jobs that were looked at within the last period."""

from __future__ import annotations

import asyncio
import time

import pytest

from dubbing_operator.admission import Admission
from dubbing_operator.engine import Engine
from dubbing_operator.settings import Settings

from .helpers import ListOnlyKube, make_job


def test_resync_triggers_only_jobs_not_reconciled_within_the_period():
    jobs = [make_job(name=f"j{i}", status={"phase": "Running", "startedAt": "2025-01-01T12:00:00Z"}) for i in range(3)]
    engine = Engine(ListOnlyKube(jobs), Settings(resync_seconds=10), Admission(10, 10, None))  # type: ignore[arg-type]
    triggered: list[str] = []
    engine.trigger = triggered.append  # type: ignore[method-assign]
    engine._last_reconciled["ns/j0"] = time.monotonic()  # just looked at (an event, a poll)
    engine._last_reconciled["ns/j1"] = time.monotonic() - 60  # long ago
    asyncio.run(engine.resync())
    assert sorted(triggered) == ["ns/j1", "ns/j2"]
    assert engine.admission.synced and set(engine.admission.entries) == {"ns/j0", "ns/j1", "ns/j2"}


class CountingListKube(ListOnlyKube):
    def __init__(self, jobs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(jobs)
        self.lists = 0

    def list_jobs(self, namespace):  # type: ignore[no-untyped-def]
        self.lists += 1
        return super().list_jobs(namespace)


def running_jobs_engine(n: int, kube_class: type[CountingListKube] = CountingListKube):  # type: ignore[no-untyped-def]
    """An engine over ``n`` running jobs that lists them at most every 300 s; the jobs it triggers."""
    jobs = [make_job(name=f"j{i}", status={"phase": "Running", "startedAt": "2025-01-01T12:00:00Z"}) for i in range(n)]
    kube = kube_class(jobs)
    engine = Engine(kube, Settings(resync_seconds=10, relist_seconds=300), Admission(10, 10, None))  # type: ignore[arg-type]
    triggered: list[str] = []
    engine.trigger = triggered.append  # type: ignore[method-assign]
    return jobs, kube, engine, triggered


def test_between_full_lists_the_resync_works_from_the_watched_copies():
    _, kube, engine, _ = running_jobs_engine(3)
    asyncio.run(engine.resync())
    assert kube.lists == 1 and set(engine.admission.entries) == {"ns/j0", "ns/j1", "ns/j2"}

    # the watch brings a new job, another's deletion, and a third that finished
    new = make_job(name="j3", status={"phase": "Running", "startedAt": "2025-01-01T12:00:00Z"})
    engine.observe_job("ns/j3", new.model_dump(mode="json", by_alias=True, exclude_none=True))
    engine.observe_job("ns/j0", None)
    done = make_job(name="j1", status={"phase": "Succeeded"})
    body = done.model_dump(mode="json", by_alias=True, exclude_none=True)
    body["metadata"]["resourceVersion"] = "99"
    engine.observe_job("ns/j1", body)
    asyncio.run(engine.resync())
    assert kube.lists == 1  # no second list within the period
    assert set(engine.admission.entries) == {"ns/j2", "ns/j3"}


def test_a_full_list_drops_the_copy_of_a_job_deleted_while_the_watch_was_away():
    jobs, kube, engine, triggered = running_jobs_engine(2)
    asyncio.run(engine.resync())
    kube.jobs = jobs[:1]  # j1 deleted; its DELETED event never came
    engine._next_list_at = time.monotonic()  # the period is over
    triggered.clear()
    asyncio.run(engine.resync())
    assert kube.lists == 2 and set(engine.admission.entries) == {"ns/j0"}
    assert "ns/j1" not in engine._jobs and "ns/j1" in triggered  # its reconcile reads it afresh (and finds it gone)


class FailingListKube(CountingListKube):
    fail = False

    def list_jobs(self, namespace):  # type: ignore[no-untyped-def]
        if self.fail:
            self.lists += 1
            raise TimeoutError("the API server took too long")
        return super().list_jobs(namespace)


def test_a_failed_list_falls_back_to_the_copies_and_is_tried_again_a_minute_later():
    _, kube, engine, _ = running_jobs_engine(1, FailingListKube)
    kube.fail = True
    with pytest.raises(TimeoutError):  # the first list must succeed: nothing is admitted before it
        asyncio.run(engine.resync())
    kube.fail = False
    asyncio.run(engine.resync())
    kube.fail = True
    engine._next_list_at = time.monotonic()
    asyncio.run(engine.resync())  # no exception: the copies stand in
    assert kube.lists == 3 and set(engine.admission.entries) == {"ns/j0"}
    assert 50 < engine._next_list_at - time.monotonic() <= 60
    asyncio.run(engine.resync())
    assert kube.lists == 3  # not again at once


def test_after_a_full_list_the_free_heap_pages_are_handed_back_and_not_between_lists(monkeypatch):
    from dubbing_operator import heap

    calls: list[int] = []
    monkeypatch.setattr(heap, "give_back_free_pages", lambda: calls.append(1) or True)
    _, kube, engine, _ = running_jobs_engine(3)
    asyncio.run(engine.resync())
    assert kube.lists == 1 and calls == [1]
    asyncio.run(engine.resync())  # within the period: from the copies, nothing freed in bulk
    assert kube.lists == 1 and calls == [1]
    engine._next_list_at = time.monotonic()
    asyncio.run(engine.resync())
    assert kube.lists == 2 and calls == [1, 1]
