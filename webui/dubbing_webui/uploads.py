"""Resumable uploads into a MinIO multipart upload.

The file is cut into fixed-size chunks (the server's chunk size, at least the
S3 minimum part size of 5 MiB); chunk ``i`` is S3 part ``i + 1``.  The chunk
API's uploads are MinIO multipart uploads with SHA-256 part checksums: each part
is sent with its SHA-256 and MinIO refuses bytes that do not match, so a bad
chunk changes nothing. The web UI plans the parts, signs, and completes:

* direct: the client asks for a part's presigned UploadPart URL, whose signature
  covers the part's ``x-amz-checksum-sha256`` and length, and PUTs the bytes to
  MinIO itself (:meth:`UploadService.sign_part`);
* proxy: the client PUTs the chunk to the web UI, which streams the request body
  straight into MinIO's UploadPart as it arrives (:meth:`UploadService.put_chunk`;
  no spool file, no copy of the part in memory).

Which parts MinIO holds is asked of MinIO (ListParts), so resuming needs no
record of the parts here; completing names each part's ETag and checksum. The
``transfer`` setting says which of the two the upload page uses (the proxy route
answers in both). The upload's record lives in the store (SQLite or PostgreSQL),
so any replica takes the next chunk. The tus protocol maps onto the same parts
through a partial-part file on disk (per upload and part, on the replica that
took the bytes: another replica resumes from the last stored part): a PATCH
appends to it, and each time it holds a whole part the part goes to MinIO; bytes count as
received only once they are in the partial file or, for a full part, in MinIO (a
part that fails to reach MinIO is cut from the partial file again).  The spool
(:mod:`.spool`) bounds what each request, user and the whole server may hold.
"""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import logging
import os
import secrets
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import anyio
from minio.error import S3Error

from . import names, quotas, retention, s3sign
from . import upload_plan as plan
from .config import Settings
from .limits import LocalSlots
from .objects import ObjectMissing, ObjectStore, PartRefused, SignedRequest
from .probe import ProbeError, media_summary, probe_url
from .spool import Spool, SpoolLimits
from .store import PartRecord, Store, UploadRecord, User
from .upload_errors import ChecksumMismatch, Conflict, NotFound, OverQuota, SpoolFull, TooLarge, UploadError

log = logging.getLogger(__name__)
MAX_PARTS = 10_000  # S3's limit on parts in one multipart upload


@dataclass(frozen=True)
class UploadStatus:
    record: UploadRecord
    chunks: list[int]  # 0-based indices held
    offset: int  # contiguous bytes held from the start

    transfer: str = "proxy"  # how the upload page sends parts: "direct" (presigned) or "proxy"

    def as_dict(self, include_missing: bool = True) -> dict[str, Any]:
        rec = self.record
        out: dict[str, Any] = {
            "transfer": self.transfer,
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
        limits = SpoolLimits(settings.spool_per_user_bytes, settings.spool_max_bytes, settings.spool_min_free_bytes)
        self.spool = Spool(settings.spool_dir or settings.data_dir, limits, self._user_spooled, store.upload_writer)
        self.tmp = self.spool.tmp
        self.partials = self.spool.partials
        self._verifier = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="verify")
        self._verifying: dict[str, concurrent.futures.Future[None]] = {}
        self._verifying_lock = threading.Lock()
        # each proxied chunk holds a connection to MinIO while its body arrives, however slowly
        self.proxy_slots = LocalSlots(settings.proxy_parts_per_user, retry_after=2, what="chunks in flight")

    def _user_spooled(self, user: str) -> int:
        """Bytes in the partial-part files of the user's unfinished uploads."""
        total = 0
        for rec in self.store.uploads(user):
            if rec.state == "open":
                for partial in self._partials(rec):
                    try:
                        total += partial.stat().st_size
                    except FileNotFoundError:
                        pass
        return total

    @property
    def transfer(self) -> str:
        """``direct`` or ``proxy`` (``auto``: direct when the store has a public address)."""
        mode = self.settings.upload_transfer
        if mode == "auto":
            return "direct" if self.settings.s3_public_url else "proxy"
        return mode

    def direct_origin(self) -> str:
        """The origin the upload page sends parts to besides its own ('' when through the web UI)."""
        if self.transfer != "direct":
            return ""
        return plan.origin(self.objects.public_endpoint or self.objects.endpoint)

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
        checksummed = protocol != "tus"
        if checksummed:
            s3_id = self.objects.start_checksummed_multipart(bucket, key, ctype)
        else:
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
            metadata={
                "protocol": protocol,
                "expectedSha256": sha256.lower() if sha256 else None,
                "partChecksums": checksummed,
            },
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
        if _checksummed(rec):
            return self._checksummed_status(rec)
        parts = self.store.parts(rec.id)
        chunks = [p.number - 1 for p in parts]
        offset = 0
        for i, p in enumerate(parts):
            if p.number != i + 1:
                break
            offset += p.size
        if rec.state == "open" and rec.metadata.get("protocol") == "tus" and offset == len(parts) * rec.chunk_size:
            partial = self._partial(rec, len(parts))
            if partial.exists():
                offset += partial.stat().st_size
        if rec.state == "complete":
            offset = rec.size
        return UploadStatus(rec, chunks, offset, "proxy")  # no part checksums: only through the web UI

    def _held_parts(self, rec: UploadRecord) -> Sequence[s3sign.ListedPart]:
        """The parts MinIO holds of an open upload that belong to its plan (number and length right)."""
        try:
            listed = self.objects.list_parts(rec.bucket, rec.key, rec.s3_upload_id)
        except ObjectMissing:
            return []
        return [p for p in listed if 1 <= p.number <= rec.chunk_count and p.size == rec.chunk_length(p.number - 1)]

    def _checksummed_status(self, rec: UploadRecord) -> UploadStatus:
        if rec.state != "open":
            held = list(range(rec.chunk_count)) if rec.state in ("assembled", "complete") else []
            return UploadStatus(rec, held, rec.size if held else 0, self.transfer)
        chunks = [p.number - 1 for p in self._held_parts(rec)]
        return UploadStatus(rec, chunks, plan.contiguous_bytes(chunks, rec.chunk_size, rec.size), self.transfer)

    def _require_open(self, rec: UploadRecord) -> None:
        if rec.state != "open":
            raise Conflict(f"upload is {rec.state}")
        if rec.expires < time.time():
            raise NotFound("upload expired")

    # --------------------------------------------------------------- chunks
    def _part_plan(
        self, user: User, upload_id: str, index: int, sha256_hex: str, field: str
    ) -> tuple[UploadRecord, int]:
        """The open checksummed upload and chunk ``index``'s length, or the reason it may not be sent."""
        rec = self.get(user, upload_id)
        self._require_open(rec)
        if not _is_hex_sha256(sha256_hex):
            raise UploadError(f"{field} must be 64 hex digits")
        try:
            return rec, rec.chunk_length(index)
        except IndexError:
            raise UploadError(f"chunk index must be between 0 and {rec.chunk_count - 1}") from None

    def sign_part(self, user: User, upload_id: str, index: int, sha256_hex: str) -> SignedRequest:
        """The presigned UploadPart of chunk ``index`` (direct transfer): MinIO takes only bytes of this
        SHA-256 and this length."""
        rec, length = self._part_plan(user, upload_id, index, sha256_hex, "sha256")  # another's: as missing
        if self.transfer != "direct":
            raise Conflict("direct uploads are off: send the chunk to the web UI")
        if not _checksummed(rec):
            raise Conflict("this upload takes chunks through the web UI only")
        return self.objects.part_request(
            rec.bucket, rec.key, rec.s3_upload_id, index + 1, sha256_hex.lower(), length, public=True
        )

    async def put_chunk(
        self,
        user: User,
        upload_id: str,
        index: int,
        sha256_hex: str,
        body: AsyncIterator[bytes],
        length: int | None = None,
    ) -> UploadStatus:
        """Proxy transfer: stream the request body into MinIO as part ``index + 1`` while it arrives.

        MinIO checks the SHA-256 (the part's signed checksum header) and the length; nothing is
        kept here, so memory holds one network block at a time."""
        rec, expected = self._part_plan(user, upload_id, index, sha256_hex, "X-Chunk-SHA256")
        if length is not None and length > expected:
            raise TooLarge(f"chunk {index} is larger than its {expected} bytes: {length}")
        if length is not None and length != expected:
            raise UploadError(f"chunk {index} must be {expected} bytes, got {length}")
        req = self.objects.part_request(
            rec.bucket, rec.key, rec.s3_upload_id, index + 1, sha256_hex.lower(), expected, public=False
        )
        counted = _exactly(body, expected, index)
        slot = self.proxy_slots.acquire(user.name)
        try:
            etag = await self.objects.stream_part(req, counted)
        except PartRefused as exc:
            if exc.code in ("XAmzContentChecksumMismatch", "BadDigest", "InvalidDigest"):
                raise ChecksumMismatch("chunk SHA-256 does not match; chunk refused") from exc
            raise UploadError(f"chunk {index} refused by the object store ({exc.code or exc})") from exc
        finally:
            slot.release()
        if not _checksummed(rec):  # an upload begun before part checksums: its parts are recorded here
            self.store.put_part(rec.id, PartRecord(index + 1, expected, sha256_hex.lower(), etag))
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
    def _partial(self, rec: UploadRecord, part: int) -> Path:
        """Where this replica keeps the bytes it took of part ``part`` (0-based) of a tus upload. Named
        by part: bytes left here while another replica stored that part are never taken for the next."""
        return self.partials / f"{rec.id}.{part}.part"

    def _partials(self, rec: UploadRecord) -> Sequence[Path]:
        return list(self.partials.glob(f"{rec.id}.*.part"))

    async def tus_append(
        self,
        user: User,
        upload_id: str,
        offset: int,
        body: AsyncIterator[bytes],
        checksum: tuple[str, str] | None,
        length: int | None = None,
    ) -> int:
        """Append bytes at ``offset`` (tus PATCH); returns the new offset.

        Without a checksum the body streams into the partial-part file, each full part going to
        MinIO as it fills, so the spool holds less than one part of the upload. With one, the body
        (at most one part's size: the checksum covers all of it, so nothing may be kept before it
        is verified) is spooled and verified first, then appended the same way."""
        rec = self.get(user, upload_id)
        self._require_open(rec)
        if checksum is not None and checksum[0] != "sha256":
            raise UploadError("only sha256 checksums are supported")
        with self.spool.writer(rec.id):
            await self._flush_full_partial(rec)
            current = self.status(rec).offset
            if offset != current:
                raise Conflict(f"offset is {current}, not {offset}")
            remaining = rec.size - offset
            have = offset % rec.chunk_size
            if checksum is not None and (length or 0) > rec.chunk_size:
                raise TooLarge(f"with Upload-Checksum a PATCH may carry at most one part: {rec.chunk_size} bytes")
            if length is not None and length > remaining:
                raise TooLarge(f"body is larger than the {remaining} bytes left of the upload")
            growth = min(rec.chunk_size - have, remaining)
            if checksum is None:
                with self.spool.reserve(rec.owner, growth):
                    return offset + await self._append(rec, offset, body, remaining)
            limit = min(rec.chunk_size, remaining)
            with self.spool.reserve(rec.owner, growth + limit):
                try:
                    path, sha, _md5, size = await self._spool(body, limit)
                except TooLarge:
                    raise TooLarge(
                        f"with Upload-Checksum a PATCH may carry at most one part: {rec.chunk_size} bytes"
                    ) from None
                try:
                    if base64.b64encode(bytes.fromhex(sha)).decode() != checksum[1]:
                        raise ChecksumMismatch("checksum mismatch")
                    return offset + await self._append(rec, offset, _file_blocks(path), size)
                finally:
                    path.unlink(missing_ok=True)

    async def _append(self, rec: UploadRecord, offset: int, body: AsyncIterator[bytes], allowed: int) -> int:
        """Write the body into the partial file, each full part going to MinIO; returns the bytes taken.

        ``kept`` is what the partial file keeps if the request ends early: every byte of a part not
        yet full (tus keeps what arrived), but the bytes of a full part only once MinIO has it. A
        part MinIO did not take, a body too long or a cut connection cuts the file back to ``kept``."""
        part = offset // rec.chunk_size
        partial = self._partial(rec, part)
        size = kept = offset % rec.chunk_size
        written = 0
        fh: BinaryIO | None = None
        try:
            async for block in body:
                if written + len(block) > allowed:
                    raise TooLarge(f"body is larger than the {allowed} bytes left of the upload")
                view = memoryview(block)
                while view:
                    if fh is None:
                        fh = partial.open("ab")
                    take = min(len(view), rec.chunk_length(part) - size)
                    fh.write(view[:take])
                    view, size, written = view[take:], size + take, written + take
                    if size < rec.chunk_length(part):
                        kept = size
                        continue
                    fh.close()
                    fh = None
                    await self._store_partial(rec, part)
                    part, size, kept = part + 1, 0, 0
                    partial = self._partial(rec, part)
        except BaseException:
            if fh is not None:
                fh.close()
            _truncate(partial, kept)
            raise
        if fh is not None:
            fh.close()
        return written

    async def _store_partial(self, rec: UploadRecord, part: int) -> None:
        """Send the full partial file to MinIO as part ``part + 1``, then remove it."""
        partial = self._partial(rec, part)
        sha, md5 = _file_hashes(partial)
        await self._store_part(rec, part + 1, partial, partial.stat().st_size, sha, md5)
        partial.unlink()

    async def _flush_full_partial(self, rec: UploadRecord) -> None:
        """A partial file left whole (the process stopped before storing it) is stored first; files of
        parts stored since (by another replica) go."""
        parts = self.store.parts(rec.id)
        part = len(parts)
        partial = self._partial(rec, part)
        for stale in self._partials(rec):
            if stale != partial:
                stale.unlink(missing_ok=True)
        if part < rec.chunk_count and partial.exists() and partial.stat().st_size == rec.chunk_length(part):
            sha, md5 = _file_hashes(partial)
            await self._store_part(rec, part + 1, partial, rec.chunk_length(part), sha, md5)
            partial.unlink()

    # ------------------------------------------------------- complete, abort
    def complete(self, user: User, upload_id: str, wait_s: float | None = None) -> UploadStatus:
        """Assemble, hash and probe the upload: ``open`` → ``assembled`` → ``complete`` or ``rejected``.

        Each step is recorded before the next starts, so a call after any failure continues where
        the last one stopped (MinIO having assembled the parts already included). Hashing and
        probing run in a worker; when they take longer than ``wait_s`` the status says
        ``assembled`` and the caller asks again later (a second call joins the same work)."""
        rec = self.get(user, upload_id)
        if rec.state == "complete":
            return self.status(rec)
        if rec.state == "open" and _checksummed(rec):
            self._require_open(rec)
            held = self._held_parts(rec)
            missing = sorted(set(range(1, rec.chunk_count + 1)) - {p.number for p in held})
            if missing and self.objects.exists(rec.bucket, rec.key):
                missing = []  # MinIO assembled it on an earlier call whose state write was lost
            elif missing:
                raise Conflict(f"missing chunks: {[m - 1 for m in missing][:50]}")
            else:
                self._assemble_checksummed(rec, held)
            self.store.set_upload_state(rec.id, "assembled")
        elif rec.state == "open":
            self._require_open(rec)
            parts = self.store.parts(rec.id)
            missing = sorted(set(range(1, rec.chunk_count + 1)) - {p.number for p in parts})
            if missing:
                raise Conflict(f"missing chunks: {[m - 1 for m in missing][:50]}")
            self._assemble(rec, parts)
            self.store.set_upload_state(rec.id, "assembled")
        elif rec.state != "assembled":
            raise Conflict(f"upload is {rec.state}")
        work = self._verification(rec.id)
        try:
            work.result(timeout=self.settings.complete_wait_s if wait_s is None else wait_s)
        except concurrent.futures.TimeoutError:
            pass  # still verifying: the status says "assembled"
        return self.status(self.get(user, upload_id))

    def _assemble(self, rec: UploadRecord, parts: Sequence[PartRecord]) -> None:
        try:
            self.objects.complete_multipart(rec.bucket, rec.key, rec.s3_upload_id, [(p.number, p.etag) for p in parts])
        except S3Error as exc:
            # MinIO assembled it on an earlier call whose answer or state write was lost
            if exc.code != "NoSuchUpload" or not self.objects.exists(rec.bucket, rec.key):
                raise

    def _assemble_checksummed(self, rec: UploadRecord, parts: Sequence[s3sign.ListedPart]) -> None:
        try:
            self.objects.complete_checksummed(rec.bucket, rec.key, rec.s3_upload_id, parts)
        except ObjectMissing:
            if not self.objects.exists(rec.bucket, rec.key):
                raise Conflict("the object store no longer has this upload's parts") from None

    def _verification(self, upload_id: str) -> concurrent.futures.Future[None]:
        """The running verification of ``upload_id``, started when there is none."""
        with self._verifying_lock:
            work = self._verifying.get(upload_id)
            if work is None or work.done():
                work = self._verifier.submit(self._verify, upload_id)
                self._verifying[upload_id] = work
                work.add_done_callback(lambda done: self._forget(upload_id, done))
            return work

    def _forget(self, upload_id: str, done: concurrent.futures.Future[None]) -> None:
        with self._verifying_lock:
            if self._verifying.get(upload_id) is done:
                del self._verifying[upload_id]

    def _verify(self, upload_id: str) -> None:
        with self.store.exclusive(f"verify:{upload_id}") as mine:
            if mine:  # else another replica is verifying it: the status says "assembled" until it is done
                self._verify_once(upload_id)

    def _verify_once(self, upload_id: str) -> None:
        rec = self.store.upload(upload_id)
        if rec is None or rec.state != "assembled":
            return
        try:
            digest = self.objects.sha256(rec.bucket, rec.key)
            expected = rec.metadata.get("expectedSha256")
            if expected and digest != expected:
                raise UploadError("the file's SHA-256 does not match the one given at creation")
            info = probe_url(self.objects.presigned_get(rec.bucket, rec.key, minutes=60), self.settings.ffprobe)
            summary = media_summary(info)
        except (ProbeError, UploadError) as exc:
            self.objects.delete(rec.bucket, rec.key)
            self.store.set_upload_state(rec.id, "rejected")
            raise UploadError(f"refused: {exc}") from exc
        self.store.set_upload_state(rec.id, "complete", sha256=digest, probe=summary)

    def abort(self, user: User, upload_id: str) -> None:
        rec = self.get(user, upload_id)
        self._discard(rec)

    def _discard(self, rec: UploadRecord) -> None:
        if rec.state == "open":
            self.objects.abort_multipart(rec.bucket, rec.key, rec.s3_upload_id)
        elif rec.state in ("assembled", "complete"):
            self.objects.delete(rec.bucket, rec.key)
        for partial in self._partials(rec):
            partial.unlink(missing_ok=True)
        self.store.delete_upload(rec.id)

    def sweep(self, now: float | None = None) -> int:
        """Abort the multipart uploads of expired, unfinished uploads, and forget finished uploads past
        their retention (the store's lifecycle rule deletes the object; deleting it here too makes the
        two agree at once); returns how many. One replica sweeps the store at a time; each sweeps
        its own temporary files."""
        with self.store.exclusive("sweep") as mine:
            count = self._sweep_store(now if now is not None else time.time()) if mine else 0
        for stale in self.tmp.glob("chunk-*"):
            if stale.stat().st_mtime < time.time() - 3600:
                stale.unlink(missing_ok=True)
        return count

    def _sweep_store(self, now: float) -> int:
        count = 0
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
        return count


def _checksummed(rec: UploadRecord) -> bool:
    """Whether the upload's parts carry SHA-256 checksums in MinIO (which then says which it holds)."""
    return bool(rec.metadata.get("partChecksums"))


async def _exactly(body: AsyncIterator[bytes], size: int, index: int) -> AsyncIterator[bytes]:
    """The body's blocks, refusing it once it is longer than ``size`` or ends shorter."""
    seen = 0
    async for block in body:
        seen += len(block)
        if seen > size:
            raise TooLarge(f"chunk {index} is larger than its {size} bytes")
        yield block
    if seen != size:
        raise UploadError(f"chunk {index} must be {size} bytes, got {seen}")


def _is_hex_sha256(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value)


async def _file_blocks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as fh:
        while block := fh.read(1024 * 1024):
            yield block


def _truncate(path: Path, size: int) -> None:
    """Cut ``path`` to at most ``size`` bytes (removed when 0); never makes it longer."""
    if size <= 0:
        path.unlink(missing_ok=True)
    elif path.exists() and path.stat().st_size > size:
        os.truncate(path, size)


def _file_hashes(path: Path) -> tuple[str, str]:
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while block := fh.read(1024 * 1024):
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), md5.hexdigest()


__all__ = ["UploadService", "UploadError", "NotFound", "Conflict", "TooLarge", "ChecksumMismatch", "SpoolFull"]
