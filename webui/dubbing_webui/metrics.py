"""Prometheus metrics of the web UI (own registry, so several apps in one process do not clash)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "dubbing_webui_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "dubbing_webui_request_seconds", "HTTP request latency", ["route"], registry=self.registry
        )
        self.upload_bytes = Counter(
            "dubbing_webui_upload_bytes_total", "Bytes accepted into uploads", registry=self.registry
        )
        self.chunks = Counter(
            "dubbing_webui_upload_chunks_total", "Chunks received", ["result"], registry=self.registry
        )
        self.uploads_completed = Counter(
            "dubbing_webui_uploads_completed_total", "Uploads completed", ["result"], registry=self.registry
        )
        self.jobs_submitted = Counter("dubbing_webui_jobs_submitted_total", "Jobs created", registry=self.registry)
        self.sse_clients = Gauge("dubbing_webui_sse_clients", "Open event streams", registry=self.registry)
        self.logins = Counter("dubbing_webui_logins_total", "Login attempts", ["result"], registry=self.registry)
        self.redis_up = Gauge("dubbing_webui_redis_up", "1 when Redis answers", registry=self.registry)
        self.swept = Counter("dubbing_webui_uploads_swept_total", "Abandoned uploads aborted", registry=self.registry)
