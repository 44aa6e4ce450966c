"""Audio in blocks: each block path gives, bit for bit, what the whole-length arrays gave."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from dubbing.stages import blocks, timefit
from dubbing.stages.mix import DUCK_RAMP_SECONDS, SPEECH_FADE_SECONDS, Ducking, write_premix

RATE = 8000


def test_block_ranges_cover_everything_once():
    assert list(blocks.block_ranges(25, 10)) == [(0, 10), (10, 20), (20, 25)]
    assert list(blocks.block_ranges(0, 10)) == []
    with pytest.raises(ValueError):
        list(blocks.block_ranges(5, 0))


@pytest.mark.parametrize("ramp", [DUCK_RAMP_SECONDS, SPEECH_FADE_SECONDS, 0.0001])
@pytest.mark.parametrize("size", [1, 997, 8000, 100_000])
def test_envelope_blocks_join_into_the_whole_envelope(ramp, size):
    regions = [(-0.5, 0.3), (1.0, 1.05), (1.1, 2.0), (4.9, 7.0)]
    duration = 5.0
    total = int(round(duration * RATE))
    whole = timefit.duck_envelope(regions, duration, RATE, -12.0, ramp=ramp)
    joined = np.concatenate(
        [blocks.envelope_block(regions, total, RATE, -12.0, b, e, ramp) for b, e in blocks.block_ranges(total, size)]
    )
    assert joined.dtype == whole.dtype and np.array_equal(joined, whole)


def test_the_mix_ducks_with_duck_envelopes_default_ramp():
    whole = timefit.duck_envelope([(1.0, 2.0)], 3.0, RATE, -12.0)
    assert np.array_equal(
        whole, blocks.envelope_block([(1.0, 2.0)], 3 * RATE, RATE, -12.0, 0, 3 * RATE, DUCK_RAMP_SECONDS)
    )


def test_no_ducking_is_unity():
    assert np.array_equal(blocks.envelope_block([(0.0, 1.0)], 100, RATE, 0.0, 10, 50), np.ones(40, dtype=np.float32))


def _write(path, data, subtype="FLOAT"):
    sf.write(str(path), data, RATE, subtype=subtype)
    return path


def _whole_premix(clips, bed, envelopes, total):
    """The mix's former whole-length computation, as the reference."""
    speech = np.zeros((total, 2), dtype=np.float32)
    for begin, data in clips:
        end = min(total, begin + len(data))
        speech[begin:end] += data[: end - begin]
    under = np.zeros_like(speech)
    if bed is not None:
        if bed.shape[1] == 1:
            bed = np.repeat(bed, 2, axis=1)
        length = min(total, len(bed))
        under[:length] = bed[:length, :2]
        if envelopes:
            env = envelopes[0]
            for other in envelopes[1:]:
                env = np.minimum(env, other)
            under *= env[:, None]
    premix = speech + under
    peak = float(np.max(np.abs(premix)))
    if peak > 1.0:
        premix /= peak
    return premix


@pytest.mark.parametrize("loud", [False, True])
@pytest.mark.parametrize("mono_bed", [False, True])
def test_premix_in_blocks_equals_the_whole_length_premix(tmp_path, monkeypatch, loud, mono_bed):
    monkeypatch.setattr(blocks, "BLOCK_SECONDS", 0.37)  # many blocks, clips across their edges
    rng = np.random.default_rng(7)
    duration = 6.0
    total = int(duration * RATE)
    gain = 3.0 if loud else 0.4
    clips = [
        (int(0.5 * RATE), gain * rng.uniform(-1, 1, (RATE, 2))),
        (int(1.2 * RATE), 0.3 * rng.uniform(-1, 1, (RATE * 2, 2))),
    ]
    clips.append((int(5.5 * RATE), 0.3 * rng.uniform(-1, 1, (RATE, 2))))  # runs past the end: cut
    clips = [(b, d.astype(np.float32)) for b, d in clips]
    placed = [
        blocks.PlacedClip(_write(tmp_path / f"c{n}.wav", data), begin, min(total, begin + len(data)) - begin)
        for n, (begin, data) in enumerate(clips)
    ]
    bed = rng.uniform(-0.5, 0.5, (total - RATE, 1 if mono_bed else 2)).astype(np.float32)  # shorter than the mix
    bed_path = _write(tmp_path / "bed.wav", bed)
    bed = sf.read(str(bed_path), dtype="float32", always_2d=True)[0]
    regions = [(0.5, 1.5), (1.2, 3.2)]
    source = [(2.0, 2.5), (4.0, 5.0)]
    ducking = [Ducking(regions, -12.0, DUCK_RAMP_SECONDS), Ducking(source, -40.0, SPEECH_FADE_SECONDS)]
    envelopes = [
        timefit.duck_envelope(regions, duration, RATE, -12.0),
        timefit.duck_envelope(source, duration, RATE, -40.0, ramp=SPEECH_FADE_SECONDS),
    ]
    path = write_premix(placed, bed_path, ducking, total, RATE, tmp_path)
    got = sf.read(str(path), dtype="float32", always_2d=True)[0]
    expected = _whole_premix(clips, bed, envelopes, total)
    assert got.shape == (total, 2) and np.array_equal(got, expected)
    assert (float(np.max(np.abs(got))) == pytest.approx(1.0)) is loud


def test_premix_without_a_bed_is_the_speech_alone(tmp_path):
    total = 2 * RATE
    data = np.full((RATE, 2), 0.25, dtype=np.float32)
    placed = [blocks.PlacedClip(_write(tmp_path / "c.wav", data), RATE // 2, RATE)]
    got = sf.read(str(write_premix(placed, None, [], total, RATE, tmp_path)), dtype="float32", always_2d=True)[0]
    assert np.array_equal(got, _whole_premix([(RATE // 2, data)], None, [], total))


@pytest.mark.parametrize("length", [RATE, 3 * RATE])
def test_copy_exact_cuts_or_pads_to_the_length(tmp_path, length):
    data = (np.arange(length * 2, dtype=np.int64).reshape(length, 2) % 3000).astype(np.int16)
    source = _write(tmp_path / "s.wav", data, "PCM_16")
    blocks.copy_exact(source, tmp_path / "d.wav", 2 * RATE, 777)
    got, rate = sf.read(str(tmp_path / "d.wav"), dtype="int16", always_2d=True)
    expected = np.zeros((2 * RATE, 2), dtype=np.int16)
    expected[: min(length, 2 * RATE)] = data[: 2 * RATE]
    assert rate == RATE and np.array_equal(got, expected)
