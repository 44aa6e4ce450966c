"""The upload spool under hostile or unlucky clients: per-user and per-request bounds, one writer
per upload, and a part that failed to reach MinIO is not counted as received.

The web UI of this module reaches MinIO through :class:`SwitchProxy`, so a test can take the
store away and bring it back.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devcluster.stack.media import make_wav
from devcluster.stack.redis import RedisServer
from devcluster.stack.s3 import S3
from devcluster.stack.webui import WebUI, start_webui, stop_webui

from . import s3parts
from . import uploadclient as uc
from .switchproxy import SwitchProxy

pytestmark = [pytest.mark.cluster, pytest.mark.minio, pytest.mark.redis]

MiB = 1024 * 1024
CHUNK = 5 * MiB
TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture(scope="module")
def store_switch(webui_s3: S3) -> Iterator[SwitchProxy]:
    proxy = SwitchProxy(int(webui_s3.endpoint.rsplit(":", 1)[1]))
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture(scope="module")
def ui(
    tmp_path_factory: pytest.TempPathFactory,
    kube: Any,
    jobs_namespace: str,
    webui_s3: S3,
    webui_redis: RedisServer,
    ntfy: Any,
    store_switch: SwitchProxy,
) -> Iterator[WebUI]:
    s3 = S3(f"http://127.0.0.1:{store_switch.port}", webui_s3.access_key, webui_s3.secret_key)
    # Completing answers at once (202, "assembled") and the client asks again, as for a file that takes long to hash.
    env = {"DUBBING_SPOOL_PER_USER_BYTES": str(12 * MiB), "DUBBING_UPLOAD_COMPLETE_WAIT_SECONDS": "0"}
    one = start_webui(
        tmp_path_factory.mktemp("spool"),
        kube,
        jobs_namespace,
        s3,
        webui_redis,
        ntfy,
        f"spool-{secrets.token_hex(4)}",
        extra_env=env,
    )
    try:
        yield one
    finally:
        stop_webui(one)


def tus_create(c: httpx.Client, size: int, name: str = "talk.wav") -> str:
    meta = f"filename {base64.b64encode(name.encode()).decode()},filetype {base64.b64encode(b'audio/wav').decode()}"
    resp = c.post("/api/tus/", headers={**TUS, "Upload-Length": str(size), "Upload-Metadata": meta})
    assert resp.status_code == 201, resp.text
    return resp.headers["Location"]


def tus_patch(c: httpx.Client, location: str, offset: int, data: Any, **headers: str) -> httpx.Response:
    return c.patch(
        location,
        content=data,
        headers={**TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream", **headers},
    )


def settled(c: httpx.Client, upload_id: str, timeout_s: float = 60) -> httpx.Response:
    """Ask to complete until the answer is no longer 202 (assembled, still being verified)."""
    deadline = time.monotonic() + timeout_s
    while (resp := c.post(f"/api/uploads/{upload_id}/complete")).status_code == 202:
        assert resp.json()["state"] == "assembled"
        assert time.monotonic() < deadline, "still verifying"
        time.sleep(0.2)
    return resp


def tus_offset(c: httpx.Client, location: str) -> int:
    return int(c.head(location, headers=TUS).headers["Upload-Offset"])


def test_a_part_that_did_not_reach_the_store_is_not_counted(
    ui: WebUI, store_switch: SwitchProxy, tmp_path: Path
) -> None:
    """MinIO goes away while a part is sent: 503, the part is not counted as received, and the
    retry from the offset the server gives stores the right bytes (the object's SHA-256 matches)."""
    wav = tmp_path / "talk.wav"
    sha = make_wav(wav, CHUNK + 1000)
    data = wav.read_bytes()
    with ui.client("alice") as c:
        where = tus_create(c, len(data))
        store_switch.down()
        try:
            failed = tus_patch(c, where, 0, data[:CHUNK])
        finally:
            store_switch.up()
        assert failed.status_code == 503, failed.text
        assert int(failed.headers["Retry-After"]) > 0
        offset = tus_offset(c, where)
        assert offset < CHUNK  # the part that did not reach MinIO is not counted
        if offset:
            assert tus_patch(c, where, offset - 1, data[offset - 1 :]).status_code == 409  # a stale offset
        done = tus_patch(c, where, offset, data[offset:])
        assert done.status_code == 204, done.text
        rec = settled(c, where.rsplit("/", 1)[1])
        assert rec.status_code == 200 and rec.json()["state"] == "complete" and rec.json()["sha256"] == sha


def test_two_writers_of_one_upload_cannot_both_pass(ui: WebUI) -> None:
    data = secrets.token_bytes(2 * MiB)
    release = threading.Event()
    first: dict[str, httpx.Response] = {}

    def slow_body() -> Iterator[bytes]:
        yield data[:MiB]
        release.wait(30)
        yield data[MiB:]

    with ui.client("alice") as c:
        where = tus_create(c, 3 * CHUNK)

        def send_slowly() -> None:
            with ui.client("alice") as slow:
                first["r"] = tus_patch(slow, where, 0, slow_body())

        writer = threading.Thread(target=send_slowly)
        writer.start()
        time.sleep(1.0)  # the first PATCH is mid-body
        second = tus_patch(c, where, 0, data)
        release.set()
        writer.join(60)
        assert second.status_code == 409, second.text
        assert first["r"].status_code == 204
        assert tus_offset(c, where) == len(data)
        c.delete(where, headers=TUS)


def test_spool_per_user_is_bounded_and_others_unaffected(ui: WebUI) -> None:
    piece = secrets.token_bytes(4 * MiB)
    with ui.client("alice") as alice, ui.client("bob") as bob:
        uploads = [tus_create(alice, 4 * CHUNK) for _ in range(3)]
        codes = [tus_patch(alice, where, 0, piece).status_code for where in uploads]
        assert codes[:2] == [204, 204] and codes[2] == 507, codes
        refused = tus_patch(alice, uploads[2], 0, piece)
        assert "unfinished uploads" in refused.text
        theirs = tus_create(bob, 4 * CHUNK)
        assert tus_patch(bob, theirs, 0, piece).status_code == 204
        for where in uploads:
            alice.delete(where, headers=TUS)
        bob.delete(theirs, headers=TUS)
        # Deleting them gives the room back.
        again = tus_create(alice, 4 * CHUNK)
        assert tus_patch(alice, again, 0, piece).status_code == 204
        alice.delete(again, headers=TUS)


def test_a_checksummed_patch_may_not_spool_more_than_one_part(ui: WebUI) -> None:
    data = secrets.token_bytes(CHUNK + MiB)
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    with ui.client("alice") as c:
        where = tus_create(c, 4 * CHUNK)
        resp = tus_patch(c, where, 0, data, **{"Upload-Checksum": f"sha256 {digest}"})
        assert resp.status_code == 413 and "part" in resp.text
        assert tus_offset(c, where) == 0
        c.delete(where, headers=TUS)


def test_spool_files_stay_in_the_spool_dir(ui: WebUI) -> None:
    data_dir = Path(ui.env["DUBBING_DATA_DIR"])
    assert (data_dir / "webui.sqlite3").exists()
    assert not list(data_dir.glob("tmp/chunk-*"))  # nothing left in flight


def _s3_upload_id(ui: WebUI, upload_id: str) -> str:
    import sqlite3

    db = sqlite3.connect(Path(ui.env["DUBBING_DATA_DIR"]) / "webui.sqlite3")
    try:
        return str(db.execute("SELECT s3_upload_id FROM uploads WHERE id = ?", (upload_id,)).fetchone()[0])
    finally:
        db.close()


def test_complete_resumes_after_the_store_already_assembled(ui: WebUI, webui_s3: S3, tmp_path: Path) -> None:
    """The process died right after MinIO assembled the upload: completing again finishes the job
    (before, the retry asked MinIO to assemble an upload it no longer had and failed for good)."""
    wav = tmp_path / "again.wav"
    sha = make_wav(wav, 2 * MiB)
    with ui.client("alice") as c:
        status = uc.create(c, wav.name, wav.stat().st_size).json()
        uc.send(c, wav, status)
        held = c.get(f"/api/uploads/{status['id']}").json()
        s3parts.complete(webui_s3, ui.bucket, held["key"], _s3_upload_id(ui, status["id"]))
        first = c.post(f"/api/uploads/{status['id']}/complete")
        assert first.status_code == 202 and first.json()["state"] == "assembled", first.text
        done = settled(c, status["id"])
        assert done.status_code == 200, done.text
        assert done.json()["state"] == "complete" and done.json()["sha256"] == sha
        again = c.post(f"/api/uploads/{status['id']}/complete")
        assert again.status_code == 200 and again.json()["sha256"] == sha
