"""Prometheus metrics of the operator."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from dubbing.api.v1alpha1 import DubbingJob, DubbingJobStatus, MixOptions

REGISTRY = CollectorRegistry()

JOBS = Gauge("dubbing_jobs", "DubbingJobs by phase", ["phase"], registry=REGISTRY)
STAGE_DURATION = Histogram(
    "dubbing_stage_duration_seconds", "Stage run time (container start to finish)", ["stage", "backend"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200), registry=REGISTRY,
)  # fmt: skip
RETRIES = Counter("dubbing_stage_retries_total", "Stage attempts after a failed one", ["stage"], registry=REGISTRY)
QUEUE_DEPTH = Gauge("dubbing_queue_depth", "Jobs waiting for admission", registry=REGISTRY)
RUNNING_GPU_JOBS = Gauge("dubbing_running_gpu_jobs", "Admitted jobs that hold a GPU slot", registry=REGISTRY)
RECONCILE = Histogram(
    "dubbing_reconcile_seconds", "Time of one reconcile of a job", registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)  # fmt: skip
NOTIFICATIONS = Counter("dubbing_notifications_total", "ntfy sends by result", ["result"], registry=REGISTRY)
QUEUE_BACKEND = Gauge("dubbing_queue_backend", "Which store backs the queue (1 = in use)", ["mode"], registry=REGISTRY)
API_CALLS = Counter("dubbing_api_calls", "Calls to the API server by what they do", ["call"], registry=REGISTRY)
SYNCED = Gauge(
    "dubbing_operator_synced", "1 once the operator has listed every job and may admit new ones", registry=REGISTRY
)
JOB_LISTS = Counter(
    "dubbing_job_lists_total",
    "Full LISTs of the DubbingJobs by the resync (between them it works from the copies the watch keeps)",
    registry=REGISTRY,
)
POD_READS = Counter(
    "dubbing_pod_reads", "How a reconcile read its job's Pods: from the watch cache, by a LIST, or not yet (wait: the cache lags its status)", ["source"],
    registry=REGISTRY,
)  # fmt: skip
STATUS_WRITES_HELD = Counter(
    "dubbing_status_writes_held", "Routine status writes of a running stage held back to be merged with the next",
    registry=REGISTRY,
)  # fmt: skip
EVENTS_DROPPED = Counter(
    "dubbing_events_dropped", "Routine stage Events not posted: over the operator's budget for them", ["reason"],
    registry=REGISTRY,
)  # fmt: skip
POD_CACHE_PODS = Gauge("dubbing_pod_cache_pods", "Stage Pods held by the operator's Pod watch", registry=REGISTRY)
POD_CACHE_READY = Gauge(
    "dubbing_pod_cache_ready", "1 once the Pod watch has its first full list",
    registry=REGISTRY,
)  # fmt: skip
LEADER = Gauge(
    "dubbing_operator_leader", "1 while this replica holds the leader Lease (always 1 without leader election)",
    registry=REGISTRY,
)  # fmt: skip
PHASES = ("Pending", "Queued", "Running", "AwaitingReview", "Succeeded", "Failed", "Cancelled")

# The dub's quality (the score stage's headline figures), observed once per language when a job
# succeeds. No language label: the codes are the users' to choose, and the series must stay few.
_ONCE = "; observed once per dubbed language when its job succeeds"
DUB_WER = Histogram(
    "dubbing_dub_wer_ratio", "Word error rate of the dubbed speech transcribed back" + _ONCE,
    buckets=(0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5), registry=REGISTRY,
)  # fmt: skip
DUB_IN_SLOT = Histogram(
    "dubbing_dub_in_slot_ratio", "Share of the segments that play inside their slot" + _ONCE,
    buckets=(0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0), registry=REGISTRY,
)  # fmt: skip
DUB_LOUDNESS_DEVIATION = Histogram(
    "dubbing_dub_loudness_deviation_lu", "|integrated loudness - the mix's target| of the dub track, LU" + _ONCE,
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 6, 10), registry=REGISTRY,
)  # fmt: skip
DUB_CROSS_SPEAKER = Histogram(
    "dubbing_dub_cross_speaker_similarity_max",
    "Highest cosine similarity between two different dubbed speakers (1 = the same voice)" + _ONCE,
    buckets=(0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0), registry=REGISTRY,
)  # fmt: skip


@dataclass(frozen=True)
class QualitySample:
    language: str
    wer: float | None
    in_slot: float | None
    loudness_deviation: float | None
    cross_speaker: float | None


def quality_samples(status: DubbingJobStatus, target_lufs: float) -> list[QualitySample]:
    """The headline figures of each dubbed language in ``status.outputs`` (None where not measured)."""
    out = []
    for lang in (status.outputs.languages if status.outputs else None) or []:
        q = lang.quality
        if q is None:
            continue
        deviation = abs(q.lufs - target_lufs) if q.lufs is not None else None
        out.append(QualitySample(lang.language, q.wer, q.fitShare, deviation, q.maxCrossSpeakerSimilarity))
    return out


def loudness_target(job: DubbingJob | None) -> float:
    """The integrated loudness the job's mix aimed at (what the scorecard's deviation is measured from)."""
    mix = job.spec.stages.for_stage("mix") if job is not None else MixOptions()
    return float(mix.loudnessLufs)  # type: ignore[attr-defined]


def observe_quality(prev: DubbingJobStatus, new: DubbingJobStatus, target_lufs: float) -> int:
    """Observe the dub's quality histograms for the write that makes a job Succeeded, and only that one.

    A later reconcile of the finished job (notification bookkeeping, a restart, the resync) sees
    ``prev`` already Succeeded and observes nothing; a re-run that succeeds again is a new outcome.
    Returns how many values were observed.
    """
    if new.phase != "Succeeded" or prev.phase == "Succeeded":
        return 0
    count = 0
    for sample in quality_samples(new, target_lufs):
        for histogram, value in (
            (DUB_WER, sample.wer),
            (DUB_IN_SLOT, sample.in_slot),
            (DUB_LOUDNESS_DEVIATION, sample.loudness_deviation),
            (DUB_CROSS_SPEAKER, sample.cross_speaker),
        ):
            if value is not None:
                histogram.observe(value)
                count += 1
    return count


def set_mode(mode: str) -> None:
    for m in ("redis", "apiserver"):
        QUEUE_BACKEND.labels(mode=m).set(1 if m == mode else 0)


def set_phases(counts: dict[str, int]) -> None:
    for phase in PHASES:
        JOBS.labels(phase=phase).set(counts.get(phase, 0))


def serve(port: int) -> None:
    start_http_server(port, registry=REGISTRY)
