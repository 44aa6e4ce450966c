"""The operator's economies of API calls, as pure decisions: which status writes may wait to be merged,
which log reads are worth it, the budget of routine Events, and the job copy kept from the watch."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from dubbing.api.v1alpha1 import DubbingJobStatus
from dubbing_operator.actions import PatchStatus
from dubbing_operator.decisions import ClusterView, decide, final_log_wanted, log_read_due, routine_update
from dubbing_operator.eventbudget import TokenBucket
from dubbing_operator.jobcopies import JobCopies, copy_of, supersedes
from dubbing_operator.observe import summary_log_line, view_pod
from dubbing_operator.settings import Settings

from .helpers import T0, make_job, make_pod


def owned(pod: dict) -> dict:
    pod["metadata"]["ownerReferences"] = [{"uid": "uid-1"}]
    return pod


def status_after(job, pods, at=T0 + timedelta(seconds=30)) -> DubbingJobStatus:
    [patch] = [a for a in decide(job, pods, ClusterView(admitted=True), Settings(), at) if isinstance(a, PatchStatus)]
    return DubbingJobStatus.model_validate(patch.status)


def test_a_stage_pod_that_reaches_a_node_and_starts_is_routine_but_a_new_pod_or_an_end_is_not():
    created = status_after(make_job(), [])  # admitted: the first stage's Pod is created
    job = make_job(status=created.model_dump(mode="json", exclude_none=True))
    assert not routine_update(DubbingJobStatus(), created)  # the job starts: written at once
    pending = view_pod(make_pod("extract", phase="Pending", started=None, finished=None, node=None))
    running = view_pod(make_pod("extract", phase="Running", finished=None))
    assert routine_update(job.status, status_after(job, [pending]))
    assert routine_update(job.status, status_after(job, [running]))
    done = view_pod(make_pod("extract"))
    assert not routine_update(job.status, status_after(job, [done]))  # the stage ended: next Pod, at once


def test_a_wait_for_a_node_is_not_routine():
    created = status_after(make_job(), [])
    job = make_job(status=created.model_dump(mode="json", exclude_none=True))
    waiting = view_pod(make_pod("extract", phase="Pending", started=None, finished=None, node=None,
                                unschedulable="0/2 nodes are available"))  # fmt: skip
    assert not routine_update(job.status, status_after(job, [waiting]))


def test_log_reads_of_running_pods_once_a_period():
    assert not log_read_due(None, 1.0, 5.0)  # just started: its progress is no news yet
    assert log_read_due(None, 5.0, 5.0)
    assert not log_read_due(2.0, 60.0, 5.0) and log_read_due(5.5, 60.0, 5.0)
    assert not log_read_due(None, None, 5.0)


class LogCountingKube:
    def __init__(self) -> None:
        self.reads = 0

    def last_log_line(self, namespace: str, name: str) -> str | None:
        self.reads += 1
        return None


def test_with_many_jobs_running_a_running_pods_log_is_read_once_a_stretched_period():
    from datetime import UTC, datetime

    from dubbing_operator.admission import Admission
    from dubbing_operator.engine import Engine

    kube = LogCountingKube()
    engine = Engine(kube, Settings(running_poll_seconds=5, max_polls_per_second=20), Admission(10, 10, None))  # type: ignore[arg-type]
    started = datetime.now(UTC) - timedelta(seconds=20)  # it has run longer than the 5 s period
    pod = view_pod(make_pod("asr", phase="Running", started=started, finished=None))
    job = make_job()

    def read() -> int:
        before = kube.reads
        asyncio.run(engine._log_lines("ns/clip", "ns", [pod], job.status or DubbingJobStatus(), 0))
        return kube.reads - before

    engine.poll_seconds = lambda: 50.0  # type: ignore[method-assign]  # 1,000 running, at most 20 looks a second
    assert read() == 0  # 20 s in: not yet (it would be with the unstretched 5 s)
    engine.poll_seconds = lambda: 5.0  # type: ignore[method-assign]  # few running
    assert read() == 1 and read() == 0  # read, then not again within the period


def test_a_finished_pods_log_is_read_only_without_a_summary_line():
    with_line = view_pod(make_pod("asr", summary={"stage": "asr", "ok": True, "lastLogLine": "[asr] 100.0% done"}))
    without = view_pod(make_pod("asr"))
    failed = view_pod(make_pod("asr", phase="Failed", exit_code=1,
                               summary={"stage": "asr", "ok": False, "lastLogLine": "[asr]  40.0% x"}))  # fmt: skip
    assert summary_log_line(with_line) == "[asr] 100.0% done" and summary_log_line(without) is None
    assert not final_log_wanted(with_line, "clip-asr-1", "Running")
    assert final_log_wanted(without, "clip-asr-1", "Running")
    assert final_log_wanted(failed, "clip-asr-1", "Running")  # a failure's last words come from its log
    assert not final_log_wanted(without, "clip-asr-1", "Succeeded")  # its end is written already


def test_the_summary_line_becomes_the_stages_last_log_line():
    job = make_job(status={"phase": "Running", "startedAt": "2025-01-01T12:00:00Z"})
    pod = view_pod(make_pod("extract", summary={"stage": "extract", "ok": True, "lastLogLine": "[extract] 100.0% ok"}))
    st = status_after(job, [pod])
    assert {s.name: s for s in st.stages or []}["extract"].lastLogLine == "[extract] 100.0% ok"


def test_token_bucket():
    bucket = TokenBucket(rate=2.0, burst=3.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert not bucket.take(0.2)
    assert bucket.take(0.6)  # 0.4 more seconds at 2/s: 1.2 tokens
    assert bucket.take(100.0) and bucket.tokens == 2.0  # never more than the burst


def test_the_newer_copy_of_a_job_is_kept():
    a = {"metadata": {"uid": "u", "resourceVersion": "10"}}
    b = {"metadata": {"uid": "u", "resourceVersion": "9"}}
    assert supersedes("u", "10", "u", "9") and not supersedes("u", "9", "u", "10")
    assert not supersedes("u", "10", "u", "10")  # the same version is not kept (nor encoded) again
    assert supersedes("v", "1", "u", "10")  # a new object, same name
    assert supersedes("u", "x", "u", "10") and not supersedes("u", "x", "u", "x")  # not a number: any other counts
    copies = JobCopies()
    copies.offer("ns/j", a)
    copies.offer("ns/j", b)  # an older copy (a late watch event) does not replace the newer one
    assert copies.version("ns/j") == "10"
    copies.put("ns/j", b)  # the answer to this process's own write always does
    assert copies.version("ns/j") == "9"
    a["metadata"] |= {"namespace": "ns", "name": "j"}
    copies.offer_copy(copy_of(a))  # a list's copy, newer
    assert copies.version("ns/j") == "10"
    copies.offer_copy(copy_of(b | {"metadata": {**b["metadata"], "namespace": "ns", "name": "j"}}))  # older
    assert copies.version("ns/j") == "10"


def test_a_kept_copy_drops_managed_fields_and_is_a_fresh_dict_each_time():
    job = {
        "metadata": {"uid": "u", "resourceVersion": "3", "name": "j", "managedFields": [{"manager": "x"}] * 50},
        "status": {"phase": "Running"},
    }
    copies = JobCopies()
    copies.offer("ns/j", job)
    got = copies.get("ns/j")
    assert got is not None and "managedFields" not in got["metadata"] and got["status"] == {"phase": "Running"}
    got["status"]["phase"] = "changed by a caller"
    assert copies.get("ns/j")["status"] == {"phase": "Running"}  # type: ignore[index]
    assert "managedFields" in job["metadata"]  # the caller's object is left as it was


def test_admitting_a_burst_of_jobs_computes_the_plan_once(monkeypatch):
    from dubbing_operator import admission as adm_mod
    from dubbing_operator.admission import Admission, QueueEntry

    calls = []
    real_plan = adm_mod.plan

    def counting_plan(*args, **kwargs):
        calls.append(1)
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(adm_mod, "plan", counting_plan)
    adm = Admission(100, 100, None)
    entries = {f"ns/j{i}": QueueEntry(f"ns/j{i}", "u", 0, T0 + timedelta(seconds=i), True, False) for i in range(50)}
    adm.replace_all(entries)
    for key in entries:
        assert adm.decide(key)[0] is True
    assert len(calls) == 1 and adm.current_plan().admit == [] and adm.current_plan().running_gpu == 50
    for key, e in entries.items():  # each shows up active: the same slot, no new plan
        adm.update(QueueEntry(e.key, e.user, e.priority, e.created, e.needs_gpu, True), key)
    assert len(calls) == 1 and adm.active_count() == 50
    adm.update(None, "ns/j0")  # one ended: a slot is free, the plan is made again
    assert adm.current_plan().running_gpu == 49 and len(calls) == 2 and adm.active_count() == 49


def test_with_many_jobs_running_a_routine_write_waits_the_stretched_period():
    """A Pod that started is news worth a write only with its progress, at most once a period that
    stretches with the number of running jobs; a stage's end is written at once."""
    from dubbing_operator.admission import Admission
    from dubbing_operator.engine import Engine

    engine = Engine(
        LogCountingKube(), Settings(running_poll_seconds=5, max_polls_per_second=10), Admission(10, 10, None)
    )  # type: ignore[arg-type]
    created = status_after(make_job(), [])
    job = make_job(status=created.model_dump(mode="json", exclude_none=True))
    running = view_pod(make_pod("extract", phase="Running", finished=None))
    started = [a for a in decide(job, [running], ClusterView(admitted=True), Settings(), T0 + timedelta(seconds=30))]
    assert routine_update(
        created, DubbingJobStatus.model_validate(next(a for a in started if isinstance(a, PatchStatus)).status)
    )
    later: list[float] = []
    engine.trigger_later = lambda key, after: later.append(after)  # type: ignore[method-assign]

    engine.poll_seconds = lambda: 100.0  # type: ignore[method-assign]  # 1,000 running, 10 looks a second
    assert engine._hold_back("ns/clip", created, started)  # held...
    assert later and 99.0 < later[-1] <= 100.0  # ...for the stretched period, not the 5 s one
    engine.poll_seconds = lambda: 0.0  # type: ignore[method-assign]  # the period has passed
    assert not engine._hold_back("ns/clip", created, started)  # written now, with what came meanwhile
    done = [
        a
        for a in decide(
            job, [view_pod(make_pod("extract"))], ClusterView(admitted=True), Settings(), T0 + timedelta(seconds=30)
        )
    ]
    assert not engine._hold_back("ns/clip", created, done)  # a stage's end is never held
