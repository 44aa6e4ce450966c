"""The Kubernetes API down or hanging: the web UI answers 503 with the reason and Retry-After, in
bounded time, never 500 (the app in-process; the "API server" is a closed port or a silent listener)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dubbing_webui.app import create_app
from dubbing_webui.config import Settings
from tests.fixtures.netfaults import SilentServer, kubeconfig_for


def _app(tmp_path: Path, server: str) -> Iterator[tuple[TestClient, str]]:
    settings = Settings(
        data_dir=tmp_path / "data",
        kubeconfig=str(kubeconfig_for(server, tmp_path / "kubeconfig")),
        kube_timeout_seconds=1.0,
        watch_jobs=False,
        minio_endpoint="127.0.0.1:9",  # nothing listens there: the bucket check at start fails, logged
        admin_user="root",
        admin_password="correct horse battery",
    )
    with TestClient(create_app(settings)) as client:
        svc = client.app.state.services  # type: ignore[attr-defined]
        user = svc.store.user("root")
        yield client, svc.accounts.new_api_token(user, "test")


@pytest.mark.parametrize("how", ["refused", "silent"])
def test_job_calls_answer_503_when_the_api_server_is_down_or_hangs(tmp_path: Path, how: str) -> None:
    silent = SilentServer()
    if how == "refused":
        silent.close()  # the port is free again: connections are refused at once
    try:
        for client, token in _app(tmp_path, f"http://127.0.0.1:{silent.port}"):
            started = time.monotonic()
            resp = client.get("/api/jobs", headers={"Authorization": f"Bearer {token}"})
            took = time.monotonic() - started
            assert resp.status_code == 503, resp.text
            assert "Kubernetes API is not answering" in resp.json()["detail"]
            assert resp.headers["Retry-After"]
            assert took < 10  # one bounded try (1 s here), not a hang
    finally:
        silent.close()
