"""Chunked, resumable uploads through the real app into a real MinIO."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devcluster.stack.media import make_wav

from . import uploadclient as uc
from .conftest import WebUI, app_store

pytestmark = [pytest.mark.cluster, pytest.mark.minio, pytest.mark.redis]
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def wav50(media_dir: Path) -> tuple[Path, str]:
    path = media_dir / "talk 50MB.wav"
    return path, make_wav(path, 50 * 1000 * 1000)


def _object_sha(ui: WebUI, key: str) -> str:
    digest = hashlib.sha256()
    resp = ui.s3.client().get_object(ui.bucket, key)
    for block in resp.stream(MiB):
        digest.update(block)
    resp.close()
    resp.release_conn()
    return digest.hexdigest()


def test_50mb_upload_in_chunks_matches_sha256_in_minio(webui: WebUI, wav50: tuple[Path, str]) -> None:
    path, sha = wav50
    with webui.client("alice") as c:
        started = time.perf_counter()
        status = uc.upload(c, path)
        seconds = time.perf_counter() - started
    assert status["state"] == "complete"
    assert status["chunkCount"] == 10  # 50 MB in 5 MiB chunks
    assert status["sha256"] == sha
    assert status["probe"]["audio"] is True and status["probe"]["duration"] > 200
    assert _object_sha(webui, status["key"]) == sha
    print(f"\n50 MB upload: {seconds:.2f} s, {50 / seconds:.1f} MB/s")


def test_wrong_chunk_checksum_is_refused_and_changes_nothing(webui: WebUI, wav50: tuple[Path, str]) -> None:
    path, _sha = wav50
    with webui.client("alice") as c:
        status = uc.create(c, path.name, path.stat().st_size).json()
        good = uc.read_chunk(path, 0, status["chunkSize"])
        assert uc.put_chunk(c, status["id"], 0, good).status_code == 200
        before = c.get(f"/api/uploads/{status['id']}").json()
        # Chunk 1 with a checksum of other bytes, and chunk 0 resent corrupted with its old checksum.
        chunk1 = uc.read_chunk(path, 1, status["chunkSize"])
        bad = uc.put_chunk(c, status["id"], 1, chunk1, sha=hashlib.sha256(b"other").hexdigest())
        assert bad.status_code == 422 and "SHA-256" in bad.json()["detail"]
        corrupted = bytes([good[0] ^ 1]) + good[1:]
        bad0 = uc.put_chunk(c, status["id"], 0, corrupted, sha=hashlib.sha256(good).hexdigest())
        assert bad0.status_code == 422
        after = c.get(f"/api/uploads/{status['id']}").json()
        assert after["receivedChunks"] == before["receivedChunks"] == [0]
        assert after["offset"] == before["offset"]
        parts = webui.s3.client()._list_parts(webui.bucket, status["key"], _s3_id(webui, status["id"]))
        assert [p.part_number for p in parts.parts] == [1]
        assert parts.parts[0].etag == hashlib.md5(good).hexdigest()
        c.delete(f"/api/uploads/{status['id']}")


def _s3_id(ui: WebUI, upload_id: str) -> str:
    store = app_store(ui)
    try:
        rec = store.upload(upload_id)
        assert rec is not None
        return rec.s3_upload_id
    finally:
        store.close()


def test_interrupted_upload_resumes_sending_only_missing_chunks(webui: WebUI, wav50: tuple[Path, str]) -> None:
    path, sha = wav50
    with webui.client("alice") as c:
        status = uc.create(c, path.name, path.stat().st_size).json()
        first = uc.send(c, path, status, indices=[0, 1, 2, 5])
        # The connection drops in the middle of chunk 3: the server keeps nothing of it.
        data = uc.read_chunk(path, 3, status["chunkSize"])
        with pytest.raises(Exception):  # noqa: B017 - whatever the client raises as the body fails
            c.put(
                f"/api/uploads/{status['id']}/chunks/3",
                content=_dropping(data[: len(data) // 2]),
                headers={"X-Chunk-SHA256": hashlib.sha256(data).hexdigest()},
            )
    with webui.client("alice") as c2:  # a new connection, as after a reload
        held = c2.get(f"/api/uploads/{status['id']}").json()
        assert held["receivedChunks"] == first
        assert held["missingChunks"] == [3, 4, 6, 7, 8, 9]
        assert held["offset"] == 3 * status["chunkSize"]
        resent = uc.send(c2, path, held)
        assert resent == [3, 4, 6, 7, 8, 9]
        done = c2.post(f"/api/uploads/{status['id']}/complete").json()
    assert done["sha256"] == sha
    assert _object_sha(webui, done["key"]) == sha


def _dropping(prefix: bytes):
    yield prefix
    raise ConnectionError("client went away")


def test_completion_refuses_non_media_and_deletes_it(webui: WebUI, media_dir: Path) -> None:
    path = media_dir / "notes.mp4"
    path.write_bytes(b"this is not a video, only text pretending\n" * 200_000)
    with webui.client("alice") as c:
        status = uc.create(c, path.name, path.stat().st_size, "video/mp4").json()
        uc.send(c, path, status)
        done = c.post(f"/api/uploads/{status['id']}/complete")
        assert done.status_code == 400 and "not a media file" in done.json()["detail"]
        assert not _exists(webui, status["key"])
        assert c.get(f"/api/uploads/{status['id']}").json()["state"] == "rejected"
        # A rejected upload cannot become a job.
        job = c.post("/api/jobs", json={"uploadId": status["id"], "targetLanguages": ["es"]})
        assert job.status_code == 422


def _exists(ui: WebUI, key: str) -> bool:
    from minio.error import S3Error

    try:
        ui.s3.client().stat_object(ui.bucket, key)
        return True
    except S3Error:
        return False


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "a/b.mp4",
        "..\\x.mp4",
        "..",
        ".hidden.mp4",
        "bad\x00name.mp4",
        "line\nbreak.mp4",
        "x" * 300 + ".mp4",
        "é" * 130 + ".mp4",
    ],
)
def test_path_traversal_control_chars_and_oversize_names_refused(webui: WebUI, name: str) -> None:
    with webui.client("alice") as c:
        r = uc.create(c, name, 1000)
        assert r.status_code == 400, r.text
        assert c.get("/api/uploads").json() == [u for u in c.get("/api/uploads").json() if u["name"] != name]


def test_oversize_file_and_wrong_type_refused(webui: WebUI) -> None:
    with webui.client("alice") as c:
        assert uc.create(c, "big.mp4", 1025 * MiB, "video/mp4").status_code == 413
        assert uc.create(c, "doc.pdf", 1000, "application/pdf").status_code == 400
        assert uc.create(c, "zero.mp4", 0, "video/mp4").status_code == 422


def test_chunk_of_wrong_length_or_index_refused(webui: WebUI, wav50: tuple[Path, str]) -> None:
    path, _ = wav50
    with webui.client("alice") as c:
        status = uc.create(c, path.name, path.stat().st_size).json()
        short = uc.read_chunk(path, 0, 1000)
        assert uc.put_chunk(c, status["id"], 0, short).status_code == 400
        too_long = uc.read_chunk(path, 0, status["chunkSize"] + 10)
        assert uc.put_chunk(c, status["id"], 0, too_long).status_code == 413
        assert uc.put_chunk(c, status["id"], 99, short).status_code == 400
        assert c.get(f"/api/uploads/{status['id']}").json()["receivedChunks"] == []
        assert c.delete(f"/api/uploads/{status['id']}").status_code == 204
        assert c.get(f"/api/uploads/{status['id']}").status_code == 404


class RssSampler:
    """Samples the server's resident memory every 50 ms while a block runs."""

    def __init__(self, ui: WebUI) -> None:
        self.ui, self.samples, self._stop = ui, [], threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.ui.rss_kib())
            time.sleep(0.05)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        return max(self.samples) / 1024


def test_memory_does_not_grow_with_upload_size(webui: WebUI, media_dir: Path, wav50: tuple[Path, str]) -> None:
    """Resident memory while a 200 MB upload runs stays at the level of a 50 MB one.

    (The process's all-time peak is not used: one argon2id login already takes 64 MiB.)
    """
    big = media_dir / "long.wav"
    sha_big = make_wav(big, 200 * 1000 * 1000)
    with webui.client("alice") as c:
        uc.upload(c, wav50[0])  # warm up: first-use allocations are not growth
        with RssSampler(webui) as small:
            t0 = time.perf_counter()
            uc.upload(c, wav50[0])
            t_small = time.perf_counter() - t0
        with RssSampler(webui) as large:
            t0 = time.perf_counter()
            status = uc.upload(c, big)
            t_large = time.perf_counter() - t0
    assert status["sha256"] == sha_big
    assert len(small.samples) > 5 and len(large.samples) > 20
    growth = large.peak_mib - small.peak_mib
    print(
        f"\nRSS during 50 MB upload: peak {small.peak_mib:.1f} MiB ({50 / t_small:.1f} MB/s);"
        f" during 200 MB: peak {large.peak_mib:.1f} MiB ({200 / t_large:.1f} MB/s); growth {growth:.1f} MiB"
    )
    assert growth < 16, f"resident memory grew {growth:.1f} MiB for a 4x larger upload"


def test_expired_uploads_are_swept_and_their_multipart_aborted(webui: WebUI, wav50: tuple[Path, str]) -> None:
    path, _ = wav50
    with webui.client("alice") as c:
        status = uc.create(c, path.name, path.stat().st_size).json()
        uc.send(c, path, status, indices=[0])
    s3_id = _s3_id(webui, status["id"])
    store = app_store(webui)
    with store.tx() as db:
        db.execute("UPDATE uploads SET expires = 0 WHERE id = ?", (status["id"],))
    import os

    from dubbing_webui.config import Settings
    from dubbing_webui.objects import ObjectStore
    from dubbing_webui.uploads import UploadService

    saved = dict(os.environ)
    try:
        os.environ.update(webui.env)
        settings = Settings.from_env()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    svc = UploadService(settings, store, ObjectStore(settings))
    assert svc.sweep() >= 1
    store.close()
    uploads = list(webui.s3.client()._list_multipart_uploads(webui.bucket, prefix=status["key"]).uploads)
    assert s3_id not in [u.upload_id for u in uploads]
    with webui.client("alice") as c:
        assert c.get(f"/api/uploads/{status['id']}").status_code == 404


def test_tus_client_roundtrip_with_checksums(webui: WebUI, media_dir: Path) -> None:
    """The tus 1.0 protocol: creation, HEAD offset, PATCH with sha256 checksums (one refused), completion."""
    path = media_dir / "tus.wav"
    sha = make_wav(path, 12 * 1000 * 1000)
    data = path.read_bytes()
    h = {"Tus-Resumable": "1.0.0"}
    with webui.client("alice") as c:
        opts = c.options("/api/tus/")
        assert "checksum" in opts.headers["Tus-Extension"] and opts.headers["Tus-Checksum-Algorithm"] == "sha256"
        meta = (
            "filename " + base64.b64encode(b"tus.wav").decode() + ",filetype " + base64.b64encode(b"audio/wav").decode()
        )
        r = c.post("/api/tus/", headers={**h, "Upload-Length": str(len(data)), "Upload-Metadata": meta})
        assert r.status_code == 201, r.text
        loc = r.headers["Location"]
        offset = 0
        piece = 3 * 1000 * 1000  # not aligned to the 5 MiB parts on purpose
        while offset < len(data):
            body = data[offset : offset + piece]
            digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
            if offset == piece:  # one corrupted PATCH is refused with 460 and changes nothing
                bad = c.patch(
                    loc,
                    content=b"\x00" + body[1:],
                    headers={
                        **h,
                        "Upload-Offset": str(offset),
                        "Content-Type": "application/offset+octet-stream",
                        "Upload-Checksum": f"sha256 {digest}",
                    },
                )
                assert bad.status_code == 460
                assert c.head(loc, headers=h).headers["Upload-Offset"] == str(offset)
            r = c.patch(
                loc,
                content=body,
                headers={
                    **h,
                    "Upload-Offset": str(offset),
                    "Content-Type": "application/offset+octet-stream",
                    "Upload-Checksum": f"sha256 {digest}",
                },
            )
            assert r.status_code == 204, r.text
            offset = int(r.headers["Upload-Offset"])
            assert c.head(loc, headers=h).headers["Upload-Offset"] == str(offset)
        conflict = c.patch(
            loc, content=b"x", headers={**h, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
        )
        assert conflict.status_code == 409
        upload_id = loc.rsplit("/", 1)[-1]
        status = c.get(f"/api/uploads/{upload_id}").json()
    assert status["state"] == "complete" and status["sha256"] == sha
    assert _object_sha(webui, status["key"]) == sha


def test_standard_tus_client_uploads_and_resumes(webui: WebUI, media_dir: Path) -> None:
    """tus-py-client (tuspy), an off-the-shelf tus client, against /api/tus/: sha256 checksums, resume by URL."""
    from tusclient import client as tus
    from tusclient.uploader import Uploader

    class Sha256Uploader(Uploader):  # tuspy's documented knob; the server speaks sha256
        CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)

    path = media_dir / "tuspy.wav"
    sha = make_wav(path, 13 * 1000 * 1000)
    c = tus.TusClient(webui.base + "/api/tus/", headers={"Authorization": f"Bearer {webui.tokens['alice']}"})
    first = Sha256Uploader(
        file_path=str(path),
        client=c,
        chunk_size=2 * 1000 * 1000,
        upload_checksum=True,
        metadata={"filename": "tuspy.wav", "filetype": "audio/wav"},
    )
    first.upload_chunk()
    first.upload_chunk()  # then the "connection drops"
    assert first.offset == 4 * 1000 * 1000
    url = first.url
    assert url and "/api/tus/" in url
    # A new client resumes from the server's offset, sending only the rest.
    second = Sha256Uploader(file_path=str(path), client=c, url=url, chunk_size=2 * 1000 * 1000, upload_checksum=True)
    assert second.offset == 4 * 1000 * 1000
    second.upload()
    upload_id = url.rstrip("/").rsplit("/", 1)[-1]
    with webui.client("alice") as api:
        status = api.get(f"/api/uploads/{upload_id}").json()
    assert status["state"] == "complete" and status["sha256"] == sha
    assert _object_sha(webui, status["key"]) == sha


def test_chunks_held_open_through_the_proxy_are_capped_per_user(webui: WebUI, wav50: tuple[Path, str]) -> None:
    """Each proxied chunk holds a connection to MinIO while its body trickles in: a user may hold
    8 at once (DUBBING_PROXY_PARTS_PER_USER); the 9th is refused at once, another user is not."""
    path, _ = wav50
    release = threading.Event()
    answers: list[int] = []

    def slow_body() -> Iterator[bytes]:
        yield b"\0" * 1024
        release.wait(60)  # then end short: the chunk is refused and nothing is kept

    with webui.client("alice") as c, webui.client("bob") as bob:
        status = uc.create(c, path.name, path.stat().st_size).json()
        headers = {"X-Chunk-SHA256": "0" * 64, "Content-Type": "application/octet-stream"}

        def hold(i: int) -> None:
            with webui.client("alice") as own:
                answers.append(
                    own.put(f"/api/uploads/{status['id']}/chunks/{i}", content=slow_body(), headers=headers).status_code
                )

        threads = [threading.Thread(target=hold, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        try:
            deadline = time.monotonic() + 30
            refused = None
            while time.monotonic() < deadline:  # until all 8 are in the web UI, the 9th is let in
                refused = uc.put_chunk(c, status["id"], 9, uc.read_chunk(path, 9, status["chunkSize"]))
                if refused.status_code == 429:
                    break
                time.sleep(0.2)
            assert refused is not None and refused.status_code == 429, refused.text if refused else None
            assert "chunks in flight" in refused.text and refused.headers["Retry-After"] == "2"
            theirs = uc.create(bob, path.name, path.stat().st_size).json()
            assert uc.put_chunk(bob, theirs["id"], 0, uc.read_chunk(path, 0, theirs["chunkSize"])).status_code == 200
            assert bob.delete(f"/api/uploads/{theirs['id']}").status_code == 204
        finally:
            release.set()
            for t in threads:
                t.join(60)
        assert sorted(answers) == [400] * 8  # each body ended short
        assert uc.put_chunk(c, status["id"], 9, uc.read_chunk(path, 9, status["chunkSize"])).status_code == 200
        assert c.get(f"/api/uploads/{status['id']}").json()["receivedChunks"] == [9]
        assert c.delete(f"/api/uploads/{status['id']}").status_code == 204
