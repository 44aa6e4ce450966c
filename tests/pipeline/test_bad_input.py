"""Bad input fails at extract: one line, exit code 2, a JSON summary, no traceback, nothing half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dubbing.stages.progress import parse_line

EXPECTED = {
    "text": "NotMedia",
    "empty": "EmptyInput",
    "noaudio": "NoAudioStream",
    "truncated": "TruncatedInput",
    "truncated_faststart": "TruncatedInput",
}
DUBBING = [sys.executable, "-m", "dubbing.cli"]


def job_manifest(name: str, key: str) -> dict:
    return {
        "apiVersion": "dubbing.dev/v1alpha1",
        "kind": "DubbingJob",
        "metadata": {"name": name, "namespace": "alice", "uid": "0000-1111"},
        "spec": {"input": {"bucket": "uploads", "key": key}, "sourceLanguage": "en", "targetLanguages": ["pt-BR"]},
    }


def stage_env(store: Path, job: dict, termination: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUBBING_")}
    env.update(
        {
            "DUBBING_JOB": json.dumps(job),
            "DUBBING_ARTIFACTS": store.as_uri(),
            "DUBBING_TERMINATION_MESSAGE_PATH": str(termination),
            "DUBBING_DEVICE": "cpu",
        }
    )
    return env


def put_input(store: Path, key: str, source: Path) -> None:
    target = store / "_buckets" / "uploads" / key
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()) if path.exists() else []


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_stage_extract_refuses_bad_input(kind, broken_inputs, tmp_path):
    store = tmp_path / "store"
    key = f"alice/{broken_inputs[kind].name}"
    put_input(store, key, broken_inputs[kind])
    termination = tmp_path / "termination-log"
    proc = subprocess.run(
        DUBBING + ["stage", "extract"],
        env=stage_env(store, job_manifest("bad", key), termination),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"[extract] failed: {EXPECTED[kind]}: ")
    summary_text = termination.read_text()
    assert "\n" not in summary_text.strip() and len(summary_text.encode()) <= 4096
    summary = json.loads(summary_text)
    assert summary["stage"] == "extract" and summary["ok"] is False and summary["cacheHit"] is False
    assert summary["reason"] == EXPECTED[kind]
    assert summary["message"] and "\n" not in summary["message"]
    # nothing stored but the input itself: no cache entry, no manifest, no job index
    assert files_under(store) == [f"_buckets/uploads/{key}"]


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_dubbing_run_refuses_bad_input(kind, broken_inputs, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        DUBBING + ["run", str(broken_inputs[kind]), "--to", "pt-BR", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"dubbing: extract failed: {EXPECTED[kind]}: "), proc.stderr
    assert not [f for f in files_under(out) if not f.startswith(".artifacts/_buckets")]


def test_stage_extract_good_input_summary_and_progress(short_clip, tmp_path):
    store = tmp_path / "store"
    put_input(store, "alice/short.mp4", short_clip.path)
    termination = tmp_path / "termination-log"
    env = stage_env(store, job_manifest("good", "alice/short.mp4"), termination)
    proc = subprocess.run(DUBBING + ["stage", "extract"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines and all(parse_line(line) for line in lines), lines
    assert parse_line(lines[-1])[:2] == ("extract", 100.0)
    summary = json.loads(termination.read_text())
    assert summary["ok"] is True and summary["cacheHit"] is False and summary["backend"] == "ffmpeg"
    assert summary["reason"] == "Completed" and summary["durationSeconds"] > 0
    key = summary["outputs"]["key"]
    manifest = json.loads((store / "cache" / "extract" / key / "manifest.json").read_text())
    probe = json.loads((store / "cache" / "extract" / key / "probe.json").read_text())
    assert abs(probe["duration"] - short_clip.duration) < 0.1 and probe["hasVideo"] and probe["hasAudio"]
    assert manifest["inputs"]["media"]["sha256"] == probe["sha256"]
    index = json.loads((store / "jobs" / "alice" / "good" / "extract.json").read_text())
    assert index["entries"]["_"]["key"] == key and index["input"]["sha256"] == probe["sha256"]
    # again: a cache hit, reported as such
    proc = subprocess.run(DUBBING + ["stage", "extract"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    summary = json.loads(termination.read_text())
    assert summary["cacheHit"] is True and summary["reason"] == "CacheHit" and summary["outputs"]["key"] == key
    # the next stage, from the job file and --artifacts flags (laptop use)
    job_file = tmp_path / "job.json"
    job_file.write_text(env["DUBBING_JOB"])
    env2 = {k: v for k, v in env.items() if k not in ("DUBBING_JOB", "DUBBING_ARTIFACTS")}
    proc = subprocess.run(
        DUBBING + ["stage", "separate", "--job-file", str(job_file), "--artifacts", store.as_uri()],
        env=env2,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(termination.read_text())["backend"] in {"none", "demucs"}


def test_invalid_job_and_unknown_input(tmp_path):
    termination = tmp_path / "t"
    env = stage_env(
        tmp_path / "store",
        {"apiVersion": "dubbing.dev/v1alpha1", "kind": "DubbingJob", "spec": {"targetLanguages": ["xx_bad"]}},
        termination,
    )
    proc = subprocess.run(DUBBING + ["stage", "extract"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert json.loads(termination.read_text())["reason"] == "InvalidJob"

    env = stage_env(tmp_path / "store", job_manifest("missing", "alice/nothing.mp4"), termination)
    proc = subprocess.run(DUBBING + ["stage", "extract"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    summary = json.loads(termination.read_text())
    assert summary["reason"] == "InputNotFound" and "alice/nothing.mp4" in summary["message"]


def test_store_failure_is_retryable(short_clip, tmp_path):
    """The store cannot be written (here: its root is a file): exit 1, reason StoreUnavailable."""
    blocker = tmp_path / "store"
    blocker.write_text("not a directory")
    termination = tmp_path / "t"
    env = stage_env(blocker, job_manifest("x", "alice/short.mp4"), termination)
    proc = subprocess.run(
        DUBBING + ["stage", "extract", "--input", str(short_clip.path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert json.loads(termination.read_text())["reason"] == "StoreUnavailable"
