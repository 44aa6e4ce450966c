"""A job naming voices of its owner's library: its stage Pods' keys read those voices, and no other."""

from __future__ import annotations

import io

from minio import Minio
from minio.error import S3Error

from dubbing.artifacts.minio_store import MinioStore, S3Settings
from dubbing.voices.library import VoiceLibrary
from dubbing_operator.credentials import mint
from dubbing_operator.s3policy import job_scope, session_policy

from .helpers import make_job

VOICE, OTHER = "v-0123456789abcdef", "v-fedcba9876543210"


def test_the_scope_reads_only_the_named_voices_of_the_owner() -> None:
    plain = job_scope(make_job("clip"), "s3://dubbing/base")
    assert plain.readable == ()
    job = make_job("clip", voices={"S0": {"library": VOICE}, "S1": {"voice": "pf_dora"}, "S2": {"library": VOICE}})
    scope = job_scope(job, "s3://dubbing/base")
    assert scope.readable == (("dubbing", f"base/voices/ns/{VOICE}"),)  # the owner: no label, so the namespace
    policy = session_policy(scope)
    reads = [st for st in policy["Statement"] if st["Action"] == ["s3:GetObject"]]
    assert reads[-1]["Resource"] == [f"arn:aws:s3:::dubbing/base/voices/ns/{VOICE}/*"]
    writes = [r for st in policy["Statement"] if "s3:PutObject" in st["Action"] for r in st["Resource"]]
    assert not any("voices" in r for r in writes)


def _denied(fn) -> bool:
    try:
        fn()
    except S3Error as err:
        return err.code == "AccessDenied"
    return False


def test_a_jobs_keys_read_its_owners_named_voice_and_nothing_else_of_the_library(minio_server, bucket) -> None:
    admin: Minio = minio_server.client()
    for key in (
        f"voices/ns/{VOICE}/ref.wav",
        f"voices/ns/{VOICE}/meta.json",
        f"voices/ns/{OTHER}/ref.wav",
        f"voices/bob/{OTHER}/ref.wav",
        f"voice-ids/{VOICE}.json",
    ):
        admin.put_object(bucket, key, io.BytesIO(b"{}"), 2)
    job = make_job("clip", voices={"S0": {"library": VOICE}})
    keys = mint(
        job_scope(job, f"s3://{bucket}"),
        endpoint=minio_server.endpoint,
        secure=minio_server.secure,
        access_key=minio_server.access_key,
        secret_key=minio_server.secret_key,
        lifetime_seconds=900,
    )
    settings = S3Settings(
        endpoint=minio_server.endpoint,
        access_key=keys.access_key,
        secret_key=keys.secret_key,
        session_token=keys.session_token,
        secure=minio_server.secure,
    )
    scoped = settings.client()
    assert scoped.get_object(bucket, f"voices/ns/{VOICE}/ref.wav").read() == b"{}"
    assert _denied(lambda: scoped.get_object(bucket, f"voices/ns/{OTHER}/ref.wav").read())
    assert _denied(lambda: scoped.get_object(bucket, f"voices/bob/{OTHER}/ref.wav").read())
    assert _denied(lambda: scoped.get_object(bucket, f"voice-ids/{VOICE}.json").read())
    assert _denied(lambda: scoped.put_object(bucket, f"voices/ns/{VOICE}/ref.wav", io.BytesIO(b"x"), 1))
    # the stage's view through the runtime's own store: the named voice resolves
    assert VoiceLibrary(MinioStore(bucket, "", settings), "ns").get(VOICE).id == VOICE


def test_the_stage_pod_knows_the_owner_whose_library_it_reads() -> None:
    import json

    from dubbing.api.v1alpha1 import OWNER_LABEL
    from dubbing.stages.jobfile import parse_job
    from dubbing.voices.library import job_owner
    from dubbing_operator.podspec import job_document

    job = make_job("clip", voices={"S0": {"library": VOICE}})
    job.metadata.labels = {OWNER_LABEL: "alice", "other": "dropped"}
    document = json.loads(job_document(job))
    assert document["metadata"]["labels"] == {OWNER_LABEL: "alice"}
    staged = parse_job(document)
    assert job_owner(staged) == "alice" and staged.spec.voices["S0"].library == VOICE
    assert job_scope(job, "s3://dubbing").readable == (("dubbing", f"voices/alice/{VOICE}"),)
