"""The reconcile loop: gather a job's world, ask ``decisions.decide``, apply the actions.

Each job is reconciled by at most one worker at a time and triggers coalesce (the
``workqueue``), so events, timers and requeues can all simply ask for one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import urllib3
from kubernetes.client.rest import ApiException
from pydantic import ValidationError

from dubbing.api.v1alpha1 import STAGES, DubbingJob, DubbingJobStatus, NotificationStatus, StageStatus

from . import heap, metrics
from .actions import AddFinalizer, CreatePod, DeletePod, EmitEvent, Notify, PatchStatus, RemoveFinalizer, Requeue
from .admission import Admission, QueueEntry
from .credentials import CredentialsError, mint, secret_manifest
from .decisions import (
    EXACT_POSITIONS,
    RERUNNABLE,
    ROUTINE_EVENT_REASONS,
    TERMINAL,
    ClusterView,
    decide,
    final_log_wanted,
    log_read_due,
    queued_rendering,
    routine_update,
)
from .eventbudget import TokenBucket
from .jobcopies import JobCopies, JobCopy
from .kube import Kube
from .naming import owner_of
from .notify import NtfyClient, after_failure, after_success, build_message, id_tag
from .observe import PodView, view_pod
from .podcache import PodCache, covers, referenced_pods
from .podspec import artifacts_url, stage_gpus
from .retrydelay import retry_delay
from .review import PHASE as REVIEW_PHASE
from .review import review_hold
from .s3policy import credentials_lifetime, job_scope, needs_new_credentials
from .settings import Settings
from .workqueue import Workers

log = logging.getLogger("dubbing_operator")

#: How long a reconcile waits for the Pod watch to catch up with its job's status before it LISTs
#: the job's Pods (a LIST by label makes the API server look at every Pod of the namespace), and
#: how often it looks again meanwhile (the watch event itself triggers the job at once).
POD_WATCH_GRACE_SECONDS = 3.0
POD_WATCH_RECHECK_SECONDS = 1.0

#: How soon the resync tries again a full list of the jobs that failed.
LIST_RETRY_SECONDS = 60.0

#: Stage Events (``ROUTINE_EVENT_REASONS``) posted per second, all jobs together, after a burst.
ROUTINE_EVENTS_PER_SECOND = 5.0
ROUTINE_EVENTS_BURST = 200.0


def job_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def queue_entry(job: DubbingJob, pods_active: bool, settings: Settings) -> QueueEntry | None:
    """The job's place in admission, or None once it holds no slot and wants none."""
    st = job.status or DubbingJobStatus()
    meta = job.metadata
    rerun_pending = job.spec.rerun > (st.observedRerun or 0) and st.phase in RERUNNABLE
    if st.phase in TERMINAL and not rerun_pending and not pods_active:
        return None
    if st.phase == REVIEW_PHASE and not pods_active and not job.spec.cancel:
        succeeded = (s.name for s in st.stages or [] if s.phase == "Succeeded")
        if review_hold(job, succeeded) is not None:
            return None  # waiting for the user: no slot held, none wanted until approved
    deleting = meta.deletionTimestamp is not None
    if (deleting or job.spec.cancel) and not pods_active and st.phase != "Running":
        return None
    return QueueEntry(
        key=job_key(meta.namespace or "", meta.name or ""),
        user=owner_of(meta.namespace or "", meta.labels),
        priority=job.spec.priority,
        created=meta.creationTimestamp or datetime.now(UTC),
        needs_gpu=any(stage_gpus(job, s, settings) > 0 for s in STAGES),
        active=(st.phase == "Running" and not rerun_pending) or pods_active,
    )


@dataclass(frozen=True)
class ResyncFacts:
    """What the resync needs of one job (kept per resourceVersion)."""

    user: str
    started_at: datetime | None
    phase: str
    entry: QueueEntry | None  # its place in admission
    wanted: bool  # it may have something left to do
    queued: tuple[int | None, str | None] | None  # a waiting job's written (queuePosition, message)


def resync_facts(job: DubbingJob, settings: Settings) -> ResyncFacts:
    st = job.status or DubbingJobStatus()
    e = queue_entry(job, False, settings)
    notifying = st.notification is not None and st.notification.state in ("sending", "retrying")
    wanted = e is not None or notifying or job.metadata.deletionTimestamp is not None or st.phase not in TERMINAL
    waiting = st.phase == "Queued" and e is not None and not e.active and not job.spec.cancel
    return ResyncFacts(
        user=owner_of(job.metadata.namespace or "", job.metadata.labels),
        started_at=st.startedAt,
        phase=st.phase or "Pending",
        entry=e,
        wanted=wanted,
        queued=(st.queuePosition, st.message) if wanted and waiting else None,
    )


class Engine:
    def __init__(
        self,
        kube: Kube,
        settings: Settings,
        admission: Admission,
        namespace: str | None = None,
        pod_cache: PodCache | None = None,
    ) -> None:
        self.kube = kube
        self.pod_cache = pod_cache
        self._absent: dict[str, set[str]] = {}  # key -> Pods its status names that a LIST found gone
        self._lagging: dict[str, float] = {}  # key -> since when the Pod watch is behind its status (monotonic)
        self.settings = settings
        self.admission = admission
        self.namespace = namespace
        self.ntfy = NtfyClient(settings.ntfy_url, settings.ntfy_token) if settings.ntfy_url else None
        self._last_reconciled: dict[str, float] = {}  # key -> monotonic time of its last finished reconcile
        self._gone: set[str] = set()  # jobs a reconcile found deleted
        self._background: set[asyncio.Task[None]] = set()
        # At most this many reconciles at once, started in the order they were asked for: each
        # runs its API calls without waiting behind every other job's (the pool has as many threads).
        self._workers = Workers(max(1, settings.api_workers), self._run, self._forget_if_gone)
        self._own_versions: dict[str, str] = {}  # key -> resourceVersion of this process's last status write
        self._phases: dict[str, str] = {}
        self._failures: dict[str, int] = {}  # key -> reconciles failed in a row
        self._credentials_expire: dict[str, float] = {}  # key -> when the job's scoped keys expire (epoch s)
        self._admission_lock = asyncio.Lock()
        # key -> the newest copy of the job this process has: from the job watch, the resync's list
        # and the answers to its own writes.  A reconcile reads it instead of GETting the job; a
        # write from a stale copy fails on its resourceVersion (409) and the copy is dropped.
        self._jobs = JobCopies()
        self._listed = False  # whether a full list of the jobs has come in
        self._next_list_at = 0.0  # monotonic time the resync lists all jobs again
        self._log_reads: dict[str, dict[str, float]] = {}  # key -> running Pod -> when its log was last read
        self._held: dict[str, float] = {}  # key -> since when a routine status write waits (monotonic)
        self._event_budget = TokenBucket(ROUTINE_EVENTS_PER_SECOND, ROUTINE_EVENTS_BURST)
        self._resync_facts: dict[str, tuple[str, ResyncFacts | None]] = {}  # key -> (resourceVersion, facts)

    # --- triggering
    def is_own_write(self, key: str, resource_version: str | None) -> bool:
        """True for the watch event of this process's own status write (nothing new to look at)."""
        return resource_version is not None and self._own_versions.get(key) == resource_version

    def observe_job(self, key: str, obj: dict[str, Any] | None) -> None:
        """A copy of the job from the watch or a list (None: it was deleted); the newer copy is kept."""
        if obj is None:
            self._jobs.pop(key)
            self._resync_facts.pop(key, None)
            return
        self._jobs.offer(key, obj)

    def trigger(self, key: str) -> None:
        self._workers.add(key)

    def trigger_later(self, key: str, after: float) -> None:
        self._workers.add_after(key, max(0.05, after))

    async def stop(self) -> None:
        """Take no more triggers; return once the jobs already waiting have been reconciled."""
        await self._workers.stop()

    def _forget_if_gone(self, key: str) -> None:
        """After a reconcile nobody waits to repeat: a job that no longer exists is forgotten entirely."""
        if key in self._gone:
            self._gone.discard(key)
            self._last_reconciled.pop(key, None)
            self._own_versions.pop(key, None)
            self._absent.pop(key, None)
            self._lagging.pop(key, None)
            self._failures.pop(key, None)
            self._credentials_expire.pop(key, None)
            self._jobs.pop(key)
            self._resync_facts.pop(key, None)
            self._log_reads.pop(key, None)
            self._held.pop(key, None)

    async def _run(self, key: str) -> None:
        started = time.monotonic()
        try:
            await self.reconcile(key)
            self._failures.pop(key, None)
        except ApiException as err:
            if err.status in (404, 409):  # the copy of the job was stale: read it afresh next time
                self._jobs.pop(key)
            delay = self._failed(key, conflict=err.status == 409)
            log.warning("reconcile %s: API error %s %s; retrying in %.1f s", key, err.status, err.reason, delay)
        except (urllib3.exceptions.HTTPError, OSError) as err:  # no answer in time, connection refused or reset
            delay = self._failed(key)
            log.warning("reconcile %s: API server unreachable (%s); retrying in %.1f s", key, err, delay)
        except CredentialsError as err:  # the object store is down or refused: the stage waits for it
            delay = self._failed(key)
            log.warning("reconcile %s: %s; retrying in %.1f s", key, err, delay)
        except Exception:  # a bug must not stop the loop; it is logged and retried
            delay = self._failed(key)
            log.exception("reconcile %s failed; retrying in %.1f s", key, delay)
        finally:
            metrics.RECONCILE.observe(time.monotonic() - started)
            self._last_reconciled[key] = time.monotonic()

    async def _ensure_credentials(self, key: str, job: DubbingJob) -> None:
        """Before a stage Pod starts: the job's scoped keys exist and outlive the stage (else mint them)."""
        expires = self._credentials_expire.get(key)
        expires_in = None if expires is None else expires - time.time()
        timeout = self.settings.stage_timeout_seconds
        if not needs_new_credentials(expires_in, timeout):
            return
        settings = self.settings
        assert settings.s3_access_key and settings.s3_secret_key  # checked when the settings were read
        lifetime = credentials_lifetime(timeout)
        keys = await asyncio.to_thread(
            mint,
            job_scope(job, artifacts_url(job, settings)),
            endpoint=settings.s3_endpoint,
            secure=settings.s3_secure,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            lifetime_seconds=lifetime,
            region=settings.s3_region,
        )
        await asyncio.to_thread(self.kube.write_secret, secret_manifest(job, keys))
        self._credentials_expire[key] = time.time() + lifetime
        log.info("%s: minted object store keys scoped to the job (valid %d s)", key, lifetime)

    def _failed(self, key: str, conflict: bool = False) -> float:
        """Count one more failure of ``key`` and schedule its retry after the backoff; the delay."""
        self._failures[key] = failures = self._failures.get(key, 0) + 1
        delay = retry_delay(failures, conflict=conflict)
        self.trigger_later(key, delay)
        return delay

    # --- one reconcile
    async def reconcile(self, key: str) -> None:
        namespace, name = key.split("/", 1)
        obj = self._jobs.get(key)
        if obj is None:
            obj = await asyncio.to_thread(self.kube.get_job, namespace, name)
            if obj is not None:
                self._jobs.put(key, obj)
        if obj is None:
            self.admission.update(None, key)
            self._phases.pop(key, None)
            self._gone.add(key)
            return
        self._gone.discard(key)
        try:
            job = DubbingJob.from_k8s(obj)
        except ValidationError as err:
            log.error("job %s does not parse, skipped: %s", key, err)
            return
        prev = job.status or DubbingJobStatus()
        pods = await self._job_pods(key, job, prev)
        if pods is None:  # the Pod watch is behind the status: its event triggers this job again
            self.trigger_later(key, POD_WATCH_RECHECK_SECONDS)
            return
        run = prev.observedRerun or 0
        entry = queue_entry(job, any(p.active for p in pods), self.settings)
        self.admission.update(entry, key)
        self.admission.served_at(owner_of(namespace, job.metadata.labels), prev.startedAt)
        view = ClusterView(
            log_lines=await self._log_lines(key, namespace, pods, prev, run), poll_seconds=self.poll_seconds()
        )
        needs_admission = (
            entry is not None and not entry.active and not job.spec.cancel and job.metadata.deletionTimestamp is None
        )
        if needs_admission:
            # Only the decision is serialised: an admitted job counts as holding its slot from
            # here on (Admission remembers it), so other jobs may be decided while this one's
            # Pod and status are written.
            async with self._admission_lock:
                admitted, position, why = await asyncio.to_thread(self.admission.decide, key)
            view = ClusterView(admitted, position, why, view.log_lines, view.poll_seconds)
        await self._apply(obj, job, pods, view)

    async def _job_pods(self, key: str, job: DubbingJob, prev: DubbingJobStatus) -> list[PodView] | None:
        """The job's Pods: from the watch cache where it is as new as the status; None while the cache
        has lagged behind the status for less than ``POD_WATCH_GRACE_SECONDS`` (the event on its way
        will trigger the job); else by a LIST, the only word that declares a Pod gone."""
        uid = job.metadata.uid or ""
        cached = self.pod_cache.pods(key, uid) if self.pod_cache is not None else None
        if cached is not None and covers(prev, cached, self._absent.get(key, ())):
            metrics.POD_READS.labels(source="cache").inc()
            self._lagging.pop(key, None)
            return cached
        if cached is not None:
            now = time.monotonic()
            if now - self._lagging.setdefault(key, now) < POD_WATCH_GRACE_SECONDS:
                metrics.POD_READS.labels(source="wait").inc()
                return None
        self._lagging.pop(key, None)
        namespace, name = key.split("/", 1)
        pods = [view_pod(p) for p in await asyncio.to_thread(self.kube.job_pods, namespace, name, uid)]
        metrics.POD_READS.labels(source="list").inc()
        gone = set(referenced_pods(prev)) - {p.name for p in pods}
        if gone:
            self._absent[key] = gone
        else:
            self._absent.pop(key, None)
        return pods

    def poll_seconds(self) -> float:
        """How often a running job is looked at without events: the configured period, stretched so
        that all running jobs together stay under ``max_polls_per_second``."""
        running = self.admission.active_count()
        return max(self.settings.running_poll_seconds, running / max(self.settings.max_polls_per_second, 0.1))

    async def _log_lines(
        self, key: str, namespace: str, pods: list[PodView], prev: DubbingJobStatus, run: int
    ) -> dict[str, str]:
        """Last log lines worth a read now: a running Pod's once a poll period, a finished one's once."""
        known: dict[str, StageStatus] = {s.name: s for s in prev.stages or []}
        reads = self._log_reads.get(key, {})
        now, wall = time.monotonic(), datetime.now(UTC)
        # the stretched period: with many jobs running, all their log reads together stay under
        # ``max_polls_per_second`` (a Pod's own events trigger reconciles too, and each used to read
        # its log once a short period had passed: 60 reads a second with 1,000 jobs running)
        period = self.poll_seconds()
        wanted = []
        for p in pods:
            if p.run != run:
                continue
            s = known.get(p.stage)
            if p.active and p.node:
                last = reads.get(p.name)
                running_for = (wall - p.started_at).total_seconds() if p.started_at else None
                if log_read_due(None if last is None else now - last, running_for, period):
                    wanted.append(p.name)
            elif final_log_wanted(p, s.podName if s else None, s.phase if s else None):
                wanted.append(p.name)
        # only the running Pods' reads are remembered
        kept = {p.name: reads[p.name] for p in pods if p.active and p.name in reads}
        out: dict[str, str] = {}
        for name in wanted:
            line = await asyncio.to_thread(self.kube.last_log_line, namespace, name)
            kept[name] = now
            if line:
                out[name] = line
        kept = {n: t for n, t in kept.items() if any(p.name == n and p.active for p in pods)}
        if kept:
            self._log_reads[key] = kept
        else:
            self._log_reads.pop(key, None)
        return out

    async def _apply(self, obj: dict[str, Any], job: DubbingJob, pods: list[PodView], view: ClusterView) -> None:
        now = datetime.now(UTC)
        key = job_key(job.metadata.namespace or "", job.metadata.name or "")
        actions = decide(job, pods, view, self.settings, now)
        prev = job.status or DubbingJobStatus()
        if self._hold_back(key, prev, actions):
            for a in actions:
                if isinstance(a, Requeue):
                    self.trigger_later(key, a.after)
            return
        new_status: dict[str, Any] | None = None
        if self.settings.s3_scoped_credentials and any(isinstance(a, CreatePod) for a in actions):
            await self._ensure_credentials(key, job)
        for a in actions:
            if isinstance(a, CreatePod):
                self._absent.get(key, set()).discard(a.name)
                created = await asyncio.to_thread(self.kube.create_pod, a.manifest)
                log.info("%s: %s Pod %s", key, "created" if created else "found existing", a.name)
            elif isinstance(a, DeletePod):
                # a namespaced object read from the API server always has its namespace
                ns = cast(str, job.metadata.namespace)
                await asyncio.to_thread(self.kube.delete_pod, ns, a.name, a.grace_seconds)
                log.info("%s: deleting Pod %s (grace %ss)", key, a.name, a.grace_seconds)
        for a in actions:
            if isinstance(a, PatchStatus):
                obj = await asyncio.to_thread(self.kube.replace_status, obj, a.status)
                self._own_versions[key] = obj["metadata"]["resourceVersion"]
                self._jobs.put(key, obj)
                new_status = a.status
        events = [a for a in actions if isinstance(a, EmitEvent) and self._event_wanted(a)]
        if events:
            # Events are a record, not a step: they are posted (in order) off the job's
            # reconcile path, so the next stage does not wait for them.
            task = asyncio.get_running_loop().create_task(self._post_events(key, obj, events))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        for a in actions:
            if isinstance(a, AddFinalizer | RemoveFinalizer):
                fins = list(obj["metadata"].get("finalizers") or [])
                fins = fins + [a.name] if isinstance(a, AddFinalizer) else [f for f in fins if f != a.name]
                obj = await asyncio.to_thread(self.kube.set_finalizers, obj, fins)
                self._own_versions[key] = obj["metadata"]["resourceVersion"]
                self._jobs.put(key, obj)
            elif isinstance(a, Notify):
                await self._notify(obj, a)
            elif isinstance(a, Requeue):
                self.trigger_later(key, a.after)
        if new_status is not None:
            self._after_status(key, prev, DubbingJobStatus.model_validate(new_status), job)

    def _hold_back(self, key: str, prev: DubbingJobStatus, actions: list[Any]) -> bool:
        """Whether this reconcile's status write waits: it only tells how the running stage gets on
        (``routine_update``), and it has waited less than a (stretched) poll period (then it is
        written, with whatever came meanwhile; a stage that ends first is written at once and takes
        it along)."""
        patches = [a for a in actions if isinstance(a, PatchStatus)]
        alone = all(isinstance(a, PatchStatus | EmitEvent | Requeue) for a in actions)
        if (
            len(patches) != 1
            or not alone
            or not routine_update(prev, DubbingJobStatus.model_validate(patches[0].status))
        ):
            self._held.pop(key, None)
            return False
        now = time.monotonic()
        # the stretched period, as for log reads: with many jobs running, their routine writes
        # together stay under ``max_polls_per_second`` too, and a Pod's start waits to be written
        # with its first progress (or with the stage's end, when that comes first)
        wait = self.poll_seconds() - (now - self._held.setdefault(key, now))
        if wait <= 0:
            self._held.pop(key, None)
            return False
        self.trigger_later(key, wait)
        metrics.STATUS_WRITES_HELD.inc()
        return True

    def _event_wanted(self, a: EmitEvent) -> bool:
        """Every Event but the routine stage ones, and those while the budget lasts."""
        if a.type != "Normal" or a.reason not in ROUTINE_EVENT_REASONS or self._event_budget.take(time.monotonic()):
            return True
        metrics.EVENTS_DROPPED.labels(reason=a.reason).inc()
        return False

    async def _post_events(self, key: str, obj: dict[str, Any], events: list[EmitEvent]) -> None:
        for a in events:
            try:
                await asyncio.to_thread(self.kube.event, obj, a.type, a.reason, a.message)
            except Exception as err:  # noqa: BLE001 - an Event that cannot be posted is logged, nothing more
                log.warning("%s: event %s not posted: %s", key, a.reason, getattr(err, "reason", err))
            if a.reason == "StageRetry":
                metrics.RETRIES.labels(stage=a.message.split(":")[0].removeprefix("stage ")).inc()
            log.info("%s: event %s: %s", key, a.reason, a.message)

    def _after_status(
        self, key: str, prev: DubbingJobStatus, new: DubbingJobStatus, job: DubbingJob | None = None
    ) -> None:
        before = {s.name: s.phase for s in prev.stages or []}
        for s in new.stages or []:
            if s.phase in ("Succeeded", "Failed") and before.get(s.name) != s.phase and s.durationSeconds is not None:
                metrics.STAGE_DURATION.labels(stage=s.name, backend=s.backend or "unknown").observe(s.durationSeconds)
        metrics.observe_quality(prev, new, metrics.loudness_target(job))
        if new.phase:
            self._phases[key] = new.phase
        if new.phase != prev.phase:
            # A job that ended freed its slot: the jobs the plan admits now and the head of the
            # queue look again at once.  One that started took a slot the plan had given it: only
            # the head of the queue moved.  Deeper positions are refreshed by the resync.
            if new.phase in TERMINAL or new.phase == REVIEW_PHASE:
                self.admission.finished(key)
                others = self.admission.current_plan().head(EXACT_POSITIONS)
            else:
                others = self.admission.current_plan().waiting_head(EXACT_POSITIONS)
            for other in others:
                if other != key:
                    self.trigger(other)

    async def _notify(self, obj: dict[str, Any], a: Notify) -> None:
        job = DubbingJob.from_k8s(obj)
        st = job.status or DubbingJobStatus()
        n = st.notification or NotificationStatus(outcome=a.outcome, state="sending", id=a.id, topic=a.topic)
        now = datetime.now(UTC)
        key = job_key(job.metadata.namespace or "", job.metadata.name or "")
        assert self.ntfy is not None
        msg = build_message(job, a.outcome, a.topic, a.id, self.settings)
        try:
            found = None
            if a.check_first:
                since = (st.finishedAt or now).timestamp() - 300
                found = await asyncio.to_thread(
                    self.ntfy.find, a.topic, id_tag(a.id), datetime.fromtimestamp(since, UTC)
                )
            if found is not None:
                log.info("%s: ntfy message %s was already delivered; not sending again", key, found.get("id"))
                metrics.NOTIFICATIONS.labels(result="already_sent").inc()
                result = after_success(n, found.get("id"), now)
            else:
                sent = await asyncio.to_thread(self.ntfy.publish, msg)
                log.info("%s: ntfy message %s sent to %s", key, sent.get("id"), a.topic)
                metrics.NOTIFICATIONS.labels(result="sent").inc()
                result = after_success(n, sent.get("id"), now)
        except Exception as err:  # noqa: BLE001 - a failed send never fails the job
            result = after_failure(n, f"{type(err).__name__}: {err}", now, self.settings)
            metrics.NOTIFICATIONS.labels(result="failed" if result.state == "failed" else "retry").inc()
            log.warning("%s: ntfy send failed (attempt %d): %s", key, result.attempts, err)
            if result.nextAttemptAt is not None:
                self.trigger_later(key, (result.nextAttemptAt - now).total_seconds())
        # casts: a namespaced object read from the API server has both its namespace and name
        written = await asyncio.to_thread(
            self.kube.patch_status, cast(str, job.metadata.namespace), cast(str, job.metadata.name),
            {"notification": result.model_dump(mode="json")},
        )  # fmt: skip
        self._own_versions[key] = written["metadata"]["resourceVersion"]
        self._jobs.put(key, written)

    # --- the safety net
    async def _list_jobs(self) -> list[JobCopy] | None:
        """Every job, by a full (paged) LIST; None when it failed after an earlier one succeeded (the
        resync then works from the copies it has and lists again in a minute).  The first list must
        succeed: nothing is admitted before it."""
        try:
            objs = await asyncio.to_thread(self.kube.list_jobs, self.namespace)
        except Exception as err:
            if not self._listed:
                raise
            self._next_list_at = time.monotonic() + min(LIST_RETRY_SECONDS, self.settings.relist_seconds)
            log.warning("listing the jobs failed (%s); the resync works from the watched copies", err)
            return None
        self._listed = True
        self._next_list_at = time.monotonic() + self.settings.relist_seconds
        metrics.JOB_LISTS.inc()
        return objs

    async def resync(self) -> None:
        """Refresh admission and Redis, and reconcile what is not done, from every job's newest copy.

        The copies come from the job watch and this process's own writes; every ``relist_seconds``
        (and the first time) they are refreshed by a full LIST, the API server's truth, so a watch
        event that never came is caught up within that period.  Between lists nothing here costs the
        API server anything: listing thousands of jobs each period was most of its work."""
        versions: list[tuple[str, str]] = []  # key, resourceVersion of the copy the facts are of
        listed = await self._list_jobs() if time.monotonic() >= self._next_list_at else None
        if listed is not None:
            for c in listed:
                self._jobs.offer_copy(c)
                versions.append((c.key, self._jobs.version(c.key) or ""))
            # A copy the list does not have is of a job deleted without the watch saying so, or of one
            # created since the list was taken: it is dropped, and a reconcile reads the job afresh.
            for key in set(self._jobs.keys()) - {k for k, _ in versions}:
                self._jobs.pop(key)
                self.trigger(key)
            listed = None  # the copies the list brought that were not kept, and the list itself, go now
            await asyncio.to_thread(heap.give_back_free_pages)
        else:
            versions += [(key, self._jobs.version(key) or "") for key in self._jobs.keys()]
            # a job whose copy was dropped (a write found it stale) keeps its last facts until read again
            versions += [(k, v) for k, (v, _) in self._resync_facts.items() if k not in self._jobs]
        entries: dict[str, QueueEntry] = {}
        keys: dict[str, None] = {}  # in list order
        phases: dict[str, int] = {}
        served: dict[str, datetime] = {}
        queued: dict[str, tuple[int | None, str | None]] = {}  # key -> the written (queuePosition, message)
        cache: dict[str, tuple[str, ResyncFacts | None]] = {}
        for key, version in versions:
            # A job unchanged since the last resync is not parsed again (thousands of jobs each period).
            hit = self._resync_facts.get(key)
            if hit is not None and hit[0] == version and version:
                facts = hit[1]
            else:
                obj = self._jobs.get(key)
                try:
                    facts = None if obj is None else resync_facts(DubbingJob.from_k8s(obj), self.settings)
                except ValidationError:
                    facts = None
            cache[key] = (version, facts)
            if facts is None:
                continue
            if facts.started_at is not None and (facts.user not in served or facts.started_at > served[facts.user]):
                served[facts.user] = facts.started_at
            phases[facts.phase] = phases.get(facts.phase, 0) + 1
            if facts.entry is not None:
                entries[key] = facts.entry
            if facts.wanted:
                keys[key] = None
                if facts.queued is not None:
                    queued[key] = facts.queued
        self._resync_facts = cache
        self.admission.replace_all(entries, served)
        metrics.SYNCED.set(1)
        await asyncio.to_thread(self.admission.tick)
        plan = self.admission.current_plan()
        # A waiting job whose written place in the queue still stands has nothing to do.
        for key, (written, message) in queued.items():
            if key not in plan.admit and key in plan.positions:
                rendered = queued_rendering(written, plan.positions[key], plan.reasons.get(key, ""))
                if rendered == (written, message):
                    keys.pop(key, None)
        metrics.QUEUE_DEPTH.set(len(plan.positions))
        metrics.RUNNING_GPU_JOBS.set(plan.running_gpu)
        metrics.set_phases(phases)
        # Jobs looked at within the last period (events, polls) are left alone: with hundreds
        # of running jobs the safety net would otherwise repeat every reconcile each period.
        now = time.monotonic()
        for key in keys:
            if now - self._last_reconciled.get(key, float("-inf")) >= self.settings.resync_seconds:
                self.trigger(key)
