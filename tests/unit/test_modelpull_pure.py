"""The model catalogue and the pure decisions of a pull."""

from __future__ import annotations

from dubbing.api.v1alpha1 import BACKENDS
from dubbing.modelpull.catalogue import BY_NAME, CATALOGUE, CatalogueEntry, ModelFile, UnknownModel, lookup, problems
from dubbing.modelpull.hub import RemoteFile
from dubbing.modelpull.pull import PullRefused, check_remote, expected_hash
from dubbing.modelpull.state import STALE_SECONDS, decide_state

SHA_A = "a" * 64
SHA_B = "b" * 64


def test_catalogue_is_consistent_and_names_real_backends():
    assert problems() == []
    for entry in CATALOGUE:
        assert entry.backend in BACKENDS[entry.stage], entry
        assert entry.licence and entry.repo.count("/") == 1
    # Each backend family the issue lists has at least one entry.
    assert {e.backend for e in CATALOGUE} >= {"faster-whisper", "ctranslate2", "piper", "xtts", "pyannote"}
    assert lookup("pyannote-speaker-diarization-community-1").gated
    assert "DUBBING_COQUI_TERMS_ACCEPTED" in lookup("xtts-v2").terms


def test_only_measured_entries_are_pinned():
    pinned = {e.name for e in CATALOGUE if e.pinned}
    assert pinned == {"whisper-base"}
    base = BY_NAME["whisper-base"]
    assert base.size == 2309 + 2203239 + 459861 + 145217532
    assert base.folder == "whisper/base" and not base.shared_folder
    # Piper voices share a folder; the model file (what the backend lists) is installed last.
    piper = BY_NAME["piper-en_US-lessac-medium"]
    assert piper.shared_folder and piper.files[-1].dest.endswith(".onnx")


def test_problems_catches_bad_entries():
    bad = CatalogueEntry(
        name="x",
        stage="asr",
        backend="faster-whisper",
        description="",
        repo="a/b",
        revision="main",
        folder="../escape",
        files=(ModelFile("a", "same", 1, "zz"), ModelFile("b", "same"), ModelFile("c", ".hidden", 3)),
        licence="MIT",
    )
    found = problems((bad, bad))
    assert any("listed twice" in p for p in found)
    assert any("leaves the model cache" in p for p in found)
    assert any("share a destination" in p for p in found)
    assert any("not 64 hex digits" in p for p in found)
    assert any("size and sha256 must be given together" in p for p in found)
    assert any("hidden" in p for p in found)


def test_unknown_name_lists_the_known_ones():
    try:
        lookup("whisper-huge")
    except UnknownModel as error:
        assert "whisper-huge" in str(error) and "whisper-base" in str(error)
    else:
        raise AssertionError("no error")


def test_expected_hash_prefers_the_catalogue():
    remote = RemoteFile("u", 3, SHA_B, "c")
    assert expected_hash(ModelFile("p", "p", 3, SHA_A), remote) == SHA_A
    assert expected_hash(ModelFile("p", "p"), remote) == SHA_B
    assert expected_hash(ModelFile("p", "p"), RemoteFile("u", 3, "1f2e3d", "c")) is None  # a git blob id


def test_check_remote_refuses_a_different_file():
    entry = BY_NAME["whisper-base"]
    pinned = ModelFile("p", "p", 10, SHA_A)
    check_remote(entry, pinned, RemoteFile("u", 10, SHA_A, None))
    check_remote(entry, pinned, RemoteFile("u", 10, "blobid", None))  # no sha256 to compare before fetching
    for remote, words in ((RemoteFile("u", 11, SHA_A, None), "11 bytes"), (RemoteFile("u", 10, SHA_B, None), "sha256")):
        try:
            check_remote(entry, pinned, remote)
        except PullRefused as error:
            assert words in str(error)
        else:
            raise AssertionError(remote)


def test_decide_state():
    now = 1000.0
    assert decide_state(True, None, now).state == "ready"
    assert decide_state(False, None, now).state == "absent"
    pulling = {"state": "pulling", "fetched": 50, "total": 200, "updated": now - 2, "message": "fetching model.bin"}
    state = decide_state(False, pulling, now)
    assert (state.state, state.percent) == ("pulling", 25.0)
    stale = decide_state(False, {**pulling, "updated": now - STALE_SECONDS - 1}, now)
    assert stale.state == "partial" and "resume" in stale.message
    failed = decide_state(False, {"state": "failed", "fetched": 5, "message": "refused"}, now)
    assert (failed.state, failed.message, failed.percent) == ("failed", "refused", None)
    assert decide_state(False, {"state": "weird", "total": "x"}, now).state == "absent"
