"""Fixtures for the web UI tests: the real app in a uvicorn subprocess, wired to the
local cluster, a real MinIO, a real Redis (that tests may stop and start), and a
local ntfy-protocol server (all of it :mod:`devcluster.stack`)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devcluster.ports import free_port
from devcluster.stack.ntfy import NtfyServer, start_ntfy
from devcluster.stack.redis import RedisServer
from devcluster.stack.s3 import S3
from devcluster.stack.webui import ADMIN, PASSWORD, WebUI, browser_login, start_webui, stop_webui
from dubbing_webui.db import PostgresDatabase, open_database
from dubbing_webui.store import Store

# Imported by the tests of this folder from here.
__all__ = ["ADMIN", "ARTIFACTS", "CHROMIUM", "PASSWORD", "WebUI", "browser_login"]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def app_store(ui: WebUI) -> Store:
    """The store the running app uses (its SQLite file or its PostgreSQL database), opened from here."""
    return Store(open_database(ui.env.get("DUBBING_DATABASE_URL"), Path(ui.env["DUBBING_DATA_DIR"])))


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The store on each database: a SQLite file, and a new PostgreSQL database."""
    if request.param == "sqlite":
        s = Store(tmp_path / "db.sqlite3")
    else:
        s = Store(PostgresDatabase(request.getfixturevalue("postgres_url")))
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing (install Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    # Chromium keeps crash reports in ~/.config/chromium and dconf's cache in ~/.cache whatever its
    # profile folder: both go to a folder of the test session's
    home = tmp_path_factory.mktemp("chromium-home")
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "config"), "XDG_CACHE_HOME": str(home / "cache")}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True, env=env)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def webui_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    r = RedisServer(free_port(), tmp_path_factory.mktemp("redis"))
    r.start()
    try:
        yield r
    finally:
        r.stop()


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
def webui(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    kube: Any,
    jobs_namespace: str,
    webui_s3: S3,
    webui_redis: RedisServer,
    ntfy: NtfyServer,
) -> Iterator[WebUI]:
    """The app on SQLite, or on a new PostgreSQL database with DUBBING_TEST_WEBUI_DATABASE=postgres
    (the same tests, the other store)."""
    bucket = f"webui-{secrets.token_hex(4)}"
    env = {}
    if os.environ.get("DUBBING_TEST_WEBUI_DATABASE") == "postgres":
        env["DUBBING_DATABASE_URL"] = request.getfixturevalue("postgres_server").database()
    ui = start_webui(tmp_path_factory.mktemp("webui"), kube, jobs_namespace, webui_s3, webui_redis, ntfy, bucket, env)
    try:
        yield ui
    finally:
        stop_webui(ui)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")
