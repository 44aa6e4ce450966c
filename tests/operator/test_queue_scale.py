"""A long queue stays cheap: positions deep in it are written within a tenth, the plan is computed
once per change, and only the head of the queue is looked at again when a job starts or ends."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from dubbing_operator.actions import PatchStatus
from dubbing_operator.admission import Admission, QueueEntry
from dubbing_operator.decisions import ClusterView, decide, queued_rendering
from dubbing_operator.engine import Engine
from dubbing_operator.settings import Settings

from .helpers import T0, ListOnlyKube, make_job


def test_positions_are_exact_near_the_head_and_within_a_tenth_deeper():
    assert queued_rendering(None, 3, "all 1 GPU job slot(s) are taken") == (
        3, "position 3 in the queue: all 1 GPU job slot(s) are taken")  # fmt: skip
    assert queued_rendering(4, 3, "")[0] == 3
    assert queued_rendering(12, 10, "")[0] == 10  # the head is exact
    assert queued_rendering(500, 460, "x") == (500, "about position 500 in the queue: x")
    assert queued_rendering(500, 449, "x") == (449, "about position 449 in the queue: x")
    assert queued_rendering(None, 11, "")[1] == "about position 11 in the queue"  # deeper than the exact head
    assert queued_rendering(500, 551, "x")[0] == 551  # moved back (a job of higher priority came)
    assert queued_rendering(None, None, "waiting for the operator's first full view of the queue") == (
        None, "waiting for the operator's first full view of the queue")  # fmt: skip


def test_a_deep_job_whose_place_still_stands_writes_no_status():
    written = queued_rendering(None, 300, "all 2 GPU job slot(s) are taken")
    job = make_job(
        status={"phase": "Queued", "reason": "WaitingForSlot", "queuePosition": written[0], "message": written[1]}
    )
    first = [
        a
        for a in decide(job, [], ClusterView(False, 300, "all 2 GPU job slot(s) are taken"), Settings(), T0)
        if isinstance(a, PatchStatus)
    ]
    job = make_job(status=first[0].status)
    later = decide(job, [], ClusterView(False, 290, "all 2 GPU job slot(s) are taken"), Settings(), T0)
    assert not [a for a in later if isinstance(a, PatchStatus)]
    moved = decide(job, [], ClusterView(False, 260, "all 2 GPU job slot(s) are taken"), Settings(), T0)
    [patch] = [a for a in moved if isinstance(a, PatchStatus)]
    assert patch.status["queuePosition"] == 260


def entry(i: int, user: str = "u", active: bool = False) -> QueueEntry:
    return QueueEntry(f"ns/j{i}", user, 0, T0 + timedelta(seconds=i), True, active)


def test_the_plan_is_computed_again_only_after_a_change():
    adm = Admission(1, 10, None)
    adm.replace_all({e.key: e for e in [entry(0, active=True)] + [entry(i) for i in range(1, 50)]})
    p = adm.current_plan()
    assert adm.current_plan() is p
    adm.update(entry(5), "ns/j5")  # the same entry again: no change
    assert adm.current_plan() is p and p.positions["ns/j1"] == 1 and p.admit == []
    assert p.head(3) == ["ns/j1", "ns/j2", "ns/j3"]
    adm.update(None, "ns/j0")  # the running job went away: a slot is free
    p2 = adm.current_plan()
    assert p2 is not p and p2.admit == ["ns/j1"] and p2.positions["ns/j2"] == 1
    assert adm.decide("ns/j1")[0] is True
    assert adm.current_plan().admit == [] and adm.current_plan().positions["ns/j2"] == 1


def test_a_job_start_triggers_only_the_head_of_a_long_queue():
    adm = Admission(1, 10, None)
    adm.replace_all({e.key: e for e in [entry(i) for i in range(200)]})
    engine = Engine(None, Settings(), adm)  # type: ignore[arg-type]
    triggered: list[str] = []
    engine.trigger = triggered.append  # type: ignore[method-assign]
    from dubbing.api.v1alpha1 import DubbingJobStatus

    assert adm.decide("ns/j0")[0]
    engine._after_status("ns/j0", DubbingJobStatus(phase="Queued"), DubbingJobStatus(phase="Running"))
    assert triggered == [f"ns/j{i}" for i in range(1, 11)]


def test_resync_leaves_alone_waiting_jobs_whose_written_place_stands():
    why = "all 1 GPU job slot(s) are taken"
    running = make_job(name="j0", status={"phase": "Running", "startedAt": "2025-01-01T12:00:00Z"})
    jobs = [running]
    for i in range(1, 40):
        pos, msg = queued_rendering(None, i + 2, why)  # written when two more jobs were ahead
        job = make_job(
            name=f"j{i}", status={"phase": "Queued", "reason": "WaitingForSlot", "queuePosition": pos, "message": msg}
        )
        job.metadata.creationTimestamp = T0 + timedelta(seconds=i)
        jobs.append(job)
    engine = Engine(ListOnlyKube(jobs), Settings(resync_seconds=10), Admission(1, 10, None))  # type: ignore[arg-type]
    triggered: list[str] = []
    engine.trigger = triggered.append  # type: ignore[method-assign]
    asyncio.run(engine.resync())
    # each is now two places ahead of its written one: j1..j10 are at the head (exact), j11..j17
    # were written at 13..19 (a tenth is 1 place); from j18 (written 20) two places are within a tenth
    assert "ns/j0" in triggered
    assert [k for k in triggered if k != "ns/j0"] == [f"ns/j{i}" for i in range(1, 18)]
