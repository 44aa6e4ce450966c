"""The `dubbing` command: models, doctor, argument errors, progress bars."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from dubbing.api.v1alpha1 import STAGES
from dubbing.cli import BarSink

DUBBING = [sys.executable, "-m", "dubbing.cli"]


def test_models_table_and_json():
    proc = subprocess.run(
        DUBBING + ["models", "--json", "--device", "cpu"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    stages = {item["stage"] for item in data["backends"]}
    assert stages == set(STAGES)
    by_name = {(item["stage"], item["backend"]): item for item in data["backends"]}
    assert by_name[("separate", "none")]["ready"] is True
    assert by_name[("extract", "ffmpeg")]["ready"] is True
    for item in data["backends"]:
        assert item["ready"] or item["reason"], item  # every "no" says why
    proc = subprocess.run(DUBBING + ["models", "--device", "cpu"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "faster-whisper" in proc.stdout and "reason" in proc.stdout.splitlines()[1]


def test_doctor():
    proc = subprocess.run(DUBBING + ["doctor"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout
    assert "ffmpeg" in proc.stdout and "ffprobe" in proc.stdout


def test_run_argument_errors(short_clip, tmp_path):
    for extra, reason in (
        (["--backend", "tts=bogus"], "InvalidJob"),
        (["--option", "mix.maxStretch=9"], "InvalidJob"),
        (["--artifacts", "ftp://x"], "InvalidArtifactsUrl"),
    ):
        proc = subprocess.run(
            DUBBING + ["run", str(short_clip.path), "--to", "pt-BR", "--out", str(tmp_path / "o"), *extra],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2, (extra, proc.stderr)
        assert proc.stderr.count("\n") == 1 and reason in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run(
        DUBBING + ["run", str(tmp_path / "nope.mp4"), "--to", "pt-BR", "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "InputNotFound" in proc.stderr
    proc = subprocess.run(
        DUBBING + ["run", str(short_clip.path), "--to", "pt_BR", "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "targetLanguages" in proc.stderr


def test_bar_sink_lines_when_not_a_terminal():
    stream = io.StringIO()
    sink = BarSink(stream, width=10)
    for percent in (0, 3, 12, 55, 56, 100):
        sink("asr", percent, f"p{percent}")
    sink("mix", 0, "start")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "asr       [----------]   0.0% p0"
    assert "p3" not in stream.getvalue() and "p56" not in stream.getvalue()  # one line per 10 %
    assert lines[-2] == "asr       [##########] 100.0% p100"
    assert lines[-1].startswith("mix ")
