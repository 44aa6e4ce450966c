"""The resync safety net leaves alone the jobs that were looked at within the last period."""

from __future__ import annotations

import asyncio
import time

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
