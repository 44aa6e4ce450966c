"""Two users: every route answers 404 for the other user's jobs and uploads."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from devcluster.stack.media import make_wav

from . import uploadclient as uc
from .conftest import PASSWORD, WebUI, browser_login

pytestmark = [pytest.mark.cluster, pytest.mark.minio]


@pytest.fixture(scope="module")
def alices(webui: WebUI, media_dir: Path) -> dict[str, str]:
    """Alice's finished upload, her job (with an output in its status), and an open upload."""
    path = media_dir / "alice.wav"
    make_wav(path, 6 * 1000 * 1000)
    with webui.client("alice") as c:
        done = uc.upload(c, path)
        job = c.post("/api/jobs", json={"uploadId": done["id"], "targetLanguages": ["es"]})
        assert job.status_code == 201, job.text
        open_upload = uc.create(c, "open.wav", 6 * 1000 * 1000).json()
    return {"upload": done["id"], "job": job.json()["name"], "open": open_upload["id"]}


def _routes(ids: dict[str, str]) -> list[tuple[str, str, dict]]:
    j, u, o = ids["job"], ids["upload"], ids["open"]
    return [
        ("GET", f"/api/jobs/{j}", {}),
        ("POST", f"/api/jobs/{j}/cancel", {}),
        ("POST", f"/api/jobs/{j}/retry", {}),
        ("GET", f"/api/jobs/{j}/outputs", {}),
        ("GET", f"/api/jobs/{j}/logs", {}),
        ("GET", f"/api/jobs/{j}/segments", {}),
        ("POST", f"/api/jobs/{j}/edits", {"json": {"version": 0, "edits": {"segments": {"0": {"text": "x"}}}}}),
        ("POST", f"/api/jobs/{j}/approve", {}),
        ("GET", f"/api/uploads/{u}", {}),
        ("GET", f"/api/uploads/{o}", {}),
        ("PUT", f"/api/uploads/{o}/chunks/0", {"content": b"x", "headers": {"X-Chunk-SHA256": "0" * 64}}),
        ("POST", f"/api/uploads/{o}/complete", {}),
        ("DELETE", f"/api/uploads/{o}", {}),
        ("DELETE", f"/api/uploads/{u}", {}),
        ("POST", "/api/jobs", {"json": {"uploadId": u, "targetLanguages": ["fr"]}}),
        ("HEAD", f"/api/tus/{o}", {"headers": {"Tus-Resumable": "1.0.0"}}),
        (
            "PATCH",
            f"/api/tus/{o}",
            {
                "content": b"x",
                "headers": {
                    "Tus-Resumable": "1.0.0",
                    "Upload-Offset": "0",
                    "Content-Type": "application/offset+octet-stream",
                },
            },
        ),
        ("DELETE", f"/api/tus/{o}", {"headers": {"Tus-Resumable": "1.0.0"}}),
    ]


def test_every_api_route_answers_404_for_another_users_things(webui: WebUI, alices: dict[str, str]) -> None:
    with webui.client("bob") as bob:
        for method, path, kw in _routes(alices):
            r = bob.request(method, path, **kw)
            assert r.status_code == 404, f"{method} {path} -> {r.status_code} {r.text[:200]}"
        assert alices["job"] not in [j["name"] for j in bob.get("/api/jobs").json()]
        assert not {alices["upload"], alices["open"]} & {u["id"] for u in bob.get("/api/uploads").json()}
    # Nothing bob tried changed alice's things.
    with webui.client("alice") as alice:
        job = alice.get(f"/api/jobs/{alices['job']}").json()
        assert job["cancel"] is False and job["spec"].get("rerun", 0) == 0
        assert alice.get(f"/api/uploads/{alices['open']}").status_code == 200
        assert alice.get(f"/api/uploads/{alices['upload']}").json()["state"] == "complete"
        assert alices["job"] in [j["name"] for j in alice.get("/api/jobs").json()]


def test_pages_answer_404_for_another_users_job(webui: WebUI, alices: dict[str, str]) -> None:
    bob, csrf = browser_login(webui.base, "bob", PASSWORD)
    assert bob.get(f"/jobs/{alices['job']}").status_code == 404
    for action in ("cancel", "retry", "edit", "merge", "split", "approve"):
        assert bob.post(f"/jobs/{alices['job']}/{action}", data={"csrf_token": csrf}).status_code == 404
    assert bob.get(f"/jobs/{alices['job']}/edit").status_code == 404  # the segment editor
    assert bob.get(f"/jobs/{alices['job']}/segments/0/audio").status_code == 404
    assert alices["job"] not in bob.get("/").text
    alice, _ = browser_login(webui.base, "alice", PASSWORD)
    assert alice.get(f"/jobs/{alices['job']}").status_code == 200


def test_event_stream_carries_only_own_jobs(webui: WebUI, alices: dict[str, str]) -> None:
    with webui.client("bob") as bob:
        with bob.stream("GET", "/api/events") as resp:
            text = ""
            for chunk in resp.iter_text():
                text += chunk
                if "event: snapshot" in text and text.endswith("\n\n"):
                    break
    assert "event: snapshot" in text and alices["job"] not in text


def test_admin_sees_everything_and_anonymous_nothing(webui: WebUI, alices: dict[str, str]) -> None:
    with webui.client("admin") as admin:
        assert admin.get(f"/api/jobs/{alices['job']}").status_code == 200
    with webui.anonymous() as anon:
        assert anon.get(f"/api/jobs/{alices['job']}").status_code == 401
        assert anon.get("/", follow_redirects=False).status_code == 303
    with httpx.Client(base_url=webui.base, headers={"Authorization": "Bearer dbt_forged"}) as forged:
        assert forged.get("/api/jobs").status_code == 401


def test_cookie_requests_need_the_csrf_token_and_bearer_requests_do_not(webui: WebUI, alices: dict[str, str]) -> None:
    alice, csrf = browser_login(webui.base, "alice", PASSWORD)
    assert alice.put("/api/settings/notifications", json={"enabled": False}).status_code == 403
    assert (
        alice.put("/api/settings/notifications", json={"enabled": False}, headers={"X-CSRF-Token": "wrong"}).status_code
        == 403
    )
    assert (
        alice.put("/api/settings/notifications", json={"enabled": False}, headers={"X-CSRF-Token": csrf}).status_code
        == 200
    )
    assert alice.post(f"/jobs/{alices['job']}/cancel", data={}).status_code == 403
    with webui.client("alice") as c:
        assert c.put("/api/settings/notifications", json={"enabled": False}).status_code == 200
    cookie = alice.cookies.get("dubbing_session")
    assert cookie
    login_page = httpx.get(webui.base + "/login")
    assert (
        "httponly" in login_page.headers["set-cookie"].lower()
        and "samesite=lax" in login_page.headers["set-cookie"].lower()
    )


def test_login_is_throttled_after_repeated_failures(webui: WebUI) -> None:
    c = httpx.Client(base_url=webui.base)
    token = c.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    codes = [
        c.post("/login", data={"username": "bob", "password": f"wrong{i}", "csrf_token": token}).status_code
        for i in range(6)
    ]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    # Even the right password is refused while throttled.
    right = c.post("/login", data={"username": "bob", "password": PASSWORD, "csrf_token": token})
    assert right.status_code == 429
    # A login form post without the pre-session token is refused.
    assert (
        httpx.post(webui.base + "/login", data={"username": "bob", "password": PASSWORD, "csrf_token": "x"}).status_code
        == 403
    )
