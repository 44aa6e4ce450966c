"""The pages in Debian's Chromium, driven by Playwright (system browser, never downloaded).

Screenshots of each page at desktop and phone width go to test-artifacts/screenshots/.
Job status is written through the status subresource so that the timeline moves
deterministically; a real Pod provides the live logs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devcluster.stack.media import make_wav
from dubbing.api import v1alpha1 as api

from . import uploadclient as uc
from .conftest import ARTIFACTS, PASSWORD, WebUI
from .jobstatus import set_status

pytestmark = [pytest.mark.browser, pytest.mark.cluster, pytest.mark.minio, pytest.mark.redis]

SHOTS = ARTIFACTS / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


def login(browser: Any, ui: WebUI, user: str, viewport: dict[str, int] = DESKTOP, csp: bool = False) -> Any:
    """A signed-in page. Playwright evaluates the string predicates of ``wait_for_function`` with
    ``eval``, which the pages' Content-Security-Policy forbids, so these contexts bypass it unless
    ``csp``; test_pages_run_under_their_content_security_policy keeps it."""
    ctx = browser.new_context(viewport=viewport, base_url=ui.base, bypass_csp=not csp)
    page = ctx.new_page()
    page.goto("/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(ui.base + "/")
    return page


def shoot(browser: Any, ui: WebUI, path: str, name: str, ready: str = "main") -> None:
    """Screenshots of one page at desktop and phone width."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, vp in (("desktop", DESKTOP), ("phone", PHONE)):
        page = login(browser, ui, "alice", vp)
        page.goto(path)
        page.wait_for_selector(ready)
        page.wait_for_timeout(400)
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
        page.context.close()


def now(offset: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def state() -> dict[str, Any]:
    return {}


def test_upload_progress_reload_resume_and_submit(
    browser: Any, webui: WebUI, media_dir: Path, state: dict[str, Any]
) -> None:
    path = media_dir / "interview.wav"
    make_wav(path, 41 * 1000 * 1000)  # 8 chunks of 5 MiB
    page = login(browser, webui, "alice")
    sent: list[int] = []

    gate = {"closed": True}  # past 5 chunks the first page's requests fail, so the reload lands mid-upload

    def slow(route: Any) -> None:
        if gate["closed"] and len(sent) >= 5:
            route.abort()
            return
        sent.append(int(route.request.url.rsplit("/", 1)[-1]))
        time.sleep(0.35)  # a slow network, so the progress can be watched and the reload lands mid-upload
        route.continue_()

    page.route(re.compile(r".*/api/uploads/[0-9a-f]+/chunks/\d+$"), slow)
    page.goto("/upload")
    # every width the bar takes (the route handlers hold this thread while they sleep)
    page.evaluate(
        "() => { const bar = document.getElementById('bar'); window.widths = [];"
        " new MutationObserver(() => window.widths.push(bar.style.width)).observe(bar, {attributes: true}); }"
    )
    page.set_input_files("#file", str(path))
    deadline = time.monotonic() + 60
    while len(sent) < 5 and time.monotonic() < deadline:  # 4 in flight at once: the 5th follows a stored one
        page.wait_for_timeout(60)
    widths = set(page.evaluate("window.widths"))
    moving = {w for w in widths if w not in ("0%", "100%", "")}
    assert len(moving) >= 2, f"progress bar did not move: {widths}"
    assert re.search(r"\d+(\.\d)? MB", page.inner_text("#sent"))
    assert page.inner_text("#speed") != "–"
    page.screenshot(path=str(SHOTS / "upload-progress-desktop.png"), full_page=True)

    # Reload in the middle; the page finds the unfinished upload and sends only the rest.
    page.reload()
    banner = page.locator("#resume-banner")
    banner.wait_for(state="visible")
    assert "Resuming upload" in banner.inner_text() and "interview.wav" in banner.inner_text()
    with webui.client("alice") as c:
        open_uploads = [u for u in c.get("/api/uploads").json() if u["state"] == "open"]
        assert len(open_uploads) == 1
        held = set(c.get(f"/api/uploads/{open_uploads[0]['id']}").json()["receivedChunks"])
    assert 0 < len(held) < 8
    before = len(sent)
    gate["closed"] = False
    page.set_input_files("#file", str(path))
    page.wait_for_selector("#upload-done", state="visible", timeout=60_000)
    after_reload = sent[before:]
    assert after_reload and not (set(after_reload) & held), (held, after_reload)
    assert set(after_reload) | held == set(range(8))
    assert page.inner_text("#pct") == "100.0%"

    page.uncheck("input[value=es]")
    page.check("input[value=fr]")
    page.check("input[value=de]")
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/jobs/[a-z0-9-]+$"))
    name = page.url.rsplit("/", 1)[-1]
    obj = webui_job(webui, name)
    assert obj["spec"]["targetLanguages"] == ["fr", "de"]
    assert obj["metadata"]["labels"][api.OWNER_LABEL] == "alice"
    state["job"] = name
    page.context.close()
    shoot(browser, webui, "/upload", "upload")


def webui_job(ui: WebUI, name: str) -> dict[str, Any]:
    with ui.client("alice") as c:
        r = c.get(f"/api/jobs/{name}")
        assert r.status_code == 200
        return {"spec": r.json()["spec"], "metadata": {"labels": {api.OWNER_LABEL: r.json()["owner"]}}}


def test_dashboard_updates_live(browser: Any, webui: WebUI, kube: Any, media_dir: Path, state: dict[str, Any]) -> None:
    name = state["job"]
    page = login(browser, webui, "alice")
    page.wait_for_function("document.getElementById('live-state').dataset.live === '1'")
    card = page.locator(f'a.job[data-name="{name}"]')
    card.wait_for()
    set_status(kube, webui.namespace, name, {"phase": "Queued", "queuePosition": 2})
    page.wait_for_function(f"""document.querySelector('a.job[data-name="{name}"]').innerText.includes('queue #2')""")
    set_status(
        kube,
        webui.namespace,
        name,
        {"phase": "Running", "queuePosition": None, "currentStage": "extract", "progress": 5.0},
    )
    page.wait_for_function(
        f"""(() => {{ const t = document.querySelector('a.job[data-name="{name}"]').innerText;
             return t.includes('Running') && t.includes('stage extract'); }})()"""
    )
    # A job submitted elsewhere (the API) appears without a reload.
    path = media_dir / "second.wav"
    make_wav(path, 6 * 1000 * 1000)
    with webui.client("alice") as c:
        up = uc.upload(c, path)
        other = c.post("/api/jobs", json={"uploadId": up["id"], "targetLanguages": ["it"]}).json()["name"]
    page.locator(f'a.job[data-name="{other}"]').wait_for(timeout=15_000)
    state["other"] = other
    page.context.close()
    shoot(browser, webui, "/", "dashboard", "a.job")


def _log_pod(kube: Any, ns: str, name: str) -> str:
    pod = f"{name}-extract-1"
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod, "namespace": ns, "labels": {api.JOB_LABEL: name, api.STAGE_LABEL: "extract"}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "stage",
                    "image": "busybox",
                    "command": ["sh", "-c", "for i in $(seq 1 600); do echo extract progress line $i; sleep 0.2; done"],
                }
            ],
        },
    }
    kube.core().create_namespaced_pod(ns, manifest)
    deadline = time.monotonic() + 60
    while kube.core().read_namespaced_pod(pod, ns).status.phase != "Running":
        assert time.monotonic() < deadline, "log pod never ran"
        time.sleep(0.3)
    return pod


def _output_video(ui: WebUI, media_dir: Path, name: str) -> str:
    video = media_dir / "out.mp4"
    subprocess.run(
        [
            shutil.which("ffmpeg") or "ffmpeg",
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=15",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440",
            "-t",
            "2",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            str(video),
        ],
        check=True,
    )
    key = f"jobs/{ui.namespace}/{name}/fr/{name}.fr.mp4"
    ui.s3.client().fput_object(ui.bucket, key, str(video), content_type="video/mp4")
    return key


def test_job_page_timeline_fills_in_with_live_logs(
    browser: Any, webui: WebUI, kube: Any, media_dir: Path, state: dict[str, Any]
) -> None:
    name = state["job"]
    ns = webui.namespace
    pod = _log_pod(kube, ns, name)
    set_status(
        kube,
        ns,
        name,
        {
            "phase": "Running",
            "currentStage": "extract",
            "progress": 5.0,
            "stages": [
                {
                    "name": "extract",
                    "phase": "Running",
                    "startedAt": now(-3),
                    "attempts": 1,
                    "podName": pod,
                    "progress": 30.0,
                    "lastLogLine": "extract progress line 1",
                }
            ],
        },
    )
    page = login(browser, webui, "alice")
    page.goto(f"/jobs/{name}")
    row = lambda stage: page.locator(f'.stage-row[data-stage="{stage}"]')  # noqa: E731
    assert "Running 30%" in row("extract").inner_text()
    page.wait_for_function(
        "document.getElementById('logs').textContent.includes('extract progress line 3\\n')", timeout=30_000
    )
    page.wait_for_timeout(1500)  # more lines arrive, live; none is shown twice
    logs = page.inner_text("#logs")
    assert logs.count("extract progress line 2\n") == 1 and "extract progress line 8" in logs, logs[:500]
    set_status(
        kube,
        ns,
        name,
        {
            "currentStage": "separate",
            "progress": 20.0,
            "stages": [
                {
                    "name": "extract",
                    "phase": "Succeeded",
                    "startedAt": now(-3),
                    "finishedAt": now(),
                    "durationSeconds": 3.0,
                    "attempts": 1,
                    "podName": pod,
                },
                {
                    "name": "separate",
                    "phase": "Running",
                    "startedAt": now(),
                    "attempts": 2,
                    "progress": 55.0,
                    "lastLogLine": "separating stems 55%",
                },
            ],
        },
    )
    page.wait_for_function(
        """document.querySelector('.stage-row[data-stage="extract"]').className.includes('st-succeeded')"""
    )
    assert "3.0 s" in row("extract").inner_text()
    page.wait_for_function(
        """document.querySelector('.stage-row[data-stage="separate"]').innerText.includes('Running 55%')"""
    )
    assert "2 attempts" in row("separate").inner_text()
    assert page.inner_text("#last-line") == "separating stems 55%"
    page.screenshot(path=str(SHOTS / "job-running-desktop.png"), full_page=True)

    key = _output_video(webui, media_dir, name)
    stages = [
        {
            "name": s,
            "phase": "Succeeded",
            "startedAt": now(-10),
            "finishedAt": now(),
            "attempts": 1,
            "durationSeconds": d,
        }
        for s, d in zip(api.STAGES, (3.0, 9.0, 4.0, 12.0, 2.0, 8.0, 3.0, 1.5, 2.5), strict=False)
    ]
    set_status(
        kube,
        ns,
        name,
        {
            "phase": "Succeeded",
            "currentStage": None,
            "progress": 100.0,
            "stages": stages,
            "outputs": {"bucket": webui.bucket, "languages": [{"language": "fr", "video": key}]},
        },
    )
    page.wait_for_selector("video", timeout=20_000)
    widths = page.eval_on_selector_all(".st-bar span", "els => els.map(e => parseFloat(e.style.width))")
    assert widths[3] == max(widths) and widths[7] == min(widths), widths  # bars follow the durations
    page.wait_for_function("document.querySelector('video').readyState >= 1", timeout=20_000)
    assert page.eval_on_selector("video", "v => v.duration") == pytest.approx(2.0, abs=0.3)
    href = page.get_attribute("a[download]", "href")
    assert href and "X-Amz-Signature" in href
    assert page.is_disabled("#cancel")
    kube.core().delete_namespaced_pod(pod, ns, grace_period_seconds=0)
    page.context.close()
    shoot(browser, webui, f"/jobs/{name}", "job", "video")


def test_cancel_and_retry_buttons(browser: Any, webui: WebUI, kube: Any, state: dict[str, Any]) -> None:
    other = state["other"]
    page = login(browser, webui, "alice")
    page.goto(f"/jobs/{other}")
    page.click("#cancel")
    page.wait_for_url(re.compile(rf".*/jobs/{other}$"))
    obj = kube.custom().get_namespaced_custom_object(api.GROUP, api.VERSION, webui.namespace, api.PLURAL, other)
    assert obj["spec"]["cancel"] is True
    set_status(kube, webui.namespace, other, {"phase": "Cancelled"})
    page.reload()
    page.click("#retry-job")
    page.wait_for_url(re.compile(rf".*/jobs/{other}$"))
    obj = kube.custom().get_namespaced_custom_object(api.GROUP, api.VERSION, webui.namespace, api.PLURAL, other)
    assert obj["spec"]["rerun"] == 1 and obj["spec"]["cancel"] is False
    page.context.close()


def test_settings_saved_and_test_notification_received(browser: Any, webui: WebUI, media_dir: Path) -> None:
    page = login(browser, webui, "alice")
    page.goto("/settings")
    page.check("input[name=enabled]")
    page.fill("input[name=topic]", "alice-dubs")
    page.uncheck("input[name=events][value=cancelled]")
    page.click("#ntfy-form button[type=submit]")
    page.wait_for_selector("#saved")
    assert page.is_checked("input[name=enabled]") and page.input_value("input[name=topic]") == "alice-dubs"
    assert page.is_checked("input[name=events][value=review]")  # "ready for review" is an event too
    page.click("#test-ntfy")
    page.wait_for_selector("#tested")
    msg = webui.ntfy.wait_for("alice-dubs")
    assert msg.headers["title"] == "Dubbing: test notification"
    assert msg.headers["click"].startswith(webui.env["DUBBING_PUBLIC_URL"])
    assert msg.headers["authorization"] == "Bearer tk_test" and "tags" in msg.headers
    # A bad topic is refused with a message, and nothing is saved.
    page.fill("input[name=topic]", "no spaces allowed")
    page.eval_on_selector("input[name=topic]", "e => e.removeAttribute('pattern')")
    page.click("#ntfy-form button[type=submit]")
    assert "topic" in page.inner_text("p.error")
    # New jobs carry the saved wishes into spec.notify.
    path = media_dir / "notify.wav"
    make_wav(path, 6 * 1000 * 1000)
    with webui.client("alice") as c:
        up = uc.upload(c, path)
        job = c.post("/api/jobs", json={"uploadId": up["id"], "targetLanguages": ["es"]}).json()["name"]
        spec = c.get(f"/api/jobs/{job}").json()["spec"]
    assert spec["notify"] == {"enabled": True, "topic": "alice-dubs", "events": ["succeeded", "failed", "review"]}
    page.context.close()
    shoot(browser, webui, "/settings", "settings", "#ntfy-form")


def test_models_page_and_login_screenshots(browser: Any, webui: WebUI) -> None:
    page = login(browser, webui, "alice")
    page.goto("/models")
    rows = page.locator("table.backends tbody tr")
    assert rows.count() >= 8
    page.context.close()
    shoot(browser, webui, "/models", "models", "table.backends")
    for label, vp in (("desktop", DESKTOP), ("phone", PHONE)):
        ctx = browser.new_context(viewport=vp, base_url=webui.base)
        p = ctx.new_page()
        p.goto("/login")
        p.screenshot(path=str(SHOTS / f"login-{label}.png"), full_page=True)
        ctx.close()


def test_failed_chunks_retry_then_show_retry_button_and_pause_resume(
    browser: Any, webui: WebUI, media_dir: Path
) -> None:
    path = media_dir / "flaky.wav"
    make_wav(path, 16 * 1000 * 1000)  # 4 chunks
    page = login(browser, webui, "alice")
    attempts: list[int] = []
    failing = {"on": True}
    hold = {"on": False}
    held_routes: list[Any] = []

    def flaky(route: Any) -> None:
        index = int(route.request.url.rsplit("/", 1)[-1])
        if failing["on"] and index == 1:
            attempts.append(index)
            route.fulfill(status=503, content_type="application/json", body='{"detail": "storage busy"}')
        elif hold["on"] and index == 1:
            held_routes.append(route)  # answered later: the chunk is in flight while Pause is clicked
        else:
            time.sleep(0.3)
            route.continue_()

    page.route(re.compile(r".*/api/uploads/[0-9a-f]+/chunks/\d+$"), flaky)
    page.goto("/upload")
    page.set_input_files("#file", str(path))
    # Backoff retries (0.5, 1, 2, 4, 8 s with jitter), then the error and the Retry button; the
    # other chunks (sent in parallel) went up meanwhile.
    page.wait_for_selector("#retry", state="visible", timeout=40_000)
    assert len(attempts) == 6
    assert "storage busy" in page.inner_text("#upload-error")
    with webui.client("alice") as c:
        held = [u for u in c.get("/api/uploads").json() if u["name"] == "flaky.wav"][0]["receivedChunks"]
    assert held == [0, 2, 3]
    failing["on"] = False
    hold["on"] = True
    page.click("#retry")
    # Pause while the last chunk is in flight: it is aborted, and nothing more is sent until Resume.
    deadline = time.monotonic() + 20
    while not held_routes and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert held_routes, "the retried chunk was never sent"
    page.click("#pause")
    page.wait_for_selector("#resume", state="visible")
    with webui.client("alice") as c:
        upload = [u for u in c.get("/api/uploads").json() if u["name"] == "flaky.wav"][0]
        before = c.get(f"/api/uploads/{upload['id']}").json()["receivedChunks"]
        page.wait_for_timeout(1500)
        assert c.get(f"/api/uploads/{upload['id']}").json()["receivedChunks"] == before
    assert len(before) < 4
    hold["on"] = False
    for route in held_routes:  # the aborted request's route: letting it go may fail, the page no longer waits
        try:
            route.continue_()
        except Exception:  # noqa: BLE001 - playwright raises its own error for a request already gone
            pass
    page.click("#resume")
    page.wait_for_selector("#upload-done", state="visible", timeout=30_000)
    with webui.client("alice") as c:
        assert c.get(f"/api/uploads/{upload['id']}").json()["state"] == "complete"
    page.context.close()


def test_pages_run_under_their_content_security_policy(browser: Any, webui: WebUI) -> None:
    """With the policy enforced, the dashboard's scripts run (its nonce'd inline call connects the
    live stream) and neither it nor the upload page makes the browser report a violation."""
    page = login(browser, webui, "alice", csp=True)
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.goto("/")
    page.locator("#live-state[data-live='1']").wait_for(state="attached", timeout=15_000)
    page.goto("/upload")
    page.locator("#file").wait_for(state="attached")
    page.wait_for_timeout(500)
    assert not violations, violations
    page.context.close()
