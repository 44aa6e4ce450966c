"""An artifact store in MinIO (or any S3): ``s3://<bucket>/<prefix>``, through the ``minio`` SDK.

Connection settings come from the environment (the operator puts them in every stage Pod):
:class:`S3Settings`, ``DUBBING_S3_*`` (docs/settings.md).

An S3 PUT is atomic: an object becomes visible only when completely written, so a
reader never sees half an object.  Each object also carries its SHA-256 in its user
metadata (``x-amz-meta-sha256``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, ClassVar, Self

from ..config.base import Bool, DubbingSettings, setting
from .base import (
    ArtifactNotFound,
    ArtifactStore,
    ObjectInfo,
    StoreError,
    check_key,
    guess_content_type,
    join,
    sha256_file,
)

_MISSING = {"NoSuchKey", "NoSuchObject", "NoSuchBucket", "ResourceNotFound"}


class S3Settings(DubbingSettings):
    """How a stage reaches MinIO/S3 when its artifact store is ``s3://``."""

    s3_fields: ClassVar[tuple[str, str] | None] = ("endpoint", "secure")

    endpoint: str = setting(
        "",
        "The MinIO/S3 server: `host:port` or `http(s)://host:port` (`https://` turns TLS on). "
        "Required when the artifact store is `s3://`.",
        env="DUBBING_S3_ENDPOINT",
        doc_type="S3 endpoint",
    )
    access_key: str | None = setting(None, "Access key.", env="DUBBING_S3_ACCESS_KEY", secret=True)
    secret_key: str | None = setting(None, "Secret key.", env="DUBBING_S3_SECRET_KEY", secret=True)
    session_token: str | None = setting(
        None,
        "Session token of temporary credentials (a stage Pod's job-scoped keys); such keys never create buckets.",
        env="DUBBING_S3_SESSION_TOKEN",
        secret=True,
    )
    secure: Bool = setting(
        False,
        "TLS to the server (unset: from the endpoint's scheme; contradicting the scheme is an error).",
        env="DUBBING_S3_SECURE",
    )
    region: str | None = setting(None, "Region (optional).", env="DUBBING_S3_REGION")
    connect_timeout_seconds: float = setting(
        10.0,
        "Longest wait to open a connection to the store. A store that does not answer fails the "
        "call after the retries (StoreUnavailable) instead of holding the stage (the SDK's own "
        "default is 5 minutes for each of 6 tries).",
        env="DUBBING_S3_CONNECT_TIMEOUT_SECONDS",
        gt=0,
    )
    read_timeout_seconds: float = setting(
        120.0,
        "Longest silence from the store while waiting for its answer or the next bytes of one.",
        env="DUBBING_S3_READ_TIMEOUT_SECONDS",
        gt=0,
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        settings = super().from_env(env)
        if not settings.endpoint:
            raise StoreError("DUBBING_S3_ENDPOINT is not set (host:port of the MinIO/S3 server)")
        return settings

    def http_client(self):  # urllib3.PoolManager
        """The SDK's connection pool with these timeouts (its TLS trust and retries otherwise)."""
        import os

        import certifi
        import urllib3

        return urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=self.connect_timeout_seconds, read=self.read_timeout_seconds),
            maxsize=10,
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            retries=urllib3.Retry(total=5, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
        )

    def client(self):  # minio.Minio
        from minio import Minio

        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            session_token=self.session_token,
            secure=self.secure,
            # scoped keys may not ask for the bucket's location: without a region, us-east-1 (MinIO's default)
            region=self.region or ("us-east-1" if self.session_token else None),
            http_client=self.http_client(),
        )


class MinioStore(ArtifactStore):
    scheme = "s3"

    def __init__(self, bucket: str, prefix: str = "", settings: S3Settings | None = None, client=None) -> None:
        self.bucket = bucket
        self.prefix = join(prefix)
        self.settings = settings or S3Settings.from_env()
        self.client = client or self.settings.client()
        self._bucket_ready = False

    def __repr__(self) -> str:
        return f"MinioStore({self.url()!r} at {self.settings.endpoint})"

    # ------------------------------------------------------------------ helpers
    def _object(self, key: str) -> str:
        return join(self.prefix, check_key(key))

    def _relative(self, name: str) -> str:
        if self.prefix:
            return name[len(self.prefix) + 1 :]
        return name

    def _call(self, what: str, key: str, fn, *args, **kwargs):
        from minio.error import S3Error

        try:
            return fn(*args, **kwargs)
        except S3Error as error:
            if error.code in _MISSING:
                raise ArtifactNotFound(key) from None
            raise StoreError(
                f"{what} s3://{self.bucket}/{self._object(key) if key else self.prefix}: {error.code}: {error.message}"
            ) from error
        except ArtifactNotFound:
            raise
        except StoreError:
            raise
        except Exception as error:  # urllib3/connection errors: retryable
            raise StoreError(f"{what} s3://{self.bucket}: {type(error).__name__}: {error}") from error

    def ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        if self.settings.session_token:
            # job-scoped keys may use the objects of their prefixes only: the operator made the bucket
            self._bucket_ready = True
            return

        def make() -> None:
            if not self.client.bucket_exists(self.bucket):
                from minio.error import S3Error

                try:
                    self.client.make_bucket(self.bucket, location=self.settings.region)
                except S3Error as error:
                    if error.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                        raise

        self._call("create bucket", "", make)
        self._bucket_ready = True

    # --------------------------------------------------------------- interface
    def put_file(self, key: str, path: Path, content_type: str | None = None) -> ObjectInfo:
        self.ensure_bucket()
        digest = sha256_file(Path(path))
        result = self._call(
            "put",
            key,
            self.client.fput_object,
            self.bucket,
            self._object(key),
            str(path),
            content_type=content_type or guess_content_type(key),
            metadata={"sha256": digest},
        )
        return ObjectInfo(key=key, size=Path(path).stat().st_size, etag=result.etag, sha256=digest)

    def put_stream(
        self, key: str, stream: BinaryIO, length: int, content_type: str | None = None, sha256: str | None = None
    ) -> ObjectInfo:
        self.ensure_bucket()
        result = self._call(
            "put",
            key,
            self.client.put_object,
            self.bucket,
            self._object(key),
            stream,
            length,
            content_type=content_type or guess_content_type(key),
            metadata={"sha256": sha256} if sha256 else None,
        )
        return ObjectInfo(key=key, size=length, etag=result.etag, sha256=sha256)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> ObjectInfo:
        import io

        return self.put_stream(key, io.BytesIO(data), len(data), content_type, hashlib.sha256(data).hexdigest())

    def get_file(self, key: str, dest: Path) -> Path:
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        # fget_object downloads to "<dest>.<etag>.part.minio" and renames when complete.
        self._call("get", key, self.client.fget_object, self.bucket, self._object(key), str(dest))
        return dest

    def get_bytes(self, key: str) -> bytes:
        def read() -> bytes:
            response = self.client.get_object(self.bucket, self._object(key))
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        return self._call("get", key, read)

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            st = self._call("stat", key, self.client.stat_object, self.bucket, self._object(key))
        except ArtifactNotFound:
            return None
        meta = {k.lower(): v for k, v in (st.metadata or {}).items()}
        return ObjectInfo(
            key=key,
            size=int(st.size or 0),
            etag=st.etag,
            modified=st.last_modified,
            sha256=meta.get("x-amz-meta-sha256"),
        )

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        full = join(self.prefix, prefix) if prefix else (self.prefix + "/" if self.prefix else "")
        if prefix.endswith("/") and full and not full.endswith("/"):
            full += "/"
        try:
            objects = list(
                self._call(
                    "list", prefix, lambda: list(self.client.list_objects(self.bucket, prefix=full, recursive=True))
                )
            )
        except ArtifactNotFound:  # no bucket yet: nothing in it
            return
        for item in objects:
            if item.is_dir:
                continue
            yield ObjectInfo(
                key=self._relative(item.object_name),
                size=int(item.size or 0),
                etag=item.etag,
                modified=item.last_modified,
            )

    def delete(self, key: str) -> None:
        try:
            self._call("delete", key, self.client.remove_object, self.bucket, self._object(key))
        except ArtifactNotFound:
            return

    def copy(self, source: str, dest: str) -> ObjectInfo:
        from minio.commonconfig import CopySource

        self.ensure_bucket()
        st = self.stat(source)
        if st is None:
            raise ArtifactNotFound(source)
        if st.size > 5 * 1024**3:  # server-side copy is limited to 5 GiB: go through a file
            return super().copy(source, dest)
        result = self._call(
            "copy",
            dest,
            self.client.copy_object,
            self.bucket,
            self._object(dest),
            CopySource(self.bucket, self._object(source)),
        )
        return ObjectInfo(key=dest, size=st.size, etag=result.etag, sha256=st.sha256)

    def presign(self, key: str, expires_seconds: int = 3600) -> str | None:
        return self._call(
            "presign",
            key,
            self.client.presigned_get_object,
            self.bucket,
            self._object(key),
            expires=timedelta(seconds=expires_seconds),
        )

    def url(self, key: str = "") -> str:
        path = join(self.prefix, key) if key else self.prefix
        return f"s3://{self.bucket}/{path}" if path else f"s3://{self.bucket}"

    def for_bucket(self, bucket: str, prefix: str = "") -> MinioStore:
        return MinioStore(bucket, prefix, self.settings, self.client)

    def with_prefix(self, prefix: str) -> MinioStore:
        return MinioStore(self.bucket, join(self.prefix, prefix), self.settings, self.client)
