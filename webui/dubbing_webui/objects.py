"""MinIO access: multipart uploads (parts streamed from disk), presigned URLs, hashing."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, ParamSpec, TypeVar
from urllib.parse import urlsplit

import httpx
import urllib3
from minio import Minio
from minio.datatypes import Part
from minio.error import S3Error, ServerError
from minio.helpers import DictType

from . import s3sign
from .config import Settings
from .retention import ExpiryRule, apply_rules

READ_BLOCK = 1024 * 1024


class ObjectMissing(LookupError):
    """The object is not in the store."""


class StoreUnavailable(Exception):
    """The store did not answer or answered with a server error: the request may be retried (HTTP 503)."""


class PartRefused(Exception):
    """The store refused a part: ``code`` is its S3 error code (``XAmzContentChecksumMismatch``: the
    bytes do not match the part's SHA-256)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SignedRequest:
    """A request a client may send without credentials: the URL and the headers its signature covers."""

    method: str
    url: str
    headers: dict[str, str]

    def as_dict(self) -> dict[str, object]:
        return {"method": self.method, "url": self.url, "headers": self.headers}


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
        self._async_http: httpx.AsyncClient | None = None
        scheme = "https" if settings.minio_secure else "http"
        self.endpoint = f"{scheme}://{settings.minio_endpoint}"
        self.public_endpoint = str(settings.s3_public_url).rstrip("/") if settings.s3_public_url else None
        self.creds = s3sign.Credentials(settings.minio_access_key, settings.minio_secret_key, settings.minio_region)

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

    # ------------------------------------------- multipart with part checksums
    def _sign(
        self,
        method: str,
        bucket: str,
        key: str,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        public: bool = False,
        minutes: int = 60,
    ) -> SignedRequest:
        endpoint = self.public_endpoint if public and self.public_endpoint else self.endpoint
        url = s3sign.presign(method, endpoint, bucket, key, self.creds, datetime.now(UTC), minutes * 60, query, headers)
        return SignedRequest(method, url, dict(headers or {}))

    def _send(self, req: SignedRequest, body: bytes = b"") -> httpx.Response:
        try:
            resp = self._http.request(req.method, req.url, headers=req.headers, content=body)
        except httpx.TransportError as exc:
            raise StoreUnavailable(f"the object store is not answering ({type(exc).__name__})") from exc
        if resp.status_code >= 500:
            raise StoreUnavailable(f"the object store answered HTTP {resp.status_code}")
        return resp

    def start_checksummed_multipart(self, bucket: str, key: str, content_type: str) -> str:
        """A multipart upload whose every part must carry its SHA-256 (``x-amz-checksum-sha256``)."""
        headers = {"x-amz-checksum-algorithm": "SHA256", "content-type": content_type}
        resp = self._send(self._sign("POST", bucket, key, {"uploads": ""}, headers))
        if resp.status_code != 200:
            raise OSError(f"starting the multipart upload failed: HTTP {resp.status_code} {_s3_code(resp)}")
        return s3sign.upload_id_of(resp.content)

    def part_request(
        self, bucket: str, key: str, upload_id: str, number: int, sha256_hex: str, size: int, public: bool
    ) -> SignedRequest:
        """The signed UploadPart of part ``number``, bound to its SHA-256 and length: the store refuses
        other bytes. ``public``: signed for the address browsers use (``DUBBING_S3_PUBLIC_URL``)."""
        headers = {"x-amz-checksum-sha256": s3sign.sha256_b64(sha256_hex), "content-length": str(size)}
        query = {"partNumber": str(number), "uploadId": upload_id}
        return self._sign("PUT", bucket, key, query, headers, public=public)

    async def stream_part(self, req: SignedRequest, body: AsyncIterator[bytes]) -> str:
        """Send one part from an async stream as it arrives (nothing kept); returns its ETag."""
        if self._async_http is None:
            self._async_http = httpx.AsyncClient(timeout=httpx.Timeout(300.0, connect=5.0))
        try:
            resp = await self._async_http.request(req.method, req.url, headers=req.headers, content=body)
        except httpx.TransportError as exc:
            raise StoreUnavailable(f"the object store is not answering ({type(exc).__name__})") from exc
        if resp.status_code >= 500:
            raise StoreUnavailable(f"the object store answered HTTP {resp.status_code}")
        if resp.status_code != 200:
            raise PartRefused(_s3_code(resp), f"the object store refused the part: HTTP {resp.status_code}")
        return resp.headers["ETag"].strip('"')

    def list_parts(self, bucket: str, key: str, upload_id: str) -> list[s3sign.ListedPart]:
        """The parts the store holds of a multipart upload (ListParts, every page)."""
        parts: list[s3sign.ListedPart] = []
        marker: int | None = 0
        while marker is not None:
            query = {"uploadId": upload_id, "max-parts": "1000", "part-number-marker": str(marker)}
            resp = self._send(self._sign("GET", bucket, key, query))
            if resp.status_code == 404:
                raise ObjectMissing(f"no multipart upload {upload_id}")
            if resp.status_code != 200:
                raise OSError(f"listing the parts failed: HTTP {resp.status_code} {_s3_code(resp)}")
            page, marker = s3sign.parse_list_parts(resp.content)
            parts += page
        return parts

    def complete_checksummed(self, bucket: str, key: str, upload_id: str, parts: Sequence[s3sign.ListedPart]) -> None:
        """CompleteMultipartUpload naming each part's ETag and SHA-256."""
        resp = self._send(self._sign("POST", bucket, key, {"uploadId": upload_id}), s3sign.complete_xml(parts))
        # S3 may answer 200 with an <Error> body once it has begun answering
        if resp.status_code != 200 or b"<Error>" in resp.content[:512]:
            code = _s3_code(resp)
            if code == "NoSuchUpload":
                raise ObjectMissing(f"no multipart upload {upload_id}")
            raise OSError(f"completing the upload failed: HTTP {resp.status_code} {code}")

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


def _s3_code(resp: httpx.Response) -> str:
    """The ``<Code>`` of an S3 error answer ('' when there is none)."""
    text = resp.text
    start = text.find("<Code>")
    end = text.find("</Code>", start)
    return text[start + 6 : end] if start >= 0 and end > start else ""


def _read_blocks(fh: BinaryIO) -> Iterator[bytes]:
    while block := fh.read(READ_BLOCK):
        yield block
