"""An admin pulls Whisper base from the models page: the web UI creates the chart's pull Job in the
local cluster, its Pod runs `dubbing models pull` against a loopback Hub (the real huggingface_hub
client, HF_ENDPOINT from the chart's values) into the model-cache volume, the page follows the
progress and shows the model ready; the asr backend then reads the pulled folder.

The Job manifest is the one the chart renders into its model-pull ConfigMap (helm template with
this test's hostPath and endpoint), so this is the chart's Job running in the cluster.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devcluster.stack.ntfy import NtfyServer
from devcluster.stack.redis import RedisServer
from devcluster.stack.s3 import S3
from devcluster.stack.webui import ADMIN, WebUI, start_webui, stop_webui
from dubbing.modelpull.catalogue import lookup
from tests.fixtures.hub import HubServer
from tests.shipping.conftest import Helm, _find_or_build_helm

pytestmark = pytest.mark.cluster
ENTRY = lookup("whisper-base")


@pytest.fixture(scope="module")
def chart_helm() -> Helm:
    return Helm(_find_or_build_helm())


@pytest.fixture
def pull_setup(
    tmp_path: Path,
    hub: HubServer,
    chart_helm: Helm,
    kube: Any,
    jobs_namespace: str,
    webui_s3: S3,
    webui_redis: RedisServer,
    ntfy: NtfyServer,
) -> Iterator[tuple[WebUI, Path]]:
    models = tmp_path / "models"
    models.mkdir()
    models.chmod(0o777)  # the pull Pod runs as the chart's user (10001)
    docs = chart_helm.template(
        "--set",
        f"modelCache.hostPath={models}",
        "--set",
        f"modelPull.endpoint={hub.url}",
        "--set",
        "image.pullPolicy=Never",
        namespace=jobs_namespace,
        release="pulltest",
    )
    (config,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "pulltest-dubbing-model-pull"]
    template = tmp_path / "job.yaml"
    template.write_text(config["data"]["job.yaml"])
    env = {
        "DUBBING_MODEL_CACHE": str(models),
        "DUBBING_MODEL_PULL_JOB": str(template),
        "DUBBING_MODEL_PULL_NAMESPACE": jobs_namespace,
        "DUBBING_MODEL_PULL_PREFIX": "pulltest-dubbing-model-pull",
    }
    bucket = f"webui-{secrets.token_hex(4)}"
    (tmp_path / "ui").mkdir()
    ui = start_webui(tmp_path / "ui", kube, jobs_namespace, webui_s3, webui_redis, ntfy, bucket, extra_env=env)
    try:
        yield ui, models
    finally:
        stop_webui(ui)
        kube.kubectl(
            "delete", "jobs", "-n", jobs_namespace, "-l", "dubbing.dev/model", "--cascade=foreground", check=False
        )


def _login(browser: Any, ui: WebUI) -> Any:
    page = browser.new_context(base_url=ui.base).new_page()
    page.goto("/login")
    page.fill("input[name=username]", ADMIN[0])
    page.fill("input[name=password]", ADMIN[1])
    page.click("button[type=submit]")
    page.wait_for_url(ui.base + "/")
    return page


def test_admin_pulls_a_model_as_a_cluster_job_and_watches_it_become_ready(
    browser: Any, pull_setup: tuple[WebUI, Path], hub: HubServer, kube: Any, jobs_namespace: str
) -> None:
    ui, models = pull_setup
    hub.state.block_delay = 0.02  # about 11 s for model.bin: long enough to see progress
    page = _login(browser, ui)
    page.goto("/models")
    row = page.locator('tr[data-model="whisper-base"]')
    assert row.locator(".status").inner_text() == "absent"
    assert "147.9 MB" in row.inner_text()  # the catalogue size of the four files
    assert "MIT" in row.inner_text()
    gated = page.locator('tr[data-model="pyannote-speaker-diarization-community-1"]')
    assert "gated" in gated.inner_text()

    row.locator("button.pull").click()
    seen: list[str] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        text = row.locator(".status").inner_text()
        if not seen or seen[-1] != text:
            seen.append(text)
        if text == "ready":
            break
        if text == "failed":
            break
        page.wait_for_timeout(250)
    jobs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:  # the files are in place a moment before the Pod exits
        jobs = json.loads(
            kube.kubectl(
                "get", "jobs", "-n", jobs_namespace, "-l", "dubbing.dev/model=whisper-base", "-o", "json"
            ).stdout
        )["items"]
        if seen[-1] != "ready" or any(j["status"].get("succeeded") or j["status"].get("failed") for j in jobs):
            break
        time.sleep(0.5)
    logs = kube.kubectl("logs", "-n", jobs_namespace, "-l", "dubbing.dev/model=whisper-base", "--tail=40", check=False)
    assert seen[-1] == "ready", f"states seen: {seen}\njob logs: {logs.stdout}{logs.stderr}"
    # The page followed the pull: a percentage while bytes came in, then ready.
    percents = [float(m[1]) for s in seen if (m := re.fullmatch(r"pulling ([0-9.]+) %", s))]
    # (0 % may show while the Pod starts; what matters is a share strictly between, rising)
    assert any(0 < p < 100 for p in percents) and percents == sorted(percents), seen
    assert len(jobs) == 1
    job = jobs[0]
    assert job["status"].get("succeeded") == 1, job["status"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][:3] == ["dubbing", "models", "pull"] and container["args"] == ["whisper-base"]
    assert {"name": "HF_ENDPOINT", "value": hub.url} in container["env"]
    # The Pod fetched every file once from the Hub; the files sit in the volume, verified.
    assert hub.state.body_bytes == {f.path: f.size for f in ENTRY.files}
    folder = models / "whisper" / "base"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f.dest for f in ENTRY.files)
    # A second pull of a ready model is refused; the page's backend table now reads the pulled folder.
    with ui.client("admin") as c:
        again = c.post("/api/models/pulls", json={"name": "whisper-base"})
        assert again.status_code == 409 and "already in the model cache" in again.json()["detail"]
        catalogue = c.get("/api/models/catalogue").json()
        (base,) = [m for m in catalogue["models"] if m["name"] == "whisper-base"]
        assert base["status"]["state"] == "ready" and base["job"]["phase"] == "succeeded"
        backends = c.get("/api/models").json()["backends"]
    (asr,) = [b for b in backends if b["backend"] == "faster-whisper"]
    assert asr["ready"] and asr["details"]["weights"] == str(folder)
    page.reload()
    assert page.locator('tr[data-model="whisper-base"] .status').inner_text() == "ready"
    assert page.locator('tr[data-model="whisper-base"] button.pull').is_disabled()
    page.context.close()


def test_only_admins_start_pulls(pull_setup: tuple[WebUI, Path]) -> None:
    ui, _ = pull_setup
    with ui.client("alice") as c:
        assert c.get("/api/models/catalogue").status_code == 200
        assert c.post("/api/models/pulls", json={"name": "whisper-base"}).status_code == 404
    with ui.client("admin") as c:
        unknown = c.post("/api/models/pulls", json={"name": "whisper-huge"})
        assert unknown.status_code == 404 and "whisper-base" in unknown.json()["detail"]
        assert c.post("/api/models/pulls", json={"name": "x", "extra": 1}).status_code == 422
