"""A stage run in a Pod keeps a bounded copy of its stdout and stderr in the artifact store (the
cluster may delete the Pod, and its log, before anyone reads it)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from dubbing.stages.layout import job_log_key

DUBBING = [sys.executable, "-m", "dubbing.cli"]
JOB = """apiVersion: dubbing.dev/v1alpha1
kind: DubbingJob
metadata:
  name: logcopy
  namespace: team-a
spec:
  input:
    bucket: uploads
    key: clip.mp4
  targetLanguages: [pt-BR]
"""


def _stage(tmp_path: Path, stage: str, media: Path, pod: str | None) -> subprocess.CompletedProcess[str]:
    job = tmp_path / "job.yaml"
    job.write_text(JOB)
    env: dict[str, Any] = {k: v for k, v in os.environ.items() if k != "DUBBING_POD_NAME"}
    if pod:
        env["DUBBING_POD_NAME"] = pod
    return subprocess.run(
        [
            *DUBBING,
            "stage",
            stage,
            "--job-file",
            str(job),
            "--artifacts",
            f"file://{tmp_path / 'store'}",
            "--input",
            str(media),
            "--termination-message-path",
            str(tmp_path / "termination"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_a_stage_pod_stores_what_it_printed(short_clip: Any, tmp_path: Path) -> None:
    proc = _stage(tmp_path, "extract", short_clip.path, "logcopy-extract-r1-a1")
    assert proc.returncode == 0, proc.stderr
    stored = (tmp_path / "store" / job_log_key("team-a", "logcopy", "logcopy-extract-r1-a1")).read_text()
    progress = [line for line in proc.stdout.splitlines() if line.startswith("[extract]")]
    assert progress, proc.stdout  # still printed where the Pod's log reads it
    for line in progress:
        assert line in stored.splitlines()


def test_a_failed_stage_stores_its_last_words(tmp_path: Path) -> None:
    proc = _stage(tmp_path, "extract", tmp_path / "missing.mp4", "logcopy-extract-r1-a2")
    assert proc.returncode == 2
    assert "failed:" in proc.stderr
    stored = (tmp_path / "store" / job_log_key("team-a", "logcopy", "logcopy-extract-r1-a2")).read_text()
    assert [line for line in proc.stderr.splitlines() if "failed:" in line][0] in stored


def test_no_copy_outside_a_pod(short_clip: Any, tmp_path: Path) -> None:
    proc = _stage(tmp_path, "extract", short_clip.path, None)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "store" / "jobs" / "team-a" / "logcopy" / "logs").exists()


def test_a_stage_stopped_with_sigterm_says_so_kills_its_child_and_keeps_its_log(
    short_clip: Any, tmp_path: Path
) -> None:
    """The kubelet's SIGTERM (cancel, drain): the stage stops as on Ctrl-C, its child process is
    killed, it writes its summary and keeps its log. The ``ffprobe`` on its PATH here hangs (it
    records its pid and sleeps), so the stage is surely mid-work when the signal comes."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    child_pid = tmp_path / "child.pid"
    hang = bin_dir / "ffprobe"
    hang.write_text(f"#!/bin/sh\necho $$ > {child_pid}\nexec sleep 120\n")
    hang.chmod(0o755)
    job = tmp_path / "job.yaml"
    job.write_text(JOB)
    env = {**os.environ, "DUBBING_POD_NAME": "logcopy-extract-r1-a3", "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    args = [*DUBBING, "stage", "extract", "--job-file", str(job), "--artifacts", f"file://{tmp_path / 'store'}"]
    args += ["--input", str(short_clip.path), "--termination-message-path", str(tmp_path / "termination")]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (child_pid.exists() and child_pid.read_text().strip()) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        child = int(child_pid.read_text())
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 1, err
    assert "[extract] interrupted by SIGTERM" in err
    summary = json.loads((tmp_path / "termination").read_text())
    assert summary["reason"] == "Interrupted" and "SIGTERM" in summary["message"]
    stored = (tmp_path / "store" / job_log_key("team-a", "logcopy", "logcopy-extract-r1-a3")).read_text()
    assert "[extract] interrupted by SIGTERM" in stored
    assert not _alive(child)  # the hanging child was killed with the stage


def test_a_stage_killed_without_warning_leaves_its_log_up_to_then(short_clip: Any, tmp_path: Path) -> None:
    """Out of memory or SIGKILL: no end, no last put. The copy stored while the stage ran stays."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    child_pid = tmp_path / "child.pid"
    hang = bin_dir / "ffprobe"
    real = shutil.which("ffprobe")
    # the readiness check (-version) gets the real one; probing the clip hangs
    hang.write_text(f'#!/bin/sh\n[ "$1" = -version ] && exec {real} "$@"\necho $$ > {child_pid}\nexec sleep 120\n')
    hang.chmod(0o755)
    job = tmp_path / "job.yaml"
    job.write_text(JOB)
    env = {
        **os.environ,
        "DUBBING_POD_NAME": "logcopy-extract-r1-a4",
        "DUBBING_LOG_COPY_SECONDS": "0.2",
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "TMPDIR": str(tmp_path),  # the killed stage's scratch folder stays here, not on the host
    }
    args = [*DUBBING, "stage", "extract", "--job-file", str(job), "--artifacts", f"file://{tmp_path / 'store'}"]
    args += ["--input", str(short_clip.path), "--termination-message-path", str(tmp_path / "termination")]
    stored = tmp_path / "store" / job_log_key("team-a", "logcopy", "logcopy-extract-r1-a4")
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    child = 0
    try:
        deadline = time.monotonic() + 60
        while not (
            child_pid.exists()
            and child_pid.read_text().strip()
            and stored.exists()
            and "running ffmpeg" in stored.read_text()
        ):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the running stage stored no copy of what it printed"
            time.sleep(0.1)
        child = int(child_pid.read_text())
        proc.kill()
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        if child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)  # the hanging probe outlives the stage killed without warning
    assert proc.returncode == -signal.SIGKILL
    kept = stored.read_text().splitlines()
    assert any(line.startswith("[extract]") and "running ffmpeg" in line for line in kept)
    for line in out.splitlines() + err.splitlines():  # all it printed before the kill was stored
        assert line in kept


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting for whoever adopted it to reap it)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status
