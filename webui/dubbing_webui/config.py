"""Settings of the web UI, all read from the environment (see docs/webui.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

MiB = 1024 * 1024


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret(name: str) -> str | None:
    """A value from ``NAME`` or from the file named by ``NAME_FILE`` (a mounted Secret)."""
    value = os.environ.get(name)
    if value:
        return value
    path = os.environ.get(f"{name}_FILE")
    if path and Path(path).is_file():
        return Path(path).read_text().strip() or None
    return None


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    namespace: str = "dubbing"
    kubeconfig: str | None = None
    minio_endpoint: str = "127.0.0.1:9000"
    minio_access_key: str = "minioadmin"
    minio_secret_key: str = "minioadmin"
    minio_secure: bool = False
    minio_region: str = "us-east-1"
    upload_bucket: str = "dubbing"
    redis_url: str | None = None
    public_url: str = "http://localhost:8080"
    ntfy_url: str | None = None
    ntfy_token: str | None = None
    cookie_secure: bool = False
    session_hours: int = 24 * 7
    max_upload_bytes: int = 20 * 1024 * MiB
    chunk_size: int = 8 * MiB
    upload_expiry_hours: int = 24
    sweep_interval_s: float = 600.0
    allowed_types: tuple[str, ...] = ("video/", "audio/", "application/octet-stream", "application/x-matroska")
    admin_user: str | None = None
    admin_password: str | None = None
    login_max_failures: int = 5
    login_window_s: int = 300
    ffprobe: str = "ffprobe"
    watch_jobs: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        chunk = int(env.get("DUBBING_UPLOAD_CHUNK_BYTES", str(8 * MiB)))
        if chunk < 5 * MiB:
            raise ValueError("DUBBING_UPLOAD_CHUNK_BYTES must be at least 5 MiB (S3 part minimum)")
        types = env.get("DUBBING_UPLOAD_TYPES")
        endpoint, secure = parse_endpoint(env.get("DUBBING_S3_ENDPOINT", "http://127.0.0.1:9000"))
        max_mib = env.get("DUBBING_MAX_UPLOAD_MIB")
        return cls(
            data_dir=Path(env.get("DUBBING_DATA_DIR", "/var/lib/dubbing-webui")),
            namespace=env.get("DUBBING_JOBS_NAMESPACE", "dubbing"),
            kubeconfig=env.get("KUBECONFIG") or None,
            minio_endpoint=endpoint,
            minio_access_key=_secret("DUBBING_S3_ACCESS_KEY") or "minioadmin",
            minio_secret_key=_secret("DUBBING_S3_SECRET_KEY") or "minioadmin",
            minio_secure=secure,
            minio_region=env.get("DUBBING_S3_REGION", "us-east-1"),
            upload_bucket=env.get("DUBBING_S3_BUCKET", "dubbing"),
            redis_url=env.get("DUBBING_REDIS_URL") or None,
            public_url=(env.get("DUBBING_PUBLIC_URL") or env.get("DUBBING_PUBLIC_BASE_URL") or "http://localhost:8080").rstrip("/"),
            ntfy_url=(env.get("DUBBING_NTFY_URL") or "").rstrip("/") or None,
            ntfy_token=_secret("DUBBING_NTFY_TOKEN"),
            cookie_secure=_bool(env.get("DUBBING_COOKIE_SECURE"), False),
            session_hours=int(env.get("DUBBING_SESSION_HOURS", "168")),
            max_upload_bytes=int(max_mib) * MiB if max_mib else 20 * 1024 * MiB,
            chunk_size=chunk,
            upload_expiry_hours=int(env.get("DUBBING_UPLOAD_EXPIRY_HOURS", "24")),
            sweep_interval_s=float(env.get("DUBBING_UPLOAD_SWEEP_SECONDS", "600")),
            allowed_types=tuple(t.strip() for t in types.split(",") if t.strip()) if types else cls.allowed_types,
            admin_user=env.get("DUBBING_ADMIN_USER") or env.get("DUBBING_ADMIN_USERNAME") or None,
            admin_password=_secret("DUBBING_ADMIN_PASSWORD"),
            login_max_failures=int(env.get("DUBBING_LOGIN_MAX_FAILURES", "5")),
            login_window_s=int(env.get("DUBBING_LOGIN_WINDOW_SECONDS", "300")),
            ffprobe=env.get("DUBBING_FFPROBE", "ffprobe"),
            watch_jobs=_bool(env.get("DUBBING_WATCH_JOBS"), True),
        )


def parse_endpoint(value: str) -> tuple[str, bool]:
    """``http(s)://host:port`` (or bare ``host:port``) -> (host:port, secure)."""
    value = value.strip().rstrip("/")
    if value.startswith("https://"):
        return value[8:], True
    if value.startswith("http://"):
        return value[7:], False
    return value, False
