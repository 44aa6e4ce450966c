"""Prometheus metrics of the operator."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

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
POD_READS = Counter(
    "dubbing_pod_reads", "How a reconcile read its job's Pods: from the watch cache, or by a LIST", ["source"],
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
PHASES = ("Pending", "Queued", "Running", "Succeeded", "Failed", "Cancelled")


def set_mode(mode: str) -> None:
    for m in ("redis", "apiserver"):
        QUEUE_BACKEND.labels(mode=m).set(1 if m == mode else 0)


def set_phases(counts: dict[str, int]) -> None:
    for phase in PHASES:
        JOBS.labels(phase=phase).set(counts.get(phase, 0))


def serve(port: int) -> None:
    start_http_server(port, registry=REGISTRY)
