"""The torch backends (demucs, pyannote.audio, XTTS) on tiny random models in a model cache.

Each model is built here with the real architecture at toy size and saved in the
library's own checkpoint format (tests/backends/torch_models.py); the backend then loads
it from the cache through its production code path.  Without torch and the model
libraries these tests fail with the reason, unless the install left the gpu extra out on
purpose (DUBBING_SKIP_GPU=1, the same switch bootstrap.sh reads): then they skip, saying so.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from dubbing.backends.base import BackendContext
from dubbing.backends.torch_common import CPU_NOTE, missing_module
from dubbing.backends.torch_demucs import CrossFade, DemucsSeparator, plan_blocks
from dubbing.backends.torch_pyannote import PyannoteDiarizer, turns_from_annotation
from dubbing.backends.torch_xtts import TERMS_REASON, XttsSynthesizer, split_text, xtts_language

TORCH_STACK = ("torch", "torchaudio", "demucs", "pyannote.audio", "TTS")


@pytest.fixture(scope="module")
def torch_stack() -> None:
    """Fail (or, where DUBBING_SKIP_GPU=1 left the gpu extra out, skip) when the gpu extra is not installed."""
    reason = missing_module(TORCH_STACK)
    if reason:
        message = f"{reason}: install the gpu extra (pip install -e .[gpu])"
        if os.environ.get("DUBBING_SKIP_GPU") == "1":
            pytest.skip(message)
        pytest.fail(message)


def _context(cache: Path, **settings: object) -> BackendContext:
    return BackendContext(model_cache=cache, device="cpu", settings=settings)


def _noise(path: Path, seconds: float, rate: int, channels: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frames = int(round(seconds * rate))
    t = np.arange(frames) / rate
    tone = 0.2 * np.sin(2 * np.pi * 220.0 * t)[:, None]
    data = (tone + 0.05 * rng.standard_normal((frames, channels))).astype(np.float32)
    sf.write(str(path), data if channels > 1 else data[:, 0], rate)
    return data


# ------------------------------------------------------------------ readiness, no torch needed


def test_missing_module_reason() -> None:
    assert missing_module(["json", "dubbing_no_such_module"]) == "module dubbing_no_such_module not installed"
    assert missing_module(["json"]) is None


def test_readiness_without_torch_names_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # find_spec then reports torch as absent
    context = _context(tmp_path, coquiTermsAccepted=True)
    for backend in (DemucsSeparator, PyannoteDiarizer, XttsSynthesizer):
        readiness = backend.readiness(context, {})
        assert not readiness.ready and not readiness.installed
        assert readiness.reason == "module torch not installed"


def test_weights_absent_name_the_exact_path(tmp_path: Path) -> None:
    cache = tmp_path / "models"
    context = _context(cache, coquiTermsAccepted=True)
    demucs = DemucsSeparator.readiness(context, {"model": "htdemucs"})
    assert demucs.reason == (
        f"weights absent: {cache / 'demucs' / 'htdemucs.yaml'} (a bag of models) or {cache / 'demucs' / 'htdemucs.th'}"
    )
    pyannote = PyannoteDiarizer.readiness(context, {})
    assert (
        pyannote.reason == f"weights absent: {cache / 'pyannote' / 'speaker-diarization-community-1' / 'config.yaml'}"
    )
    xtts = XttsSynthesizer.readiness(context, {})
    assert xtts.reason == f"weights absent: {cache / 'xtts' / 'v2' / 'config.json'}"
    assert not (demucs.ready or pyannote.ready or xtts.ready)


def test_demucs_bag_names_the_missing_checkpoint(tmp_path: Path) -> None:
    root = tmp_path / "demucs"
    root.mkdir()
    (root / "htdemucs.yaml").write_text(yaml.safe_dump({"models": ["955717e8"]}))
    reason = DemucsSeparator.readiness(_context(tmp_path), {}).reason
    assert reason == f"weights absent: {root / '955717e8.th'} (listed in {root / 'htdemucs.yaml'})"
    (root / "955717e8-8726e21a.th").write_bytes(b"")
    assert DemucsSeparator.readiness(_context(tmp_path), {}).reason in (
        "",
        "module torch not installed",
        "module demucs not installed",
    )


def test_pyannote_parts_and_hub_access(tmp_path: Path) -> None:
    folder = tmp_path / "pyannote" / "speaker-diarization-community-1"
    folder.mkdir(parents=True)
    params = {"segmentation": "$model/segmentation", "embedding": "$model/embedding", "plda": "$model/plda"}
    (folder / "config.yaml").write_text(yaml.safe_dump({"pipeline": {"name": "x", "params": params}}))
    (folder / "segmentation").mkdir()
    (folder / "segmentation" / "pytorch_model.bin").write_bytes(b"")
    reason = PyannoteDiarizer.readiness(_context(tmp_path), {}).reason
    if not reason.startswith("module "):
        assert reason == f"weights absent: {folder / 'embedding' / 'pytorch_model.bin'}"
    hub = {"segmentation": "pyannote/segmentation-3.0", "embedding": "pyannote/wespeaker-voxceleb-resnet34-LM"}
    (folder / "config.yaml").write_text(yaml.safe_dump({"pipeline": {"name": "x", "params": hub}}))
    reason = PyannoteDiarizer.readiness(_context(tmp_path), {}).reason
    if not reason.startswith("module "):
        assert reason.startswith("no Hugging Face token: ") and "pyannote/segmentation-3.0" in reason
        with_token = PyannoteDiarizer.readiness(_context(tmp_path, hfToken="hf_x"), {})
        assert with_token.ready and with_token.details["downloads"] == list(hub.values())


def test_xtts_terms_come_first(tmp_path: Path) -> None:
    readiness = XttsSynthesizer.readiness(_context(tmp_path, coquiTermsAccepted=False), {})
    assert not readiness.ready
    if readiness.installed:
        assert readiness.reason == TERMS_REASON
        assert "DUBBING_COQUI_TERMS_ACCEPTED=1" in readiness.reason and "COQUI_TOS_AGREED=1" in readiness.reason


def test_xtts_language_mapping() -> None:
    assert xtts_language("pt-BR") == "pt"
    assert xtts_language("en-US") == "en"
    assert xtts_language("zh-Hans") == "zh-cn"
    assert xtts_language("zh-CN") == "zh-cn"
    assert xtts_language("zh") == "zh-cn"
    assert xtts_language("ja") == "ja"
    assert xtts_language("es-419") == "es"
    assert xtts_language("sv-SE") is None
    assert xtts_language("pt", supported=("en",)) is None


def test_split_text_keeps_every_word_within_the_limit() -> None:
    text = "First sentence here. Second one, with a comma, is a little longer! Third?  " + "word " * 30
    pieces = split_text(text, 40)
    assert all(len(piece) <= 40 for piece in pieces)
    assert " ".join(pieces).split() == text.split()
    assert split_text("  ", 40) == []
    assert split_text("Short. Also short.", 100) == ["Short. Also short."]


def test_blocks_and_cross_fade_rebuild_the_signal() -> None:
    total, block, overlap = 1000, 300, 50
    blocks = plan_blocks(total, block, overlap)
    assert blocks[0] == (0, 300) and blocks[-1][1] == total
    assert all(b[0] == a[1] - overlap for a, b in zip(blocks, blocks[1:], strict=False))
    signal = np.random.default_rng(1).standard_normal((2, total)).astype(np.float32)
    fade = CrossFade(overlap)
    pieces = [fade.feed(signal[:, s:e], last=i == len(blocks) - 1) for i, (s, e) in enumerate(blocks)]
    rebuilt = np.concatenate(pieces, axis=-1)
    assert rebuilt.shape == signal.shape
    np.testing.assert_allclose(rebuilt, signal, atol=1e-6)
    assert plan_blocks(100, 300, 50) == [(0, 100)]
    assert plan_blocks(0, 300, 50) == []


def test_turns_are_clipped_sorted_and_renamed() -> None:
    tracks = [(5.0, 12.0, "SPEAKER_01"), (-0.5, 2.0, "SPEAKER_00"), (2.0, 5.0, "SPEAKER_01"), (9.0, 9.0, "SPEAKER_02")]
    turns = turns_from_annotation(tracks, duration=10.0)
    assert [(t.start, t.end, t.speaker) for t in turns] == [(0.0, 2.0, "S0"), (2.0, 5.0, "S1"), (5.0, 10.0, "S1")]


# ------------------------------------------------------------------ tiny models, production code path


@pytest.mark.gpu_backend
def test_demucs_separates_into_two_stems_of_the_input_length(torch_stack: None, tmp_path: Path) -> None:
    from tests.backends.torch_models import write_tiny_demucs

    cache = tmp_path / "models"
    write_tiny_demucs(cache, name="htdemucs", segment=1.0)
    context = _context(cache)
    readiness = DemucsSeparator.readiness(context, {"model": "htdemucs"})
    assert readiness.ready, readiness.reason
    assert readiness.details["note"] == CPU_NOTE

    source = tmp_path / "mix.wav"
    _noise(source, 3.3, 48000, 2)
    # Blocks of 1.5 s overlapping by 0.5 s: the block joining path runs on a short input.
    separator = DemucsSeparator(
        context, {"model": "htdemucs", "blockSeconds": 1.5, "blockOverlapSeconds": 0.5, "shifts": 0}
    )
    vocals, background = separator.separate(source, tmp_path / "stems")
    assert (vocals.name, background.name) == ("vocals.wav", "background.wav")
    original = sf.info(str(source))
    stems = []
    for path in (vocals, background):
        info = sf.info(str(path))
        assert (info.samplerate, info.channels, info.frames) == (48000, 2, original.frames)
        data, _ = sf.read(str(path), dtype="float32")
        assert np.isfinite(data).all() and np.abs(data).max() > 0
        stems.append(data)
    assert not np.allclose(stems[0], stems[1])
    assert not list((tmp_path / "stems").glob(".*partial*"))


@pytest.mark.gpu_backend
def test_pyannote_diarizes_from_a_local_pipeline(torch_stack: None, tmp_path: Path) -> None:
    from tests.backends.torch_models import write_tiny_pyannote

    cache = tmp_path / "models"
    write_tiny_pyannote(cache, chunk=4.0)
    context = _context(cache)
    readiness = PyannoteDiarizer.readiness(context, {})
    assert readiness.ready, readiness.reason
    assert "downloads" not in readiness.details

    speech = tmp_path / "speech16k.wav"
    _noise(speech, 8.0, 16000, 1)
    turns = PyannoteDiarizer(context, {"minSpeakers": 1, "maxSpeakers": 2}).diarize(speech)
    assert turns, "the segmentation model is biased towards speech: it must find some"
    assert all(0.0 <= t.start < t.end <= 8.0 for t in turns)
    assert [t.start for t in turns] == sorted(t.start for t in turns)
    speakers = {t.speaker for t in turns}
    assert speakers <= {"S0", "S1"} and "S0" in speakers


@pytest.fixture(scope="module")
def xtts_cache(torch_stack: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.backends.torch_models import write_tiny_xtts

    cache = tmp_path_factory.mktemp("xtts") / "models"
    write_tiny_xtts(cache, model="v2")
    return cache


@pytest.mark.gpu_backend
def test_xtts_clones_a_voice_from_reference_clips(xtts_cache: Path, tmp_path: Path) -> None:
    context = _context(xtts_cache, coquiTermsAccepted=True)
    readiness = XttsSynthesizer.readiness(context, {"targetLanguage": "pt-BR"})
    assert readiness.ready, readiness.reason
    assert not XttsSynthesizer.readiness(context, {"targetLanguage": "sv"}).ready

    refs = [tmp_path / "ref1.wav", tmp_path / "ref2.wav"]
    _noise(refs[0], 2.0, 22050, 1, seed=1)
    _noise(refs[1], 1.5, 16000, 1, seed=2)
    synthesizer = XttsSynthesizer(context, {})
    out = tmp_path / "clip.wav"
    duration = synthesizer.synthesize("Olá, tudo bem? Isto é um teste.", "pt-BR", refs, out)
    info = sf.info(str(out))
    assert (info.samplerate, info.channels) == (24000, 1)
    assert duration > 0 and abs(duration - info.frames / info.samplerate) < 1e-6
    # The latents of those clips are computed once per speaker and reused.
    assert len(synthesizer._latents) == 1
    again = synthesizer.synthesize("Olá, tudo bem? Isto é um teste.", "pt-BR", refs, tmp_path / "again.wav")
    assert again == duration  # same text, same voice, same seed: the same clip
    assert len(synthesizer._latents) == 1
    # The time-fit's faster reading: XTTS's speed shortens the latents before the decoder.
    assert XttsSynthesizer.rate_control == "speed"
    faster = synthesizer.synthesize("Olá, tudo bem? Isto é um teste.", "pt-BR", refs, tmp_path / "fast.wav", rate=1.25)
    assert faster < duration / 1.15


@pytest.mark.gpu_backend
def test_xtts_without_clips_uses_a_named_voice_or_says_why(xtts_cache: Path, tmp_path: Path) -> None:
    context = _context(xtts_cache, coquiTermsAccepted=True)
    out = tmp_path / "named.wav"
    duration = XttsSynthesizer(context, {"voice": "Tiny Speaker"}).synthesize("Hello there.", "en-US", [], out)
    assert duration > 0 and sf.info(str(out)).samplerate == 24000
    with pytest.raises(ValueError, match="no voice named 'Nobody'"):
        XttsSynthesizer(context, {"voice": "Nobody"}).synthesize("Hello.", "en", [], tmp_path / "x.wav")
    (xtts_cache / "xtts" / "v2" / "speakers_xtts.pth").rename(tmp_path / "speakers_xtts.pth")
    try:
        with pytest.raises(ValueError, match="no speaker reference clips and no named voices"):
            XttsSynthesizer(context, {}).synthesize("Hello.", "en", [], tmp_path / "y.wav")
        reason = XttsSynthesizer.readiness(context, {"cloneVoices": False}).reason
        assert reason.startswith("cloneVoices is off and there are no named voices")
    finally:
        (tmp_path / "speakers_xtts.pth").rename(xtts_cache / "xtts" / "v2" / "speakers_xtts.pth")
    with pytest.raises(PermissionError):
        XttsSynthesizer(_context(xtts_cache), {}).synthesize("Hello.", "en", [], tmp_path / "z.wav")
