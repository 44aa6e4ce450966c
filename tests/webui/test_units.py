"""Pure parts of the web UI: names, tus metadata, job building, timeline, settings validation."""

from __future__ import annotations

import base64
import time

import pytest

from dubbing.api import v1alpha1 as api
from dubbing_webui import names, notify, security
from dubbing_webui.jobs import build_job, job_name, notify_spec, timeline
from dubbing_webui.routes.tus import parse_metadata
from dubbing_webui.store import UploadRecord, User


def _rec(size: int = 12 * 1024 * 1024, chunk: int = 5 * 1024 * 1024) -> UploadRecord:
    return UploadRecord(
        "u1",
        "alice",
        "My Talk.mp4",
        size,
        "video/mp4",
        "dubbing",
        "uploads/alice/u1/My_Talk.mp4",
        "s3",
        chunk,
        "complete",
        time.time(),
        time.time() + 60,
        None,
        None,
        {},
    )


def test_chunks_are_full_but_the_last() -> None:
    rec = _rec()
    assert rec.chunk_count == 3
    assert [rec.chunk_length(i) for i in range(3)] == [5 * 1024 * 1024, 5 * 1024 * 1024, 2 * 1024 * 1024]
    with pytest.raises(IndexError):
        rec.chunk_length(3)


@pytest.mark.parametrize("bad", ["", " ", "../x", "a/b", "a\\b", ".x", "..", "a\x07b", "a\u202eb", "x" * 256])
def test_bad_names_refused(bad: str) -> None:
    with pytest.raises(names.NameError_):
        names.check_name(bad)


def test_good_names_and_key_form() -> None:
    assert names.check_name("Ünïcode talk (final).mp4") == "Ünïcode talk (final).mp4"
    assert names.key_name("Ünïcode talk (final).mp4") == "Unicode_talk_final_.mp4"


def test_types() -> None:
    allowed = ("video/", "audio/")
    assert names.check_type("video/mp4; codecs=avc1", allowed) == "video/mp4"
    for bad in ("application/pdf", "text/html", "video"):
        with pytest.raises(names.NameError_):
            names.check_type(bad, allowed)


def test_tus_metadata() -> None:
    header = "filename " + base64.b64encode(b"a b.mp4").decode() + ",is_confidential"
    assert parse_metadata(header) == {"filename": "a b.mp4", "is_confidential": ""}
    with pytest.raises(ValueError):
        parse_metadata("filename !!!")


def test_usernames_are_label_safe() -> None:
    assert security.valid_username("alice") and security.valid_username("a.b-c_d")
    for bad in ("Alice", "-a", "a-", "a" * 64, "a b", "a/b", ""):
        assert not security.valid_username(bad)


def test_password_hash_is_argon2id() -> None:
    h = security.hash_password("correct-horse")
    assert h.startswith("$argon2id$")
    assert security.verify_password(h, "correct-horse") and not security.verify_password(h, "wrong")
    assert not security.verify_password(None, "anything")


def test_ntfy_validation() -> None:
    assert notify.validate_ntfy(True, " my_topic-1 ", ["review", "failed", "succeeded"]) == {
        "enabled": True,
        "topic": "my_topic-1",
        "events": ["succeeded", "failed", "review"],
    }
    for topic in ("has space", "x" * 65, "slash/no", "https://evil.example/x"):
        with pytest.raises(notify.SettingsError):
            notify.validate_ntfy(True, topic, [])
    with pytest.raises(notify.SettingsError):
        notify.validate_ntfy(True, "", [])


def test_job_manifest_carries_owner_and_notify_and_validates() -> None:
    spec = notify_spec({"enabled": True, "topic": "t1", "events": ["failed"]})
    m = build_job(User("alice", "user"), _rec(), "dubbing", ["es", "pt-BR"], "en", {"tts": "piper"}, spec)
    job = api.DubbingJob.model_validate(m)
    assert job.metadata.labels[api.OWNER_LABEL] == "alice"
    assert job.metadata.annotations[api.OWNER_ANNOTATION] == "alice"
    assert job.spec.notify and job.spec.notify.topic == "t1" and job.spec.notify.events == ["failed"]
    assert job.spec.input.key == "uploads/alice/u1/My_Talk.mp4"
    assert job.metadata.name.startswith("my-talk-")
    with pytest.raises(ValueError):
        build_job(User("alice", "user"), _rec(), "dubbing", ["Spanish"], "auto", {}, None)
    paused = build_job(User("alice", "user"), _rec(), "dubbing", ["es"], "en", {"reviewAfter": "translate"}, None)
    assert api.DubbingJob.model_validate(paused).spec.review.after == ["translate"]  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="review"):
        build_job(User("alice", "user"), _rec(), "dubbing", ["es"], "en", {"reviewAfter": "mux"}, None)


def test_job_names_are_dns_labels() -> None:
    import re

    for name in ("Ünïcode!!.mp4", "....mp4", "A" * 100 + ".mkv"):
        assert re.fullmatch(api.K8S_NAME_PATTERN, job_name(name)) and len(job_name(name)) <= 63


def test_timeline_shares_follow_durations() -> None:
    obj = {
        "status": {
            "stages": [
                {"name": "extract", "phase": "Succeeded", "durationSeconds": 1.0, "attempts": 1},
                {"name": "separate", "phase": "Succeeded", "durationSeconds": 3.0, "attempts": 2},
                {"name": "diarize", "phase": "Running", "progress": 40.0, "attempts": 1},
            ]
        }
    }
    rows = timeline(obj)
    assert [r["name"] for r in rows] == list(api.STAGES)
    assert rows[0]["share"] == pytest.approx(0.25) and rows[1]["share"] == pytest.approx(0.75)
    assert rows[1]["attempts"] == 2 and rows[2]["progress"] == 40.0 and rows[3]["phase"] == "Pending"


def test_gpu_nodes_count_gpus_held_by_active_pods() -> None:
    from types import SimpleNamespace as NS

    from dubbing_webui.models import gpu_nodes

    def node(name: str, gpus: str | None, ready: str = "True") -> NS:
        res = {"cpu": "8", **({"nvidia.com/gpu": gpus} if gpus else {})}
        return NS(
            metadata=NS(name=name),
            status=NS(capacity=res, allocatable=res, conditions=[NS(type="Ready", status=ready)]),
        )

    def pod(node_name: str, phase: str, gpus: str | None) -> NS:
        limits = {"nvidia.com/gpu": gpus} if gpus else {}
        return NS(status=NS(phase=phase), spec=NS(node_name=node_name, containers=[NS(resources=NS(limits=limits))]))

    rows = gpu_nodes(
        [node("cpu-0", None), node("gpu-0", "4"), node("gpu-1", "1", "False")],
        [
            pod("gpu-0", "Running", "2"),
            pod("gpu-0", "Pending", "1"),
            pod("gpu-0", "Succeeded", "1"),
            pod("cpu-0", "Running", None),
        ],
    )
    assert rows == [
        {"name": "gpu-0", "capacity": 4, "allocatable": 4, "used": 3, "free": 1, "ready": True},
        {"name": "gpu-1", "capacity": 1, "allocatable": 1, "used": 0, "free": 1, "ready": False},
    ]


def test_queue_label_is_exact_near_the_head_and_marked_approximate_deeper():
    from dubbing_webui.jobs import queue_label

    assert queue_label(None) is None
    assert queue_label(2) == "#2" and queue_label(10) == "#10"
    assert queue_label(11) == "~#11" and queue_label(300) == "~#300"
