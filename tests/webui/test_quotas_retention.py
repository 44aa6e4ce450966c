"""Per-user quotas (stored bytes, unfinished uploads, unfinished jobs) and the retention rules the
object store applies: the pure decisions, the rules in a real MinIO, and the refusals through the app."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devcluster.stack.media import make_wav
from devcluster.stack.webui import WebUI, start_webui, stop_webui
from dubbing_webui.quotas import Limits, UploadUsage, job_refusal, upload_refusal, upload_usage
from dubbing_webui.retention import RULE_PREFIX, apply_rules, retention_rules, upload_is_past_retention

from . import uploadclient as uc

MiB = 1024 * 1024


# ---- pure ---------------------------------------------------------------------------------------


def test_usage_counts_what_is_or_will_be_stored():
    usage = upload_usage([("open", 10), ("complete", 5), ("rejected", 100), ("assembled", 1)])
    assert usage == UploadUsage(stored_bytes=16, open_uploads=2)


def test_upload_refusals_name_the_limit():
    limits = Limits(stored_bytes=100 * MiB, open_uploads=2)
    assert upload_refusal(UploadUsage(0, 0), 100 * MiB, limits) is None
    status, message = upload_refusal(UploadUsage(0, 2), 1, limits) or (0, "")
    assert status == 429 and "2 unfinished uploads" in message
    status, message = upload_refusal(UploadUsage(60 * MiB, 0), 50 * MiB, limits) or (0, "")
    assert status == 413 and "quota" in message
    assert upload_refusal(UploadUsage(10**12, 10**6), 10**12, Limits()) is None  # 0 = no limit


def test_only_unfinished_jobs_count():
    limits = Limits(active_jobs=2)
    assert job_refusal(["Succeeded", "Failed", "Cancelled", "Running"], limits) is None
    assert "2 unfinished jobs" in (job_refusal(["Running", None], limits) or "")
    assert job_refusal(["Running"] * 100, Limits()) is None


def test_retention_rules():
    rules = retention_rules(upload_days=30, output_days=90, cache_days=0, upload_expiry_hours=24)
    by_prefix = {r.prefix: r for r in rules}
    assert by_prefix["uploads/"].days == 30 and by_prefix["uploads/"].abort_multipart_days == 2
    assert by_prefix["jobs/"].days == 90 and "cache/" not in by_prefix
    kept = retention_rules(0, 0, 0, 72)
    assert [(r.prefix, r.days, r.abort_multipart_days) for r in kept] == [("uploads/", None, 4)]
    assert upload_is_past_retention(0, 31 * 86400, 30) and not upload_is_past_retention(0, 29 * 86400, 30)
    assert not upload_is_past_retention(0, 10**9, 0)


# ---- the rules in a real MinIO ------------------------------------------------------------------


@pytest.mark.minio
def test_rules_are_applied_and_foreign_rules_kept(minio_server, bucket):
    from minio.commonconfig import ENABLED, Filter
    from minio.lifecycleconfig import Expiration, LifecycleConfig, Rule

    client = minio_server.client()
    theirs = Rule(
        ENABLED, rule_filter=Filter(prefix="backups/"), rule_id="their-backups", expiration=Expiration(days=7)
    )
    client.set_bucket_lifecycle(bucket, LifecycleConfig([theirs]))
    apply_rules(client, bucket, retention_rules(30, 90, 30, 24))
    apply_rules(client, bucket, retention_rules(10, 90, 30, 24))  # a change replaces ours, adds nothing
    rules = {r.rule_id: r for r in client.get_bucket_lifecycle(bucket).rules}
    assert set(rules) == {"their-backups", f"{RULE_PREFIX}uploads", f"{RULE_PREFIX}outputs", f"{RULE_PREFIX}cache"}
    assert rules[f"{RULE_PREFIX}uploads"].expiration.days == 10
    # (the abort-incomplete-multipart action is for S3; MinIO drops it and removes stale multipart
    # uploads by itself after 24 h, its api.stale_uploads_expiry)
    assert rules[f"{RULE_PREFIX}outputs"].rule_filter.prefix == "jobs/"


# ---- through the app ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tight(tmp_path_factory, kube, jobs_namespace, webui_s3, webui_redis, ntfy) -> Iterator[WebUI]:
    bucket = f"quota-{secrets.token_hex(4)}"
    limits = {
        "DUBBING_QUOTA_OPEN_UPLOADS": "2",
        "DUBBING_QUOTA_STORED_BYTES": str(12 * MiB),
        "DUBBING_QUOTA_ACTIVE_JOBS": "1",
        "DUBBING_RETENTION_UPLOAD_DAYS": "7",
    }
    ui = start_webui(
        tmp_path_factory.mktemp("quota"), kube, jobs_namespace, webui_s3, webui_redis, ntfy, bucket, limits
    )
    try:
        yield ui
    finally:
        stop_webui(ui)


@pytest.mark.cluster
def test_quota_refusals_through_the_app(tight: WebUI, tmp_path: Path):
    wav = tmp_path / "a.wav"
    make_wav(wav, 2 * MiB)
    with tight.client("alice") as c:
        done = uc.upload(c, wav)  # 2 MiB stored
        first = uc.create(c, "b.wav", 5 * MiB)
        assert first.status_code == 201, first.text
        over_bytes = uc.create(c, "big.wav", 6 * MiB)  # 2 + 5 + 6 > 12 MiB
        assert over_bytes.status_code == 413 and "quota" in over_bytes.json()["detail"]
        second = uc.create(c, "c.wav", 1 * MiB)
        assert second.status_code == 201, second.text
        third = uc.create(c, "d.wav", 1 * MiB)  # two unfinished already
        assert third.status_code == 429 and "unfinished uploads" in third.json()["detail"]
        job = c.post("/api/jobs", json={"uploadId": done["id"], "targetLanguages": ["es"]})
        assert job.status_code == 201, job.text
        again = c.post("/api/jobs", json={"uploadId": done["id"], "targetLanguages": ["es"]})
        assert again.status_code == 429 and "unfinished jobs" in again.json()["detail"]
    with tight.client("bob") as c:  # limits are per user
        assert uc.create(c, "e.wav", 1 * MiB).status_code == 201
    lifecycle: Any = tight.s3.client().get_bucket_lifecycle(tight.bucket)
    rules = {r.rule_id: r for r in lifecycle.rules}
    assert rules[f"{RULE_PREFIX}uploads"].expiration.days == 7  # applied by the web UI at start
