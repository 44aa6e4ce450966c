"""Per-user caps and clear refusals: streams, test notifications, oversized form bodies, a store that is down.

Each cap answers 429 (or 413 for a body) with a message and ``Retry-After``, and leaves other
users alone. A web UI whose MinIO is unreachable answers 503 with the reason, never 500.
"""

from __future__ import annotations

import re
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from devcluster.ports import free_port
from devcluster.stack.s3 import S3
from devcluster.stack.webui import start_webui, stop_webui

from .conftest import WebUI

pytestmark = [pytest.mark.cluster, pytest.mark.minio, pytest.mark.redis]

STREAMS_PER_USER = 8  # the default DUBBING_MAX_STREAMS_PER_USER


def test_streams_per_user_are_capped_and_others_unaffected(webui: WebUI) -> None:
    with ExitStack() as stack:
        alice = stack.enter_context(webui.client("alice"))
        bob = stack.enter_context(webui.client("bob"))
        for _ in range(STREAMS_PER_USER):
            resp = stack.enter_context(alice.stream("GET", "/api/events"))
            assert resp.status_code == 200
        with alice.stream("GET", "/api/events") as refused:
            assert refused.status_code == 429
            assert "streams" in refused.read().decode() and int(refused.headers["Retry-After"]) > 0
        with alice.stream("GET", "/api/jobs/nope/logs") as logs:
            assert logs.status_code == 429  # the same cap covers log streams, checked before anything else
        with bob.stream("GET", "/api/events") as other:
            assert other.status_code == 200
    # Closed streams give their slots back.
    with webui.client("alice") as alice, alice.stream("GET", "/api/events") as again:
        assert again.status_code == 200


def test_test_notifications_are_rate_limited(webui: WebUI) -> None:
    with webui.client("alice") as c:
        assert c.put("/api/settings/notifications", json={"enabled": True, "topic": "alice-limits"}).status_code == 200
        codes = [c.post("/api/settings/notifications/test").status_code for _ in range(4)]
        assert codes[:3] == [200, 200, 200] and codes[3] == 429, codes
        refused = c.post("/api/settings/notifications/test")
        assert "test notifications" in refused.json()["detail"] and int(refused.headers["Retry-After"]) > 0


def test_login_form_body_is_capped(webui: WebUI) -> None:
    c = httpx.Client(base_url=webui.base, timeout=60)
    page = c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    big = c.post(
        "/login",
        data={"username": "alice", "password": "x", "csrf_token": token},
        files={"junk": ("junk.bin", b"\0" * (8 * 1024 * 1024))},
    )
    assert big.status_code == 413, big.text
    junk_name = c.post("/login", data={"username": "x" * (1024 * 1024), "password": "x", "csrf_token": token})
    assert junk_name.status_code == 413
    assert c.get("/healthz").status_code == 200


def test_store_down_answers_503_with_reason(
    webui: WebUI, tmp_path: Path, kube: object, jobs_namespace: str, webui_s3: S3
) -> None:
    """A web UI whose MinIO does not answer: creating an upload is 503 with Retry-After, not 500."""
    dead = S3(f"http://127.0.0.1:{free_port()}", webui_s3.access_key, webui_s3.secret_key)
    ui = start_webui(tmp_path, kube, jobs_namespace, dead, webui.redis, webui.ntfy, "down-bucket")
    try:
        with ui.client("alice") as c:
            resp = c.post("/api/uploads", json={"name": "a.wav", "size": 1000, "type": "audio/wav"})
            assert resp.status_code == 503, resp.text
            assert "object store" in resp.json()["detail"] and int(resp.headers["Retry-After"]) > 0
            assert "127.0.0.1" not in resp.text
            assert c.get("/api/uploads").status_code == 200  # what needs no store still works
    finally:
        stop_webui(ui)


def test_pages_forbid_framing_and_foreign_scripts(webui: WebUI) -> None:
    """Every answer says frame-ancestors 'none'; a page's inline script runs only by its per-answer nonce."""
    from devcluster.stack.webui import PASSWORD, browser_login

    login = httpx.get(webui.base + "/login")
    csp = login.headers["Content-Security-Policy"]
    assert (
        "frame-ancestors 'none'" in csp
        and "object-src 'none'" in csp
        and "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    )
    assert login.headers["X-Frame-Options"] == "DENY"
    browser, _csrf = browser_login(webui.base, "alice", PASSWORD)
    pages = [browser.get("/") for _ in range(2)]
    nonces = []
    for page in pages:
        nonce = re.search(r"script-src 'self' 'nonce-([^']+)'", page.headers["Content-Security-Policy"]).group(1)  # type: ignore[union-attr]
        scripts = re.findall(r"<script([^>]*)>", page.text)
        assert scripts and all(f'nonce="{nonce}"' in attrs for attrs in scripts), scripts
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
    assert "frame-ancestors 'none'" in webui.client("alice").get("/api/me").headers["Content-Security-Policy"]
