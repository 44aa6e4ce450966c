"""Importing the project turns off onnxruntime's telemetry before onnxruntime loads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _import_in_a_clean_home(tmp_path: Path, code: str) -> tuple[Path, Path]:
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env.update(HOME=str(home), TMPDIR=str(tmp))
    subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, check=True, timeout=120)
    return home, tmp


@pytest.mark.parametrize("code", ["import dubbing", "import dubbing.backends.speaker_encoder"])
def test_onnxruntime_writes_no_device_id_event_store_or_session_file(tmp_path: Path, code: str):
    home, tmp = _import_in_a_clean_home(tmp_path, code + "; import onnxruntime; onnxruntime.get_available_providers()")
    assert sorted(p.relative_to(home) for p in home.rglob("*")) == []
    assert sorted(p.name for p in tmp.iterdir()) == []


def test_a_user_who_sets_the_variable_keeps_it(tmp_path: Path):
    out = subprocess.run(
        [sys.executable, "-c", "import os, dubbing; print(os.environ['ORT_DISABLE_TELEMETRY'])"],
        env={**os.environ, "ORT_DISABLE_TELEMETRY": "0"}, cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == "0"
