"""Resumable uploads into a MinIO multipart upload.

The file is cut into fixed-size chunks (the server's chunk size, at least the
S3 minimum part size of 5 MiB); chunk ``i`` is S3 part ``i + 1``.  A chunk is
streamed to a temp file while it is hashed, compared with the SHA-256 the
client sent, and only then uploaded as a part, so a bad chunk changes nothing.
The upload's record and its parts live in SQLite (the authoritative store), so
the server can always say which chunks it holds.  The tus protocol maps onto
the same parts through a per-upload partial-part file on disk.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from . import names, quotas, retention
from .config import Settings
from .objects import ObjectStore
from .probe import ProbeError, media_summary, probe_url
from .store import PartRecord, Store, UploadRecord, User

log = logging.getLogger(__name__)
MAX_PARTS = 10_000  # S3's limit on parts in one multipart upload


class UploadError(ValueError):
    status = 400


class NotFound(UploadError):
    status = 404


class Conflict(UploadError):
    status = 409


class TooLarge(UploadError):
    status = 413


class OverQuota(UploadError):
    """A per-user limit (unfinished uploads: 429, stored bytes: 413)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ChecksumMismatch(UploadError):
    status = 460  # tus' "Checksum Mismatch"; the chunk API answers 422


@dataclass(frozen=True)
class UploadStatus:
    record: UploadRecord
    chunks: list[int]  # 0-based indices held
    offset: int  # contiguous bytes held from the start

    def as_dict(self, include_missing: bool = True) -> dict[str, Any]:
        rec = self.record
        out: dict[str, Any] = {
            "id": rec.id,
            "name": rec.name,
            "size": rec.size,
            "type": rec.type,
            "state": rec.state,
            "chunkSize": rec.chunk_size,
            "chunkCount": rec.chunk_count,
            "receivedChunks": self.chunks,
            "offset": self.offset,
            "bucket": rec.bucket,
            "key": rec.key,
            "expires": rec.expires,
            "sha256": rec.sha256,
            "probe": rec.probe,
        }
        if include_missing:
            held = set(self.chunks)
            out["missingChunks"] = [i for i in range(rec.chunk_count) if i not in held]
        return out


class UploadService:
    def __init__(self, settings: Settings, store: Store, objects: ObjectStore) -> None:
        self.settings = settings
        self.store = store
        self.objects = objects
        self.limits = quotas.Limits(
            settings.quota_stored_bytes, settings.quota_open_uploads, settings.quota_active_jobs
        )
        self.tmp = settings.data_dir / "tmp"
        self.partials = settings.data_dir / "partial"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.partials.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------ lifecycle
    def create(
        self, user: User, name: str, size: int, content_type: str, sha256: str | None = None, protocol: str = "chunks"
    ) -> UploadRecord:
        try:
            names.check_name(name)
            ctype = names.check_type(content_type, self.settings.allowed_types)
        except names.NameError_ as exc:
            raise UploadError(str(exc)) from exc
        if size <= 0:
            raise UploadError("size must be positive")
        if size > self.settings.max_upload_bytes:
            raise TooLarge(f"file is larger than the limit of {self.settings.max_upload_bytes} bytes")
        if -(-size // self.settings.chunk_size) > MAX_PARTS:
            raise TooLarge(f"file needs more than {MAX_PARTS} chunks of {self.settings.chunk_size} bytes")
        if sha256 is not None and not _is_hex_sha256(sha256):
            raise UploadError("sha256 must be 64 hex digits")
        usage = quotas.upload_usage((r.state, r.size) for r in self.store.uploads(user.name))
        refusal = quotas.upload_refusal(usage, size, self.limits)
        if refusal is not None:
            raise OverQuota(*refusal)
        upload_id = secrets.token_hex(16)
        key = f"uploads/{user.name}/{upload_id}/{names.key_name(name)}"
        bucket = self.objects.bucket
        s3_id = self.objects.start_multipart(bucket, key, ctype)
        now = time.time()
        rec = UploadRecord(
            id=upload_id,
            owner=user.name,
            name=name,
            size=size,
            type=ctype,
            bucket=bucket,
            key=key,
            s3_upload_id=s3_id,
            chunk_size=self.settings.chunk_size,
            state="open",
            created=now,
            expires=now + self.settings.upload_expiry_hours * 3600,
            sha256=None,
            probe=None,
            metadata={"protocol": protocol, "expectedSha256": sha256.lower() if sha256 else None},
        )
        self.store.add_upload(rec)
        return rec

    def get(self, user: User, upload_id: str) -> UploadRecord:
        rec = self.store.upload(upload_id)
        if rec is None or (rec.owner != user.name and not user.is_admin):
            raise NotFound("no such upload")
        return rec

    def list(self, user: User) -> list[UploadRecord]:
        return self.store.uploads(user.name)

    def status(self, rec: UploadRecord) -> UploadStatus:
        parts = self.store.parts(rec.id)
        chunks = [p.number - 1 for p in parts]
        offset = 0
        for i, p in enumerate(parts):
            if p.number != i + 1:
                break
            offset += p.size
        if rec.state == "open" and rec.metadata.get("protocol") == "tus" and offset == len(parts) * rec.chunk_size:
            partial = self._partial(rec)
            if partial.exists():
                offset += partial.stat().st_size
        if rec.state == "complete":
            offset = rec.size
        return UploadStatus(rec, chunks, offset)

    def _require_open(self, rec: UploadRecord) -> None:
        if rec.state != "open":
            raise Conflict(f"upload is {rec.state}")
        if rec.expires < time.time():
            raise NotFound("upload expired")

    # --------------------------------------------------------------- chunks
    async def put_chunk(
        self, user: User, upload_id: str, index: int, sha256_hex: str, body: AsyncIterator[bytes]
    ) -> UploadStatus:
        rec = self.get(user, upload_id)
        self._require_open(rec)
        if not _is_hex_sha256(sha256_hex):
            raise UploadError("X-Chunk-SHA256 must be 64 hex digits")
        try:
            expected_len = rec.chunk_length(index)
        except IndexError:
            raise UploadError(f"chunk index must be between 0 and {rec.chunk_count - 1}") from None
        path, digest, md5, size = await self._spool(body, expected_len)
        try:
            if size != expected_len:
                raise UploadError(f"chunk {index} must be {expected_len} bytes, got {size}")
            if digest != sha256_hex.lower():
                raise ChecksumMismatch("chunk SHA-256 does not match; chunk refused")
            await self._store_part(rec, index + 1, path, size, digest, md5)
        finally:
            path.unlink(missing_ok=True)
        return self.status(rec)

    async def _spool(self, body: AsyncIterator[bytes], limit: int) -> tuple[Path, str, str, int]:
        """Stream a request body to a temp file, hashing; refuse more than ``limit`` bytes."""
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="chunk-")
        path = Path(name)
        sha, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
        try:
            with os.fdopen(fd, "wb") as fh:
                async for block in body:
                    size += len(block)
                    if size > limit:
                        raise TooLarge(f"body is larger than the expected {limit} bytes")
                    sha.update(block)
                    md5.update(block)
                    fh.write(block)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path, sha.hexdigest(), md5.hexdigest(), size

    async def _store_part(self, rec: UploadRecord, number: int, path: Path, size: int, sha: str, md5: str) -> None:
        etag = await anyio.to_thread.run_sync(
            self.objects.put_part, rec.bucket, rec.key, rec.s3_upload_id, number, path, size
        )
        if etag.lower() != md5:
            raise UploadError(f"part {number}: storage reported ETag {etag}, expected {md5}")
        self.store.put_part(rec.id, PartRecord(number, size, sha, etag))

    # ------------------------------------------------------------------ tus
    def _partial(self, rec: UploadRecord) -> Path:
        return self.partials / f"{rec.id}.part"

    async def tus_append(
        self, user: User, upload_id: str, offset: int, body: AsyncIterator[bytes], checksum: tuple[str, str] | None
    ) -> int:
        """Append bytes at ``offset`` (tus PATCH); returns the new offset."""
        rec = self.get(user, upload_id)
        self._require_open(rec)
        current = self.status(rec).offset
        if offset != current:
            raise Conflict(f"offset is {current}, not {offset}")
        path, sha, _md5, size = await self._spool(body, rec.size - offset)
        try:
            if checksum is not None:
                algo, value = checksum
                if algo != "sha256":
                    raise UploadError("only sha256 checksums are supported")
                if base64.b64encode(bytes.fromhex(sha)).decode() != value:
                    raise ChecksumMismatch("checksum mismatch")
            await self._absorb(rec, offset, path, size)
        finally:
            path.unlink(missing_ok=True)
        return offset + size

    async def _absorb(self, rec: UploadRecord, offset: int, incoming: Path, size: int) -> None:
        """Move verified bytes into the partial-part file, cutting full parts as they fill."""
        partial = self._partial(rec)
        with incoming.open("rb") as src:
            remaining = size
            while remaining > 0:
                have = partial.stat().st_size if partial.exists() else 0
                part_index = (offset + size - remaining) // rec.chunk_size
                want = rec.chunk_length(part_index) - have
                take = min(want, remaining)
                with partial.open("ab") as dst:
                    _copy_n(src, dst, take)
                remaining -= take
                if have + take == rec.chunk_length(part_index):
                    sha, md5 = _file_hashes(partial)
                    await self._store_part(rec, part_index + 1, partial, have + take, sha, md5)
                    partial.unlink()

    # ------------------------------------------------------- complete, abort
    def complete(self, user: User, upload_id: str) -> UploadStatus:
        rec = self.get(user, upload_id)
        if rec.state == "complete":
            return self.status(rec)
        self._require_open(rec)
        parts = self.store.parts(rec.id)
        missing = sorted(set(range(1, rec.chunk_count + 1)) - {p.number for p in parts})
        if missing:
            raise Conflict(f"missing chunks: {[m - 1 for m in missing][:50]}")
        self.objects.complete_multipart(rec.bucket, rec.key, rec.s3_upload_id, [(p.number, p.etag) for p in parts])
        try:
            digest = self.objects.sha256(rec.bucket, rec.key)
            expected = rec.metadata.get("expectedSha256")
            if expected and digest != expected:
                raise UploadError("the file's SHA-256 does not match the one given at creation")
            info = probe_url(self.objects.presigned_get(rec.bucket, rec.key, hours=1), self.settings.ffprobe)
            summary = media_summary(info)
        except (ProbeError, UploadError) as exc:
            self.objects.delete(rec.bucket, rec.key)
            self.store.set_upload_state(rec.id, "rejected")
            raise UploadError(f"refused: {exc}") from exc
        self.store.set_upload_state(rec.id, "complete", sha256=digest, probe=summary)
        return self.status(self.get(user, upload_id))

    def abort(self, user: User, upload_id: str) -> None:
        rec = self.get(user, upload_id)
        self._discard(rec)

    def _discard(self, rec: UploadRecord) -> None:
        if rec.state == "open":
            self.objects.abort_multipart(rec.bucket, rec.key, rec.s3_upload_id)
        elif rec.state == "complete":
            self.objects.delete(rec.bucket, rec.key)
        self._partial(rec).unlink(missing_ok=True)
        self.store.delete_upload(rec.id)

    def sweep(self, now: float | None = None) -> int:
        """Abort the multipart uploads of expired, unfinished uploads, and forget finished uploads past
        their retention (the store's lifecycle rule deletes the object; deleting it here too makes the
        two agree at once); returns how many."""
        count = 0
        now = now if now is not None else time.time()
        past = [
            r
            for r in self.store.uploads(None, "complete")
            if retention.upload_is_past_retention(r.created, now, self.settings.retention_upload_days)
        ]
        for rec in self.store.expired_uploads(now) + past:
            try:
                self._discard(rec)
                count += 1
            except Exception:  # keep sweeping the others
                log.exception("sweeping upload %s failed", rec.id)
        for stale in self.tmp.glob("chunk-*"):
            if stale.stat().st_mtime < time.time() - 3600:
                stale.unlink(missing_ok=True)
        return count


def _is_hex_sha256(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value)


def _copy_n(src: Any, dst: Any, n: int) -> None:
    while n > 0:
        block = src.read(min(n, 1024 * 1024))
        if not block:
            raise OSError("short read")
        dst.write(block)
        n -= len(block)


def _file_hashes(path: Path) -> tuple[str, str]:
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while block := fh.read(1024 * 1024):
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), md5.hexdigest()


__all__ = ["UploadService", "UploadError", "NotFound", "Conflict", "TooLarge", "ChecksumMismatch"]
