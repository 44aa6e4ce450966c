"""Reading speech a block or a span at a time gives the figures the whole-file reads gave."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from dubbing.backends import audio
from dubbing.backends.diarize_embedding import AudioSource, frame_count, span_groups
from dubbing.backends.mel import MelConfig, log_mel

RATE = 16000


@pytest.fixture
def speechlike(tmp_path):
    """12 s of 16 kHz noise bursts over near silence."""
    rng = np.random.default_rng(3)
    samples = (0.001 * rng.standard_normal(12 * RATE)).astype(np.float32)
    for start, end in [(0.5, 2.0), (3.1, 3.6), (6.0, 9.5), (11.0, 12.0)]:
        samples[int(start * RATE) : int(end * RATE)] += (0.3 * rng.standard_normal(int((end - start) * RATE))).astype(
            np.float32
        )
    path = tmp_path / "speech.wav"
    sf.write(str(path), samples, RATE, subtype="PCM_16")
    return path, sf.read(str(path), dtype="float32")[0]


@pytest.mark.parametrize("read_seconds", [0.07, 1.0, 100.0])
def test_file_energies_and_regions_equal_the_whole_files(speechlike, monkeypatch, read_seconds):
    path, samples = speechlike
    monkeypatch.setattr(audio, "READ_SECONDS", read_seconds)
    energy, rate, frames = audio.file_frame_energy_db(path, 0.03)
    assert rate == RATE and frames == len(samples)
    assert np.array_equal(energy, audio.frame_energy_db(samples, RATE, 0.03))
    regions, _, _ = audio.file_speech_regions(path)
    assert regions == audio.speech_regions(samples, RATE) and len(regions) == 4


def test_a_span_read_alone_is_the_slice_of_the_whole(speechlike, tmp_path):
    path, samples = speechlike
    with sf.SoundFile(str(path)) as sound:
        assert np.array_equal(audio.read_mono_span(sound, 1000, 5000), samples[1000:5000])
        assert np.array_equal(audio.read_mono_span(sound, -10, 5), samples[:5])
        assert audio.read_mono_span(sound, len(samples) - 3, len(samples) + 100).size == 3
        assert audio.read_mono_span(sound, 50, 50).size == 0
    stereo = tmp_path / "stereo.wav"
    sf.write(str(stereo), np.stack([samples, -samples / 2], axis=1), RATE, subtype="FLOAT")
    with sf.SoundFile(str(stereo)) as sound:
        expected = np.stack([samples, -samples / 2], axis=1).astype(np.float32).mean(axis=1)
        assert np.array_equal(audio.read_mono_span(sound, 100, 900), expected[100:900])


def test_span_groups_bound_the_frames_and_keep_every_window():
    starts = np.array([0, 500, 20, 7000, 7020, 100, 12990])
    groups = span_groups(starts, 80, 1000)
    assert sorted(int(i) for g in groups for i in g) == list(range(len(starts)))
    for group in groups:
        assert starts[group].max() + 80 - starts[group].min() <= 1000
    assert span_groups(np.array([], dtype=np.int64), 80, 1000) == []


def test_frame_count_matches_the_log_mel():
    for samples in (0, 100, 512, 513, 672, 16000):
        assert frame_count(samples) == log_mel(np.zeros(samples)).shape[0]


class _Encoder:
    """Stands in for the ONNX encoder: a window's 'embedding' is its features flattened (exact)."""

    def features(self, samples):
        return log_mel(samples, MelConfig())

    def window_embeddings(self, features, starts):
        if features.shape[0] < 80:
            features = np.pad(features, ((0, 80 - features.shape[0]), (0, 0)))
        starts = np.clip(starts, 0, features.shape[0] - 80)
        return np.stack([features[s : s + 80].ravel()[:256] for s in starts]).astype(np.float64)


def test_windows_from_spans_equal_windows_from_the_whole_file(speechlike, monkeypatch):
    from dubbing.backends import diarize_embedding

    path, samples = speechlike
    monkeypatch.setattr(diarize_embedding, "SPAN_FRAMES", 300)  # many spans
    starts = np.array([0, 20, 40, 310, 330, 600, 610, 1100, 1190, 5000])  # the last is past the end: clipped
    whole = _Encoder().window_embeddings(_Encoder().features(samples), starts)
    spans = AudioSource(path, RATE).window_embeddings(_Encoder(), starts)
    np.testing.assert_allclose(spans, whole, rtol=0, atol=1e-5)
