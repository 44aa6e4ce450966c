"""What a stage Pod says about its attempt (pure reads of Pod dicts as the API server returns them)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dubbing.api.v1alpha1 import ATTEMPT_LABEL, STAGE_LABEL

from .naming import RUN_LABEL

PROGRESS_RE = re.compile(r"^\[(?P<stage>[a-z]+)\]\s+(?P<pct>\d+(?:\.\d+)?)%\s*(?P<msg>.*)$")
#: Exit code a stage uses for a permanent input error: never retried.
PERMANENT_EXIT = 2


def parse_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@dataclass(frozen=True)
class PodView:
    name: str
    stage: str
    attempt: int
    run: int
    phase: str  # Pending, Running, Succeeded, Failed, Unknown
    deleting: bool
    node: str | None
    started_at: datetime | None
    finished_at: datetime | None
    exit_code: int | None
    reason: str | None  # termination reason, or the Pod's (e.g. DeadlineExceeded)
    message: str | None
    summary: dict[str, Any] = field(default_factory=dict)  # the stage's JSON termination message
    unschedulable: str | None = None  # the scheduler's message while it cannot place the Pod
    created_at: datetime | None = None
    deletion_at: datetime | None = None  # deletionTimestamp: when the kubelet should have ended it

    @property
    def active(self) -> bool:
        return self.phase in ("Pending", "Running", "Unknown")

    @property
    def succeeded(self) -> bool:
        return self.phase == "Succeeded"

    @property
    def failed(self) -> bool:
        return self.phase == "Failed"

    @property
    def permanent(self) -> bool:
        return self.exit_code == PERMANENT_EXIT


def _summary(message: str | None) -> dict[str, Any]:
    """The last line of the termination message that parses as a JSON object."""
    for line in reversed((message or "").strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return {}


def view_pod(pod: dict[str, Any]) -> PodView:
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    status = pod.get("status") or {}
    spec = pod.get("spec") or {}
    statuses = status.get("containerStatuses") or []
    state = (statuses[0].get("state") or {}) if statuses else {}
    running = state.get("running") or {}
    term = state.get("terminated") or {}
    unsched = None
    for cond in status.get("conditions") or []:
        if (
            cond.get("type") == "PodScheduled"
            and cond.get("status") == "False"
            and cond.get("reason") == "Unschedulable"
        ):
            unsched = cond.get("message") or "Unschedulable"
    message = term.get("message")
    summary = _summary(message)
    reason = summary.get("reason") or term.get("reason") or status.get("reason")
    text = summary.get("message") or (None if summary else message) or status.get("message")
    phase = status.get("phase") or "Pending"
    return PodView(
        name=meta.get("name", ""),
        stage=labels.get(STAGE_LABEL, ""),
        attempt=int(labels.get(ATTEMPT_LABEL, "0") or 0),
        run=int(labels.get(RUN_LABEL, "0") or 0),
        phase=phase,
        deleting=meta.get("deletionTimestamp") is not None,
        node=spec.get("nodeName") or None,
        started_at=parse_time(term.get("startedAt") or running.get("startedAt")),
        finished_at=parse_time(term.get("finishedAt")),
        exit_code=term.get("exitCode"),
        reason=reason,
        message=(text.strip()[:4000] if isinstance(text, str) else None),
        summary=summary,
        unschedulable=unsched if phase == "Pending" and not spec.get("nodeName") else None,
        created_at=parse_time(meta.get("creationTimestamp")),
        deletion_at=parse_time(meta.get("deletionTimestamp")),
    )


def summary_log_line(pod: PodView) -> str | None:
    """The last progress line a finished stage put in its summary (so its log need not be read)."""
    line = pod.summary.get("lastLogLine")
    return line.strip() if isinstance(line, str) and line.strip() else None


def progress_of(line: str | None, stage: str) -> float | None:
    """The percentage in a ``[<stage>] <pct>% <msg>`` line."""
    if not line:
        return None
    m = PROGRESS_RE.match(line.strip())
    if not m or m.group("stage") != stage:
        return None
    return max(0.0, min(100.0, float(m.group("pct"))))
