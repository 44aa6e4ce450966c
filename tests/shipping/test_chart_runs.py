"""The installed release really runs: the operator and web UI Pods start from the chart's own
commands, settings and ServiceAccounts (in-cluster config), reach the real MinIO and Redis, and
the web UI answers its health checks.

Only meaningful on the local development cluster, where images map to this checkout's
environment; against another cluster (DUBBING_KUBECONFIG) the images must exist there, which
the kind workflow covers.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import httpx
import pytest

from devcluster.ports import free_port
from tests.shipping.conftest import CHART

pytestmark = pytest.mark.cluster


def _pods(kube: Any, namespace: str, release: str, component: str) -> list[dict[str, Any]]:
    selector = f"app.kubernetes.io/instance={release},app.kubernetes.io/component={component}"
    return json.loads(kube.kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json").stdout)["items"]


def _running_steadily(pod: dict[str, Any]) -> bool:
    statuses = pod["status"].get("containerStatuses") or []
    return (
        pod["status"].get("phase") == "Running"
        and bool(statuses)
        and all(s.get("state", {}).get("running") and s.get("restartCount", 0) == 0 for s in statuses)
    )


def test_release_runs_against_real_minio_and_redis(
    helm, kube, namespace, dubbingjob_crd, minio_server, redis_server, tmp_path
):
    if kube.external:
        pytest.skip(
            "the release's images are only resolvable on the local development cluster (kind: see e2e-kind.yml)"
        )
    release = f"run-{namespace[2:]}"
    webui_port, metrics_port = free_port(), free_port()
    models = tmp_path / "models"
    models.mkdir()
    models.chmod(0o755)
    args = [
        "install",
        release,
        str(CHART),
        "--namespace",
        namespace,
        "--set",
        "minio.mode=external",
        "--set",
        f"minio.external.endpoint={minio_server.url}",
        "--set",
        f"minio.auth.accessKey={minio_server.access_key}",
        "--set",
        f"minio.auth.secretKey={minio_server.secret_key}",
        "--set",
        "redis.mode=external",
        "--set",
        f"redis.external.url={redis_server.url}",
        "--set",
        "webui.persistence.enabled=false",
        "--set",
        f"modelCache.hostPath={models}",
        "--set",
        f"webui.port={webui_port}",
        "--set",
        f"operator.metricsPort={metrics_port}",
        "--set",
        f"operator.watchNamespace={namespace}",
        "--set",
        "image.pullPolicy=Never",
    ]
    helm.run(*args, kubeconfig=kube.kubeconfig, timeout=300)
    try:
        deadline = time.monotonic() + 120
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            pods = {c: _pods(kube, namespace, release, c) for c in ("operator", "webui")}
            state = {
                c: [(p["status"].get("phase"), p["status"].get("containerStatuses")) for p in ps]
                for c, ps in pods.items()
            }
            if all(ps and all(_running_steadily(p) for p in ps) for ps in pods.values()):
                break
            time.sleep(1)
        else:
            logs = {
                c: kube.kubectl(
                    "logs", "-n", namespace, "-l", f"app.kubernetes.io/component={c}", "--tail=30", check=False
                ).stdout
                for c in ("operator", "webui")
            }
            raise AssertionError(f"release Pods did not run: {state}\nlogs: {logs}")

        # The web UI answers: liveness, and readiness that checks the API server, MinIO and Redis.
        with httpx.Client(base_url=f"http://127.0.0.1:{webui_port}", timeout=5) as client:
            ready: httpx.Response | None = None
            for _ in range(60):
                try:
                    ready = client.get("/readyz")
                    if ready.status_code == 200 and client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(1)
            assert ready is not None and ready.status_code == 200, ready.text if ready is not None else "no answer"
            assert "degraded" not in ready.text.lower() or '"redis": "ok"' in ready.text, ready.text

        # The operator serves its metrics and has not been denied anything by its least-privilege RBAC.
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert "dubbing_queue_backend" in metrics
        operator_logs = kube.kubectl(
            "logs", "-n", namespace, "-l", "app.kubernetes.io/component=operator", "--tail=-1"
        ).stdout
        assert "Forbidden" not in operator_logs and "403" not in operator_logs, operator_logs[-2000:]
    finally:
        helm.run("uninstall", release, "--namespace", namespace, "--wait", kubeconfig=kube.kubeconfig, check=False)
        if os.environ.get("DUBBING_KEEP_RELEASE") != "1":
            kube.kubectl(
                "delete",
                "pods",
                "-n",
                namespace,
                "-l",
                f"app.kubernetes.io/instance={release}",
                "--grace-period=0",
                "--force",
                check=False,
            )


def test_install_pulls_the_named_models_and_the_models_page_shows_them_ready(
    helm, kube, namespace, dubbingjob_crd, minio_server, redis_server, hub, tmp_path
):
    """modelPull.models: the post-install Job runs `dubbing models pull` against the (loopback) Hub into
    the model cache; the release's web UI, which reads the cache, lists the model as ready."""
    if kube.external:
        pytest.skip("the release's images are only resolvable on the local development cluster")
    import base64

    from devcluster.stack.webui import browser_login

    release = f"pull-{namespace[2:]}"
    webui_port = free_port()
    models = tmp_path / "models"
    models.mkdir()
    models.chmod(0o777)  # the pull Pod runs as the chart's user (10001)
    args = [
        "install", release, str(CHART), "--namespace", namespace,
        "--set", "minio.mode=external", "--set", f"minio.external.endpoint={minio_server.url}",
        "--set", f"minio.auth.accessKey={minio_server.access_key}",
        "--set", f"minio.auth.secretKey={minio_server.secret_key}",
        "--set", "redis.mode=external", "--set", f"redis.external.url={redis_server.url}",
        "--set", "webui.persistence.enabled=false", "--set", f"webui.port={webui_port}",
        "--set", "operator.enabled=false",
        "--set", f"modelCache.hostPath={models}",
        "--set", "modelPull.models={whisper-base}", "--set", f"modelPull.endpoint={hub.url}",
        "--set", "image.pullPolicy=Never",
    ]  # fmt: skip
    try:
        # helm waits for the post-install hook Job to finish, and fails the install if it fails.
        proc = helm.run(*args, kubeconfig=kube.kubeconfig, timeout=420, check=False)
        job_logs = kube.kubectl(
            "logs", "-n", namespace, "-l", "app.kubernetes.io/component=model-pull", "--tail=20", check=False
        ).stdout
        assert proc.returncode == 0, f"{proc.stderr}\npull Job log: {job_logs}"
        job = json.loads(
            kube.kubectl("get", "job", f"{release}-dubbing-model-pull", "-n", namespace, "-o", "json").stdout
        )
        assert job["status"].get("succeeded") == 1, job["status"]
        assert "whisper-base: ready in /models/whisper/base" in job_logs, job_logs
        assert sorted(p.name for p in (models / "whisper" / "base").iterdir()) == [
            "config.json", "model.bin", "tokenizer.json", "vocabulary.txt"
        ]  # fmt: skip

        secret = json.loads(
            kube.kubectl("get", "secret", f"{release}-dubbing-webui-admin", "-n", namespace, "-o", "json").stdout
        )
        password = base64.b64decode(secret["data"]["password"]).decode()
        base = f"http://127.0.0.1:{webui_port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the web UI did not become ready"
            time.sleep(1)
        client, _ = browser_login(base, "admin", password)
        try:
            catalogue = client.get("/api/models/catalogue").json()
            page = client.get("/models").text
        finally:
            client.close()
        (base_model,) = [m for m in catalogue["models"] if m["name"] == "whisper-base"]
        assert base_model["status"]["state"] == "ready", base_model
        assert catalogue["canPull"] is True
        assert 'data-model="whisper-base"' in page
        row = page[page.index('data-model="whisper-base"') :].split("</tr>", 1)[0]
        assert 'data-state="ready"' in row
    finally:
        helm.run("uninstall", release, "--namespace", namespace, "--wait", kubeconfig=kube.kubeconfig, check=False)
        kube.kubectl(
            "delete", "jobs,pods", "-n", namespace, "-l", f"app.kubernetes.io/instance={release}",
            "--grace-period=0", "--force", check=False,
        )  # fmt: skip
