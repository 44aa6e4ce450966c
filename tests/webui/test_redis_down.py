"""Redis stopped: upload, submit and the dashboard keep working, the pages say so, nothing is lost."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from devcluster.stack.media import make_wav

from . import uploadclient as uc
from .conftest import PASSWORD, WebUI, browser_login

pytestmark = [pytest.mark.cluster, pytest.mark.minio, pytest.mark.redis]


def _wait(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.2)


def test_redis_down_upload_submit_dashboard_keep_working(webui: WebUI, media_dir: Path) -> None:
    path = media_dir / "during-outage.wav"
    make_wav(path, 11 * 1000 * 1000)
    browser, _csrf = browser_login(webui.base, "alice", PASSWORD)
    assert 'id="degraded"' not in browser.get("/").text
    assert webui.client("alice").get("/readyz").json()["redis"] == "ok"

    webui.redis.stop()
    try:
        _wait(lambda: webui.anonymous().get("/readyz").json()["redis"] == "degraded")
        ready = webui.anonymous().get("/readyz")
        assert ready.status_code == 200  # still serving: Redis is not required
        with webui.client("alice") as c:
            status = uc.create(c, path.name, path.stat().st_size).json()
            uc.send(c, path, status, indices=[0])  # part of it before ...
            uc.send(c, path, c.get(f"/api/uploads/{status['id']}").json())  # ... the rest after a "reload"
            done = c.post(f"/api/uploads/{status['id']}/complete")
            assert done.status_code == 200, done.text
            job = c.post("/api/jobs", json={"uploadId": status["id"], "targetLanguages": ["de"]})
            assert job.status_code == 201, job.text
            name = job.json()["name"]
            assert name in [j["name"] for j in c.get("/api/jobs").json()]
        page = browser.get("/")
        assert page.status_code == 200 and 'id="degraded"' in page.text and name in page.text
        assert 'id="degraded"' in browser.get("/upload").text
        with webui.client("alice") as c, c.stream("GET", "/api/events") as resp:
            text = ""
            for chunk in resp.iter_text():
                text += chunk
                if "event: snapshot" in text and text.endswith("\n\n"):
                    break
        assert name in text
        # Logins still work (throttling falls back to the process's memory).
        browser_login(webui.base, "bob", PASSWORD)
    finally:
        webui.redis.start()

    _wait(lambda: webui.anonymous().get("/readyz").json()["redis"] == "ok")
    assert 'id="degraded"' not in browser.get("/").text
    with webui.client("alice") as c:
        assert c.get(f"/api/uploads/{status['id']}").json()["state"] == "complete"
        assert name in [j["name"] for j in c.get("/api/jobs").json()]
        assert c.get(f"/api/jobs/{name}").status_code == 200
