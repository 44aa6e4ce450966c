"""espeak-ng leaves nothing in $TMPDIR (Debian's build makes libpulse's runtime folder there)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from dubbing.espeak_run import EspeakError, run_espeak, wav_target


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


def test_a_failed_run_raises_with_what_it_said_and_leaves_nothing(host_tmp: Path, tmp_path: Path):
    with pytest.raises(EspeakError, match="status 1: .*voice does not exist"):
        run_espeak(["espeak-ng", "-v", "nosuchvoice", "-w", str(tmp_path / "a.wav"), "hello"], timeout=60)
    assert list(host_tmp.iterdir()) == []


def test_a_wav_espeak_could_not_write_is_an_error_though_it_exits_0(host_tmp: Path, tmp_path: Path):
    out = tmp_path / "missing-folder" / "a.wav"
    with pytest.raises(EspeakError, match="wrote no audio to .*Can't write"):
        run_espeak(["espeak-ng", "-v", "en-us", "-w", str(out), "--stdin"], text="Hello.", timeout=60)
    assert list(host_tmp.iterdir()) == []


def test_a_wav_left_by_an_earlier_run_does_not_pass_for_this_one(host_tmp: Path, tmp_path: Path):
    out = tmp_path / "a.wav"
    run_espeak(["espeak-ng", "-v", "en-us", "-w", str(out), "hello"], timeout=60)
    assert out.stat().st_size > 1000
    # a program that exits 0 and writes nothing, given the same file: the old WAV must not count
    with pytest.raises(EspeakError, match="wrote no audio"):
        run_espeak(["true", "-w", str(out)], timeout=60)
    assert not out.exists()


def test_the_wav_target_is_read_from_each_spelling():
    assert wav_target(["espeak-ng", "-w", "a.wav", "x"]) == Path("a.wav")
    assert wav_target(["espeak-ng", "--wavfile", "b.wav"]) == Path("b.wav")
    assert wav_target(["espeak-ng", "--wavfile=c.wav"]) == Path("c.wav")
    assert wav_target(["espeak-ng", "--stdout", "x"]) is None
    assert wav_target(["espeak-ng", "-w"]) is None
