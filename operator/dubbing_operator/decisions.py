"""The reconcile decision: (job, its Pods, the cluster view, settings, now) -> actions.

Pure: no I/O, no clock, no memory between calls.  The job's progress is read
from its Pods (which attempt of which stage exists, how it ended, when its
container started and finished); the status is a rendering of that, so an
operator that starts afresh takes the same decisions as one that never stopped.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from dubbing.api.v1alpha1 import (
    EXACT_QUEUE_POSITIONS,
    LANGUAGE_PATTERN,
    STAGES,
    DubbingJob,
    DubbingJobStatus,
    LanguageOutput,
    LanguageQuality,
    NotificationStatus,
    NotifySpec,
    Outputs,
    StageStatus,
)

from .actions import (
    Action,
    AddFinalizer,
    CreatePod,
    DeletePod,
    EmitEvent,
    Notify,
    PatchStatus,
    RemoveFinalizer,
    Requeue,
)
from .conditions import get_condition, set_condition
from .naming import FINALIZER
from .observe import PodView, progress_of, summary_log_line
from .podspec import artifacts_url, build_pod, max_attempts, stage_gpus
from .review import CONDITION as REVIEW_CONDITION
from .review import PHASE as REVIEW_PHASE
from .review import outcome as review_outcome
from .review import review_hold, waiting_message
from .settings import Settings

TERMINAL = ("Succeeded", "Failed", "Cancelled")
#: Phases a raised ``spec.rerun`` runs again from (a Succeeded job: after segment edits, only
#: the stages whose inputs changed do work; the rest are cache hits).
RERUNNABLE = TERMINAL
#: Reasons of a stage whose Pod the scheduler could not place yet.
WAITING_REASONS = ("WaitingForGPU", "Unschedulable")
#: How often a job with a running Pod is looked at even without events (log line, progress).
RUNNING_POLL_SECONDS = 5.0


@dataclass(frozen=True)
class ClusterView:
    """What the job's decision needs from beyond the job and its Pods."""

    admitted: bool = False  # admission grants the job a slot now
    queue_position: int | None = None
    queue_reason: str = ""
    log_lines: dict[str, str] = field(default_factory=dict)  # Pod name -> its last log line
    poll_seconds: float = RUNNING_POLL_SECONDS  # look again after this long while a Pod runs


#: Queue positions up to this one are written exactly; deeper ones within a tenth (see ``queued_rendering``).
EXACT_POSITIONS = EXACT_QUEUE_POSITIONS


def queued_rendering(written: int | None, actual: int | None, why: str) -> tuple[int | None, str]:
    """(queuePosition, message) of a waiting job.

    Exact near the head of the queue; deeper, the written position stands until
    it is off by more than a tenth.  Each start moves every waiting job by one,
    and rewriting hundreds of statuses for each start would cost more than the
    starts themselves.
    """
    pos = actual
    if actual is not None and written is not None and actual > EXACT_POSITIONS:
        if abs(actual - written) <= written // 10:
            pos = written
    if pos is None:
        return None, why or "waiting for a slot"
    approx = "about " if pos > EXACT_POSITIONS else ""
    return pos, f"{approx}position {pos} in the queue" + (f": {why}" if why else "")


def notification_id(job: DubbingJob, run: int, outcome: str) -> str:
    return f"{job.metadata.uid}-{run}-{outcome}"


def _stage_map(status: DubbingJobStatus) -> dict[str, StageStatus]:
    have = {s.name: s for s in status.stages or []}
    return {name: have.get(name) or StageStatus(name=name) for name in STAGES}


def _stage_from_pod(prev: StageStatus, pod: PodView, attempts: int, gpus: int, view: ClusterView) -> StageStatus:
    s = prev.model_copy(deep=True)
    s.podName, s.nodeName, s.attempts, s.gpus = pod.name, pod.node, attempts, gpus
    s.startedAt = pod.started_at
    s.finishedAt = pod.finished_at
    s.durationSeconds = (
        (pod.finished_at - pod.started_at).total_seconds() if pod.finished_at and pod.started_at else None
    )
    line = view.log_lines.get(pod.name)
    if line is None and not pod.active:
        line = summary_log_line(pod)
    if line is not None:
        s.lastLogLine = line[:1024]
    if pod.summary:
        s.backend = pod.summary.get("backend") or s.backend
        if pod.summary.get("cacheHit") is not None:
            s.cacheHit = bool(pod.summary.get("cacheHit"))
    s.nextAttemptAt = None
    if pod.succeeded:
        s.phase, s.progress, s.reason, s.message = "Succeeded", 100.0, None, None
    elif pod.active:
        s.phase = "Running" if pod.node else "Pending"
        s.progress = progress_of(s.lastLogLine, s.name) if s.lastLogLine else s.progress
        s.reason, s.message = None, None
    return s


def detected_language(summary: Any) -> str | None:
    """The language the asr stage reported hearing (its summary's ``outputs.language``), if it is a
    language tag (a stage cannot break the status)."""
    outputs = summary.get("outputs") if isinstance(summary, dict) else None
    value = outputs.get("language") if isinstance(outputs, dict) else None
    if isinstance(value, str) and re.fullmatch(LANGUAGE_PATTERN, value):
        return value
    return None


def media_seconds(summary: Any) -> float | None:
    """The input's length the extract stage reported (``outputs.mediaSeconds`` of its termination
    summary); None when it is absent or not a finite non-negative number."""
    outputs = summary.get("outputs") if isinstance(summary, dict) else None
    value = outputs.get("mediaSeconds") if isinstance(outputs, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def language_output(language: str, entry: Any) -> LanguageOutput:
    """One language's outputs from what the mux stage reported for it.

    The stage runtime reports ``{<lang>: <key of the dubbed video>}`` (or the
    dubbed audio when there is no video); a richer dict per language
    (``video``, ``audio``, ``subtitles`` as a list or a name -> key map, or
    ``<lang>.srt``-style keys, ``report``) is taken as well.
    """
    if isinstance(entry, str):
        is_audio = entry.rsplit(".", 1)[-1].lower() in ("wav", "flac", "m4a", "mp3", "aac", "ogg", "opus")
        return (
            LanguageOutput(language=language, audio=entry)
            if is_audio
            else LanguageOutput(language=language, video=entry)
        )
    if not isinstance(entry, dict):
        return LanguageOutput(language=language)
    subs: Any = entry.get("subtitles")
    if isinstance(subs, dict):
        subs = list(subs.values())
    if subs is None:
        found = [v for k, v in sorted(entry.items()) if isinstance(v, str) and k.rsplit(".", 1)[-1] in ("srt", "vtt")]
        subs = found or None
    return LanguageOutput(
        language=language,
        video=entry.get("video") if isinstance(entry.get("video"), str) else None,
        audio=entry.get("audio") if isinstance(entry.get("audio"), str) else None,
        subtitles=[str(x) for x in subs] if isinstance(subs, list) else None,
        report=entry.get("report") if isinstance(entry.get("report"), str) else None,
    )


def language_quality(raw: Any) -> LanguageQuality | None:
    """The compact scorecard figures the score stage reported for a language; a value that is
    not a number within its field's bounds is left out (a stage cannot break the status)."""
    if not isinstance(raw, dict):
        return None
    kept: dict[str, Any] = {}
    for name in LanguageQuality.model_fields:
        value = raw.get(name)
        if value is None or isinstance(value, bool):
            continue
        try:
            LanguageQuality.model_validate({name: value})
        except ValueError:
            continue
        kept[name] = value
    return LanguageQuality.model_validate(kept) if kept else None


def _with_score(output: LanguageOutput, entry: Any) -> LanguageOutput:
    """A language's outputs with what the score stage reported for it: the scorecard's key and figures."""
    if not isinstance(entry, dict):
        return output
    report = entry.get("report")
    if isinstance(report, str) and report:
        output.report = report
    output.quality = language_quality(entry.get("quality")) or output.quality
    return output


def _per_language(pod: PodView | None) -> dict[str, Any]:
    raw: Any = (pod.summary.get("outputs") if pod else None) or {}
    per_lang = raw.get("languages", raw) if isinstance(raw, dict) else {}
    return per_lang if isinstance(per_lang, dict) else {}


def _outputs(job: DubbingJob, mux: PodView | None, settings: Settings, score: PodView | None = None) -> Outputs:
    url = artifacts_url(job, settings)
    bucket, _, base = url.removeprefix("s3://").partition("/")
    out = job.spec.output
    if out is not None and out.prefix:
        prefix = out.prefix.strip("/")  # the stages publish there instead of jobs/<ns>/<name>/outputs
    else:
        job_prefix = (base.strip("/"), "jobs", job.metadata.namespace or "", job.metadata.name or "", "outputs")
        prefix = "/".join(p for p in job_prefix if p)
    per_lang = _per_language(mux)
    scores = _per_language(score)
    languages = [
        _with_score(language_output(lang, per_lang.get(lang)), scores.get(lang))
        for lang in dict.fromkeys(job.spec.targetLanguages)
    ]
    return Outputs(bucket=bucket, prefix=prefix, languages=languages)


def _notify_wanted(job: DubbingJob, outcome: str, settings: Settings) -> tuple[str | None, str]:
    """(topic, why-not): the topic to notify, or None with the reason nothing is sent."""
    spec = job.spec.notify or NotifySpec()
    if not spec.enabled:
        return None, "notifications disabled by the job"
    if outcome.split("-", 1)[0] not in spec.events:
        return None, f"the job does not ask to hear about {outcome}"
    if not settings.ntfy_url:
        return None, "no ntfy server configured"
    topic = spec.topic or settings.ntfy_default_topic
    if not topic:
        return None, "no topic: neither the job nor the operator names one"
    return topic, ""


def _notification(
    job: DubbingJob, status: DubbingJobStatus, settings: Settings, now: datetime, outcome: str | None = None
) -> list[Action]:
    """Outcome message bookkeeping; mutates ``status.notification``."""
    outcome = outcome or (status.phase or "").lower()
    run = status.observedRerun or 0
    n = status.notification
    if n is not None and n.outcome == outcome and n.state in ("sent", "failed", "skipped"):
        return []
    topic, why = _notify_wanted(job, outcome, settings)
    if topic is None:
        status.notification = NotificationStatus(outcome=outcome, state="skipped", lastError=why)
        return []
    if n is None or n.outcome != outcome:
        ident = notification_id(job, run, outcome)
        status.notification = NotificationStatus(outcome=outcome, state="sending", id=ident, topic=topic)
        return [Notify(id=ident, outcome=outcome, topic=topic, check_first=False)]
    assert n.id and n.topic
    if n.state == "sending":  # a send may have happened before a crash: look before sending again
        return [Notify(id=n.id, outcome=outcome, topic=n.topic, check_first=True)]
    if n.state == "retrying":
        if n.nextAttemptAt is None or now >= n.nextAttemptAt:
            return [Notify(id=n.id, outcome=outcome, topic=n.topic, check_first=True)]
        return [Requeue((n.nextAttemptAt - now).total_seconds())]
    return []


def _overall_progress(stages: dict[str, StageStatus]) -> float:
    total = 0.0
    for s in stages.values():
        if s.phase in ("Succeeded", "Skipped"):
            total += 1.0
        elif s.phase == "Running" and s.progress is not None:
            total += s.progress / 100.0
    return round(100.0 * total / len(STAGES), 1)


def _events_for(prev: DubbingJobStatus, new: DubbingJobStatus) -> list[EmitEvent]:
    """Events told by the difference between the written status and the new one."""
    events: list[EmitEvent] = []
    before = {s.name: s for s in prev.stages or []}
    for s in new.stages or []:
        old = before.get(s.name)
        old_phase = old.phase if old else "Pending"
        old_attempts = old.attempts if old else 0
        if s.attempts > old_attempts and s.attempts > 1 and s.phase in ("Pending", "Running"):
            events.append(EmitEvent("Normal", "StageRetry", f"stage {s.name}: attempt {s.attempts} in Pod {s.podName}"))
        if s.phase == old_phase:
            continue
        if s.phase == "Running" or (s.phase in ("Succeeded", "Failed") and old_phase == "Pending" and s.podName):
            events.append(
                EmitEvent("Normal", "StageStarted", f"stage {s.name} started in Pod {s.podName} on {s.nodeName}")
            )
        if s.phase == "Succeeded":
            cache = " (cache hit)" if s.cacheHit else ""
            events.append(
                EmitEvent(
                    "Normal", "StageSucceeded",
                    f"stage {s.name} finished in {s.durationSeconds or 0:.1f}s with backend {s.backend or '?'}{cache}",
                )
            )  # fmt: skip
        elif s.phase == "Failed":
            events.append(EmitEvent("Warning", "StageFailed", f"stage {s.name} failed: {s.reason}: {s.message}"))
        elif s.phase == "Cancelled":
            events.append(EmitEvent("Normal", "StageCancelled", f"stage {s.name} cancelled"))
    if new.phase != prev.phase:
        if new.phase == "Queued":
            events.append(EmitEvent("Normal", "Queued", f"queued at position {new.queuePosition}"))
        elif new.phase == "Running":
            events.append(EmitEvent("Normal", "Admitted", "admitted; running the stages"))
        elif new.phase == REVIEW_PHASE:
            events.append(EmitEvent("Normal", REVIEW_PHASE, new.message or "waiting for review"))
        elif new.phase == "Succeeded":
            events.append(EmitEvent("Normal", "Succeeded", "all stages finished"))
        elif new.phase == "Failed":
            events.append(EmitEvent("Warning", "Failed", new.message or "failed"))
        elif new.phase == "Cancelled":
            events.append(EmitEvent("Normal", "Cancelled", new.message or "cancelled"))
    old_sched = get_condition(prev.conditions, "Scheduled")
    new_sched = get_condition(new.conditions, "Scheduled")
    if new_sched and new_sched.status == "False" and (not old_sched or old_sched.status != "False"):
        events.append(EmitEvent("Warning", new_sched.reason, new_sched.message))
    if new_sched and new_sched.status == "True" and old_sched and old_sched.status == "False":
        events.append(EmitEvent("Normal", "Scheduled", f"no longer waiting ({old_sched.reason}): {new_sched.message}"))
    return events


#: Reasons of the Events every stage tells as it starts and ends (rate-limited under load, see ``eventbudget``).
ROUTINE_EVENT_REASONS = ("StageStarted", "StageSucceeded")


def routine_update(prev: DubbingJobStatus, new: DubbingJobStatus) -> bool:
    """Whether ``new`` only tells how a running job's current stage gets on: its Pod reached a node
    or started, its progress or last log line moved.  Such a write may wait (and be merged with the
    next one) for up to a poll period; anything else (a new Pod, a stage that ended, a wait that
    began or ended, a change of the job's phase or reason) is written at once."""
    if prev.phase != "Running" or new.phase != "Running" or prev.reason != new.reason:
        return False
    if prev.currentStage != new.currentStage or prev.observedGeneration != new.observedGeneration:
        return False

    def lasting(conds: list[Any] | None) -> dict[str, tuple[str, str]]:
        return {c.type: (c.status, c.reason) for c in conds or [] if c.type != "Scheduled"}

    if lasting(prev.conditions) != lasting(new.conditions):
        return False
    old_sched, new_sched = get_condition(prev.conditions, "Scheduled"), get_condition(new.conditions, "Scheduled")
    if old_sched is not None and (new_sched is None or new_sched.status != old_sched.status):
        return False
    merged = prev.model_copy(deep=True)
    before = {s.name: s for s in merged.stages or []}
    for s in new.stages or []:
        o = before.get(s.name)
        if o is None or (o.podName, o.attempts, o.reason, o.message) != (s.podName, s.attempts, s.reason, s.message):
            return False
        if o.phase != s.phase and (o.phase, s.phase) != ("Pending", "Running"):
            return False
        o.phase, o.startedAt, o.nodeName = s.phase, s.startedAt, s.nodeName
        o.progress, o.lastLogLine = s.progress, s.lastLogLine
    merged.conditions, merged.progress, merged.message = new.conditions, new.progress, new.message
    return _dump(merged) == _dump(new)


def log_read_due(last_read_ago: float | None, running_for: float | None, period: float) -> bool:
    """Whether a running stage Pod's last log line is to be read now: at most once a ``period``,
    the first time once it has run that long (a stage's progress is news only after a while, and
    reading it at each of the Pod's events would cost one call per event)."""
    if last_read_ago is not None:
        return last_read_ago >= period
    return running_for is not None and running_for >= period


def final_log_wanted(pod: PodView, recorded_pod: str | None, recorded_phase: str | None) -> bool:
    """Whether a finished stage Pod's log is read for its last line: not once its stage's status
    records that Pod's end, and not when the stage's summary carries the line (a failed Pod's log
    is read: its last words are the error)."""
    if pod.active or (recorded_pod == pod.name and recorded_phase in ("Succeeded", "Failed")):
        return False
    return not (pod.succeeded and summary_log_line(pod))


def unschedulable_reason(gpus: int, message: str, gpu_resource: str) -> str:
    """Why a stage Pod waits for a node: ``WaitingForGPU`` or ``Unschedulable``.

    A Pod that holds a GPU can only go to a GPU node, so whatever the scheduler
    says (no free ``nvidia.com/gpu``, no node of the GPU pool matching the
    selector, a taint) it waits for a GPU node; the condition's message keeps
    the scheduler's own words.  A CPU Pod is ``Unschedulable`` unless the
    message names the GPU resource.
    """
    return "WaitingForGPU" if gpus > 0 or gpu_resource in message else "Unschedulable"


def overdue_deletions(pods: list[PodView], now: datetime, settings: Settings) -> list[DeletePod]:
    """Force-delete (grace 0) Pods still there ``force_delete_after_seconds`` past their deletion deadline.

    A kubelet confirms a graceful deletion by removing the Pod once its process
    ended; a Pod that outlives its ``deletionTimestamp`` by that much has no
    kubelet left to do so (its node was lost: the taint eviction deleted it, or
    a cancel did).  Without this it would stay Terminating, and its stage
    blocked, until the node came back.
    """
    slack = timedelta(seconds=settings.force_delete_after_seconds)
    return [
        DeletePod(p.name, 0) for p in pods if p.active and p.deletion_at is not None and now >= p.deletion_at + slack
    ]


def lost_pod(prior: StageStatus, pod_names: set[str], phases: tuple[str, ...] = ("Pending", "Running")) -> str | None:
    """The Pod the status says is running this stage, if it is gone without having ended.

    That happens when it was force-deleted from a lost node or evicted and
    removed; it counts as an attempt, and the next attempt gets a new Pod name.
    """
    if prior.podName and prior.phase in phases and prior.podName not in pod_names:
        return prior.podName
    return None


def attempt_of(pod_name_: str, stage: str) -> int:
    """The attempt number at the end of a stage Pod's name (``<job>-<stage>-<n>``), else 0."""
    head, _, number = pod_name_.rpartition("-")
    return int(number) if head.endswith(f"-{stage}") and number.isdigit() else 0


def _mark_scheduled(st: DubbingJobStatus, pod: PodView, now: datetime, gen: int | None) -> None:
    """A Pod of the run reached a node: the ``Scheduled`` condition is True (it flips back after a wait)."""
    if pod.node is None:
        return
    conds = list(st.conditions or [])
    msg = f"Pod {pod.name} runs on {pod.node}" if pod.active else f"Pod {pod.name} ran on {pod.node}"
    st.conditions = set_condition(conds, "Scheduled", "True", "Scheduled", msg, now, gen)


def _dump(status: DubbingJobStatus) -> dict[str, Any]:
    return status.model_dump(mode="json", exclude_none=True)


def _lifecycle_conditions(st: DubbingJobStatus, now: datetime, gen: int | None) -> None:
    conds = list(st.conditions or [])
    phase = st.phase or "Pending"
    if phase == REVIEW_PHASE:
        conds = set_condition(conds, REVIEW_CONDITION, "True", REVIEW_PHASE, st.message or "", now, gen)
    elif get_condition(conds, REVIEW_CONDITION) is not None:
        conds = set_condition(conds, REVIEW_CONDITION, "False", "Approved", "", now, gen)
    if phase == "Queued":
        conds = set_condition(conds, "Queued", "True", "WaitingForSlot", st.message or "", now, gen)
    elif phase != "Pending":
        conds = set_condition(conds, "Queued", "False", "Admitted", "", now, gen)
    if phase == "Succeeded":
        conds = set_condition(conds, "Succeeded", "True", "Succeeded", "all stages finished", now, gen)
        conds = set_condition(conds, "Ready", "True", "Succeeded", "outputs are ready", now, gen)
        conds = set_condition(conds, "Failed", "False", "Succeeded", "", now, gen)
    elif phase in ("Failed", "Cancelled"):
        conds = set_condition(conds, "Succeeded", "False", st.reason or phase, st.message or "", now, gen)
        conds = set_condition(conds, "Ready", "False", phase, st.message or "", now, gen)
        failed: Literal["True", "False"] = "True" if phase == "Failed" else "False"
        conds = set_condition(conds, "Failed", failed, st.reason or phase, st.message or "", now, gen)
    else:
        conds = set_condition(conds, "Succeeded", "Unknown", phase, "", now, gen)
        conds = set_condition(conds, "Ready", "False", phase, st.message or "", now, gen)
        conds = set_condition(conds, "Failed", "False", phase, "", now, gen)
    st.conditions = conds


def decide(job: DubbingJob, pods: list[PodView], view: ClusterView, settings: Settings, now: datetime) -> list[Action]:
    finalizers = list((job.metadata.model_extra or {}).get("finalizers") or [])
    if job.metadata.deletionTimestamp is not None:
        return _deleting(pods, finalizers, settings, now)
    actions: list[Action] = [] if FINALIZER in finalizers else [AddFinalizer(FINALIZER)]
    # a graceful deletion nobody confirms (lost node): force it, whatever the branch below
    actions += overdue_deletions(pods, now, settings)
    d = _Decision.start(job, pods, view, settings, now, actions)
    if d.st.phase in TERMINAL:
        return d.finish(_notification(job, d.st, settings, now))  # only the outcome message is left to do
    if job.spec.cancel:
        return _cancelling(d)
    held = review_hold(job, (p.stage for p in d.run_pods if p.succeeded))
    if held is not None and not any(p.active for p in d.run_pods):
        return _awaiting_review(d, held)
    waiting = _admission(d)
    if waiting is not None:
        return waiting
    for stage in STAGES:
        step = _stage_step(d, stage)
        if step is not None:
            return step
    return _succeeded(d)


@dataclass
class _Decision:
    """One decision under way: its inputs, and the status and actions it builds."""

    job: DubbingJob
    pods: list[PodView]
    view: ClusterView
    settings: Settings
    now: datetime
    prev: DubbingJobStatus  # the status as written
    st: DubbingJobStatus  # the status as it will be
    actions: list[Action]  # taken whatever the outcome (finalizer, forced deletions, events)
    run: int
    run_pods: list[PodView]  # the Pods of the current run
    pod_names: set[str]
    stages: dict[str, StageStatus]

    @classmethod
    def start(
        cls,
        job: DubbingJob,
        pods: list[PodView],
        view: ClusterView,
        settings: Settings,
        now: datetime,
        actions: list[Action],
    ) -> _Decision:
        """The decision's state, past a re-run of a finished job (which starts a fresh status)."""
        prev = job.status or DubbingJobStatus()
        st = prev.model_copy(deep=True)
        if job.spec.rerun > (st.observedRerun or 0):
            if st.phase in RERUNNABLE and not job.spec.cancel:
                st = DubbingJobStatus(observedRerun=job.spec.rerun, conditions=st.conditions, startedAt=None)
                actions.append(EmitEvent("Normal", "Rerun", f"re-run {job.spec.rerun} requested"))
            elif st.phase in (None, "Pending", "Queued"):  # nothing ran yet: the coming run is the re-run
                st.observedRerun = job.spec.rerun
        run = st.observedRerun or 0
        st.observedGeneration = job.metadata.generation
        return cls(
            job, pods, view, settings, now, prev, st, actions, run,
            run_pods=[p for p in pods if p.run == run], pod_names={p.name for p in pods}, stages=_stage_map(st),
        )  # fmt: skip

    @property
    def gen(self) -> int | None:
        return self.job.metadata.generation

    def finish(self, extra: list[Action]) -> list[Action]:
        """The actions: those so far, the status write if it changed, the events it tells, then ``extra``."""
        st = self.st
        st.stages = list(self.stages.values())
        st.progress = 100.0 if st.phase == "Succeeded" else _overall_progress(self.stages)
        _lifecycle_conditions(st, self.now, self.gen)
        out = list(self.actions)
        if _dump(st) != _dump(self.prev):
            out.append(PatchStatus(_dump(st)))
        out += _events_for(self.prev, st)
        return out + extra

    def notify(self) -> list[Action]:
        return _notification(self.job, self.st, self.settings, self.now)


def _deleting(pods: list[PodView], finalizers: list[str], settings: Settings, now: datetime) -> list[Action]:
    """The job is being deleted: stop what runs, then let the object go."""
    active = [p for p in pods if p.active]
    actions: list[Action] = [DeletePod(p.name, settings.termination_grace_seconds) for p in active if not p.deleting]
    actions += overdue_deletions(pods, now, settings)
    if active:
        return actions + [Requeue(1.0)]
    if FINALIZER in finalizers:
        actions.append(RemoveFinalizer(FINALIZER))
    return actions


def _cancelling(d: _Decision) -> list[Action]:
    """Cancel: stop the running Pod with its grace period, end Cancelled once it is gone."""
    st, now = d.st, d.now
    active = [p for p in d.run_pods if p.active]
    d.actions += [DeletePod(p.name, d.settings.termination_grace_seconds) for p in active if not p.deleting]
    if active:
        st.message = f"cancelling: stopping Pod {', '.join(p.name for p in active)}"
        return d.finish([Requeue(1.0)])
    st.phase, st.reason, st.message = "Cancelled", "Cancelled", "cancelled on request"
    st.currentStage, st.queuePosition = st.currentStage, None
    st.finishedAt = st.finishedAt or now
    for s in d.stages.values():
        if s.phase in ("Running", "Pending") and s.podName:
            s.phase = "Cancelled"
            s.finishedAt = s.finishedAt or now
    return d.finish(d.notify())


def _awaiting_review(d: _Decision, held: str) -> list[Action]:
    """The job waits for the user after ``held``: no Pod, no slot, one message per pause."""
    for stage in STAGES[: STAGES.index(held) + 1]:
        _stage_step(d, stage)  # each has succeeded: its status is rendered from its Pod
    st = d.st
    st.phase, st.reason, st.message = REVIEW_PHASE, REVIEW_PHASE, waiting_message(d.job, held)
    st.currentStage, st.queuePosition = None, None
    return d.finish(_notification(d.job, st, d.settings, d.now, review_outcome(held)))


def _admission(d: _Decision) -> list[Action] | None:
    """A job not running yet waits in the queue until admitted (the actions), else it runs from now (None)."""
    st = d.st
    if st.phase != "Running" and not any(p.active for p in d.run_pods):
        if not d.view.admitted:
            written = d.prev.queuePosition if d.prev.phase == "Queued" else None
            st.queuePosition, st.message = queued_rendering(written, d.view.queue_position, d.view.queue_reason)
            st.phase, st.reason = "Queued", "WaitingForSlot"
            return d.finish([])
    st.phase, st.queuePosition = "Running", None
    st.startedAt = st.startedAt or d.now
    # recomputed below while a Pod still waits for a node
    st.reason = None if st.reason in ("WaitingForSlot", *WAITING_REASONS) else st.reason
    return None


def _stage_step(d: _Decision, stage: str) -> list[Action] | None:
    """One stage, in order: None when it has succeeded (on to the next), else what to do about it."""
    mine = sorted((p for p in d.run_pods if p.stage == stage), key=lambda p: p.attempt)
    gpus = stage_gpus(d.job, stage, d.settings)
    # attempts of this run, counting Pods that vanished without an end (lost node)
    tried = max(len(mine), d.stages[stage].attempts or 0)
    done = [p for p in mine if p.succeeded]
    if done:
        if d.stages[stage].reason in WAITING_REASONS:
            # it waited, then ran and ended between two looks: the wait is over
            _mark_scheduled(d.st, done[-1], d.now, d.gen)
        d.stages[stage] = _stage_from_pod(d.stages[stage], done[-1], tried, gpus, d.view)
        if stage == "asr":
            d.st.detectedSourceLanguage = detected_language(done[-1].summary) or d.st.detectedSourceLanguage
        if stage == "extract":
            d.st.mediaSeconds = media_seconds(done[-1].summary) or d.st.mediaSeconds
        return None
    if d.stages[stage].phase == "Succeeded" and lost_pod(d.stages[stage], d.pod_names, ("Succeeded",)):
        return None  # recorded as succeeded from its Pod, which went away since (evicted with its node): it stands
    d.st.currentStage = stage
    active = [p for p in mine if p.active]
    if active:
        return _stage_running(d, stage, active[-1], tried, gpus)
    all_attempts = [p.attempt for p in d.pods if p.stage == stage]
    lost = lost_pod(d.stages[stage], d.pod_names)
    next_attempt = max(*all_attempts, attempt_of(lost or "", stage), 0) + 1
    if lost:
        ended = _stage_lost(d, stage, lost, tried)
        if ended is not None:
            return ended
    failed = [p for p in mine if p.failed]
    if failed:
        waiting = _stage_failed(d, stage, failed[-1], tried, gpus)
        if waiting is not None:
            return waiting
    return _new_attempt(d, stage, next_attempt, tried, gpus)


def _stage_running(d: _Decision, stage: str, pod: PodView, tried: int, gpus: int) -> list[Action]:
    """The stage's Pod exists and has not ended: running, or waiting for a node."""
    st = d.st
    conds = list(st.conditions or [])
    d.stages[stage] = _stage_from_pod(d.stages[stage], pod, tried, gpus, d.view)
    if pod.unschedulable:
        reason = unschedulable_reason(gpus, pod.unschedulable, d.settings.gpu_resource)
        st.reason, st.message = reason, f"{reason}: {pod.unschedulable}"
        d.stages[stage].reason, d.stages[stage].message = reason, pod.unschedulable
        st.conditions = set_condition(conds, "Scheduled", "False", reason, pod.unschedulable, d.now, d.gen)
    else:
        st.reason, st.message = None, f"stage {stage} " + ("running" if pod.node else "starting")
        _mark_scheduled(st, pod, d.now, d.gen)
    return d.finish([Requeue(d.view.poll_seconds)])


def _stage_lost(d: _Decision, stage: str, lost: str, tried: int) -> list[Action] | None:
    """The stage's Pod is gone without an end: the job fails when that was the last attempt (the
    actions), else a new attempt follows (None)."""
    s = d.stages[stage]
    s.reason = "PodLost"
    s.message = f"Pod {lost} on node {s.nodeName or '?'} is gone without an end (node lost or Pod evicted)"
    if tried >= max_attempts(d.job, stage, d.settings):
        s.phase, s.finishedAt = "Failed", s.finishedAt or d.now
        return _job_failed(d, stage, s, f"after {tried} attempt(s)", d.now)
    d.actions.append(EmitEvent("Warning", "StageLost", f"stage {stage}: {s.message}; starting a new attempt"))
    return None


def _stage_failed(d: _Decision, stage: str, last: PodView, tried: int, gpus: int) -> list[Action] | None:
    """The stage's last attempt failed: the job fails (permanent error, no attempt left), or the
    next attempt waits out its backoff (the actions); None once the next attempt is due."""
    now = d.now
    if d.stages[stage].reason in WAITING_REASONS:
        _mark_scheduled(d.st, last, now, d.gen)
    s = _stage_from_pod(d.stages[stage], last, tried, gpus, d.view)
    s.reason = last.reason or "Error"
    s.message = last.message or f"exit code {last.exit_code}"
    limit = max_attempts(d.job, stage, d.settings)
    if last.permanent or tried >= limit:
        why = "permanent error, not retried" if last.permanent else f"after {tried} attempt(s)"
        s.phase = "Failed"
        d.stages[stage] = s
        return _job_failed(d, stage, s, why, last.finished_at or now)
    due = (last.finished_at or last.created_at or now) + timedelta(seconds=d.settings.backoff(tried))
    s.phase = "Pending"
    d.stages[stage] = s
    if now < due:
        s.nextAttemptAt = due
        d.st.message = f"stage {stage}: attempt {tried} failed ({s.reason}); next attempt at {due.isoformat()}"
        return d.finish([Requeue((due - now).total_seconds())])
    s.nextAttemptAt = None
    return None


def _job_failed(d: _Decision, stage: str, s: StageStatus, why: str, finished_at: datetime) -> list[Action]:
    """The job ends Failed with its stage ``s``."""
    st = d.st
    st.phase, st.reason = "Failed", f"Stage{stage.capitalize()}Failed"
    st.message = f"stage {stage} failed ({why}): {s.reason}: {s.message}"[:4096]
    st.finishedAt = finished_at
    return d.finish(d.notify())


def _new_attempt(d: _Decision, stage: str, attempt: int, tried: int, gpus: int) -> list[Action]:
    """The stage's next attempt: a new Pod."""
    manifest = build_pod(d.job, stage, attempt, d.settings, run=d.run, media_seconds=d.st.mediaSeconds)
    s = d.stages[stage]
    s.phase, s.podName, s.nodeName, s.gpus = "Pending", manifest["metadata"]["name"], None, gpus
    s.attempts = tried + 1
    s.startedAt = s.finishedAt = s.durationSeconds = None
    s.lastLogLine = s.progress = None
    d.st.message = f"stage {stage}: creating Pod {s.podName}"
    d.actions.insert(0, CreatePod(manifest))
    return d.finish([Requeue(d.view.poll_seconds)])


def _succeeded(d: _Decision) -> list[Action]:
    """Every stage succeeded: the job's outputs, and the outcome message."""
    st, run_pods = d.st, d.run_pods
    mux = [p for p in run_pods if p.stage == "mux" and p.succeeded]
    score = [p for p in run_pods if p.stage == "score" and p.succeeded]
    st.phase, st.reason, st.message, st.currentStage = "Succeeded", "Succeeded", "all stages finished", None
    st.finishedAt = max((p.finished_at for p in run_pods if p.succeeded and p.finished_at), default=d.now)
    st.outputs = _outputs(d.job, mux[-1] if mux else None, d.settings, score[-1] if score else None)
    return d.finish(d.notify())
