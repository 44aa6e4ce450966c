"""Diarization: the embedding diarizer tells two espeak-ng voices apart; its parts on their own."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from dubbing.backends.base import BackendContext
from dubbing.backends.clustering import agglomerative_cosine
from dubbing.backends.diarize_embedding import Chunk, merge_turns, plan_chunks, vote_turns
from dubbing.backends.mel import MelConfig, hz_to_mel, log_mel, mel_filterbank, mel_to_hz
from dubbing.backends.registry import choose
from dubbing.backends.speaker_encoder import SpeakerEncoder, packaged_model_path
from tests.backends.speech import SENTENCES, dialogue

BOUNDARY_TOLERANCE_S = 0.5


@pytest.fixture(scope="module")
def two_voices(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    work = tmp_path_factory.mktemp("diarize")
    lines = [("en-us", SENTENCES[0]), ("en+f3", SENTENCES[1]), ("en-us", SENTENCES[2]), ("en+f3", SENTENCES[3])]
    return work / "two.wav", dialogue(lines, work / "two.wav")


@pytest.fixture()
def context(tmp_path: Path) -> BackendContext:
    return BackendContext(model_cache=tmp_path / "models", device="cpu")


def _frame_accuracy(turns: list, truth: list, step: float = 0.05) -> float:
    """Share of the true speech time given the right speaker, under the best label mapping of two."""
    end = truth[-1].end
    times = np.arange(0.0, end, step)
    voices = sorted({u.voice for u in truth})
    true = np.full(times.size, -1)
    for u in truth:
        true[(times >= u.start) & (times < u.end)] = voices.index(u.voice)
    labels = sorted({t.speaker for t in turns})
    found = np.full(times.size, -2)
    for t in turns:
        found[(times >= t.start) & (times < t.end)] = labels.index(t.speaker)
    speech = true >= 0
    direct = np.mean(found[speech] == true[speech])
    swapped = np.mean(found[speech] == 1 - true[speech])
    return float(max(direct, swapped))


@pytest.mark.slow
def test_embedding_diarizer_separates_two_voices(two_voices: tuple[Path, list], context: BackendContext) -> None:
    wav, truth = two_voices
    backend = choose("diarize", "embedding", context, {})
    started = time.perf_counter()
    turns = backend.diarize(wav)
    seconds = time.perf_counter() - started
    accuracy = _frame_accuracy(turns, truth)
    print(
        f"\nembedding diarizer: {len(turns)} turns, {len({t.speaker for t in turns})} speakers, "
        f"accuracy {accuracy:.3f}, {seconds:.2f} s for {truth[-1].end:.1f} s\n{turns}"
    )
    assert len({t.speaker for t in turns}) == 2
    assert len(turns) == len(truth)
    for turn, utterance in zip(turns, truth, strict=False):
        assert abs(turn.start - utterance.start) <= BOUNDARY_TOLERANCE_S
        assert abs(turn.end - utterance.end) <= BOUNDARY_TOLERANCE_S
    assert turns[0].speaker == turns[2].speaker != turns[1].speaker == turns[3].speaker
    assert accuracy > 0.85


@pytest.mark.slow
def test_speaker_bounds_are_honoured(two_voices: tuple[Path, list], context: BackendContext) -> None:
    wav, _ = two_voices
    one = choose("diarize", "embedding", context, {"maxSpeakers": 1}).diarize(wav)
    assert {t.speaker for t in one} == {"S0"}
    three = choose("diarize", "embedding", context, {"minSpeakers": 3, "maxSpeakers": 3}).diarize(wav)
    assert len({t.speaker for t in three}) == 3


def test_single_speaker_uses_speech_regions(two_voices: tuple[Path, list], context: BackendContext) -> None:
    wav, truth = two_voices
    turns = choose("diarize", "single", context, {}).diarize(wav)
    assert {t.speaker for t in turns} == {"S0"} and len(turns) == len(truth)
    for turn, utterance in zip(turns, truth, strict=False):
        assert abs(turn.start - utterance.start) <= BOUNDARY_TOLERANCE_S
        assert abs(turn.end - utterance.end) <= BOUNDARY_TOLERANCE_S


def test_encoder_same_voice_closer_than_different(two_voices: tuple[Path, list]) -> None:
    import soundfile as sf

    wav, truth = two_voices
    samples, rate = sf.read(str(wav), dtype="float32")
    encoder = SpeakerEncoder(packaged_model_path())
    clips = [encoder.embed(samples[int(u.start * rate) : int(u.end * rate)]) for u in truth]
    same = float(clips[0] @ clips[2])
    different = float(clips[0] @ clips[1])
    print(f"\ncosine same voice {same:.2f}, different voices {different:.2f}")
    assert same > different + 0.2


def test_mel_scale_and_filterbank() -> None:
    assert hz_to_mel(1000.0) == pytest.approx(15.0)
    assert mel_to_hz(hz_to_mel(np.array([100.0, 2500.0, 7000.0]))) == pytest.approx([100.0, 2500.0, 7000.0])
    bank = mel_filterbank(MelConfig())
    assert bank.shape == (40, 257) and (bank >= 0).all() and (bank.sum(axis=1) > 0).all()
    centres = np.argmax(bank, axis=1)
    assert (np.diff(centres) >= 0).all()


def test_log_mel_puts_a_tone_in_its_band() -> None:
    rate = 16000
    t = np.arange(rate) / rate
    features = log_mel(0.5 * np.sin(2 * np.pi * 1000.0 * t))
    assert features.shape == (1 + (rate - 512) // 160, 40)
    bank = mel_filterbank(MelConfig())
    assert np.argmax(features.mean(axis=0)) == np.argmax(bank[:, round(1000.0 / (rate / 512))])


def test_agglomerative_cosine() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=16), rng.normal(size=16)
    vectors = np.stack(
        [a + 0.1 * rng.normal(size=16) for _ in range(4)] + [b + 0.1 * rng.normal(size=16) for _ in range(3)]
    )
    labels = agglomerative_cosine(vectors, threshold=0.7)
    assert labels.tolist() == [0, 0, 0, 0, 1, 1, 1]
    assert set(agglomerative_cosine(vectors, threshold=0.7, max_clusters=1).tolist()) == {0}
    assert len(set(agglomerative_cosine(vectors, threshold=-1.0, min_clusters=3).tolist())) == 3
    assert agglomerative_cosine(np.zeros((0, 4)), 0.5).size == 0


def test_chunks_votes_and_merging() -> None:
    chunks = plan_chunks([(0.0, 1.0), (2.0, 5.0)], length=1.5, hop=0.5)
    assert chunks[0] == Chunk(0.0, 1.0) and chunks[-1] == Chunk(3.5, 5.0)
    assert all(c.end - c.start <= 1.5 + 1e-9 for c in chunks)
    labels = np.array([0] + [0 if c.end <= 3.6 else 1 for c in chunks[1:]])
    turns = vote_turns([(0.0, 1.0), (2.0, 5.0)], chunks, labels)
    assert turns[0] == (0.0, 1.0, 0) and turns[-1][2] == 1 and turns[-1][1] == 5.0
    assert merge_turns([(0.0, 1.0, 0), (1.1, 2.0, 0), (2.5, 3.0, 0), (3.0, 4.0, 1)]) == [
        (0.0, 2.0, 0),
        (2.5, 3.0, 0),
        (3.0, 4.0, 1),
    ]
