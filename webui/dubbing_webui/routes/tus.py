"""tus 1.0.0 (core, creation, checksum with sha256, termination, expiration) on /api/tus/.

Uploads made this way are the same records as the chunk API's; the final PATCH
completes the upload (assembles it in MinIO and probes it).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from email.utils import format_datetime

import anyio
from fastapi import APIRouter, Depends, Request, Response

from ..auth import api_user, services
from ..store import User
from ..uploads import UploadError

router = APIRouter(prefix="/api/tus", tags=["tus"])
VERSION = "1.0.0"
EXTENSIONS = "creation,checksum,termination,expiration"


def _headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Tus-Resumable": VERSION, "Cache-Control": "no-store", **(extra or {})}


def _error(status: int, message: str) -> Response:
    return Response(message, status_code=status, headers=_headers(), media_type="text/plain")


def _expires(ts: float) -> str:
    return format_datetime(datetime.fromtimestamp(ts, UTC), usegmt=True)


def parse_metadata(header: str) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs."""
    out: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, value = pair.partition(" ")
        try:
            out[key] = base64.b64decode(value, validate=True).decode("utf-8") if value else ""
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ValueError(f"bad metadata value for {key}") from exc
    return out


def _version_ok(request: Request) -> bool:
    return request.headers.get("tus-resumable") == VERSION


@router.options("/")
@router.options("/{upload_id}")
def options(request: Request, upload_id: str | None = None) -> Response:
    svc = services(request)
    return Response(
        status_code=204,
        headers=_headers(
            {
                "Tus-Version": VERSION,
                "Tus-Extension": EXTENSIONS,
                "Tus-Max-Size": str(svc.settings.max_upload_bytes),
                "Tus-Checksum-Algorithm": "sha256",
            }
        ),
    )


@router.post("/")
def create(request: Request, user: User = Depends(api_user)) -> Response:
    if not _version_ok(request):
        return _error(412, "Tus-Resumable 1.0.0 required")
    try:
        length = int(request.headers["upload-length"])
        meta = parse_metadata(request.headers.get("upload-metadata", ""))
    except (KeyError, ValueError):
        return _error(400, "Upload-Length and valid Upload-Metadata required")
    svc = services(request).uploads
    try:
        rec = svc.create(
            user,
            meta.get("filename") or meta.get("name") or "",
            length,
            meta.get("filetype") or meta.get("type") or "application/octet-stream",
            protocol="tus",
        )
    except UploadError as exc:
        return _error(exc.status, str(exc))
    return Response(
        status_code=201,
        headers=_headers(
            {
                "Location": f"{request.url_for('tus_head', upload_id=rec.id).path}",
                "Upload-Expires": _expires(rec.expires),
                "Upload-Offset": "0",
            }
        ),
    )


@router.head("/{upload_id}", name="tus_head")
def head(upload_id: str, request: Request, user: User = Depends(api_user)) -> Response:
    if not _version_ok(request):
        return _error(412, "Tus-Resumable 1.0.0 required")
    svc = services(request).uploads
    try:
        rec = svc.get(user, upload_id)
    except UploadError as exc:
        return _error(exc.status, "")
    status = svc.status(rec)
    return Response(
        status_code=200,
        headers=_headers(
            {
                "Upload-Offset": str(status.offset),
                "Upload-Length": str(rec.size),
                "Upload-Expires": _expires(rec.expires),
            }
        ),
    )


@router.patch("/{upload_id}")
async def patch(upload_id: str, request: Request, user: User = Depends(api_user)) -> Response:
    if not _version_ok(request):
        return _error(412, "Tus-Resumable 1.0.0 required")
    if request.headers.get("content-type") != "application/offset+octet-stream":
        return _error(415, "Content-Type must be application/offset+octet-stream")
    try:
        offset = int(request.headers["upload-offset"])
    except (KeyError, ValueError):
        return _error(400, "Upload-Offset required")
    checksum = None
    if "upload-checksum" in request.headers:
        algo, _, value = request.headers["upload-checksum"].partition(" ")
        if algo != "sha256":
            return _error(400, "unsupported checksum algorithm")
        checksum = (algo, value.strip())
    length = request.headers.get("content-length")
    svc = services(request)
    try:
        new_offset = await svc.uploads.tus_append(
            user, upload_id, offset, request.stream(), checksum, int(length) if length and length.isdigit() else None
        )
        rec = svc.uploads.get(user, upload_id)
        if new_offset == rec.size:
            await anyio.to_thread.run_sync(svc.uploads.complete, user, upload_id)
    except UploadError as exc:
        return _error(exc.status, str(exc))
    return Response(
        status_code=204, headers=_headers({"Upload-Offset": str(new_offset), "Upload-Expires": _expires(rec.expires)})
    )


@router.delete("/{upload_id}")
def terminate(upload_id: str, request: Request, user: User = Depends(api_user)) -> Response:
    if not _version_ok(request):
        return _error(412, "Tus-Resumable 1.0.0 required")
    try:
        services(request).uploads.abort(user, upload_id)
    except UploadError as exc:
        return _error(exc.status, str(exc))
    return Response(status_code=204, headers=_headers())
