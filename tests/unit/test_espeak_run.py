"""espeak-ng leaves nothing in $TMPDIR (Debian's build makes libpulse's runtime folder there)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from dubbing.espeak_run import run_espeak


@pytest.fixture
def host_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "host-tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.delenv("PULSE_RUNTIME_PATH", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_a_run_writes_its_wav_and_leaves_the_temp_folder_empty(host_tmp: Path, tmp_path: Path):
    out = tmp_path / "hello.wav"
    run_espeak(["espeak-ng", "-v", "en-us", "-w", str(out), "--stdin"], text="Hello there.", timeout=60)
    assert out.stat().st_size > 1000
    assert list(host_tmp.iterdir()) == []


def test_a_failed_run_raises_and_leaves_nothing(host_tmp: Path):
    # espeak-ng itself exits 0 on a bad voice, option or output path; a failing program stands in
    with pytest.raises(subprocess.CalledProcessError):
        run_espeak(["false"], timeout=60)
    assert list(host_tmp.iterdir()) == []
