"""Voices per speaker in the real backends: espeak-ng gives two speakers two variants the speaker
encoder tells apart, refuses a variant it does not have; XTTS's saved latents (the voice library's
``latents.pt``) speak exactly as the clips they came from (a toy-size XTTS model)."""

from __future__ import annotations

import os
from pathlib import Path

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


@pytest.mark.gpu_backend
def test_xtts_saved_latents_speak_as_the_clips_they_came_from(tiny_xtts: Path, tmp_path: Path) -> None:
    from dubbing.backends.torch_xtts import XttsSynthesizer

    context = BackendContext(model_cache=tiny_xtts, device="cpu", settings={"coquiTermsAccepted": True})
    ref = tmp_path / "ref.wav"
    rng = np.random.default_rng(3)
    sf.write(str(ref), (0.1 * rng.standard_normal(22050 * 2)).astype(np.float32), 22050)
    speaker = XttsSynthesizer(context, {})
    latents = tmp_path / "latents" / "S0.pt"
    assert speaker.export_voice([ref], latents) and latents.stat().st_size > 0
    from_clips = tmp_path / "clips.wav"
    speaker.synthesize("Olá, tudo bem?", "pt-BR", [ref], from_clips)
    # a fresh backend (another job) with only the saved latents: the same clip, no clip read
    later = XttsSynthesizer(context, {})
    from_latents = tmp_path / "latents.wav"
    later.synthesize("Olá, tudo bem?", "pt-BR", [latents], from_latents)
    assert later._latents == {}  # no conditioning latents computed from clips
    a, b = sf.read(str(from_clips))[0], sf.read(str(from_latents))[0]
    assert a.shape == b.shape and np.allclose(a, b, atol=1e-4)
    assert not XttsSynthesizer(context, {"cloneVoices": False}).export_voice([ref], tmp_path / "no.pt")


@pytest.mark.gpu_backend
def test_xtts_speaks_a_speaker_named_in_spec_voices_with_that_voice(tiny_xtts: Path, tmp_path: Path) -> None:
    from dubbing.backends.torch_xtts import XttsSynthesizer

    context = BackendContext(model_cache=tiny_xtts, device="cpu", settings={"coquiTermsAccepted": True})
    ref = tmp_path / "ref.wav"
    sf.write(str(ref), (0.1 * np.random.default_rng(4).standard_normal(22050 * 2)).astype(np.float32), 22050)
    mapped = XttsSynthesizer(context, {"voices": {"S1": {"voice": "Tiny Speaker"}}})
    mapped.synthesize("Olá.", "pt-BR", [ref], tmp_path / "s1.wav", speaker="S1")
    assert mapped._latents == {}  # S1's clips were not used: the named voice was
    mapped.synthesize("Olá.", "pt-BR", [ref], tmp_path / "s0.wav", speaker="S0")
    assert len(mapped._latents) == 1  # S0 is cloned from their clips
    XttsSynthesizer(context, {"voice": "Tiny Speaker"}).synthesize("Olá.", "pt-BR", [], tmp_path / "named.wav")
    assert np.allclose(sf.read(str(tmp_path / "s1.wav"))[0], sf.read(str(tmp_path / "named.wav"))[0], atol=1e-4)
    nobody = XttsSynthesizer(context, {"voices": {"S1": {"voice": "Nobody"}}})
    with pytest.raises(ValueError, match="no voice named 'Nobody'"):
        nobody.synthesize("Olá.", "pt-BR", [ref], tmp_path / "x.wav", speaker="S1")
