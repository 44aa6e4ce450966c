"""MinIO access: multipart uploads (parts streamed from disk), presigned URLs, hashing."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, ParamSpec, TypeVar
from urllib.parse import urlsplit

import httpx
import urllib3
from minio import Minio
from minio.datatypes import Part
from minio.error import S3Error, ServerError
from minio.helpers import DictType

from .config import Settings
from .retention import ExpiryRule, apply_rules

READ_BLOCK = 1024 * 1024


class ObjectMissing(LookupError):
    """The object is not in the store."""


class StoreUnavailable(Exception):
    """The store did not answer or answered with a server error: the request may be retried (HTTP 503)."""


P = ParamSpec("P")
R = TypeVar("R")


def store_call(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn the store's transport failures and 5xx answers into :class:`StoreUnavailable`."""

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (urllib3.exceptions.HTTPError, httpx.TransportError, ServerError) as exc:
            raise StoreUnavailable(f"the object store is not answering ({type(exc).__name__})") from exc

    return call


class ObjectStore:
    def __init__(self, settings: Settings) -> None:
        self.client = Minio(
            settings.minio_endpoint,
            access_key=settings.minio_access_key,
            secret_key=settings.minio_secret_key,
            secure=settings.minio_secure,
            region=settings.minio_region,
            http_client=urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=3, read=300),
                maxsize=16,
                retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
            ),
        )
        self.bucket = settings.upload_bucket
        self.link_minutes = settings.link_minutes
        # Links are signed for the address browsers use (the signature covers the host); signing
        # needs no request, the region being known.
        self.signer = self.client
        if settings.s3_public_url:
            public = urlsplit(str(settings.s3_public_url))
            self.signer = Minio(
                public.netloc,
                access_key=settings.minio_access_key,
                secret_key=settings.minio_secret_key,
                secure=public.scheme == "https",
                region=settings.minio_region,
            )
        self._http = httpx.Client(timeout=httpx.Timeout(300.0, connect=5.0))

    def ensure_bucket(self, bucket: str | None = None) -> None:
        bucket = bucket or self.bucket
        if not self.client.bucket_exists(bucket):
            try:
                self.client.make_bucket(bucket)
            except S3Error as exc:
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def apply_retention(self, rules: list[ExpiryRule], bucket: str | None = None) -> None:
        """The bucket's lifecycle rules for this installation's prefixes (see :mod:`.retention`)."""
        apply_rules(self.client, bucket or self.bucket, rules)

    def healthy(self) -> bool:
        try:
            self.client.bucket_exists(self.bucket)
            return True
        except Exception:  # noqa: BLE001 - any failure means "not healthy"
            return False

    # ------------------------------------------------------------- multipart
    @store_call
    def start_multipart(self, bucket: str, key: str, content_type: str) -> str:
        return self.client._create_multipart_upload(bucket, key, {"Content-Type": content_type})

    @store_call
    def put_part(self, bucket: str, key: str, upload_id: str, number: int, path: Path, size: int) -> str:
        """Upload one part from a file on disk, streaming; returns the part's ETag."""
        url = self.client.get_presigned_url(
            "PUT",
            bucket,
            key,
            expires=timedelta(hours=1),
            extra_query_params={"partNumber": str(number), "uploadId": upload_id},
        )
        with path.open("rb") as fh:
            resp = self._http.put(url, content=_read_blocks(fh), headers={"Content-Length": str(size)})
        if resp.status_code >= 500:
            raise StoreUnavailable(f"the object store answered HTTP {resp.status_code} to part {number}")
        if resp.status_code != 200:
            raise OSError(f"part {number} upload failed: HTTP {resp.status_code}")
        return resp.headers["ETag"].strip('"')

    @store_call
    def complete_multipart(self, bucket: str, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        self.client._complete_multipart_upload(bucket, key, upload_id, [Part(n, etag) for n, etag in parts])

    @store_call
    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        try:
            self.client._abort_multipart_upload(bucket, key, upload_id)
        except S3Error as exc:
            if exc.code != "NoSuchUpload":
                raise

    # ---------------------------------------------------------------- objects
    def presigned_get(self, bucket: str, key: str, minutes: int | None = None, filename: str | None = None) -> str:
        """A link to read the object, valid ``minutes`` (default: DUBBING_LINK_MINUTES); with ``filename``
        the browser saves it under that name."""
        headers: DictType | None = (
            {"response-content-disposition": f'attachment; filename="{filename}"'} if filename else None
        )
        lifetime = timedelta(minutes=minutes or self.link_minutes)
        return self.signer.presigned_get_object(bucket, key, expires=lifetime, response_headers=headers)

    def read_small(self, bucket: str, key: str, max_bytes: int, timeout_s: float = 10.0) -> bytes:
        """A small object's bytes (a JSON report), within ``timeout_s``: a page waits for it, so a
        store that is down must not hold the page for the client's long retries."""
        url = self.client.presigned_get_object(bucket, key, expires=timedelta(minutes=5))
        with self._http.stream("GET", url, timeout=httpx.Timeout(timeout_s, connect=min(3.0, timeout_s))) as resp:
            if resp.status_code == 404:
                raise ObjectMissing(key)
            if resp.status_code != 200:
                raise OSError(f"HTTP {resp.status_code} reading {key}")
            data = bytearray()
            for block in resp.iter_bytes():
                data += block
                if len(data) > max_bytes:
                    raise OSError(f"{key} is larger than {max_bytes} bytes")
        return bytes(data)

    @store_call
    def sha256(self, bucket: str, key: str) -> str:
        digest = hashlib.sha256()
        resp = self.client.get_object(bucket, key)
        try:
            for block in resp.stream(READ_BLOCK):
                digest.update(block)
        finally:
            resp.close()
            resp.release_conn()
        return digest.hexdigest()

    @store_call
    def delete(self, bucket: str, key: str) -> None:
        self.client.remove_object(bucket, key)

    @store_call
    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.client.stat_object(bucket, key)
            return True
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                return False
            raise


def _read_blocks(fh: BinaryIO) -> Iterator[bytes]:
    while block := fh.read(READ_BLOCK):
        yield block
