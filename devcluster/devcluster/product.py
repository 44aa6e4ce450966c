"""The whole product on this machine, for a person to try: `make up` / `make down`.

`up` starts the development cluster, installs the DubbingJob CRD (the chart's copy),
starts MinIO and Redis, then the operator and the web UI as local processes wired to
them, with the real stage program (`dubbing stage`) in the stage Pods. It prints the
web UI's address and the admin's password. Everything lives under the cluster's state
directory (`.devcluster/product/`): the generated credentials, MinIO's data, the logs
and the pid files; `down` stops it all, `down --purge` also forgets the data.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from . import build, cluster, minio, procs
from .paths import REPO_ROOT, StatePaths

NAMESPACE = "dubbing"
UPLOADS_BUCKET = "dubbing-uploads"
ARTIFACTS_BUCKET = "dubbing-artifacts"
ADMIN_USER = "admin"
DEFAULT_WEB_PORT = 8080
MINIO_PORT = 9200
REDIS_PORT = 6390
METRICS_PORT = 9290


class ProductError(RuntimeError):
    pass


@dataclass(frozen=True)
class Credentials:
    admin_password: str
    s3_access_key: str
    s3_secret_key: str

    @classmethod
    def load_or_make(cls, path: Path) -> Credentials:
        """Made once per state directory (so a restart keeps logins and data), readable by root only."""
        if path.exists():
            return cls(**json.loads(path.read_text()))
        creds = cls(secrets.token_urlsafe(12), "dubbing" + secrets.token_hex(4), secrets.token_urlsafe(24))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(creds.__dict__))
        path.chmod(0o600)
        return creds


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def credentials(self) -> Path:
        return self.root / "credentials.json"

    def pid(self, name: str) -> Path:
        return self.root / "run" / f"{name}.pid"

    def log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"


def product_layout(state: StatePaths) -> Layout:
    return Layout(state.root / "product")


def operator_env(kubeconfig: Path, creds: Credentials, web_port: int) -> dict[str, str]:
    # The stage Pods share this machine's derived weights (Whisper joined, Kokoro's model and voices)
    # instead of joining them again into each Pod's /tmp, as a model-cache volume would in a cluster.
    cache = os.environ.get("DUBBING_CACHE_DIR") or str(Path.home() / ".cache" / "dubbing")
    return {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "DUBBING_STAGE_COMMAND": json.dumps([sys.executable, "-m", "dubbing.cli", "stage", "{stage}"]),
        "DUBBING_ARTIFACTS_URL": f"s3://{ARTIFACTS_BUCKET}",
        "DUBBING_S3_ENDPOINT": f"127.0.0.1:{MINIO_PORT}",
        "DUBBING_S3_SECURE": "false",
        "DUBBING_STAGE_GPU_DEVICE": "auto",
        "DUBBING_REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
        "DUBBING_METRICS_PORT": str(METRICS_PORT),
        "DUBBING_PUBLIC_BASE_URL": f"http://127.0.0.1:{web_port}",
        "DUBBING_STAGE_ENV": json.dumps({"DUBBING_CACHE_DIR": cache}),
    }


def webui_env(kubeconfig: Path, creds: Credentials, web_port: int, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "DUBBING_JOBS_NAMESPACE": NAMESPACE,
        "DUBBING_DATA_DIR": str(data_dir),
        "DUBBING_S3_ENDPOINT": f"http://127.0.0.1:{MINIO_PORT}",
        "DUBBING_S3_ACCESS_KEY": creds.s3_access_key,
        "DUBBING_S3_SECRET_KEY": creds.s3_secret_key,
        "DUBBING_S3_BUCKET": UPLOADS_BUCKET,
        "DUBBING_REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
        "DUBBING_PUBLIC_URL": f"http://127.0.0.1:{web_port}",
        "DUBBING_ADMIN_USER": ADMIN_USER,
        "DUBBING_ADMIN_PASSWORD": creds.admin_password,
        "DUBBING_WEBUI_PORT": str(web_port),
        "DUBBING_UPLOAD_TRANSFER": "direct",  # the browser reaches MinIO on 127.0.0.1
    }


def _kubectl(state: StatePaths, *args: str, input: str | None = None) -> str:
    kubectl = build.kubectl_binary()
    if kubectl is None:
        raise ProductError("no kubectl: run `python -m devcluster build`")
    proc = subprocess.run(
        [str(kubectl), f"--kubeconfig={state.kubeconfig}", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        raise ProductError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def _apply_namespace_and_secret(state: StatePaths, creds: Credentials) -> None:
    _kubectl(state, "apply", "-f", str(REPO_ROOT / "charts" / "dubbing" / "crds"))
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "dubbing-s3", "namespace": NAMESPACE},
            "stringData": {"accessKey": creds.s3_access_key, "secretKey": creds.s3_secret_key},
        },
    ]
    _kubectl(state, "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))


def _make_buckets(creds: Credentials) -> None:
    from minio import Minio

    client = Minio(
        f"127.0.0.1:{MINIO_PORT}", access_key=creds.s3_access_key, secret_key=creds.s3_secret_key, secure=False
    )
    for bucket in (UPLOADS_BUCKET, ARTIFACTS_BUCKET):
        if not client.bucket_exists(bucket):
            client.make_bucket(bucket)


def _wait_http(url: str, name: str, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    tail = log.read_text()[-2000:] if log.exists() else "(no log)"
    raise ProductError(f"{name} did not become ready at {url}:\n{tail}")


def up(state: StatePaths, web_port: int = DEFAULT_WEB_PORT) -> tuple[str, Credentials]:
    """Start everything (what already runs is kept); returns the web UI's address and the credentials."""
    layout = product_layout(state)
    creds = Credentials.load_or_make(layout.credentials)
    cluster.up(state=state)
    _apply_namespace_and_secret(state, creds)
    minio.start_minio(
        port=MINIO_PORT,
        data_dir=layout.root / "minio",
        run_dir=layout.root / "run",
        user=creds.s3_access_key,
        password=creds.s3_secret_key,
        cors_origin=f"http://127.0.0.1:{web_port}",  # the upload page PUTs parts straight to MinIO
    )
    _make_buckets(creds)
    procs.start(
        [
            "redis-server",
            "--port",
            str(REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--set-proc-title",
            "no",
            "--appendonly",
            "no",
            "--dir",
            str(layout.root),
        ],
        pid_file=layout.pid("redis"),
        log_file=layout.log("redis"),
        marker="redis-server",
    )
    procs.start(
        [sys.executable, "-m", "dubbing_operator", "--kubeconfig", str(state.kubeconfig)],
        pid_file=layout.pid("operator"),
        log_file=layout.log("operator"),
        marker="dubbing_operator",
        env=operator_env(state.kubeconfig, creds, web_port),
        cwd=REPO_ROOT,
    )
    _wait_http(f"http://127.0.0.1:{METRICS_PORT}/metrics", "the operator", layout.log("operator"))
    procs.start(
        [sys.executable, "-m", "dubbing_webui", "--log-level", "warning"],
        pid_file=layout.pid("webui"),
        log_file=layout.log("webui"),
        marker="dubbing_webui",
        env=webui_env(state.kubeconfig, creds, web_port, layout.root / "webui-data"),
        cwd=REPO_ROOT,
    )
    base = f"http://127.0.0.1:{web_port}"
    _wait_http(base + "/readyz", "the web UI", layout.log("webui"))
    return base, creds


def down(state: StatePaths, purge: bool = False) -> list[str]:
    """Stop the web UI, the operator, Redis, MinIO and the cluster; `purge` also deletes their data."""
    layout = product_layout(state)
    stopped = [
        name
        for name, marker in (("webui", "dubbing_webui"), ("operator", "dubbing_operator"), ("redis", "redis-server"))
        if procs.stop(layout.pid(name), marker)
    ]
    if minio.stop_minio(port=MINIO_PORT, run_dir=layout.root / "run"):
        stopped.append("minio")
    stopped += cluster.down(state, purge=purge)
    if purge and layout.root.exists():
        import shutil

        shutil.rmtree(layout.root)
    return stopped
