"""Stage Pods' memory from the input's length: the pure sizing, the Pod manifest, the status, the settings."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dubbing_operator.actions import CreatePod, PatchStatus
from dubbing_operator.decisions import ClusterView, decide, media_seconds
from dubbing_operator.observe import view_pod
from dubbing_operator.podspec import build_pod
from dubbing_operator.settings import DEFAULT_STAGE_MEMORY, Settings
from dubbing_operator.sizing import LIMIT_HEADROOM, MIB, MemoryModel, mebibytes, memory_bytes, sized_memory

from .helpers import T0, make_job, make_pod

GIB = 1024 * MIB


@pytest.mark.parametrize(
    ("text", "expected"),
    [("512Mi", 512 * MIB), ("2Gi", 2 * GIB), ("1.5Gi", 1536 * MIB), ("1500M", 1_500_000_000), ("1e9", 10**9),
     ("64Ki", 65536), ("1000", 1000), (2048, 2048), ("0.5", 1)],
)  # fmt: skip
def test_memory_quantities(text, expected):
    assert memory_bytes(text) == expected


@pytest.mark.parametrize("bad", ["", "1Gb", "-1Gi", "Gi", "1 Gi Gi", True, -5, float("inf")])
def test_bad_memory_quantities_are_refused(bad):
    with pytest.raises(ValueError):
        memory_bytes(bad)


def test_mebibytes_round_up():
    assert mebibytes(512 * MIB) == "512Mi" and mebibytes(512 * MIB + 1) == "513Mi"


def test_the_line_grows_with_minutes():
    line = MemoryModel.parse({"base": "512Mi", "perMinute": "4Mi"})
    assert line.need(0) == 512 * MIB and line.need(600) == 552 * MIB and line.need(-5) == 512 * MIB
    with pytest.raises(ValueError, match="unknown keys"):
        MemoryModel.parse({"base": "1Gi", "perHour": "1Gi"})


def test_sizing_keeps_the_configured_request_as_the_floor_and_the_maximum_as_the_ceiling():
    line = MemoryModel(512 * MIB, 10 * MIB)
    # short input: the line is under the configured request, which stays; the limit stays too
    assert sized_memory(line, 60, 1 * GIB, 8 * GIB, 16 * GIB) == (1 * GIB, 8 * GIB)
    # long input (3 h): 512Mi + 1800Mi; the limit is the configured one (above 1.5x)
    assert sized_memory(line, 3 * 3600, 1 * GIB, 8 * GIB, 16 * GIB) == (2312 * MIB, 8 * GIB)
    # very long input: the request stops at the maximum, and so does the limit
    assert sized_memory(line, 100 * 3600, 1 * GIB, 8 * GIB, 16 * GIB) == (16 * GIB, 16 * GIB)
    # the limit is raised to 1.5x the request when the configured one is lower
    request, limit = sized_memory(line, 6 * 3600, 256 * MIB, 2 * GIB, 16 * GIB)
    assert request == 4112 * MIB and limit == int(request * LIMIT_HEADROOM)
    # nothing configured: the line alone
    assert sized_memory(line, 0, None, None, 16 * GIB) == (512 * MIB, 768 * MIB)
    # a configured value above the maximum is the operator's own word: kept
    assert sized_memory(line, 0, 20 * GIB, 24 * GIB, 16 * GIB) == (20 * GIB, 24 * GIB)


def memory_of(pod):
    resources = pod["spec"]["containers"][0]["resources"]
    return resources["requests"].get("memory"), resources["limits"].get("memory")


def test_pods_are_sized_from_the_input_length_once_known():
    settings = Settings(stage_memory={"mix": {"base": "512Mi", "perMinute": "10Mi"}}, stage_memory_max="4Gi")
    job = make_job()
    assert memory_of(build_pod(job, "mix", 1, settings)) == ("256Mi", "2Gi")  # not measured yet: as configured
    assert memory_of(build_pod(job, "mix", 1, settings, media_seconds=60)) == ("522Mi", "2Gi")
    assert memory_of(build_pod(job, "mix", 1, settings, media_seconds=3 * 3600)) == ("2312Mi", "3468Mi")
    assert memory_of(build_pod(job, "mix", 1, settings, media_seconds=24 * 3600)) == ("4096Mi", "4096Mi")
    # a stage without a line keeps its configured memory
    assert memory_of(build_pod(job, "extract", 1, settings, media_seconds=3 * 3600)) == ("256Mi", "2Gi")


def test_the_jobs_own_memory_wins_over_the_sizing():
    job = make_job(stages={"mix": {"resources": {"requests": {"memory": "3Gi"}}}})
    settings = Settings(stage_memory={"mix": {"base": "512Mi", "perMinute": "10Mi"}})
    assert memory_of(build_pod(job, "mix", 1, settings, media_seconds=3 * 3600)) == ("3Gi", "3468Mi")


def test_settings_lines_from_env_replace_named_stages_and_refuse_nonsense():
    s = Settings.from_env({"DUBBING_STAGE_MEMORY": '{"mix": {"base": "1Gi", "perMinute": "8Mi"}}',
                           "DUBBING_STAGE_MEMORY_MAX": "32Gi"})  # fmt: skip
    assert s.stage_memory["mix"] == {"base": "1Gi", "perMinute": "8Mi"}
    assert s.stage_memory["asr"] == DEFAULT_STAGE_MEMORY["asr"] and s.stage_memory_max == "32Gi"
    for bad in ('{"extract": {"base": "1Gi"}}', '{"mixer": {"base": "1Gi"}}', '{"mix": {"base": "lots"}}', "[1]"):
        with pytest.raises(ValueError):
            Settings.from_env({"DUBBING_STAGE_MEMORY": bad})
    with pytest.raises(ValueError):
        Settings.from_env({"DUBBING_STAGE_MEMORY_MAX": "big"})
    assert "extract" not in Settings().stage_memory


@pytest.mark.parametrize(
    ("summary", "expected"),
    [({"outputs": {"key": "k", "mediaSeconds": 3600.5}}, 3600.5), ({"outputs": {"mediaSeconds": 0}}, 0.0),
     ({"outputs": {"key": "k"}}, None), ({"outputs": {"mediaSeconds": "3600"}}, None),
     ({"outputs": {"mediaSeconds": -1}}, None), ({"outputs": {"mediaSeconds": float("nan")}}, None),
     ({"outputs": {"mediaSeconds": True}}, None), ({"outputs": "x"}, None), ({}, None), (None, None)],
)  # fmt: skip
def test_media_seconds_from_the_extract_summary(summary, expected):
    assert media_seconds(summary) == expected


def test_the_extract_pods_length_reaches_the_status_and_sizes_the_next_pod():
    summary = {"stage": "extract", "ok": True, "backend": "ffmpeg", "outputs": {"key": "k", "mediaSeconds": 7200.0}}
    pod = make_pod("extract", started=T0, finished=T0 + timedelta(seconds=7), summary=summary)
    job = make_job(status={"phase": "Running", "startedAt": "2025-01-01T12:00:00Z"})
    settings = Settings(stage_memory={"separate": {"base": "256Mi", "perMinute": "8Mi"}})
    actions = decide(job, [view_pod(pod)], ClusterView(admitted=True), settings, T0 + timedelta(minutes=1))
    [create] = [a for a in actions if isinstance(a, CreatePod)]
    assert create.name.endswith("-separate-1") and memory_of(create.manifest) == (
        "1216Mi",
        "8Gi",
    )  # separate: 1Gi, limit 8Gi
    [patch] = [a for a in actions if isinstance(a, PatchStatus)]
    assert patch.status["mediaSeconds"] == 7200.0
