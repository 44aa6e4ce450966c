"""Job-scoped object store keys: the session policy (pure), the Pod's env, and, against a real
MinIO, that a job's keys reach its own input, prefixes and the stage cache and nothing of another job."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from minio import Minio
from minio.error import S3Error

from dubbing.artifacts.minio_store import MinioStore, S3Settings
from dubbing_operator.credentials import TemporaryKeys, mint, secret_manifest, sts_endpoint
from dubbing_operator.naming import credentials_secret_name
from dubbing_operator.podspec import build_pod
from dubbing_operator.s3policy import credentials_lifetime, job_scope, needs_new_credentials, session_policy
from dubbing_operator.settings import Settings

from .helpers import make_job


def test_the_scope_is_the_input_object_the_jobs_prefix_its_outputs_and_the_cache():
    job = make_job(
        "clip", input={"bucket": "uploads", "key": "uploads/alice/1/in.mp4"}, output={"prefix": "outputs/alice/x"}
    )
    scope = job_scope(job, "s3://dubbing/base")
    assert scope.input == ("uploads", "uploads/alice/1/in.mp4")
    assert scope.writable == (
        ("dubbing", "base/cache"),
        ("dubbing", "base/jobs/ns/clip"),
        ("dubbing", "base/outputs/alice/x"),
    )
    other_bucket = job_scope(make_job("clip", output={"bucket": "out", "prefix": "p"}), "s3://out/p")
    assert ("out", "p") in other_bucket.writable and ("out", "p/cache") in other_bucket.writable
    url_job = make_job("clip", input={"url": "https://example.org/a.mp4"})
    assert job_scope(url_job, "s3://dubbing").input is None
    with pytest.raises(ValueError, match="s3://"):
        job_scope(job, "file:///srv/artifacts")


def test_the_policy_names_only_the_scope():
    job = make_job("clip", input={"bucket": "media", "key": "in.mp4"})
    policy = session_policy(job_scope(job, "s3://dubbing"))
    resources = [r for st in policy["Statement"] for r in st["Resource"]]
    assert "arn:aws:s3:::media/in.mp4" in resources
    assert "arn:aws:s3:::dubbing/jobs/ns/clip/*" in resources and "arn:aws:s3:::dubbing/cache/*" in resources
    assert not any(r.endswith(":::dubbing/*") or r.endswith(":::media/*") or r == "*" for r in resources)
    listing = [st for st in policy["Statement"] if st["Action"] == ["s3:ListBucket"]]
    assert listing and all("Condition" in st for st in listing)  # never a listing of the whole bucket


def test_lifetime_and_renewal():
    assert credentials_lifetime(21600) == 22200
    assert credentials_lifetime(10) == 900 and credentials_lifetime(10**6) == 43200
    assert needs_new_credentials(None, 600)
    assert needs_new_credentials(800, 600) and not needs_new_credentials(5000, 600)


def test_stage_pods_get_the_jobs_secret_not_the_shared_one():
    settings = Settings(s3_scoped_credentials=True, s3_access_key="root", s3_secret_key="rootsecret")
    env = {e["name"]: e for e in build_pod(make_job("clip"), "extract", 1, settings)["spec"]["containers"][0]["env"]}
    for var, key in (
        ("DUBBING_S3_ACCESS_KEY", "accessKey"),
        ("DUBBING_S3_SECRET_KEY", "secretKey"),
        ("DUBBING_S3_SESSION_TOKEN", "sessionToken"),
    ):
        assert env[var]["valueFrom"]["secretKeyRef"] == {"name": "clip-s3", "key": key}
    shared = {
        e["name"]: e for e in build_pod(make_job("clip"), "extract", 1, Settings())["spec"]["containers"][0]["env"]
    }
    assert shared["DUBBING_S3_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "dubbing-s3"
    assert "DUBBING_S3_SESSION_TOKEN" not in shared


def test_scoped_credentials_need_the_operators_own_keys():
    with pytest.raises(ValueError, match="DUBBING_S3_ACCESS_KEY"):
        Settings(s3_scoped_credentials=True)


def test_the_secret_is_owned_by_the_job_and_names_fit():
    manifest = secret_manifest(make_job("clip"), TemporaryKeys("a", "s", "t", None))
    assert manifest["metadata"]["name"] == "clip-s3"
    assert manifest["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert set(manifest["data"]) == {"accessKey", "secretKey", "sessionToken"}
    long = credentials_secret_name("j" * 80)
    assert len(long) <= 63 and long.endswith("-s3") and long != credentials_secret_name("j" * 79 + "k")
    assert sts_endpoint("minio:9000", False) == "http://minio:9000"
    assert sts_endpoint("https://s3.example.com/", True) == "https://s3.example.com"


# ---- against a real MinIO -------------------------------------------------------------------


def _put(client: Minio, bucket: str, key: str, data: bytes = b"x") -> None:
    client.put_object(bucket, key, io.BytesIO(data), len(data))


def _denied(fn) -> bool:
    try:
        fn()
    except S3Error as err:
        return err.code == "AccessDenied"
    return False


def test_a_jobs_keys_reach_its_own_objects_and_nothing_of_another_job(minio_server, bucket, tmp_path: Path):
    admin = minio_server.client()
    _put(admin, bucket, "uploads/alice/1/in.mp4", b"alice's input")
    _put(admin, bucket, "uploads/bob/2/in.mp4", b"bob's input")
    _put(admin, bucket, "jobs/ns/bobs-job/outputs/es/video.mp4", b"bob's output")
    _put(admin, bucket, "cache/extract/k1/manifest.json", b"{}")
    job = make_job("alices-job", input={"bucket": bucket, "key": "uploads/alice/1/in.mp4"})
    keys = mint(
        job_scope(job, f"s3://{bucket}"),
        endpoint=minio_server.endpoint,
        secure=minio_server.secure,
        access_key=minio_server.access_key,
        secret_key=minio_server.secret_key,
        lifetime_seconds=900,
    )
    assert keys.session_token and keys.access_key != minio_server.access_key
    settings = S3Settings(
        endpoint=minio_server.endpoint,
        access_key=keys.access_key,
        secret_key=keys.secret_key,
        session_token=keys.session_token,
        secure=minio_server.secure,
    )
    scoped = settings.client()
    # its own: the input, its prefix, the shared cache, through the stage runtime's own store
    assert scoped.get_object(bucket, "uploads/alice/1/in.mp4").read() == b"alice's input"
    store = MinioStore(bucket, "", settings)
    src = tmp_path / "out.mp4"
    src.write_bytes(b"dub")
    store.put_file("jobs/ns/alices-job/outputs/es/video.mp4", src)
    store.put_file("cache/tts/k2/speech.wav", src)
    assert store.get_bytes("cache/extract/k1/manifest.json") == b"{}"
    assert [o.object_name for o in scoped.list_objects(bucket, prefix="jobs/ns/alices-job/", recursive=True)]
    # another job's: refused by the object store
    assert _denied(lambda: scoped.get_object(bucket, "uploads/bob/2/in.mp4").read())
    assert _denied(lambda: scoped.get_object(bucket, "jobs/ns/bobs-job/outputs/es/video.mp4").read())
    assert _denied(lambda: _put(scoped, bucket, "jobs/ns/bobs-job/outputs/es/video.mp4", b"overwritten"))
    assert _denied(lambda: list(scoped.list_objects(bucket, prefix="uploads/", recursive=True)))
    assert _denied(lambda: list(scoped.list_objects(bucket, recursive=True)))
    assert _denied(lambda: scoped.remove_object(bucket, "uploads/bob/2/in.mp4"))
    assert admin.get_object(bucket, "jobs/ns/bobs-job/outputs/es/video.mp4").read() == b"bob's output"


def test_minting_against_an_unreachable_store_says_so():
    from dubbing_operator.credentials import CredentialsError
    from tests.fixtures.netfaults import SilentServer

    server = SilentServer()
    server.close()  # nothing listens there any more: refused at once
    with pytest.raises(CredentialsError, match="did not mint"):
        mint(
            job_scope(make_job("clip"), "s3://dubbing"),
            endpoint=f"127.0.0.1:{server.port}",
            secure=False,
            access_key="a",
            secret_key="b",
            lifetime_seconds=900,
        )
