"""The Pod cache: what a watch event does to it, and when a reconcile may trust it over a LIST."""

from __future__ import annotations

import asyncio
from typing import Any

from dubbing.api.v1alpha1 import DubbingJobStatus
from dubbing_operator.admission import Admission
from dubbing_operator.decisions import ClusterView, decide
from dubbing_operator.engine import POD_WATCH_GRACE_SECONDS, Engine
from dubbing_operator.observe import view_pod
from dubbing_operator.podcache import PodCache, controller_job, covers
from dubbing_operator.settings import Settings

from .helpers import T0, make_job, make_pod

KEY = "ns/clip"


def owned(pod: dict[str, Any], uid: str = "uid-1", name: str = "clip") -> dict[str, Any]:
    pod["metadata"]["ownerReferences"] = [
        {"apiVersion": "dubbing.dev/v1alpha1", "kind": "DubbingJob", "name": name, "uid": uid, "controller": True}
    ]
    return pod


def status(**stages: tuple[str, str]) -> DubbingJobStatus:
    """A Running job's status naming, per stage, (phase, Pod name)."""
    return DubbingJobStatus.model_validate(
        {"phase": "Running", "stages": [{"name": s, "phase": ph, "podName": pod} for s, (ph, pod) in stages.items()]}
    )


def test_controller_job_is_the_owning_dubbingjob():
    assert controller_job(owned(make_pod("extract"))) == (KEY, "uid-1")
    other = make_pod("extract")
    other["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "x", "uid": "u", "controller": True}]
    assert controller_job(other) is None
    assert controller_job(make_pod("extract")) is None


def test_cache_is_unusable_until_the_first_list_then_follows_events():
    cache = PodCache()
    assert cache.pods(KEY, "uid-1") is None
    assert cache.replace([]) == set() and cache.pods(KEY, "uid-1") == []
    cache.apply("ADDED", KEY, "uid-1", view_pod(make_pod("extract", phase="Pending", node=None)))
    cache.apply("MODIFIED", KEY, "uid-1", view_pod(make_pod("extract", phase="Running")))
    [pod] = cache.pods(KEY, "uid-1") or []
    assert pod.phase == "Running" and pod.node == "dev-cpu-0"
    cache.apply("ADDED", KEY, "uid-old", view_pod(make_pod("asr")))  # a Pod of an earlier job of that name
    assert [p.stage for p in cache.pods(KEY, "uid-1") or []] == ["extract"]
    cache.apply("DELETED", KEY, "uid-1", view_pod(make_pod("extract")))
    cache.apply("DELETED", KEY, "uid-old", view_pod(make_pod("asr")))
    assert cache.pods(KEY, "uid-1") == [] and len(cache) == 0


def test_a_new_list_reports_the_jobs_whose_pods_changed():
    cache = PodCache()
    a, b = view_pod(make_pod("extract", job="a")), view_pod(make_pod("extract", job="b"))
    cache.replace([("ns/a", "u", a), ("ns/b", "u", b)])
    assert len(cache) == 2
    b_done = view_pod(make_pod("separate", job="b"))
    c = view_pod(make_pod("extract", job="c"))
    changed = cache.replace([("ns/b", "u", b), ("ns/b", "u", b_done), ("ns/c", "u", c)])
    assert changed == {"ns/a", "ns/b", "ns/c"}  # a's Pod went, b got one, c is new
    assert cache.replace([("ns/b", "u", b), ("ns/b", "u", b_done), ("ns/c", "u", c)]) == set()


def test_covers_wants_every_pod_the_status_names_at_least_as_far_along():
    running = view_pod(make_pod("extract", phase="Running"))
    pending = view_pod(make_pod("extract", phase="Pending", node=None))
    done = view_pod(make_pod("extract"))
    assert covers(None, [])
    assert covers(status(extract=("Pending", "clip-extract-1")), [pending])
    assert covers(status(extract=("Pending", "clip-extract-1")), [done])  # the cache may be ahead
    assert not covers(status(extract=("Pending", "clip-extract-1")), [])  # just created: not seen yet
    assert not covers(status(extract=("Running", "clip-extract-1")), [pending])
    assert not covers(status(extract=("Succeeded", "clip-extract-1")), [running])
    assert covers(status(extract=("Succeeded", "clip-extract-1")), [done])
    assert covers(status(extract=("Running", "clip-extract-1")), [], absent={"clip-extract-1"})
    assert covers(status(extract=("Cancelled", "clip-extract-1")), [])  # nothing to compare
    # a succeeded stage's result is in the status: its Pod may be gone (the cluster's garbage
    # collection of terminated Pods deletes them past a threshold) without a LIST to prove it
    assert covers(status(extract=("Succeeded", "clip-extract-1")), [])
    assert not covers(status(extract=("Failed", "clip-extract-1")), [])  # a failed attempt still counts


class CountingKube:
    """The two reads a reconcile does before deciding, counted; Pods as the API server has them."""

    def __init__(self, job: dict[str, Any], pods: list[dict[str, Any]]) -> None:
        self.job, self.pods, self.lists = job, pods, 0

    def get_job(self, namespace: str, name: str) -> dict[str, Any]:
        return self.job

    def job_pods(self, namespace: str, name: str, uid: str) -> list[dict[str, Any]]:
        self.lists += 1
        return self.pods


def pods_for(engine: Engine, job) -> list:
    return asyncio.run(engine._job_pods(KEY, job, job.status or DubbingJobStatus()))


def test_a_lagging_cache_is_not_trusted_and_a_pod_is_declared_lost_only_by_a_list():
    job = make_job(status={"phase": "Running", "startedAt": "2025-01-01T12:00:00Z",
                           "stages": [{"name": "extract", "phase": "Running", "podName": "clip-extract-1", "attempts": 1}]})  # fmt: skip
    api_pod = owned(make_pod("extract", phase="Running"))
    kube = CountingKube(job.model_dump(mode="json", by_alias=True, exclude_none=True), [api_pod])
    cache = PodCache()
    cache.replace([])  # the watch has not shown the Pod yet
    engine = Engine(kube, Settings(), Admission(10, 10, None), pod_cache=cache)  # type: ignore[arg-type]

    # for a while the watch is waited for (its event triggers the job): no decision, no LIST
    assert pods_for(engine, job) is None and kube.lists == 0
    engine._lagging[KEY] -= POD_WATCH_GRACE_SECONDS  # it did not come in time: the API server is asked
    pods = pods_for(engine, job)
    assert kube.lists == 1 and [p.name for p in pods] == ["clip-extract-1"]
    # had the stale cache been used, the stage's Pod would count as lost and a second attempt start
    stale = decide(job, [], ClusterView(admitted=True), Settings(), T0)
    assert any(getattr(a, "name", "") == "clip-extract-2" for a in stale)
    assert not any(
        getattr(a, "name", "") == "clip-extract-2"
        for a in decide(job, pods, ClusterView(admitted=True), Settings(), T0)
    )

    cache.apply("ADDED", KEY, "uid-1", view_pod(api_pod))  # the watch caught up
    assert [p.name for p in pods_for(engine, job)] == ["clip-extract-1"] and kube.lists == 1


def test_a_pod_a_list_found_gone_may_be_missing_from_the_cache():
    job = make_job(status={"phase": "Running", "startedAt": "2025-01-01T12:00:00Z",
                           "stages": [{"name": "extract", "phase": "Running", "podName": "clip-extract-1", "attempts": 1}]})  # fmt: skip
    kube = CountingKube(job.model_dump(mode="json", by_alias=True, exclude_none=True), [])  # evicted with its node
    cache = PodCache()
    cache.replace([])
    engine = Engine(kube, Settings(), Admission(10, 10, None), pod_cache=cache)  # type: ignore[arg-type]
    assert pods_for(engine, job) is None and kube.lists == 0  # the watch may still bring it
    engine._lagging[KEY] -= POD_WATCH_GRACE_SECONDS
    assert pods_for(engine, job) == [] and kube.lists == 1
    assert pods_for(engine, job) == [] and kube.lists == 1  # the LIST's word stands; no LIST per reconcile


def test_without_a_first_list_the_engine_lists():
    job = make_job(status={"phase": "Running", "startedAt": "2025-01-01T12:00:00Z"})
    kube = CountingKube(job.model_dump(mode="json", by_alias=True, exclude_none=True), [])
    engine = Engine(kube, Settings(), Admission(10, 10, None), pod_cache=PodCache())  # type: ignore[arg-type]
    assert pods_for(engine, job) == [] and kube.lists == 1
