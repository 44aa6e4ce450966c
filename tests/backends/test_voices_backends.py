"""Voices per speaker in the real backends: espeak-ng gives two speakers two variants the speaker
encoder tells apart, refuses a variant it does not have; XTTS's saved latents (the voice library's
``latents.pt``) speak exactly as the clips they came from (a toy-size XTTS model)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from dubbing.backends.base import BackendContext
from dubbing.backends.registry import choose
from dubbing.backends.torch_common import missing_module
from dubbing.backends.tts_espeak import EspeakSynthesizer

SENTENCES = (
    "Olá, bem-vindos à biblioteca da cidade.",
    "Hoje vamos falar sobre os livros novos que chegaram.",
    "A sala de leitura fica aberta até as oito da noite.",
    "Podem pedir ajuda no balcão da entrada.",
)


def test_espeak_gives_two_speakers_two_variants_the_encoder_tells_apart(tmp_path: Path) -> None:
    from dubbing.backends.audio import read_mono_at
    from dubbing.quality.measure import speaker_encoder

    encoder, why, _ = speaker_encoder()
    assert encoder is not None, why
    context = BackendContext(model_cache=tmp_path / "models", device="cpu")
    backend = choose("tts", "espeak", context, {"targetLanguage": "pt-BR"})
    cast = backend.cast(["S0", "S1"], "pt-BR", {"S0": "low"})  # type: ignore[attr-defined]
    assert cast == {"S0": "m1", "S1": "f3"}
    lines: dict[str, list[np.ndarray]] = {"S0": [], "S1": []}
    for speaker in lines:
        for index, text in enumerate(SENTENCES):
            out = tmp_path / f"{speaker}-{index}.wav"
            backend.synthesize(text, "pt-BR", [], out, speaker=speaker)  # type: ignore[attr-defined]
            lines[speaker].append(read_mono_at(out, 16000))
    whole = {s: encoder.embed(np.concatenate(p)) for s, p in lines.items()}
    same = min(
        float(encoder.embed(np.concatenate(p[0::2])) @ encoder.embed(np.concatenate(p[1::2]))) for p in lines.values()
    )
    cross = float(whole["S0"] @ whole["S1"])
    print(f"\nespeak-ng pt-br+m1 vs +f3: cross-speaker {cross:.3f}, same-speaker (half vs half) {same:.3f}")
    assert cross < same - 0.1
    # a named variant it has is taken; one it lacks is refused with the name
    fixed = backend.cast(["S0", "S1"], "pt-BR", None, {"S1": "m3"})  # type: ignore[attr-defined]
    assert fixed == {"S1": "m3", "S0": "f3"}
    refused = EspeakSynthesizer.readiness(context, {"targetLanguage": "pt-BR", "voices": {"S0": {"voice": "f99"}}})
    assert not refused.ready and "no espeak-ng variant named f99" in refused.reason


@pytest.fixture(scope="module")
def tiny_xtts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = missing_module(("torch", "TTS"))
    if reason:
        if os.environ.get("DUBBING_SKIP_GPU") == "1":
            pytest.skip(reason)
        pytest.fail(f"{reason}: install the gpu extra (pip install -e .[gpu])")
    from tests.backends.torch_models import write_tiny_xtts

    cache = tmp_path_factory.mktemp("xtts") / "models"
    write_tiny_xtts(cache, model="v2")
    return cache


def _xtts(cache: Path, options: dict, loaded: list) -> Any:
    """An XTTS backend with ``options``; the toy model is loaded once and shared (loading is the slow part)."""
    from dubbing.backends.torch_xtts import XttsSynthesizer

    backend = XttsSynthesizer(
        BackendContext(model_cache=cache, device="cpu", settings={"coquiTermsAccepted": True}), options
    )
    if loaded:
        backend._model, backend._config = loaded
    else:
        backend.load()
        loaded.extend([backend._model, backend._config])
    return backend


def _noise_wav(path: Path, seed: int) -> Path:
    sf.write(str(path), (0.1 * np.random.default_rng(seed).standard_normal(22050 * 2)).astype(np.float32), 22050)
    return path


def _same(a: Path, b: Path) -> bool:
    x, y = sf.read(str(a))[0], sf.read(str(b))[0]
    return x.shape == y.shape and bool(np.allclose(x, y, atol=1e-4))


@pytest.mark.gpu_backend
def test_xtts_voices_from_saved_latents_and_from_spec_voices(tiny_xtts: Path, tmp_path: Path) -> None:
    loaded: list = []
    ref = _noise_wav(tmp_path / "ref.wav", 3)
    speaker = _xtts(tiny_xtts, {}, loaded)
    latents = tmp_path / "latents" / "S0.pt"
    assert speaker.export_voice([ref], latents) and latents.stat().st_size > 0
    speaker.synthesize("Olá, tudo bem?", "pt-BR", [ref], tmp_path / "clips.wav")
    # another backend (another job) with only the saved latents: the same clip, no latents computed from clips
    later = _xtts(tiny_xtts, {}, loaded)
    later.synthesize("Olá, tudo bem?", "pt-BR", [latents], tmp_path / "latents.wav")
    assert later._latents == {} and _same(tmp_path / "clips.wav", tmp_path / "latents.wav")
    assert not _xtts(tiny_xtts, {"cloneVoices": False}, loaded).export_voice([ref], tmp_path / "no.pt")
    # spec.voices names a voice of the model for S1: S1's clips are not used, S0 is still cloned
    mapped = _xtts(tiny_xtts, {"voices": {"S1": {"voice": "Tiny Speaker"}}}, loaded)
    mapped.synthesize("Olá.", "pt-BR", [ref], tmp_path / "s1.wav", speaker="S1")
    assert mapped._latents == {}
    mapped.synthesize("Olá.", "pt-BR", [ref], tmp_path / "s0.wav", speaker="S0")
    assert len(mapped._latents) == 1
    _xtts(tiny_xtts, {"voice": "Tiny Speaker"}, loaded).synthesize("Olá.", "pt-BR", [], tmp_path / "named.wav")
    assert _same(tmp_path / "s1.wav", tmp_path / "named.wav")
    with pytest.raises(ValueError, match="no voice named 'Nobody'"):
        _xtts(tiny_xtts, {"voices": {"S1": {"voice": "Nobody"}}}, loaded).synthesize(
            "Olá.", "pt-BR", [ref], tmp_path / "x.wav", speaker="S1"
        )
