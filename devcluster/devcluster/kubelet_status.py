"""Pod status from process facts, the way a kubelet reports it (pure functions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

HOST_IP = "127.0.0.1"
MAX_MESSAGE_BYTES = 4096
FALLBACK_LOG_LINES = 80
DEADLINE_REASON = "DeadlineExceeded"
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


@dataclass(frozen=True)
class ContainerFacts:
    """What the kubelet knows about one container right now."""

    name: str
    image: str
    state: str = "waiting"  # waiting | running | terminated
    reason: str = "ContainerCreating"  # waiting or terminated reason
    message: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    restart_count: int = 0
    container_id: str = ""
    last_terminated: ContainerFacts | None = None


@dataclass(frozen=True)
class PodOutcome:
    """A decision that overrides the phase (deadline, lost processes)."""

    phase: str
    reason: str
    message: str


def rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def terminated_reason(exit_code: int) -> str:
    return "Completed" if exit_code == 0 else "Error"


def exit_code_of(returncode: int) -> int:
    """Popen's returncode (negative for a signal) -> a container exit code (128 + signal)."""
    return 128 - returncode if returncode < 0 else returncode


def termination_message(file_text: bytes, log_tail: Sequence[str], exit_code: int, policy: str) -> str:
    """The message a container leaves: its termination file, or with FallbackToLogsOnError its log tail."""
    data = file_text[:MAX_MESSAGE_BYTES]
    if not data.strip() and exit_code != 0 and policy == "FallbackToLogsOnError":
        tail = "".join(line if line.endswith("\n") else line + "\n" for line in log_tail[-FALLBACK_LOG_LINES:])
        encoded = tail.encode("utf-8", errors="replace")
        data = encoded[-MAX_MESSAGE_BYTES:]
    return data.decode("utf-8", errors="replace")


def _state(facts: ContainerFacts) -> dict[str, Any]:
    if facts.state == "running":
        return {"running": {"startedAt": rfc3339(facts.started_at)}}
    if facts.state == "terminated":
        term: dict[str, Any] = {
            "exitCode": facts.exit_code if facts.exit_code is not None else 0,
            "reason": facts.reason,
            "startedAt": rfc3339(facts.started_at),
            "finishedAt": rfc3339(facts.finished_at),
        }
        if facts.message:
            term["message"] = facts.message
        if facts.container_id:
            term["containerID"] = facts.container_id
        return {"terminated": term}
    waiting: dict[str, Any] = {"reason": facts.reason}
    if facts.message:
        waiting["message"] = facts.message
    return {"waiting": waiting}


def container_status(facts: ContainerFacts) -> dict[str, Any]:
    running = facts.state == "running"
    status: dict[str, Any] = {
        "name": facts.name,
        "image": facts.image,
        "imageID": f"devkubelet://{facts.image}",
        "ready": running,
        "started": running,
        "restartCount": facts.restart_count,
        "state": _state(facts),
        "lastState": _state(facts.last_terminated) if facts.last_terminated else {},
    }
    if facts.container_id:
        status["containerID"] = facts.container_id
    return status


def pod_phase(init: Sequence[ContainerFacts], main: Sequence[ContainerFacts], restart_policy: str) -> str:
    """Pending until the init containers pass and a main container started, then Running,
    then Succeeded or Failed once every main container ended for good."""
    for facts in init:
        if facts.state == "terminated" and facts.exit_code not in (0, None) and restart_policy == "Never":
            return "Failed"
        if facts.state != "terminated" or facts.exit_code != 0:
            return "Pending"
    states = [f.state for f in main]
    if main and all(s == "terminated" for s in states):
        if restart_policy == "Always":
            return "Running"
        if all(f.exit_code == 0 for f in main):
            return "Succeeded"
        return "Failed" if restart_policy == "Never" else "Running"
    if any(s in ("running", "terminated") for s in states):
        return "Running"
    return "Pending"


def _condition(
    ctype: str, ok: bool, now: datetime, previous: Mapping[str, Mapping[str, Any]], reason: str = ""
) -> dict[str, Any]:
    status = "True" if ok else "False"
    old = previous.get(ctype)
    transition = (
        old.get("lastTransitionTime")
        if old and old.get("status") == status and old.get("lastTransitionTime")
        else rfc3339(now)
    )
    cond: dict[str, Any] = {"type": ctype, "status": status, "lastProbeTime": None, "lastTransitionTime": transition}
    if reason and not ok:
        cond["reason"] = reason
    return cond


def pod_conditions(
    phase: str,
    init: Sequence[ContainerFacts],
    main: Sequence[ContainerFacts],
    now: datetime,
    previous: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    prev = {c.get("type", ""): c for c in previous}
    initialized = all(f.state == "terminated" and f.exit_code == 0 for f in init)
    all_running = bool(main) and all(f.state == "running" for f in main)
    finished = phase in ("Succeeded", "Failed")
    not_ready_reason = "PodCompleted" if finished else "ContainersNotReady"
    own = {"PodScheduled", "Initialized", "ContainersReady", "Ready", "PodReadyToStartContainers"}
    scheduled = prev.get("PodScheduled") or {
        "type": "PodScheduled",
        "status": "True",
        "lastProbeTime": None,
        "lastTransitionTime": rfc3339(now),
    }
    conditions = [
        _condition("PodReadyToStartContainers", not finished, now, prev),
        _condition("Initialized", initialized, now, prev, "ContainersNotInitialized"),
        _condition("Ready", all_running and not finished, now, prev, not_ready_reason),
        _condition("ContainersReady", all_running and not finished, now, prev, not_ready_reason),
        dict(scheduled),
    ]
    # Keep conditions other controllers own (e.g. DisruptionTarget).
    conditions += [dict(c) for c in previous if c.get("type") not in own]
    return conditions


def pod_status(
    *,
    init: Sequence[ContainerFacts],
    main: Sequence[ContainerFacts],
    restart_policy: str,
    start_time: datetime,
    now: datetime,
    previous_conditions: Sequence[Mapping[str, Any]] = (),
    outcome: PodOutcome | None = None,
) -> dict[str, Any]:
    """The Pod's whole status document."""
    phase = outcome.phase if outcome else pod_phase(init, main, restart_policy)
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": pod_conditions(phase, init, main, now, previous_conditions),
        "hostIP": HOST_IP,
        "hostIPs": [{"ip": HOST_IP}],
        "podIP": HOST_IP,
        "podIPs": [{"ip": HOST_IP}],
        "startTime": rfc3339(start_time),
        "containerStatuses": [container_status(f) for f in main],
    }
    if init:
        status["initContainerStatuses"] = [container_status(f) for f in init]
    if outcome:
        status["reason"] = outcome.reason
        status["message"] = outcome.message
    return status


def deadline_passed(start_time: datetime, active_deadline_seconds: int | None, now: datetime) -> bool:
    if active_deadline_seconds is None:
        return False
    return (now - start_time).total_seconds() >= active_deadline_seconds


LOST_REASON = "NodeRestarted"
LOST_MESSAGE = (
    "The development kubelet restarted while this Pod's containers were running; "
    "their processes were stopped and cannot be followed"
)


def _lost_container(status: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    out = dict(status)
    state = status.get("state") or {}
    if "terminated" in state:
        return out
    started = (state.get("running") or {}).get("startedAt")
    out["state"] = {
        "terminated": {
            "exitCode": 137,
            "reason": "ContainerStatusUnknown",
            "message": "The container could not be located when the pod was terminated",
            "startedAt": started,
            "finishedAt": rfc3339(now),
        }
    }
    out["ready"] = False
    out["started"] = False
    return out


def lost_pod_status(pod: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Status for a Pod whose processes a restarted kubelet no longer has: Failed, NodeRestarted."""
    old = pod.get("status") or {}
    status: dict[str, Any] = {
        "phase": "Failed",
        "reason": LOST_REASON,
        "message": LOST_MESSAGE,
        "containerStatuses": [_lost_container(c, now) for c in old.get("containerStatuses") or []],
    }
    if old.get("initContainerStatuses"):
        status["initContainerStatuses"] = [_lost_container(c, now) for c in old["initContainerStatuses"]]
    prev = {c.get("type", ""): c for c in old.get("conditions") or []}
    conditions = [dict(c) for c in old.get("conditions") or [] if c.get("type") not in ("Ready", "ContainersReady")]
    for ctype in ("Ready", "ContainersReady"):
        cond = _condition(ctype, False, now, prev, "PodCompleted")
        conditions.append(cond)
    status["conditions"] = conditions
    return status


def pod_started(pod: Mapping[str, Any]) -> bool:
    """Whether any container of the Pod has been started (by some kubelet)."""
    status = pod.get("status") or {}
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        if "running" in state or "terminated" in state:
            return True
    return status.get("phase") == "Running"
