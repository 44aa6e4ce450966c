"""End to end with the real operator (fake stage workload): the job page fills in by itself."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devcluster.ports import free_port
from devcluster.stack.media import make_wav
from devcluster.workloads import plan_dir as make_plan_dir
from dubbing.api import v1alpha1 as api

from . import uploadclient as uc
from .conftest import WebUI
from .test_browser import login

pytestmark = [pytest.mark.browser, pytest.mark.cluster, pytest.mark.minio, pytest.mark.slow]


@pytest.fixture(scope="module")
def operator(kube: Any, webui: WebUI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.fixtures.operator import FAKE_STAGE, OperatorProcess

    if not kube.external:
        from devcluster import cluster
        from devcluster.config import ClusterConfig

        cfg = ClusterConfig.from_env()
        for node in cfg.nodes:
            cluster.start_kubelet(node, cfg=cfg)
    ns = webui.namespace
    kube.kubectl(
        "create",
        "secret",
        "generic",
        "dubbing-s3",
        "-n",
        ns,
        "--from-literal=accessKey=test",
        "--from-literal=secretKey=test",
    )
    plan_dir = make_plan_dir("webui-stage-")
    env = {
        "DUBBING_STAGE_COMMAND": json.dumps([sys.executable, str(FAKE_STAGE), "{stage}", str(plan_dir)]),
        "DUBBING_METRICS_PORT": str(free_port()),
        "DUBBING_RESYNC_SECONDS": "3",
        "DUBBING_REDIS_PREFIX": f"dubbing-{ns}",
    }
    op = OperatorProcess(kube.kubeconfig, ns, env, tmp_path_factory.mktemp("operator") / "operator.log")
    op.start()
    # asr runs long enough to be seen running: the operator may hold a write that only says a stage
    # started for up to a poll period (5 s), merging it with the next one
    (plan_dir / "all-jobs.json").write_text('{"asr": {"sleep": 8}}')
    op.plan_dir = plan_dir  # type: ignore[attr-defined]
    try:
        yield op
    finally:
        op.stop()


def test_job_page_fills_in_as_the_operator_runs_stages(
    browser: Any,
    webui: WebUI,
    operator: Any,
    media_dir: Path,
) -> None:
    path = media_dir / "e2e.wav"
    make_wav(path, 6 * 1000 * 1000)
    page = login(browser, webui, "alice")
    with webui.client("alice") as c:
        up = uc.upload(c, path)
        name = c.post("/api/jobs", json={"uploadId": up["id"], "targetLanguages": ["es"]}).json()["name"]
    page.goto(f"/jobs/{name}")
    seen_running = False
    for stage in api.STAGES:
        page.wait_for_function(
            f"""document.querySelector('.stage-row[data-stage="{stage}"]').className.match(/st-(running|succeeded)/)""",
            timeout=120_000,
        )
        seen_running = seen_running or "st-running" in page.get_attribute(f'.stage-row[data-stage="{stage}"]', "class")
    page.wait_for_function("document.getElementById('job-phase').textContent === 'Succeeded'", timeout=180_000)
    page.wait_for_load_state()
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    page.wait_for_timeout(3000)  # a finished job's page stays put (at most the one reload that fetches outputs)
    assert len(navigations) <= 1, navigations
    page.wait_for_load_state()
    rows = page.locator(".stage-row.st-succeeded")
    assert rows.count() == len(api.STAGES)
    assert all("s" in page.inner_text(f'.stage-row[data-stage="{s}"] .st-info') for s in api.STAGES)
    journal = operator.plan_dir / f"{webui.namespace}_{name}.log"
    assert seen_running, (
        f"no stage was ever seen running on the page; stages ran: {journal.read_text() if journal.exists() else 'no journal'}"
    )
    page.goto("/")
    assert "Succeeded" in page.inner_text(f'a.job[data-name="{name}"]')
    page.context.close()
