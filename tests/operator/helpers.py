"""Builders of jobs and Pod dicts (as the API server returns them) for the decision tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from dubbing.api.v1alpha1 import DubbingJob
from dubbing_operator.jobcopies import JobCopy, copy_of
from dubbing_operator.naming import FINALIZER

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_job(
    name: str = "clip", status: dict[str, Any] | None = None, finalizer: bool = True, **spec: Any
) -> DubbingJob:
    body: dict[str, Any] = {
        "apiVersion": "dubbing.dev/v1alpha1",
        "kind": "DubbingJob",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": "uid-1",
            "generation": 1,
            "creationTimestamp": ts(T0),
            "finalizers": [FINALIZER] if finalizer else [],
        },
        "spec": {"input": {"bucket": "media", "key": "in.mp4"}, "targetLanguages": ["es"], **spec},
    }
    if status is not None:
        body["status"] = status
    return DubbingJob.from_k8s(body)


def make_pod(
    stage: str,
    attempt: int = 1,
    phase: str = "Succeeded",
    *,
    job: str = "clip",
    run: int = 0,
    started: datetime | None = T0,
    finished: datetime | None = T0 + timedelta(seconds=5),
    exit_code: int = 0,
    summary: dict[str, Any] | None = None,
    node: str | None = "dev-cpu-0",
    unschedulable: str | None = None,
    deleting: bool = False,
    deletion_at: datetime | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if phase in ("Succeeded", "Failed"):
        msg = json.dumps(
            summary or {"stage": stage, "ok": phase == "Succeeded", "backend": "ffmpeg", "cacheHit": False}
        )
        status["containerStatuses"] = [
            {"name": "stage", "state": {"terminated": {
                "exitCode": exit_code, "startedAt": ts(started), "finishedAt": ts(finished),
                "reason": "Completed" if exit_code == 0 else "Error", "message": msg}}}
        ]  # fmt: skip
    elif phase == "Running":
        status["containerStatuses"] = [{"name": "stage", "state": {"running": {"startedAt": ts(started)}}}]
    if unschedulable:
        status["conditions"] = [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": unschedulable}
        ]
        node = None
    meta: dict[str, Any] = {
        "name": f"{job}-{stage}-{attempt}",
        "namespace": "ns",
        "creationTimestamp": ts(started or T0),
        "labels": {"dubbing.dev/stage": stage, "dubbing.dev/attempt": str(attempt), "dubbing.dev/run": str(run)},
    }
    if deleting or deletion_at is not None:
        # the deletion deadline (deletionTimestamp = request time + grace); by default the decision tests' "now"
        meta["deletionTimestamp"] = ts(deletion_at or T0 + timedelta(minutes=1))
    return {"metadata": meta, "spec": {"nodeName": node} if node else {}, "status": status}


class ListOnlyKube:
    """The one Kube call the engine's resync makes: list the jobs (given as models)."""

    def __init__(self, jobs: list[DubbingJob]) -> None:
        self.jobs = jobs

    def list_jobs(self, namespace: str | None) -> list[JobCopy]:
        return [copy_of(j.model_dump(mode="json", by_alias=True, exclude_none=True)) for j in self.jobs]
