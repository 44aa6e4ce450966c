"""Stage Pods by job, as one LIST and WATCH of every stage Pod last showed them.

A reconcile reads its job's Pods from here instead of listing them: a LIST by
label makes the API server look at every Pod of the namespace, which took
seconds a call once there were thousands.  The watch may lag the API server,
so the cache is used only where ``covers`` shows it is at least as new as what
the job's status already says; elsewhere the reconcile lists.  A lagging cache
can delay a decision, never make a wrong one: a Pod is declared lost only on a
consistent LIST.

No I/O here: ``podwatch`` feeds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dubbing.api.v1alpha1 import DubbingJobStatus

from .observe import PodView

#: How far along a stage's status says its Pod is, to compare with what the cache holds.
_STATUS_RANK = {"Pending": 0, "Running": 1, "Succeeded": 2, "Failed": 2}


def controller_job(pod: dict[str, Any]) -> tuple[str, str] | None:
    """(``namespace/name``, uid) of the DubbingJob that controls this Pod, if one does."""
    meta = pod.get("metadata") or {}
    for ref in meta.get("ownerReferences") or []:
        if ref.get("kind") == "DubbingJob" and ref.get("controller"):
            return f"{meta.get('namespace', '')}/{ref.get('name', '')}", ref.get("uid", "")
    return None


@dataclass(frozen=True)
class CachedPod:
    owner_uid: str
    view: PodView


def _pod_rank(pod: PodView) -> int:
    if not pod.active:
        return 2
    return 1 if pod.node else 0


def referenced_pods(status: DubbingJobStatus | None) -> dict[str, int]:
    """Pod name -> how far along the status says it is, for every stage that names its Pod."""
    out: dict[str, int] = {}
    for s in (status.stages if status else None) or []:
        rank = _STATUS_RANK.get(s.phase or "")
        if s.podName and rank is not None:
            out[s.podName] = rank
    return out


def covers(status: DubbingJobStatus | None, pods: list[PodView], absent: Iterable[str] = ()) -> bool:
    """True when ``pods`` are at least as new as ``status``.

    Every Pod the status names must be there and at least as far along
    (Pending < on a node < ended); a Pod a consistent LIST found gone
    (``absent``) may be missing, and so may the Pod of a stage the status
    already records as succeeded: its result is in the status, and the
    decision lets it stand when its Pod is gone (deleted by a user, or by the
    cluster's garbage collection of terminated Pods), so a LIST would tell
    nothing new.
    """
    have = {p.name: p for p in pods}
    gone = set(absent)
    for s in (status.stages if status else None) or []:
        rank = _STATUS_RANK.get(s.phase or "")
        if not s.podName or rank is None:
            continue
        pod = have.get(s.podName)
        if pod is None:
            if s.podName not in gone and s.phase != "Succeeded":
                return False
        elif _pod_rank(pod) < rank:
            return False
    return True


class PodCache:
    """The stage Pods of every job; ``ready`` once the first full list is in."""

    def __init__(self) -> None:
        self._jobs: dict[str, dict[str, CachedPod]] = {}
        self._count = 0  # kept per change: a sum over every job on each watch event grew with the jobs
        self.ready = False

    def __len__(self) -> int:
        return self._count

    def pods(self, key: str, uid: str) -> list[PodView] | None:
        """The job's Pods (those its object with ``uid`` controls), or None before the first list."""
        if not self.ready:
            return None
        return [c.view for c in (self._jobs.get(key) or {}).values() if c.owner_uid == uid]

    def apply(self, event_type: str, key: str, uid: str, view: PodView) -> None:
        """One watch event (ADDED, MODIFIED, DELETED) of the Pod ``view`` of job ``key``."""
        if event_type == "DELETED":
            pods = self._jobs.get(key)
            if pods is not None and pods.pop(view.name, None) is not None:
                self._count -= 1
                if not pods:
                    del self._jobs[key]
            return
        pods = self._jobs.setdefault(key, {})
        self._count += view.name not in pods
        pods[view.name] = CachedPod(uid, view)

    def replace(self, listed: Iterable[tuple[str, str, PodView]]) -> set[str]:
        """Take a full list of (key, uid, Pod) as the truth; the keys whose Pods changed."""
        jobs: dict[str, dict[str, CachedPod]] = {}
        for key, uid, view in listed:
            jobs.setdefault(key, {})[view.name] = CachedPod(uid, view)
        changed = {k for k in jobs.keys() | self._jobs.keys() if jobs.get(k) != self._jobs.get(k)}
        self._jobs = jobs
        self._count = sum(len(pods) for pods in jobs.values())
        self.ready = True
        return changed
