"""Uploads sent straight to MinIO with presigned part URLs (``DUBBING_UPLOAD_TRANSFER=direct``):
the web UI plans, signs and completes; MinIO checks each part's SHA-256 and says which it holds."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devcluster.stack.media import make_wav
from devcluster.stack.redis import RedisServer
from devcluster.stack.s3 import S3
from devcluster.stack.webui import PASSWORD, WebUI, start_webui, stop_webui

from . import uploadclient as uc

pytestmark = [pytest.mark.cluster, pytest.mark.minio, pytest.mark.redis]
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def direct(
    tmp_path_factory: pytest.TempPathFactory,
    kube: Any,
    jobs_namespace: str,
    webui_s3: S3,
    webui_redis: RedisServer,
    ntfy: Any,
) -> Iterator[WebUI]:
    env = {"DUBBING_UPLOAD_TRANSFER": "direct"}
    ui = start_webui(
        tmp_path_factory.mktemp("direct"),
        kube,
        jobs_namespace,
        webui_s3,
        webui_redis,
        ntfy,
        f"direct-{secrets.token_hex(4)}",
        extra_env=env,
    )
    try:
        yield ui
    finally:
        stop_webui(ui)


@pytest.fixture(scope="module")
def wav(media_dir: Path) -> tuple[Path, str]:
    path = media_dir / "direct 22MB.wav"
    return path, make_wav(path, 22 * 1000 * 1000)  # 5 chunks of 5 MiB, the last short


def _chunk_chunks(path: Path, status: dict[str, Any]) -> list[bytes]:
    return [uc.read_chunk(path, i, status["chunkSize"]) for i in range(status["chunkCount"])]


def test_direct_upload_completes_and_the_web_ui_carries_no_bytes(direct: WebUI, wav: tuple[Path, str]) -> None:
    path, sha = wav
    carried = re.compile(r"^dubbing_webui_upload_bytes_total (\S+)$", re.M)
    with direct.client("alice") as c:
        before = carried.search(c.get("/metrics").text)
        done = uc.upload_direct(c, path)
        after = carried.search(c.get("/metrics").text)
    assert done["state"] == "complete" and done["sha256"] == sha and done["transfer"] == "direct"
    assert done["probe"]["audio"] is True
    stat = direct.s3.client().stat_object(direct.bucket, done["key"])
    assert stat.size == path.stat().st_size
    assert before and after and before.group(1) == after.group(1)  # not one byte through the web UI


def test_a_tampered_part_is_refused_by_minio(direct: WebUI, wav: tuple[Path, str]) -> None:
    path, _ = wav
    with direct.client("alice") as c:
        status = uc.create(c, path.name, path.stat().st_size).json()
        data = uc.read_chunk(path, 0, status["chunkSize"])
        req = uc.sign(c, status["id"], 0, hashlib.sha256(data).hexdigest()).json()
        assert req["method"] == "PUT" and "x-amz-checksum-sha256" in req["headers"]
        tampered = bytearray(data)
        tampered[1000] ^= 0xFF
        refused = httpx.put(req["url"], headers=req["headers"], content=bytes(tampered), timeout=60)
        assert refused.status_code == 400 and "XAmzContentChecksumMismatch" in refused.text, refused.text
        # the signature covers the checksum header and the length: another value is not accepted either
        other = {**req["headers"], "x-amz-checksum-sha256": "A" * 43 + "="}
        assert httpx.put(req["url"], headers=other, content=bytes(tampered), timeout=60).status_code == 403
        no_header = httpx.put(req["url"], content=data, timeout=60)
        assert no_header.status_code in (400, 403), no_header.text
        shorter = {**req["headers"], "content-length": str(len(data) - 1)}
        assert httpx.put(req["url"], headers=shorter, content=data[:-1], timeout=60).status_code == 403
        assert c.get(f"/api/uploads/{status['id']}").json()["receivedChunks"] == []
        assert httpx.put(req["url"], headers=req["headers"], content=data, timeout=60).status_code == 200
        assert c.get(f"/api/uploads/{status['id']}").json()["receivedChunks"] == [0]
        assert c.delete(f"/api/uploads/{status['id']}").status_code == 204


def test_resume_asks_minio_which_parts_it_holds(direct: WebUI, wav: tuple[Path, str]) -> None:
    """A part lost on the way (never reached MinIO) is the one the status names missing, and
    completing refuses until it is there; nothing else is sent again."""
    path, sha = wav
    with direct.client("alice") as c:
        status = uc.create(c, path.name, path.stat().st_size).json()
        chunks = _chunk_chunks(path, status)
        for i, data in enumerate(chunks):
            if i != 2:
                assert uc.put_direct(c, status["id"], i, data).status_code == 200
        held = c.get(f"/api/uploads/{status['id']}").json()
        assert held["missingChunks"] == [2] and held["receivedChunks"] == [0, 1, 3, 4]
        assert held["offset"] == 2 * status["chunkSize"]
        refused = c.post(f"/api/uploads/{status['id']}/complete")
        assert refused.status_code == 409 and "missing chunks: [2]" in refused.text
        assert uc.put_direct(c, status["id"], 2, chunks[2]).status_code == 200
        done = c.post(f"/api/uploads/{status['id']}/complete")
        assert done.status_code == 200 and done.json()["sha256"] == sha, done.text


def test_signing_checks_the_plan(direct: WebUI, webui: WebUI, wav: tuple[Path, str]) -> None:
    path, _ = wav
    with direct.client("alice") as c, direct.client("bob") as bob:
        status = uc.create(c, path.name, path.stat().st_size).json()
        assert uc.sign(c, status["id"], status["chunkCount"], "0" * 64).status_code == 400  # past the plan
        assert uc.sign(c, status["id"], 0, "xyz").status_code == 400
        assert uc.sign(bob, status["id"], 0, "0" * 64).status_code == 404  # not bob's
        extra = c.post(f"/api/uploads/{status['id']}/chunks/0/url", json={"sha256": "0" * 64, "size": 1})
        assert extra.status_code == 422
        assert c.delete(f"/api/uploads/{status['id']}").status_code == 204
        # an upload without part checksums (tus) takes chunks through the web UI only, and says so
        meta = f"filename {base64.b64encode(b'tus.wav').decode()},filetype {base64.b64encode(b'audio/wav').decode()}"
        tus = c.post("/api/tus/", headers={"Tus-Resumable": "1.0.0", "Upload-Length": "100", "Upload-Metadata": meta})
        assert tus.status_code == 201, tus.text
        tus_id = tus.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
        assert c.get(f"/api/uploads/{tus_id}").json()["transfer"] == "proxy"
        assert uc.sign(c, tus_id, 0, "0" * 64).status_code == 409
        assert c.delete(f"/api/uploads/{tus_id}").status_code == 204
    with webui.client("alice") as c:  # the proxy installation signs nothing
        status = uc.create(c, path.name, path.stat().st_size).json()
        assert status["transfer"] == "proxy"
        assert uc.sign(c, status["id"], 0, "0" * 64).status_code == 409
        assert c.delete(f"/api/uploads/{status['id']}").status_code == 204


def test_the_upload_page_may_connect_to_minio(direct: WebUI, webui: WebUI) -> None:
    with httpx.Client(base_url=direct.base) as c:
        policy = c.get("/login").headers["content-security-policy"]
    assert f"connect-src 'self' {direct.s3.endpoint}" in policy
    with httpx.Client(base_url=webui.base) as c:
        assert "connect-src 'self';" in c.get("/login").headers["content-security-policy"]


def _logged_in(ctx: Any) -> Any:
    """A page of ``ctx`` logged in as alice."""
    page = ctx.new_page()
    page.goto("/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))
    return page


def test_browser_uploads_straight_to_minio_and_resumes_after_reload(
    browser: Any, direct: WebUI, media_dir: Path
) -> None:
    """The upload page under its enforced policy: parts go to MinIO (CORS preflight included), none
    through the web UI; a reload mid-upload sends only what MinIO does not hold."""
    path = media_dir / "browser-direct.wav"
    sha = make_wav(path, 31 * 1000 * 1000)  # 6 chunks of 5 MiB
    ctx = browser.new_context(base_url=direct.base, bypass_csp=False)
    page = _logged_in(ctx)
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    to_minio: list[int] = []
    via_webui: list[str] = []
    part = re.compile(r"partNumber=(\d+)")

    gate = {"closed": True}  # past 5 parts the first page's requests fail, so the reload lands mid-upload

    def slow(route: Any) -> None:
        if route.request.method == "PUT" and gate["closed"] and len(to_minio) >= 5:
            route.abort()
            return
        if route.request.method == "PUT":
            to_minio.append(int(part.search(route.request.url).group(1)) - 1)  # type: ignore[union-attr]
            time.sleep(0.35)
        route.continue_()

    page.route(re.compile(re.escape(direct.s3.endpoint) + r"/.*partNumber=.*"), slow)
    page.on("request", lambda r: via_webui.append(r.url) if re.search(r"/chunks/\d+$", r.url) else None)
    page.goto("/upload")
    page.set_input_files("#file", str(path))
    deadline = time.monotonic() + 60
    while len(to_minio) < 5 and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    page.reload()
    page.locator("#resume-banner").wait_for(state="visible")
    with direct.client("alice") as c:
        upload = [u for u in c.get("/api/uploads").json() if u["name"] == path.name][0]
        held = set(c.get(f"/api/uploads/{upload['id']}").json()["receivedChunks"])
    assert 0 < len(held) < 6, held
    before = len(to_minio)
    gate["closed"] = False
    page.set_input_files("#file", str(path))
    page.wait_for_selector("#upload-done", state="visible", timeout=60_000)
    after = to_minio[before:]
    assert after and not (set(after) & held) and set(after) | held == set(range(6)), (held, after)
    assert not via_webui and not violations, (via_webui, violations)
    with direct.client("alice") as c:
        done = c.get(f"/api/uploads/{upload['id']}").json()
    assert done["state"] == "complete" and done["sha256"] == sha
    ctx.close()


def test_the_upload_page_signs_each_workers_next_part_while_one_is_sent(
    browser: Any, direct: WebUI, media_dir: Path
) -> None:
    """With every part held in flight at MinIO, the page has already hashed and signed the part each
    worker sends next: the signing round trip is off the path of the bytes. Then all complete."""
    path = media_dir / "browser-pipelined.wav"
    sha = make_wav(path, 31 * 1000 * 1000)  # 6 chunks of 5 MiB, 4 sent at once
    ctx = browser.new_context(base_url=direct.base)
    page = _logged_in(ctx)
    signed: list[int] = []
    held: list[Any] = []
    gate = {"closed": True}

    def hold(route: Any) -> None:
        if route.request.method == "PUT" and gate["closed"]:
            held.append(route)  # answered below, once the signing ahead has been seen
            return
        route.continue_()

    page.route(re.compile(re.escape(direct.s3.endpoint) + r"/.*partNumber=.*"), hold)
    page.on(
        "request",
        lambda r: (
            signed.append(int(re.search(r"/chunks/(\d+)/url$", r.url).group(1)))  # type: ignore[union-attr]
            if re.search(r"/chunks/\d+/url$", r.url)
            else None
        ),
    )
    page.goto("/upload")
    page.set_input_files("#file", str(path))
    deadline = time.monotonic() + 30
    while (len(held) < 4 or len(signed) < 6) and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert len(held) == 4, "four parts are sent at once"
    assert sorted(signed) == list(range(6)), f"signed while the first four were in flight: {signed}"
    gate["closed"] = False
    for route in held:
        route.continue_()
    page.wait_for_selector("#upload-done", state="visible", timeout=60_000)
    with direct.client("alice") as c:
        upload = [u for u in c.get("/api/uploads").json() if u["name"] == path.name][0]
        done = c.get(f"/api/uploads/{upload['id']}").json()
    assert done["state"] == "complete" and done["sha256"] == sha
    assert sorted(signed) == list(range(6)), "no part was signed twice"
    ctx.close()
