"""A stage run in a Pod keeps a bounded copy of its stdout and stderr in the artifact store (the
cluster may delete the Pod, and its log, before anyone reads it)."""

from __future__ import annotations

import os
import subprocess
import sys
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
