"""The web UI as a process (``python -m dubbing_webui``), wired to a cluster namespace, MinIO, Redis
and an ntfy server, with an admin and the users ``alice`` and ``bob`` holding API tokens."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ..paths import REPO_ROOT
from ..ports import free_port
from .ntfy import NtfyServer, start_ntfy
from .redis import RedisServer
from .s3 import S3

ADMIN = ("admin", "admin-password-1")
PASSWORD = "correct-horse-battery"  # alice's and bob's


@dataclass
class WebUI:
    base: str
    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    namespace: str
    bucket: str
    s3: S3
    ntfy: NtfyServer
    redis: RedisServer
    log: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def rss_kib(self, key: str = "VmRSS") -> int:
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(rf"^{key}:\s+(\d+) kB", text, re.M).group(1))  # type: ignore[union-attr]

    def client(self, user: str) -> httpx.Client:
        """An API client authenticated with the user's bearer token."""
        return httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {self.tokens[user]}"}, timeout=120)

    def anonymous(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=60)


def browser_login(base: str, user: str, password: str) -> tuple[httpx.Client, str]:
    """Sign in through the login form; returns the cookie client and its CSRF token."""
    c = httpx.Client(base_url=base, timeout=60)
    page = c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    resp = c.post("/login", data={"username": user, "password": password, "csrf_token": token})
    assert resp.status_code == 303, resp.text
    home = c.get("/")
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', home.text).group(1)  # type: ignore[union-attr]
    return c, csrf


def token_for(base: str, user: str, password: str = PASSWORD) -> str:
    """A new API token of ``user``, made through the pages as a person would."""
    c, csrf = browser_login(base, user, password)
    return c.post("/api/tokens", json={"label": "tests"}, headers={"X-CSRF-Token": csrf}).json()["token"]


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("web UI exited:\n" + log.read_text()[-4000:])
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("web UI not ready:\n" + log.read_text()[-4000:])


def launch_webui(
    tmp: Path,
    kube: Any,
    namespace: str,
    s3: S3,
    redis: RedisServer,
    ntfy: NtfyServer,
    bucket: str,
    extra_env: dict[str, str] | None = None,
) -> WebUI:
    """Start the app with its data under ``tmp``; return once it is ready (no users made)."""
    port = free_port()
    env = {
        **os.environ,
        "KUBECONFIG": str(kube.kubeconfig),
        "DUBBING_JOBS_NAMESPACE": namespace,
        "DUBBING_DATA_DIR": str(tmp / "data"),
        "DUBBING_S3_ENDPOINT": s3.endpoint,
        "DUBBING_S3_ACCESS_KEY": s3.access_key,
        "DUBBING_S3_SECRET_KEY": s3.secret_key,
        "DUBBING_S3_BUCKET": bucket,
        "DUBBING_REDIS_URL": redis.url,
        "DUBBING_NTFY_URL": ntfy.url,
        "DUBBING_NTFY_TOKEN": "tk_test",
        "DUBBING_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "DUBBING_ADMIN_USER": ADMIN[0],
        "DUBBING_ADMIN_PASSWORD": ADMIN[1],
        "DUBBING_UPLOAD_CHUNK_BYTES": str(5 * 1024 * 1024),
        "DUBBING_MAX_UPLOAD_MIB": "1024",
        "DUBBING_WEBUI_PORT": str(port),
        "DUBBING_SSE_KEEPALIVE_SECONDS": "1",
        # its own temporary files (the Kubernetes client's certificate files among them) stay under
        # ``tmp`` even when a test kills it outright
        "TMPDIR": str(tmp / "tmpdir"),
        **(extra_env or {}),
    }
    tmp.mkdir(parents=True, exist_ok=True)
    Path(env["TMPDIR"]).mkdir(exist_ok=True)
    log = tmp / "webui.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dubbing_webui", "--log-level", "warning"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=REPO_ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc, log)
    except BaseException:
        proc.kill()
        proc.wait(10)
        raise
    return WebUI(base, proc, env, namespace, bucket, s3, ntfy, redis, log)


def start_webui(
    tmp: Path,
    kube: Any,
    namespace: str,
    s3: S3,
    redis: RedisServer,
    ntfy: NtfyServer,
    bucket: str,
    extra_env: dict[str, str] | None = None,
) -> WebUI:
    """Start the app with its data under ``tmp``; return once it is ready and the users have tokens."""
    ui = launch_webui(tmp, kube, namespace, s3, redis, ntfy, bucket, extra_env)
    ui.tokens["admin"] = token_for(ui.base, *ADMIN)
    with ui.client("admin") as c:
        for user in ("alice", "bob"):
            assert c.post("/api/users", json={"name": user, "password": PASSWORD}).status_code == 201
            ui.tokens[user] = token_for(ui.base, user)
    return ui


def stop_webui(ui: WebUI) -> None:
    ui.proc.terminate()
    try:
        ui.proc.wait(15)
    except subprocess.TimeoutExpired:
        ui.proc.kill()


@contextmanager
def webui(
    kube: Any, ns: str, s3: S3, redis_server: RedisServer, workdir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[WebUI]:
    """The app in a subprocess (uvicorn) with its own ntfy server, bucket ``gate-<ns>``; stopped afterwards."""
    ntfy = start_ntfy()
    workdir.mkdir(parents=True, exist_ok=True)
    bucket = f"gate-{ns}"[:63]
    ui = start_webui(workdir, kube, ns, s3, redis_server, ntfy, bucket, extra_env)
    try:
        yield ui
    finally:
        stop_webui(ui)
        ntfy.close()
