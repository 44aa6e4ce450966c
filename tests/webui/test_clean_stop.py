"""A web UI stopped with SIGTERM (as Kubernetes and the test harness stop it) exits and cleans up after itself.

uvicorn raises the signal again after its graceful shutdown; with the default handler that killed
the process before anything registered with atexit ran, and the Kubernetes client's temporary files
(the cluster's CA, a client certificate and its private key) stayed behind in $TMPDIR: three on the
developer's /tmp for every web UI a test run started."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

from devcluster.stack.webui import launch_webui, stop_webui

pytestmark = [pytest.mark.cluster, pytest.mark.minio]


def test_a_web_ui_stopped_by_sigterm_exits_143_and_leaves_its_tmpdir_empty(
    tmp_path: Path, kube: Any, jobs_namespace: str, webui_s3: Any, webui_redis: Any, ntfy: Any
) -> None:
    own_tmp = tmp_path / "tmpdir"
    own_tmp.mkdir()
    bucket = f"stop-{secrets.token_hex(4)}"
    ui = launch_webui(
        tmp_path / "ui", kube, jobs_namespace, webui_s3, webui_redis, ntfy, bucket, extra_env={"TMPDIR": str(own_tmp)}
    )
    try:
        assert httpx.get(ui.base + "/readyz", timeout=5).status_code == 200
        while_running = sorted(p.name for p in own_tmp.iterdir())
    finally:
        stop_webui(ui)
    assert while_running, "the app's Kubernetes client keeps its certificate files in $TMPDIR while it runs"
    assert ui.proc.returncode == 143, ui.log.read_text()[-2000:]
    assert sorted(p.name for p in own_tmp.iterdir()) == [], f"left behind (were {while_running})"
