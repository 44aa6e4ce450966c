"""Hollow Pods: a node that runs no process for the Pods bound to it.

Each Pod is reported Running (its containers started) as soon as it is seen, then,
after a set number of seconds, Succeeded with exit code 0 and the termination message
a stage would leave; a deletion removes the Pod at once.  That is the API traffic of a
real node without its processes, so one kubelet can carry thousands of Pods and a
benchmark measures the control loop, not the machine (the idea of kubemark's hollow
nodes).

No thread per Pod: one timer thread keeps a heap of what is due when, and a few writer
threads send the status writes and deletions as they fall due.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from devcluster.kubelet_api import ApiError, KubeApi, pod_path
from devcluster.kubelet_status import (
    DEADLINE_MESSAGE,
    DEADLINE_REASON,
    ContainerFacts,
    PodOutcome,
    pod_status,
)

log = logging.getLogger("devkubelet.hollow")

TERMINAL = ("Succeeded", "Failed")
#: The label a dubbing stage Pod carries; such a Pod's termination message is that stage's JSON summary.
STAGE_LABEL = "dubbing.dev/stage"
DEADLINE_EXIT = 137
RETRY_SECONDS = 1.0


# ----------------------------------------------------------------------------- pure parts


def hollow_message(pod: dict[str, Any], seconds: float) -> str:
    """The termination message of a hollow stage Pod: the one-line summary a stage writes
    (``dubbing.stages.termination``), claiming no outputs; empty for any other Pod."""
    stage = ((pod.get("metadata") or {}).get("labels") or {}).get(STAGE_LABEL)
    if not stage:
        return ""
    summary = {
        "stage": stage,
        "ok": True,
        "cacheHit": False,
        "backend": "hollow",
        "model": None,
        "durationSeconds": round(float(seconds), 3),
        "outputs": {},
        "reason": "Completed",
        "message": "",
        "lastLogLine": f"[{stage}] 100.0% done (hollow node: no process ran)",
    }
    return json.dumps(summary, separators=(",", ":"))


def run_plan(pod: dict[str, Any], seconds: float) -> tuple[float, PodOutcome | None] | None:
    """(seconds until the Pod ends, the outcome that overrides Succeeded) or None if it never ends.

    ``restartPolicy: Always`` Pods run until deleted; an ``activeDeadlineSeconds`` shorter
    than the run fails the Pod with DeadlineExceeded at the deadline.
    """
    spec = pod.get("spec") or {}
    if (spec.get("restartPolicy") or "Always") == "Always":
        return None
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and float(deadline) < seconds:
        return float(deadline), PodOutcome("Failed", DEADLINE_REASON, DEADLINE_MESSAGE)
    return seconds, None


def hollow_status(
    pod: dict[str, Any],
    *,
    started: datetime,
    finished: datetime | None,
    seconds: float,
    now: datetime,
    outcome: PodOutcome | None = None,
) -> dict[str, Any]:
    """The Pod's status: init containers done, main containers running (``finished`` None) or ended."""
    spec = pod.get("spec") or {}
    init = [
        ContainerFacts(
            c["name"],
            c.get("image", ""),
            "terminated",
            "Completed",
            started_at=started,
            finished_at=started,
            exit_code=0,
            container_id=f"hollow://{c['name']}",
        )  # fmt: skip
        for c in spec.get("initContainers") or []
    ]
    message = hollow_message(pod, seconds)
    main = []
    for c in spec.get("containers") or []:
        cid = f"hollow://{c['name']}"
        if finished is None:
            main.append(
                ContainerFacts(c["name"], c.get("image", ""), "running", "", started_at=started, container_id=cid)
            )
        elif outcome is not None:
            main.append(ContainerFacts(
                c["name"], c.get("image", ""), "terminated", outcome.reason, started_at=started,
                finished_at=finished, exit_code=DEADLINE_EXIT, container_id=cid,
            ))  # fmt: skip
        else:
            main.append(ContainerFacts(
                c["name"], c.get("image", ""), "terminated", "Completed", message=message, started_at=started,
                finished_at=finished, exit_code=0, container_id=cid,
            ))  # fmt: skip
    return pod_status(
        init=init,
        main=main,
        restart_policy=spec.get("restartPolicy") or "Always",
        start_time=started,
        now=now,
        previous_conditions=(pod.get("status") or {}).get("conditions") or [],
        outcome=outcome if finished is not None else None,
    )


# ----------------------------------------------------------------------------- the runner


@dataclass
class _HollowPod:
    namespace: str
    name: str
    uid: str
    pod: dict[str, Any]
    started: datetime | None = None
    finished: datetime | None = None
    outcome: PodOutcome | None = None
    removing: bool = False


def _started_at(pod: dict[str, Any]) -> datetime | None:
    """When an earlier run of this kubelet reported the Pod's containers started (it carries on from there)."""
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        at = ((cs.get("state") or {}).get("running") or {}).get("startedAt")
        if at:
            return datetime.fromisoformat(at.replace("Z", "+00:00"))
    return None


class HollowRunner:
    """Plays the Pods of a hollow node: status writes and deletions from a timer heap and a few writers."""

    def __init__(self, api: KubeApi, seconds: float, writers: int = 4) -> None:
        self.api = api
        self.seconds = seconds
        self._pods: dict[str, _HollowPod] = {}
        self._heap: list[tuple[float, int, str, str]] = []  # (due, tie-breaker, uid, step)
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._work: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._timer, name="hollow-timer", daemon=True)] + [
            threading.Thread(target=self._writer, name=f"hollow-writer-{i}", daemon=True) for i in range(writers)
        ]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cv:
            self._cv.notify_all()
        for _ in self._threads:
            self._work.put(None)

    def count(self) -> int:
        with self._cv:
            return len(self._pods)

    # ---- inputs from the Pod watch ------------------------------------------------
    def handle(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        phase = (pod.get("status") or {}).get("phase")
        with self._cv:
            known = self._pods.get(uid)
            if known is None:
                known = _HollowPod(meta["namespace"], meta["name"], uid, pod, started=_started_at(pod))
                self._pods[uid] = known
                if phase in TERMINAL:
                    known.finished = known.started or datetime.now(UTC)
                elif not meta.get("deletionTimestamp"):
                    self._due(0.0, uid, "start")
            else:
                known.pod = pod
            if meta.get("deletionTimestamp") and not known.removing:
                known.removing = True
                self._due(0.0, uid, "remove")

    def handle_deleted(self, pod: dict[str, Any]) -> None:
        with self._cv:
            self._pods.pop(pod["metadata"]["uid"], None)

    def resync(self, seen: set[str]) -> None:
        """After a fresh list: forget the Pods that are no longer there."""
        with self._cv:
            for uid in [u for u in self._pods if u not in seen]:
                del self._pods[uid]

    # ---- the timer and the writers ------------------------------------------------
    def _due(self, after: float, uid: str, step: str) -> None:
        """Schedule ``step`` for ``uid`` (caller holds the lock)."""
        heapq.heappush(self._heap, (time.monotonic() + after, next(self._seq), uid, step))
        self._cv.notify()

    def _timer(self) -> None:
        while not self._stop.is_set():
            with self._cv:
                while not self._stop.is_set():
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    if wait is not None and wait <= 0:
                        break
                    self._cv.wait(wait)
                if self._stop.is_set():
                    return
                _, _, uid, step = heapq.heappop(self._heap)
            self._work.put((uid, step))

    def _writer(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            uid, step = item
            with self._cv:
                p = self._pods.get(uid)
            if p is None or (p.removing and step != "remove"):
                continue
            try:
                self._do(p, step)
            except ApiError as exc:
                if exc.status == 404:
                    with self._cv:
                        self._pods.pop(uid, None)
                    continue
                log.warning("hollow %s of %s/%s failed: %s; retrying", step, p.namespace, p.name, exc)
                with self._cv:
                    self._due(RETRY_SECONDS, uid, step)
            except Exception as exc:  # noqa: BLE001 - API server briefly unreachable: try again shortly
                log.warning("hollow %s of %s/%s failed: %s; retrying", step, p.namespace, p.name, exc)
                with self._cv:
                    self._due(RETRY_SECONDS, uid, step)

    def _do(self, p: _HollowPod, step: str) -> None:
        if step == "remove":
            try:
                self.api.delete(
                    pod_path(p.namespace, p.name),
                    {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                     "preconditions": {"uid": p.uid}},
                )  # fmt: skip
            except ApiError as exc:
                if exc.status not in (404, 409):
                    raise
            with self._cv:
                self._pods.pop(p.uid, None)
            return
        now = datetime.now(UTC)
        if step == "start":
            p.started = p.started or now
            plan = run_plan(p.pod, self.seconds)
            self._write(p, hollow_status(p.pod, started=p.started, finished=None, seconds=self.seconds, now=now))
            if plan is not None:
                delay, p.outcome = plan
                remaining = delay - (now - p.started).total_seconds()
                with self._cv:
                    self._due(max(0.0, remaining), p.uid, "finish")
        elif step == "finish":
            assert p.started is not None
            p.finished = now
            status = hollow_status(
                p.pod, started=p.started, finished=now, seconds=self.seconds, now=now, outcome=p.outcome
            )
            self._write(p, status)

    def _write(self, p: _HollowPod, status: dict[str, Any]) -> None:
        updated = self.api.merge_patch(pod_path(p.namespace, p.name) + "/status", {"status": status})
        with self._cv:
            if self._pods.get(p.uid) is p:
                p.pod = updated
