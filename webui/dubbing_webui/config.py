"""Settings of the web UI, all read from the environment at start (docs/settings.md lists every variable)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import BeforeValidator

from dubbing.config.base import BaseUrl, Bool, BucketName, CommaList, DubbingSettings, Seconds, WholeSeconds, setting

MiB = 1024 * 1024


def _mib_to_bytes(value: object) -> object:
    """``DUBBING_MAX_UPLOAD_MIB`` is in MiB; a value given in Python is bytes already."""
    if isinstance(value, str):
        return int(value.strip()) * MiB
    return value


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


class Settings(DubbingSettings):
    """What the web UI reads from its environment."""

    s3_fields: ClassVar[tuple[str, str] | None] = ("minio_endpoint", "minio_secure")

    # process
    host: str = setting("127.0.0.1", "Address to listen on (`--host` overrides it).", env="DUBBING_WEBUI_HOST")
    port: int = setting(8080, "Port to listen on (`--port` overrides it).", env="DUBBING_WEBUI_PORT", ge=0, le=65535)
    log_level: Annotated[Literal["critical", "error", "warning", "info", "debug"], BeforeValidator(_lower)] = setting(
        "info", "Log level (`--log-level` overrides it)."
    )
    data_dir: Path = setting(
        Path("/var/lib/dubbing-webui"),
        "The SQLite file (and the spool, unless `DUBBING_SPOOL_DIR` is set); a PersistentVolumeClaim in the cluster.",
    )
    database_url: str | None = setting(
        None,
        "The store: `postgresql://user:password@host:5432/db` (any number of replicas share it) or unset "
        "(a SQLite file in the data directory; one replica only).",
        secret=True,
        pattern=r"^(postgresql|postgres)://",
    )
    database_pool_size: int = setting(
        8, "Most connections one replica holds to PostgreSQL (besides one per upload being written).", ge=1, le=100
    )
    # cluster
    namespace: str = setting("dubbing", "The one namespace where user jobs are created.", env="DUBBING_JOBS_NAMESPACE")
    kubeconfig: str | None = setting(
        None,
        "Kubeconfig of the cluster (unset: the in-cluster service account, else `~/.kube/config`).",
        env="KUBECONFIG",
    )
    kube_timeout_seconds: float = setting(
        20.0, "Longest wait for one Kubernetes API call (the job watch excepted).", gt=0, le=300
    )
    watch_jobs: Bool = setting(True, "Watch the jobs for live updates (off only in tests).")
    # object store (uploads)
    minio_endpoint: str = setting(
        "127.0.0.1:9000",
        "MinIO/S3 where uploads go: `host:port` or `http(s)://host:port` (`https://` turns TLS on).",
        env="DUBBING_S3_ENDPOINT",
        doc_type="S3 endpoint",
        doc_default="`http://127.0.0.1:9000`",
    )
    minio_secure: Bool = setting(
        False, "TLS to the object store (unset: from the endpoint's scheme).", env="DUBBING_S3_SECURE"
    )
    minio_access_key: str = setting("minioadmin", "Access key.", env="DUBBING_S3_ACCESS_KEY", secret=True)
    minio_secret_key: str = setting("minioadmin", "Secret key.", env="DUBBING_S3_SECRET_KEY", secret=True)
    minio_region: str = setting("us-east-1", "Region of the bucket.", env="DUBBING_S3_REGION")
    s3_public_url: BaseUrl | None = setting(
        None,
        "Where browsers reach the object store (e.g. `https://media.example.com` through the Ingress): "
        "download and playback links are signed for this address. Unset: the endpoint above.",
        env="DUBBING_S3_PUBLIC_URL",
    )
    upload_bucket: BucketName = setting(
        "dubbing", "Bucket for uploads (created if missing); must be a valid S3 bucket name.", env="DUBBING_S3_BUCKET"
    )
    artifacts_url: str | None = setting(
        None,
        "The operator's artifact store (its `DUBBING_ARTIFACTS_URL`, `s3://<bucket>[/<prefix>]`, on the same "
        "MinIO): where the segment editor reads a job's segments and stores its edits. Unset: the upload bucket.",
        env="DUBBING_ARTIFACTS_URL",
    )
    redis_url: str | None = setting(
        None, "Redis (optional: live updates and login throttling shared between replicas)."
    )
    # links and notifications
    public_url: BaseUrl = setting(
        "http://localhost:8080",
        "Base of links in notifications.",
        env=("DUBBING_PUBLIC_URL", "DUBBING_PUBLIC_BASE_URL"),
    )
    link_minutes: int = setting(
        60, "Lifetime of the presigned links to outputs and media the pages and the API hand out.", ge=1, le=7 * 24 * 60
    )
    ntfy_url: BaseUrl | None = setting(None, "The operator's ntfy server (unset: notifications are off).")
    ntfy_token: str | None = setting(None, "Its access token.", secret=True)
    # accounts
    cookie_secure: Bool = setting(False, "Mark the session cookie `Secure`; set it behind HTTPS.")
    session_hours: int = setting(24 * 7, "Session lifetime in hours.", ge=1)
    session_idle_minutes: int = setting(
        120, "A session unused this long ends (0: only the lifetime ends it).", ge=0, le=60 * 24 * 365
    )
    api_token_days: int = setting(90, "Longest lifetime of an API token, in days (also its default).", ge=1, le=3650)
    admin_user: str | None = setting(
        None,
        "The first admin, created only when no admin exists (with the password).",
        env=("DUBBING_ADMIN_USER", "DUBBING_ADMIN_USERNAME"),
    )
    admin_password: str | None = setting(None, "The first admin's password.", secret=True)
    login_max_failures: int = setting(
        5, "Failed logins of one account (from any address) within the window before refusing it.", ge=1
    )
    login_max_failures_per_client: int = setting(
        20, "Failed logins from one client address (on any accounts) within the window before refusing it.", ge=1
    )
    trusted_proxies: CommaList = setting(
        ("127.0.0.1",),
        "Addresses or CIDRs of the reverse proxies (the Ingress controller) whose `X-Forwarded-For` and "
        "`X-Forwarded-Proto` name the client; `*` trusts every peer. Others' forwarded headers are ignored.",
        env="DUBBING_WEBUI_TRUSTED_PROXIES",
        doc_default="`127.0.0.1`",
    )
    login_window_s: WholeSeconds = setting(
        300, "The login throttling window.", env="DUBBING_LOGIN_WINDOW_SECONDS", ge=1
    )
    # uploads
    max_upload_bytes: Annotated[int, BeforeValidator(_mib_to_bytes)] = setting(
        20 * 1024 * MiB,
        "Largest upload, in MiB.",
        env="DUBBING_MAX_UPLOAD_MIB",
        doc_type="int (MiB)",
        doc_default="`20480`",
        ge=1,
    )
    chunk_size: int = setting(
        8 * MiB,
        "Chunk (= S3 part) size in bytes, at least 5 MiB (the S3 part minimum).",
        env="DUBBING_UPLOAD_CHUNK_BYTES",
        ge=5 * MiB,
    )
    upload_transfer: Annotated[Literal["auto", "direct", "proxy"], BeforeValidator(_lower)] = setting(
        "auto",
        "How the upload page sends parts: `direct` to MinIO with presigned part URLs (signed for "
        "`DUBBING_S3_PUBLIC_URL` when set, else the endpoint; MinIO must allow the web UI's origin by CORS), "
        "`proxy` through the web UI (each part streamed on to MinIO, nothing spooled), `auto`: direct when "
        "`DUBBING_S3_PUBLIC_URL` is set.",
    )
    proxy_parts_per_user: int = setting(
        8,
        "Chunks one user may send through the web UI at once (proxy transfer); more are refused with 429.",
        ge=1,
    )
    spool_dir: Path | None = setting(
        None,
        "Where tus uploads' unfinished parts are spooled (unset: the data directory; the chunk API spools "
        "nothing). Give it its own volume so uploads can never fill the one holding the SQLite file.",
    )
    spool_per_user_bytes: int = setting(
        256 * MiB,
        "Spool one user's unfinished uploads and requests in flight may hold; more is refused with 507.",
        ge=5 * MiB,
    )
    spool_max_bytes: int = setting(
        4096 * MiB, "Spool all users together may hold; more is refused with 507.", ge=5 * MiB
    )
    spool_min_free_bytes: int = setting(
        512 * MiB, "Free space the spool's file system keeps; a request that would leave less gets 507.", ge=0
    )
    complete_wait_s: Seconds = setting(
        20.0,
        "How long completing an upload waits for its hashing and probing before answering 202 "
        "(state `assembled`; ask again to learn the outcome).",
        env="DUBBING_UPLOAD_COMPLETE_WAIT_SECONDS",
        ge=0,
    )
    upload_expiry_hours: int = setting(24, "Unfinished uploads expire after this many hours.", ge=1)
    retention_upload_days: int = setting(
        30, "Days a finished upload is kept (the object store expires it; 0: kept).", ge=0, le=36500
    )
    retention_output_days: int = setting(
        90, "Days a job's outputs and records in the store are kept (0: kept).", ge=0, le=36500
    )
    retention_cache_days: int = setting(30, "Days a stage cache entry is kept (0: kept).", ge=0, le=36500)
    quota_stored_bytes: int = setting(
        50 * 1024 * MiB, "Bytes of uploads one user may keep (0: no limit).", ge=0, doc_default="`53687091200` (50 GiB)"
    )
    quota_open_uploads: int = setting(5, "Unfinished uploads one user may have at once (0: no limit).", ge=0)
    quota_active_jobs: int = setting(20, "Unfinished jobs one user may have at once (0: no limit).", ge=0)
    sweep_interval_s: Seconds = setting(
        600.0, "How often the sweeper aborts expired uploads.", env="DUBBING_UPLOAD_SWEEP_SECONDS", gt=0
    )
    allowed_types: CommaList = setting(
        ("video/", "audio/", "application/octet-stream", "application/x-matroska"),
        "Accepted MIME types (a trailing `/` is a prefix).",
        env="DUBBING_UPLOAD_TYPES",
        doc_default="`video/,audio/,application/octet-stream,application/x-matroska`",
    )
    ffprobe: str = setting("ffprobe", "The probe binary.")
    # caps per user
    max_streams_per_user: int = setting(
        8, "Event and log streams one user may hold open at once (more are refused with 429).", ge=1
    )
    notify_tests_per_window: int = setting(
        3, "Test notifications one user may send per window (more are refused with 429).", ge=1
    )
    notify_test_window_s: Seconds = setting(
        600.0, "The window of the test-notification limit.", env="DUBBING_NOTIFY_TEST_WINDOW_SECONDS", gt=0
    )
    max_body_bytes: int = setting(
        64 * 1024,
        "Largest request body of forms and JSON (upload data is bounded by the chunk size instead).",
        env="DUBBING_MAX_REQUEST_BODY_BYTES",
        ge=1024,
    )
    sse_keepalive_seconds: Seconds = setting(15.0, "Keep-alive comment interval of event streams.", gt=0)
    model_pull_job: Path | None = setting(
        None,
        "The Job manifest a model pull runs as (the chart's model-pull ConfigMap); unset: the models page "
        "offers no pulls. The model cache is read from `DUBBING_MODEL_CACHE`.",
        env="DUBBING_MODEL_PULL_JOB",
    )
    model_pull_namespace: str = setting(
        "dubbing", "Namespace of model pull Jobs (the model cache's).", env="DUBBING_MODEL_PULL_NAMESPACE"
    )
    model_pull_prefix: str = setting(
        "dubbing-model-pull", "Name prefix of model pull Jobs.", env="DUBBING_MODEL_PULL_PREFIX", max_length=52
    )
