"""A small client of the chunk upload API, as a script would write it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from devcluster.stack.media import make_wav


def create(c: httpx.Client, name: str, size: int, ctype: str = "audio/wav", **extra: Any) -> httpx.Response:
    return c.post("/api/uploads", json={"name": name, "size": size, "type": ctype, **extra})


def read_chunk(path: Path, index: int, chunk_size: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(index * chunk_size)
        return fh.read(chunk_size)


def put_chunk(c: httpx.Client, upload_id: str, index: int, data: bytes, sha: str | None = None) -> httpx.Response:
    return c.put(
        f"/api/uploads/{upload_id}/chunks/{index}",
        content=data,
        headers={"X-Chunk-SHA256": sha or hashlib.sha256(data).hexdigest(), "Content-Type": "application/octet-stream"},
    )


def send(c: httpx.Client, path: Path, status: dict[str, Any], indices: Iterable[int] | None = None) -> list[int]:
    """Send the given (default: the missing) chunks; returns the indices sent."""
    sent = []
    for i in status["missingChunks"] if indices is None else indices:
        r = put_chunk(c, status["id"], i, read_chunk(path, i, status["chunkSize"]))
        assert r.status_code == 200, r.text
        sent.append(i)
    return sent


def upload(c: httpx.Client, path: Path, name: str | None = None, ctype: str = "audio/wav") -> dict[str, Any]:
    r = create(c, name or path.name, path.stat().st_size, ctype)
    assert r.status_code == 201, r.text
    status = r.json()
    send(c, path, status)
    done = c.post(f"/api/uploads/{status['id']}/complete")
    assert done.status_code == 200, done.text
    return done.json()


def sign(c: httpx.Client, upload_id: str, index: int, sha: str) -> httpx.Response:
    """The presigned MinIO request for chunk ``index`` (direct transfer)."""
    return c.post(f"/api/uploads/{upload_id}/chunks/{index}/url", json={"sha256": sha})


def put_direct(c: httpx.Client, upload_id: str, index: int, data: bytes) -> httpx.Response:
    """Chunk ``index`` straight to MinIO: signed for its SHA-256 by the web UI, then PUT there."""
    signed = sign(c, upload_id, index, hashlib.sha256(data).hexdigest())
    assert signed.status_code == 200, signed.text
    req = signed.json()
    return httpx.request(req["method"], req["url"], headers=req["headers"], content=data, timeout=120)


def upload_direct(c: httpx.Client, path: Path, name: str | None = None, ctype: str = "audio/wav") -> dict[str, Any]:
    r = create(c, name or path.name, path.stat().st_size, ctype)
    assert r.status_code == 201, r.text
    status = r.json()
    assert status["transfer"] == "direct", status
    for i in status["missingChunks"]:
        resp = put_direct(c, status["id"], i, read_chunk(path, i, status["chunkSize"]))
        assert resp.status_code == 200, resp.text
    done = c.post(f"/api/uploads/{status['id']}/complete")
    assert done.status_code == 200, done.text
    return done.json()


def uploaded_job(c: httpx.Client, path: Path, languages: list[str], size: int = 2 * 1000 * 1000) -> str:
    """A WAV of ``size`` bytes at ``path``, uploaded, and a job made of it: the job's name."""
    make_wav(path, size)
    up = upload(c, path)
    made = c.post("/api/jobs", json={"uploadId": up["id"], "targetLanguages": languages})
    assert made.status_code == 201, made.text
    name: str = made.json()["name"]
    return name
