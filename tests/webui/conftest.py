"""Fixtures for the web UI tests: the real app in a uvicorn subprocess, wired to the
local cluster, a real MinIO, a real Redis (that tests may stop and start), and a
local ntfy-protocol server."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from .ntfy_server import NtfyServer, start_ntfy

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
ADMIN = ("admin", "admin-password-1")
PASSWORD = "correct-horse-battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------- redis
@dataclass
class RedisProc:
    """A redis-server on a fixed port that a test can stop and start again."""

    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe, "redis-server is not installed"
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture(scope="module")
def webui_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProc]:
    r = RedisProc(free_port(), tmp_path_factory.mktemp("redis"))
    r.start()
    try:
        yield r
    finally:
        r.stop()


# --------------------------------------------------------------------- minio
@dataclass(frozen=True)
class S3:
    endpoint: str  # http://host:port
    access_key: str
    secret_key: str

    def client(self) -> Any:
        from minio import Minio

        host = self.endpoint.split("://", 1)[1]
        return Minio(host, access_key=self.access_key, secret_key=self.secret_key, secure=False)


def _minio_binary() -> Path | None:
    given = os.environ.get("DUBBING_MINIO_BIN")
    if given:
        return Path(given)
    found = sorted(Path.home().glob(".cache/dubbing/minio/*/bin/minio"))
    return found[-1] if found else (Path(shutil.which("minio")) if shutil.which("minio") else None)


@pytest.fixture(scope="session")
def webui_s3(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3]:
    """MinIO: the shared ``minio_server`` fixture when the suite has one, else the built binary started here."""
    try:
        server = request.getfixturevalue("minio_server")
    except pytest.FixtureLookupError:
        server = None
    if server is not None:
        endpoint = getattr(server, "url", None) or getattr(server, "endpoint")
        if "://" not in endpoint:
            endpoint = "http://" + endpoint
        yield S3(endpoint, server.access_key, server.secret_key)
        return
    binary = _minio_binary()
    if binary is None or not binary.exists():
        pytest.fail("no MinIO binary (build it with the devcluster tooling or set DUBBING_MINIO_BIN)")
    port, console = free_port(), free_port()
    keys = ("webui-test", secrets.token_hex(12))
    env = {**os.environ, "MINIO_ROOT_USER": keys[0], "MINIO_ROOT_PASSWORD": keys[1],
           "MINIO_BROWSER": "off", "MINIO_UPDATE": "off"}
    data = tmp_path_factory.mktemp("minio")
    proc = subprocess.Popen([str(binary), "server", str(data), "--address", f"127.0.0.1:{port}",
                             "--console-address", f"127.0.0.1:{console}", "--quiet"], env=env,
                            stdout=subprocess.DEVNULL, stderr=(data.parent / "minio.log").open("wb"))
    s3 = S3(f"http://127.0.0.1:{port}", *keys)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{s3.endpoint}/minio/health/ready", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("MinIO did not start: " + (data.parent / "minio.log").read_text()[-2000:])
        time.sleep(0.2)
    try:
        yield s3
    finally:
        proc.terminate()
        proc.wait(15)


# ------------------------------------------------------------------- the app
@dataclass
class WebUI:
    base: str
    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    namespace: str
    bucket: str
    s3: S3
    ntfy: NtfyServer
    redis: RedisProc
    log: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def rss_kib(self, key: str = "VmRSS") -> int:
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(rf"^{key}:\s+(\d+) kB", text, re.M).group(1))  # type: ignore[union-attr]

    def client(self, user: str) -> httpx.Client:
        """An API client authenticated with the user's bearer token."""
        return httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {self.tokens[user]}"},
                            timeout=120)

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


def start_webui(tmp: Path, kube: Any, namespace: str, s3: S3, redis: RedisProc, ntfy: NtfyServer,
                bucket: str, extra_env: dict[str, str] | None = None) -> WebUI:
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
        **(extra_env or {}),
    }
    log = tmp / "webui.log"
    proc = subprocess.Popen([sys.executable, "-m", "dubbing_webui", "--log-level", "warning"], env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    _wait_ready(base, proc, log)
    ui = WebUI(base, proc, env, namespace, bucket, s3, ntfy, redis, log)
    admin, csrf = browser_login(base, *ADMIN)
    ui.tokens["admin"] = admin.post("/api/tokens", json={"label": "tests"}, headers={"X-CSRF-Token": csrf}).json()[
        "token"]
    with ui.client("admin") as c:
        for user in ("alice", "bob"):
            assert c.post("/api/users", json={"name": user, "password": PASSWORD}).status_code == 201
            ui.tokens[user] = _token_for(base, user)
    return ui


def _token_for(base: str, user: str) -> str:
    c, csrf = browser_login(base, user, PASSWORD)
    return c.post("/api/tokens", json={"label": "tests"}, headers={"X-CSRF-Token": csrf}).json()["token"]


def stop_webui(ui: WebUI) -> None:
    ui.proc.terminate()
    try:
        ui.proc.wait(15)
    except subprocess.TimeoutExpired:
        ui.proc.kill()


@pytest.fixture(scope="module")
def jobs_namespace(kube: Any, dubbingjob_crd: str) -> Iterator[str]:
    name = f"webui-{secrets.token_hex(3)}"
    kube.kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        kube.delete_namespace(name)


@pytest.fixture(scope="module")
def ntfy() -> Iterator[NtfyServer]:
    server = start_ntfy()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def webui(tmp_path_factory: pytest.TempPathFactory, kube: Any, jobs_namespace: str, webui_s3: S3,
          webui_redis: RedisProc, ntfy: NtfyServer) -> Iterator[WebUI]:
    bucket = f"webui-{secrets.token_hex(4)}"
    ui = start_webui(tmp_path_factory.mktemp("webui"), kube, jobs_namespace, webui_s3, webui_redis, ntfy, bucket)
    try:
        yield ui
    finally:
        stop_webui(ui)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")
