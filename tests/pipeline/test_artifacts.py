"""The artifact store contract, for the local directory and for a real MinIO server."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from dubbing.artifacts import (
    ArtifactNotFound,
    LocalStore,
    MinioStore,
    S3Settings,
    StoreError,
    open_store,
    parse_store_url,
)
from dubbing.artifacts.local import TMP_MARK


@pytest.fixture(params=["local", pytest.param("minio", marks=pytest.mark.minio)])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    bucket = request.getfixturevalue("bucket")
    request.getfixturevalue("s3_env")
    return open_store(f"s3://{bucket}/some/prefix")


def test_put_get_stat_list_delete(store, tmp_path):
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(300_000))
    info = store.put_file("cache/asr/k1/transcript.json", source)
    assert info.size == 300_000
    assert info.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert store.exists("cache/asr/k1/transcript.json")
    assert not store.exists("cache/asr/k1/missing.json")
    stat = store.stat("cache/asr/k1/transcript.json")
    assert stat is not None and stat.size == 300_000 and stat.etag
    out = store.get_file("cache/asr/k1/transcript.json", tmp_path / "dl" / "out.bin")
    assert out.read_bytes() == source.read_bytes()

    store.put_bytes("cache/asr/k2/a.txt", b"a")
    store.put_json("jobs/ns/job/asr.json", {"x": [1, 2], "ü": "ß"})
    assert store.get_json("jobs/ns/job/asr.json") == {"x": [1, 2], "ü": "ß"}
    keys = sorted(item.key for item in store.list())
    assert keys == ["cache/asr/k1/transcript.json", "cache/asr/k2/a.txt", "jobs/ns/job/asr.json"]
    assert sorted(item.key for item in store.list("cache/asr/k1/")) == ["cache/asr/k1/transcript.json"]
    assert sorted(item.key for item in store.list("cache/asr/k")) == [
        "cache/asr/k1/transcript.json",
        "cache/asr/k2/a.txt",
    ]

    copied = store.copy("cache/asr/k2/a.txt", "jobs/ns/job/outputs/a.txt")
    assert copied.size == 1 and store.get_bytes("jobs/ns/job/outputs/a.txt") == b"a"

    assert store.delete_prefix("cache/") == 2
    store.delete("cache/asr/k1/transcript.json")  # absent: no error
    assert sorted(item.key for item in store.list()) == ["jobs/ns/job/asr.json", "jobs/ns/job/outputs/a.txt"]


def test_missing_objects(store, tmp_path):
    with pytest.raises(ArtifactNotFound):
        store.get_bytes("nope/x.json")
    with pytest.raises(ArtifactNotFound):
        store.get_file("nope/x.json", tmp_path / "x")
    with pytest.raises(ArtifactNotFound):
        store.copy("nope/x.json", "y")
    assert store.stat("nope/x.json") is None
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "trailing/", "./x"])
def test_bad_keys(store, key):
    with pytest.raises(ValueError):
        store.put_bytes(key, b"x")


def test_local_writes_are_atomic(tmp_path):
    """A reader never sees a partial file: the write goes to a temporary name first."""
    store = LocalStore(tmp_path / "s")
    seen_partial = []
    big = os.urandom(4 * 1024 * 1024)
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                data = store.get_bytes("x/big.bin")
            except ArtifactNotFound:
                continue
            if len(data) != len(big):
                seen_partial.append(len(data))

    thread = threading.Thread(target=reader)
    thread.start()
    for _ in range(5):
        store.put_bytes("x/big.bin", big)
    stop.set()
    thread.join()
    assert not seen_partial
    assert not [p for p in (tmp_path / "s" / "x").iterdir() if p.name.startswith(TMP_MARK)]


def test_local_stream_failure_leaves_nothing(tmp_path):
    import io

    store = LocalStore(tmp_path / "s")
    with pytest.raises(StoreError):
        store.put_stream("a/b.bin", io.BytesIO(b"short"), 100)
    assert not store.exists("a/b.bin")
    assert list(store.list()) == []


def test_local_for_bucket(tmp_path):
    store = LocalStore(tmp_path / "root")
    uploads = store.for_bucket("uploads")
    uploads.put_bytes("alice/in.mp4", b"x")
    assert (tmp_path / "root" / "_buckets" / "uploads" / "alice" / "in.mp4").read_bytes() == b"x"
    assert store.url("a/b") == (tmp_path / "root" / "a" / "b").as_uri()


def test_parse_store_url():
    assert parse_store_url("s3://bucket/pre/fix/") == ("s3", "bucket", "pre/fix")
    assert parse_store_url("s3://bucket") == ("s3", "bucket", "")
    assert parse_store_url("file:///tmp/x") == ("file", "/tmp/x", "")
    assert parse_store_url("relative/dir")[0] == "file"
    for bad in ("s3://", "http://x/y", "file://host/x", ""):
        with pytest.raises(ValueError):
            parse_store_url(bad)


def test_open_store_needs_a_url(monkeypatch):
    monkeypatch.delenv("DUBBING_ARTIFACTS", raising=False)
    with pytest.raises(ValueError, match="DUBBING_ARTIFACTS"):
        open_store()


def test_s3_settings_from_env():
    settings = S3Settings.from_env(
        {
            "DUBBING_S3_ENDPOINT": "https://minio.example:9000/",
            "DUBBING_S3_ACCESS_KEY": "a",
            "DUBBING_S3_SECRET_KEY": "b",
        }
    )
    assert settings.endpoint == "minio.example:9000" and settings.secure is True
    settings = S3Settings.from_env(
        {"DUBBING_S3_ENDPOINT": "minio:9000", "DUBBING_S3_SECURE": "false", "DUBBING_S3_REGION": "eu"}
    )
    assert settings.secure is False and settings.region == "eu" and settings.access_key is None
    with pytest.raises(StoreError):
        S3Settings.from_env({})


@pytest.mark.minio
def test_minio_store_details(minio_server, bucket, s3_env, tmp_path):
    store = open_store(f"s3://{bucket}/p")
    assert isinstance(store, MinioStore)
    store.put_bytes("x/y.json", b"{}")
    # the object really is under the prefix, with its sha256 in the metadata
    names = [o.object_name for o in minio_server.client().list_objects(bucket, recursive=True)]
    assert names == ["p/x/y.json"]
    assert store.stat("x/y.json").sha256 == hashlib.sha256(b"{}").hexdigest()
    url = store.presign("x/y.json", 60)
    import httpx

    assert httpx.get(url).content == b"{}"
    other = store.for_bucket(bucket, "q")
    other.put_bytes("z.txt", b"z")
    assert sorted(o.object_name for o in minio_server.client().list_objects(bucket, recursive=True)) == [
        "p/x/y.json",
        "q/z.txt",
    ]
    # a bucket that does not exist yet is created on first write; listing it before is empty
    fresh = store.for_bucket(f"{bucket}-new")
    assert list(fresh.list()) == []
    fresh.put_bytes("a", b"1")
    assert fresh.get_bytes("a") == b"1"
    fresh.delete("a")
    minio_server.client().remove_bucket(f"{bucket}-new")


@pytest.mark.minio
def test_minio_unreachable_is_a_store_error(monkeypatch):
    monkeypatch.setenv("DUBBING_S3_ENDPOINT", "127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("DUBBING_S3_ACCESS_KEY", "x")
    monkeypatch.setenv("DUBBING_S3_SECRET_KEY", "y")
    import urllib3
    from minio import Minio

    client = Minio(
        "127.0.0.1:9",
        "x",
        "y",
        secure=False,
        http_client=urllib3.PoolManager(retries=urllib3.Retry(total=0), timeout=2),
    )
    store = MinioStore("b", "", S3Settings.from_env(), client)
    with pytest.raises(StoreError):
        store.put_bytes("a", b"1")
