"""Credentials end: token expiry and revocation, password change, disabling and deleting users,
idle sessions (each on both stores: a temporary SQLite file and a new PostgreSQL database), links
signed for the public address, and a disabled user's token refused at once through the running app."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from dubbing_webui import store as store_module
from dubbing_webui.accounts import AccountError, Accounts
from dubbing_webui.config import Settings
from dubbing_webui.db import PostgresDatabase
from dubbing_webui.objects import ObjectStore
from dubbing_webui.redisconn import RedisLink
from dubbing_webui.security import token_hash
from dubbing_webui.store import Store
from dubbing_webui.throttle import LoginThrottle

PASSWORD = "correct horse battery"


@pytest.fixture
def accounts(store: Store) -> Accounts:
    acc = Accounts(store, LoginThrottle(RedisLink(None), 5, 300), 24, 30, 90)
    acc.create_user("root", PASSWORD, "admin")
    acc.create_user("alice", PASSWORD)
    return acc


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = time.time()
        monkeypatch.setattr(store_module.time, "time", lambda: self.now)


def test_tokens_expire_and_can_be_revoked(accounts: Accounts, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    alice = accounts.store.user("alice")
    assert alice is not None
    short = accounts.new_api_token(alice, "ci", days=1)
    default = accounts.new_api_token(alice, "laptop")
    capped = accounts.new_api_token(alice, "forever?", days=3650)
    assert accounts.token_user(short) == alice
    clock.now += 2 * 86400
    assert accounts.token_user(short) is None  # expired
    assert accounts.token_user(default) == alice
    clock.now += 89 * 86400
    assert accounts.token_user(capped) is None  # no token outlives the configured 90 days
    fresh = accounts.new_api_token(alice, "again")
    token_id = token_hash(fresh)[:12]
    assert accounts.revoke_token(alice, token_id) and accounts.token_user(fresh) is None
    assert not accounts.revoke_token(alice, token_id)


def test_password_change_ends_the_other_sessions(accounts: Accounts) -> None:
    alice = accounts.authenticate("alice", PASSWORD, "1.2.3.4")
    here, _ = accounts.start_session(alice)
    there, _ = accounts.start_session(alice)
    with pytest.raises(AccountError, match="current password is wrong"):
        accounts.change_password(alice, "not it", "a new long passphrase", here)
    with pytest.raises(AccountError):
        accounts.change_password(alice, PASSWORD, "short", here)
    accounts.change_password(alice, PASSWORD, "a new long passphrase", here)
    assert accounts.session(here) is not None and accounts.session(there) is None
    with pytest.raises(AccountError):
        accounts.authenticate("alice", PASSWORD, "1.2.3.4")
    assert accounts.authenticate("alice", "a new long passphrase", "1.2.3.4") == alice


def test_disabling_a_user_ends_sessions_and_tokens_at_once(accounts: Accounts) -> None:
    root, alice = accounts.store.user("root"), accounts.store.user("alice")
    assert root and alice
    sid, _ = accounts.start_session(alice)
    token = accounts.new_api_token(alice, "script")
    accounts.disable_user(root, "alice")
    assert accounts.session(sid) is None and accounts.token_user(token) is None
    with pytest.raises(AccountError, match="disabled"):
        accounts.authenticate("alice", PASSWORD, "1.2.3.4")
    assert accounts.store.user("alice") is None and "alice" not in [u.name for u in accounts.store.users()]
    accounts.enable_user("alice")
    assert accounts.authenticate("alice", PASSWORD, "1.2.3.4") == alice
    assert accounts.token_user(token) is None  # revoked tokens stay revoked


def test_deleting_users_and_the_admins_own_guard(accounts: Accounts) -> None:
    root = accounts.store.user("root")
    assert root
    with pytest.raises(AccountError, match="your own account"):
        accounts.delete_user(root, "root")
    accounts.create_user("second", PASSWORD, "admin")
    second = accounts.store.user("second")
    assert second
    accounts.disable_user(second, "root")
    with pytest.raises(AccountError, match="last admin"):
        accounts.delete_user(root, "second")  # root is disabled: second is the last admin standing
    token = accounts.new_api_token(accounts.store.user("alice"), "x")  # type: ignore[arg-type]
    accounts.delete_user(second, "alice")
    assert accounts.token_user(token) is None and accounts.store.user("alice", include_disabled=True) is None
    with pytest.raises(AccountError, match="no user"):
        accounts.delete_user(second, "nobody")


def test_idle_sessions_end(accounts: Accounts, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    alice = accounts.store.user("alice")
    assert alice
    sid, _ = accounts.start_session(alice)
    clock.now += 29 * 60
    assert accounts.session(sid) is not None  # seen: the idle clock starts again
    clock.now += 29 * 60
    assert accounts.session(sid) is not None
    clock.now += 31 * 60
    assert accounts.session(sid) is None


OLD_SCHEMA = (
    "CREATE TABLE users (name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL, created REAL NOT NULL)",
    'CREATE TABLE sessions (id_hash TEXT PRIMARY KEY, "user" TEXT NOT NULL, csrf TEXT NOT NULL, expires REAL NOT NULL)',
    'CREATE TABLE api_tokens (token_hash TEXT PRIMARY KEY, "user" TEXT NOT NULL, label TEXT NOT NULL, created REAL NOT NULL)',
    "INSERT INTO users VALUES ('bob', 'x', 'user', 0)",
    "INSERT INTO api_tokens VALUES ('h', 'bob', 'old', 0)",
)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_database_from_before_gets_the_new_columns(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if kind == "sqlite":
        path = tmp_path / "old.sqlite3"
        db = sqlite3.connect(path)
        db.executescript(";".join(OLD_SCHEMA))
        db.commit()
        db.close()
        store = Store(path)
    else:
        import psycopg

        url = request.getfixturevalue("postgres_url")
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in OLD_SCHEMA:
                conn.execute(statement)  # type: ignore[arg-type]
        store = Store(PostgresDatabase(url))
    try:
        assert store.user("bob") is not None
        assert store.token_user("h") is not None  # tokens made before carry no expiry
        assert store.set_disabled("bob", True) and store.user("bob") is None  # the added column works
        assert store.session("nothing", 60) is None
    finally:
        store.close()


def test_links_are_signed_for_the_public_address() -> None:
    settings = Settings(s3_public_url="https://media.example.com", minio_endpoint="minio.dubbing.svc:9000")
    link = ObjectStore(settings).presigned_get("dubbing", "jobs/ns/x/outputs/es/video.mp4", filename="video.mp4")
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc) == ("https", "media.example.com") and "X-Amz-Signature" in parts.query
    assert "X-Amz-Expires=3600" in parts.query  # one hour by default, not MinIO's seven days


@pytest.mark.cluster
def test_a_disabled_users_token_is_refused_at_once(webui) -> None:
    with httpx.Client(base_url=webui.base, timeout=30) as anon:
        admin = {"Authorization": f"Bearer {webui.tokens['admin']}"}
        bob = {"Authorization": f"Bearer {webui.tokens['bob']}"}
        assert anon.get("/api/me", headers=bob).status_code == 200
        assert anon.post("/api/users/bob/disable", headers=admin).status_code == 204
        assert anon.get("/api/me", headers=bob).status_code == 401
        assert anon.post("/api/users/bob/enable", headers=admin).status_code == 204
        assert anon.get("/api/me", headers=bob).status_code == 401  # the token died with the disabling
        assert anon.post("/api/users/admin/disable", headers=admin).status_code == 400  # not oneself
