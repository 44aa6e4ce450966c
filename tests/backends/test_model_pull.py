"""`dubbing models pull` against a loopback Hub serving the packaged Whisper base files.

The client is the real ``huggingface_hub`` (``HF_ENDPOINT`` points it at the local server);
the server speaks the Hub's download protocol (HEAD/GET resolve, ETag, X-Repo-Commit, Range).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from dubbing.backends.base import BackendContext
from dubbing.backends.registry import choose
from dubbing.modelpull.catalogue import ModelFile, lookup
from dubbing.modelpull.pull import PullBusy, PullHubError, PullRefused, exclusive, pull
from dubbing.modelpull.state import model_state, work_dir
from tests.backends.metrics import word_error_rate
from tests.backends.speech import SENTENCES, dialogue
from tests.fixtures.hub import HubServer, Repo, ServedFile

DUBBING = [sys.executable, "-m", "dubbing.cli"]
ENTRY = lookup("whisper-base")
MODEL_BIN = "model.bin"


def _pull_cli(hub: HubServer, cache: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_TELEMETRY": "1"}
    env.pop("HF_TOKEN", None)
    return subprocess.run(
        DUBBING + ["models", "pull", "whisper-base", "--model-cache", str(cache), *extra],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def _asr_weights(cache: Path) -> str:
    proc = subprocess.run(
        DUBBING + ["models", "--json", "--device", "cpu", "--model-cache", str(cache)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    asr = next(b for b in json.loads(proc.stdout)["backends"] if b["backend"] == "faster-whisper")
    assert asr["ready"], asr
    return str(asr["details"]["weights"])


def test_pull_verifies_installs_and_the_asr_backend_uses_it(hub, tmp_path, whisper_base_files):
    cache = tmp_path / "models"
    # Before: only the packaged fallback, nothing in the cache.
    assert _asr_weights(cache).startswith("packaged base")
    assert model_state(cache, ENTRY).state == "absent"

    proc = _pull_cli(hub, cache)
    assert proc.returncode == 0, proc.stderr
    folder = cache / "whisper" / "base"
    assert f"whisper-base: ready in {folder}" in proc.stdout
    assert "sha256 verified against the catalogue" in proc.stdout
    # Every file came over the wire once, whole; the folder holds exactly the catalogue's files.
    assert hub.state.body_bytes == {name: served.size for name, served in whisper_base_files.items()}
    assert sorted(p.name for p in folder.iterdir()) == sorted(f.dest for f in ENTRY.files)
    record = json.loads((work_dir(cache, ENTRY) / "installed.json").read_text())
    assert record["files"] == {f.dest: f.sha256 for f in ENTRY.files}
    assert record["verified"] == "pinned" and record["commit"] == hub.state.repos["Systran/faster-whisper-base"].commit
    assert not (work_dir(cache, ENTRY) / "files").exists() and not (work_dir(cache, ENTRY) / "parts").exists()
    assert model_state(cache, ENTRY).state == "ready"
    # The asr backend now loads the pulled folder, not the packaged one, and transcribes with it.
    assert _asr_weights(cache) == str(folder)
    wav = tmp_path / "speech.wav"
    dialogue([("en-us", SENTENCES[0])], wav)
    backend = choose("asr", "faster-whisper", BackendContext(model_cache=cache, device="cpu"), {"model": "base"})
    assert backend.identity()["weights"] == str(folder)
    backend.load()
    text = " ".join(s.text for s in backend.transcribe(wav, "en", []).segments).lower()
    # Measured: 0.15 ("the quick brown fox jumps ... the riverbank") on the hosts CI passed on before,
    # 0.31 on an AVX2-only host ("the quick round fox jump ..."): CTranslate2 picks its int8 kernels by
    # the CPU. Weights that do not transcribe give about 1.0.
    assert word_error_rate(SENTENCES[0], text) <= 0.4, text

    # A second pull finds it installed and fetches nothing.
    hub.state.reset_faults()
    again = _pull_cli(hub, cache)
    assert again.returncode == 0, again.stderr
    assert hub.state.body_bytes == {}


def test_interrupted_pull_resumes_with_a_range_request(hub, tmp_path, whisper_base_files):
    cache = tmp_path / "models"
    size = whisper_base_files[MODEL_BIN].size
    cut = 40 * 1024 * 1024
    # The connection drops 40 MiB into model.bin and the server then answers 503 to everything.
    hub.state.drop_after[MODEL_BIN] = cut
    first = _pull_cli(hub, cache)
    assert first.returncode == 1
    assert "pull whisper-base failed: HubError" in first.stderr and "pull again to resume" in first.stderr
    assert hub.state.body_bytes[MODEL_BIN] == cut
    # Nothing half-pulled is visible: the model's folder does not exist, the backend still uses the package.
    assert not (cache / "whisper" / "base").exists()
    assert model_state(cache, ENTRY).state == "failed"
    assert _asr_weights(cache).startswith("packaged base")
    kept = work_dir(cache, ENTRY) / "parts" / "model.bin.part"
    assert kept.stat().st_size == cut

    hub.state.reset_faults()
    second = _pull_cli(hub, cache)
    assert second.returncode == 0, second.stderr
    # The small files were already verified and kept; model.bin continued from byte `cut`.
    assert hub.state.body_bytes == {MODEL_BIN: size - cut}
    ranged = [r for r in hub.state.requests if r[0] == "GET" and r[1].endswith("/model.bin")]
    assert ranged == [("GET", ranged[0][1], f"bytes={cut}-")]
    assert model_state(cache, ENTRY).state == "ready"
    assert _asr_weights(cache) == str(cache / "whisper" / "base")


def test_corrupted_file_is_refused_and_nothing_becomes_ready(hub, tmp_path):
    cache = tmp_path / "models"
    hub.state.corrupt.add("tokenizer.json")  # same length and headers, one byte flipped
    proc = _pull_cli(hub, cache)
    assert proc.returncode == 1
    assert "failed: Refused: whisper-base: tokenizer.json has sha256" in proc.stderr
    assert "the catalogue pins fb7b6319" in proc.stderr and "refused and deleted" in proc.stderr
    assert not (cache / "whisper" / "base").exists()
    assert not list((work_dir(cache, ENTRY) / "parts").glob("tokenizer.json*"))
    assert not (work_dir(cache, ENTRY) / "files" / "tokenizer.json").exists()
    assert MODEL_BIN not in hub.state.body_bytes  # stopped at the first bad file
    state = model_state(cache, ENTRY)
    assert state.state == "failed" and "tokenizer.json has sha256" in state.message
    assert _asr_weights(cache).startswith("packaged base")


def test_a_hub_serving_other_content_is_refused_before_download(hub, tmp_path, whisper_base_files):
    # The Hub itself advertises (ETag) a model.bin other than the pinned one: refused from the HEAD.
    repo = hub.state.repos["Systran/faster-whisper-base"]
    other = tmp_path / "other.bin"
    other.write_bytes(b"\0" * whisper_base_files[MODEL_BIN].size)
    repo.files[MODEL_BIN] = ServedFile((other,))
    with pytest.raises(PullRefused, match="model.bin on the Hub has sha256"):
        pull(ENTRY, tmp_path / "models", endpoint=hub.url, token="")
    assert MODEL_BIN not in hub.state.body_bytes


def test_unpinned_entries_are_refused_unless_allowed(tmp_path):
    entry = lookup("whisper-small")
    assert not entry.pinned
    with pytest.raises(PullRefused, match="unpinned"):
        pull(entry, tmp_path / "models", endpoint="http://127.0.0.1:9")


def test_unpinned_pull_checks_the_hubs_sha256(hub, tmp_path, whisper_base_files):
    # The same files under an unpinned entry: with --allow-unpinned the Hub's sha256 ETags are checked.
    entry = replace(ENTRY, name="whisper-base-unpinned", files=tuple(ModelFile(f.path, f.dest) for f in ENTRY.files))
    hub.state.corrupt.add("vocabulary.txt")
    with pytest.raises(PullRefused, match="vocabulary.txt has sha256 .* the Hub advertises"):
        pull(entry, tmp_path / "models", endpoint=hub.url, token="", allow_unpinned=True)
    hub.state.reset_faults()
    result = pull(entry, tmp_path / "models", endpoint=hub.url, token="", allow_unpinned=True)
    assert result.verified == "hub-etag"
    assert result.hashes == {name: served.sha256 for name, served in whisper_base_files.items()}


def test_gated_repository_needs_the_token(hub, tmp_path, whisper_base_files):
    hub.state.repos["Systran/faster-whisper-base"] = Repo("0" * 40, dict(whisper_base_files), gated_token="hf_local")
    small = replace(ENTRY, files=ENTRY.files[:1])
    with pytest.raises(PullHubError, match="gated repository: accept its terms on the Hub and set HF_TOKEN"):
        pull(small, tmp_path / "models", endpoint=hub.url, token="")
    result = pull(small, tmp_path / "models", endpoint=hub.url, token="hf_local")
    assert result.folder == tmp_path / "models" / "whisper" / "base"


def test_two_pulls_of_one_model_do_not_run_at_once(tmp_path):
    cache = tmp_path / "models"
    lock = work_dir(cache, ENTRY).with_name(ENTRY.name + ".lock")
    with exclusive(lock, ENTRY.name), pytest.raises(PullBusy):
        pull(ENTRY, cache, endpoint="http://127.0.0.1:9")


def test_a_killed_pull_resumes_where_its_file_stopped(hub, tmp_path, whisper_base_files):
    cache = tmp_path / "models"
    size = whisper_base_files[MODEL_BIN].size
    hub.state.block_delay = 0.01  # a slow link, so the process is killed mid-file
    env = {**os.environ, "HF_ENDPOINT": hub.url}
    env.pop("HF_TOKEN", None)
    proc = subprocess.Popen(
        DUBBING + ["models", "pull", "whisper-base", "--model-cache", str(cache), "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    part = work_dir(cache, ENTRY) / "parts" / "model.bin.part"
    try:
        deadline = time.monotonic() + 120
        while not (part.exists() and part.stat().st_size > 20 * 1024 * 1024):
            assert proc.poll() is None and time.monotonic() < deadline, "the pull ended before it could be killed"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    kept = part.stat().st_size
    assert 0 < kept < size
    assert not (cache / "whisper" / "base").exists()
    first = hub.state.body_bytes[MODEL_BIN]

    hub.state.reset_faults()
    again = _pull_cli(hub, cache)
    assert again.returncode == 0, again.stderr
    # Only what the killed process had not written was sent again.
    assert hub.state.body_bytes == {MODEL_BIN: size - kept}
    assert [r[2] for r in hub.state.requests if r[0] == "GET"] == [f"bytes={kept}-"]
    assert first >= kept
    assert model_state(cache, ENTRY).state == "ready"
