"""The artifact store interface: where stage inputs, outputs and manifests live.

Keys are relative to the store's prefix and use ``/`` separators, like object keys.
Two implementations: :class:`~dubbing.artifacts.local.LocalStore` (a directory) and
:class:`~dubbing.artifacts.minio_store.MinioStore` (a bucket and prefix in MinIO/S3).

Writes are atomic per object: a reader never sees a half-written object (a local
file is written under a temporary name and renamed; an S3 PUT only becomes visible
when complete).  Completeness of a *group* of objects (a stage's outputs) is the
stage runtime's business: it writes the group's manifest last.
"""

from __future__ import annotations

import abc
import hashlib
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


class StoreError(RuntimeError):
    """The store could not be reached or refused an operation (retryable)."""


class ArtifactNotFound(StoreError, KeyError):
    """No object under that key."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:  # KeyError quotes its argument; we want a plain line
        return f"artifact not found: {self.key}"


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str | None = None
    modified: datetime | None = None
    sha256: str | None = None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            block = handle.read(CHUNK)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def guess_content_type(key: str) -> str:
    extra = {
        ".srt": "application/x-subrip",
        ".vtt": "text/vtt",
        ".json": "application/json",
        ".wav": "audio/wav",
        ".mkv": "video/x-matroska",
        ".mp4": "video/mp4",
    }
    suffix = Path(key).suffix.lower()
    if suffix in extra:
        return extra[suffix]
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


def check_key(key: str) -> str:
    """Refuse keys that could escape the prefix or that name nothing."""
    if not key or key.startswith("/") or key.endswith("/"):
        raise ValueError(f"bad artifact key {key!r}")
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"bad artifact key {key!r}")
    return key


def join(*parts: str) -> str:
    """Join key parts with ``/``, ignoring empty ones."""
    return "/".join(part.strip("/") for part in parts if part and part.strip("/"))


class ArtifactStore(abc.ABC):
    """A flat namespace of objects under one prefix."""

    #: ``file`` or ``s3``
    scheme: str = ""

    @abc.abstractmethod
    def put_file(self, key: str, path: Path, content_type: str | None = None) -> ObjectInfo:
        """Store the file at ``path`` under ``key`` (atomically) and return its info, sha256 included."""

    @abc.abstractmethod
    def put_stream(self, key: str, stream: BinaryIO, length: int, content_type: str | None = None) -> ObjectInfo:
        """Store ``length`` bytes read from ``stream``."""

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> ObjectInfo:
        import io

        info = self.put_stream(key, io.BytesIO(data), len(data), content_type)
        return ObjectInfo(info.key, info.size, info.etag, info.modified, sha256_bytes(data))

    @abc.abstractmethod
    def get_file(self, key: str, dest: Path) -> Path:
        """Download ``key`` to ``dest`` (parents created; written atomically). Raises ArtifactNotFound."""

    @abc.abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """The whole object. Raises ArtifactNotFound."""

    @abc.abstractmethod
    def stat(self, key: str) -> ObjectInfo | None:
        """Size, etag and time of ``key``, or None if it does not exist."""

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (recursive), keys relative to the store."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; no error if it is absent."""

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under ``prefix``; return how many."""
        keys = [info.key for info in self.list(prefix)]
        for key in keys:
            self.delete(key)
        return len(keys)

    def copy(self, source: str, dest: str) -> ObjectInfo:
        """Copy one object to another key in this store (server-side where possible)."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="dubbing-copy-") as tmp:
            local = self.get_file(source, Path(tmp) / "object")
            return self.put_file(dest, local)

    def presign(self, key: str, expires_seconds: int = 3600) -> str | None:
        """A URL a browser may GET for a while, where the store supports it."""
        return None

    @abc.abstractmethod
    def url(self, key: str = "") -> str:
        """A human-readable address of ``key`` (``s3://bucket/prefix/key``, ``file:///dir/key``)."""

    @abc.abstractmethod
    def for_bucket(self, bucket: str, prefix: str = "") -> ArtifactStore:
        """A store over another bucket (same server/credentials): where a job's input lives."""

    def get_json(self, key: str):  # any JSON value
        import json

        return json.loads(self.get_bytes(key).decode("utf-8"))

    def put_json(self, key: str, value) -> ObjectInfo:
        import json

        data = (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
        return self.put_bytes(key, data, "application/json")
