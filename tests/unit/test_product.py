"""`make up`'s wiring: credentials made once and kept private, operator and web UI pointed at the same services."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from devcluster import product


def test_credentials_are_made_once_readable_by_the_owner_only(tmp_path: Path):
    path = tmp_path / "product" / "credentials.json"
    first = product.Credentials.load_or_make(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.admin_password) >= 12 and len(first.s3_secret_key) >= 24
    assert product.Credentials.load_or_make(path) == first  # a restart keeps logins and data
    other = product.Credentials.load_or_make(tmp_path / "elsewhere.json")
    assert other.admin_password != first.admin_password


def test_operator_and_web_ui_share_minio_redis_and_the_public_address(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DUBBING_CACHE_DIR", "/srv/cache")
    creds = product.Credentials("pw-123456789012", "key", "secret-secret-secret-secret")
    kubeconfig = tmp_path / "kubeconfig"
    op = product.operator_env(kubeconfig, creds, 8081)
    ui = product.webui_env(kubeconfig, creds, 8081, tmp_path / "data")
    assert ui["DUBBING_S3_ENDPOINT"] == "http://" + op["DUBBING_S3_ENDPOINT"]
    assert op["DUBBING_REDIS_URL"] == ui["DUBBING_REDIS_URL"]
    assert op["DUBBING_PUBLIC_BASE_URL"] == ui["DUBBING_PUBLIC_URL"] == "http://127.0.0.1:8081"
    assert op["KUBECONFIG"] == ui["KUBECONFIG"] == str(kubeconfig)
    assert ui["DUBBING_ADMIN_PASSWORD"] == creds.admin_password
    assert json.loads(op["DUBBING_STAGE_ENV"]) == {"DUBBING_CACHE_DIR": "/srv/cache"}
    assert json.loads(op["DUBBING_STAGE_COMMAND"])[-2:] == ["stage", "{stage}"]
