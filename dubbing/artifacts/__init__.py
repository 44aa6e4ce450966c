"""Artifact stores: where stages read inputs and write outputs and manifests.

``open_store(url)`` picks the implementation from a URL (usually ``$DUBBING_ARTIFACTS``):

- ``s3://<bucket>/<prefix>``: :class:`MinioStore` (connection from ``DUBBING_S3_*``)
- ``file:///abs/path`` (or a plain path): :class:`LocalStore`

The key layout the stages use inside a store is described in :mod:`dubbing.stages.layout`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..config.stage import StageSettings
from .base import ArtifactNotFound, ArtifactStore, ObjectInfo, StoreError, sha256_bytes, sha256_file
from .local import LocalStore
from .minio_store import MinioStore, S3Settings

__all__ = [
    "ArtifactNotFound",
    "ArtifactStore",
    "LocalStore",
    "MinioStore",
    "ObjectInfo",
    "S3Settings",
    "StoreError",
    "open_store",
    "parse_store_url",
    "sha256_bytes",
    "sha256_file",
]


def parse_store_url(url: str) -> tuple[str, str, str]:
    """``(scheme, bucket_or_dir, prefix)``; scheme is ``s3`` or ``file``. Raises ValueError."""
    url = url.strip()
    if not url:
        raise ValueError("empty artifacts URL")
    if "://" not in url:
        return "file", str(Path(url).expanduser().resolve()), ""
    parsed = urlparse(url)
    if parsed.scheme in ("s3", "minio"):
        if not parsed.netloc:
            raise ValueError(f"artifacts URL {url!r} names no bucket (s3://<bucket>/<prefix>)")
        return "s3", parsed.netloc, parsed.path.strip("/")
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"artifacts URL {url!r}: file URLs must be file:///absolute/path")
        path = unquote(parsed.path)
        if not path.startswith("/"):
            raise ValueError(f"artifacts URL {url!r}: file URLs must be absolute")
        return "file", path, ""
    raise ValueError(f"artifacts URL {url!r}: scheme must be s3:// or file://")


def open_store(url: str | None = None, env: Mapping[str, str] | None = None) -> ArtifactStore:
    """The store named by ``url`` (default ``$DUBBING_ARTIFACTS``)."""
    url = url or StageSettings.from_env(env).artifacts
    if not url:
        raise ValueError(
            "no artifact store: set DUBBING_ARTIFACTS (s3://bucket/prefix or file:///abs/path) or pass --artifacts"
        )
    scheme, where, prefix = parse_store_url(url)
    if scheme == "s3":
        return MinioStore(where, prefix, S3Settings.from_env(env))
    return LocalStore(where)
