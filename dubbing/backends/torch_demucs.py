"""Separation backend ``demucs``: vocals and background stems with a Demucs model.

Model cache layout (``<cache>`` is ``BackendContext.model_cache``), the layout of
demucs's own local repository, loaded with ``demucs.pretrained.get_model(name, repo=<cache>/demucs)``:

    <cache>/demucs/<name>.yaml            a bag of models: ``models: [<sig>, ...]``
                                           (optional ``weights:``, ``segment:``)
    <cache>/demucs/<sig>-<sha256[:8]>.th  each model of the bag, as published
                                           (the checksum in the name is verified)
or, for a single model,
    <cache>/demucs/<name>.th              (or ``<name>-<sha256[:8]>.th``)

For the default ``htdemucs`` that is ``htdemucs.yaml`` (``models: ['955717e8']``, the
file shipped in demucs's ``remote/`` folder) beside ``955717e8-8726e21a.th``.

Long inputs are separated in blocks (``blockSeconds``, default 600 s) joined with a
linear cross-fade over ``blockOverlapSeconds``; inside a block ``apply_model`` splits
the audio into the model's own segments with overlap.  The outputs have the input's
sample rate, length and channel count (mono or stereo; more channels come out stereo):
``vocals.wav`` and ``background.wav``, the sum of every other stem.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import soundfile as sf
import yaml

from .base import BackendContext, Readiness, Separator
from .torch_common import device_details, missing_module, option, torch_device

MODULES = ("torch", "demucs")
DEFAULT_MODEL = "htdemucs"


def demucs_dir(cache: Path) -> Path:
    return cache / "demucs"


def _checkpoint_for(root: Path, sig: str) -> Path | None:
    """The ``.th`` file demucs's LocalRepo would use for ``sig`` (``sig.th`` or ``sig-<checksum>.th``)."""
    if not root.is_dir():
        return None
    for path in sorted(root.glob("*.th")):
        stem = path.stem
        if stem == sig or (("-" in stem) and stem.rsplit("-", 1)[0] == sig):
            return path
    return None


def missing_weights(cache: Path, name: str) -> str | None:
    """Why the weights of model ``name`` are not in the cache (the exact missing path), or None."""
    root = demucs_dir(cache)
    bag = root / f"{name}.yaml"
    if _checkpoint_for(root, name) is not None:
        return None
    if bag.is_file():
        try:
            description = yaml.safe_load(bag.read_text())
            signatures = [str(sig) for sig in description["models"]]
        except (yaml.YAMLError, KeyError, TypeError) as error:
            return f"unreadable bag of models {bag}: {error}"
        for sig in signatures:
            if _checkpoint_for(root, sig) is None:
                return f"weights absent: {root / (sig + '.th')} (listed in {bag})"
        return None
    return f"weights absent: {bag} (a bag of models) or {root / (name + '.th')}"


# ---------------------------------------------------------------------------- blocks


def plan_blocks(total: int, block: int, overlap: int) -> list[tuple[int, int]]:
    """Frame ranges [start, end) covering ``total`` frames; consecutive ranges share ``overlap`` frames.

    Every block but the first starts ``block - overlap`` after the previous one; the last
    ends at ``total`` and is always longer than ``overlap``.
    """
    if total <= 0:
        return []
    if block <= 0 or overlap < 0 or overlap >= block:
        raise ValueError(f"need 0 <= overlap < block, got block={block} overlap={overlap}")
    blocks: list[tuple[int, int]] = []
    start = 0
    while True:
        end = min(start + block, total)
        blocks.append((start, end))
        if end == total:
            return blocks
        start += block - overlap


class CrossFade:
    """Joins overlapping blocks of audio (``(..., frames)`` arrays) with a linear cross-fade.

    Feed the blocks of :func:`plan_blocks` in order; each call returns the frames that are
    final, so the output can be written as it comes and adds up to exactly ``total`` frames.
    """

    def __init__(self, overlap: int) -> None:
        self.overlap = overlap
        self._tail: np.ndarray | None = None

    def feed(self, block: np.ndarray, last: bool) -> np.ndarray:
        parts: list[np.ndarray] = []
        body = block
        if self._tail is not None and self.overlap > 0:
            ramp = (np.arange(self.overlap, dtype=np.float32) + 0.5) / self.overlap
            parts.append(self._tail * (1.0 - ramp) + block[..., : self.overlap] * ramp)
            body = block[..., self.overlap :]
        if last or self.overlap == 0:
            parts.append(body)
            self._tail = None
        else:
            parts.append(body[..., : body.shape[-1] - self.overlap])
            self._tail = body[..., body.shape[-1] - self.overlap :]
        return np.concatenate(parts, axis=-1)


def fit_length(audio: np.ndarray, frames: int) -> np.ndarray:
    """Trim or zero-pad the last axis to ``frames``."""
    if audio.shape[-1] >= frames:
        return audio[..., :frames]
    pad = [(0, 0)] * (audio.ndim - 1) + [(0, frames - audio.shape[-1])]
    return np.pad(audio, pad)


def to_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """``(channels_in, frames)`` → ``(channels, frames)``: mono is repeated, extra channels are averaged."""
    have = audio.shape[0]
    if have == channels:
        return audio
    if have == 1:
        return np.repeat(audio, channels, axis=0)
    mono = audio.mean(axis=0, keepdims=True)
    return mono if channels == 1 else np.repeat(mono, channels, axis=0)


@dataclass(frozen=True)
class Loudness:
    """Mean and standard deviation of the mono mix, as demucs normalises its input."""

    mean: float
    std: float


def measure(path: Path, chunk: int = 1 << 20) -> Loudness:
    total = 0
    acc = 0.0
    acc2 = 0.0
    with sf.SoundFile(str(path)) as handle:
        for data in handle.blocks(blocksize=chunk, dtype="float32", always_2d=True):
            mono = data.mean(axis=1).astype(np.float64)
            total += mono.size
            acc += float(mono.sum())
            acc2 += float(np.square(mono).sum())
    if total == 0:
        return Loudness(0.0, 1.0)
    mean = acc / total
    variance = max(acc2 / total - mean * mean, 0.0)
    return Loudness(mean, max(variance**0.5, 1e-8))


def read_blocks(path: Path, blocks: list[tuple[int, int]]) -> Iterator[np.ndarray]:
    """Each block as ``(channels, frames)`` float32."""
    with sf.SoundFile(str(path)) as handle:
        for start, end in blocks:
            handle.seek(start)
            data = handle.read(end - start, dtype="float32", always_2d=True)
            yield np.ascontiguousarray(data.T)


# ---------------------------------------------------------------------------- backend


class DemucsSeparator(Separator):
    """Demucs (htdemucs by default) from the model cache; GPU preferred, CPU works."""

    name: ClassVar[str] = "demucs"
    gpu_preferred: ClassVar[bool] = True

    def __init__(self, context: BackendContext, options: Mapping[str, Any]) -> None:
        super().__init__(context, options)
        self.model_name = str(option(self.options, "model", DEFAULT_MODEL))
        self.block_seconds = float(option(self.options, "blockSeconds", 600.0))
        self.block_overlap_seconds = float(option(self.options, "blockOverlapSeconds", 5.0))
        self.shifts = int(option(self.options, "shifts", 1))
        self.segment_overlap = float(option(self.options, "segmentOverlap", 0.25))
        self._model: Any = None

    @classmethod
    def readiness(cls, context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        name = str(option(options, "model", DEFAULT_MODEL))
        common: dict[str, Any] = {
            "stage": cls.stage,
            "backend": cls.name,
            "needs_gpu": cls.gpu_preferred,
            "model": name,
        }
        missing = missing_module(MODULES)
        if missing:
            return Readiness(installed=False, ready=False, reason=missing, **common)
        absent = missing_weights(context.model_cache, name)
        if absent:
            return Readiness(installed=True, ready=False, reason=absent, **common)
        details = {"weights": str(demucs_dir(context.model_cache)), **device_details(context)}
        return Readiness(installed=True, ready=True, details=details, **common)

    def identity(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model_name,
            "shifts": self.shifts,
            "segmentOverlap": self.segment_overlap,
            "blockSeconds": self.block_seconds,
            "blockOverlapSeconds": self.block_overlap_seconds,
        }

    def load(self) -> Any:
        """The model (or bag of models) through demucs's own local-repository loader."""
        if self._model is None:
            from demucs.pretrained import get_model

            model = get_model(self.model_name, repo=demucs_dir(self.context.model_cache))
            if "vocals" not in model.sources:
                raise ValueError(
                    f"demucs model {self.model_name} has no vocals stem (stems: {', '.join(model.sources)})"
                )
            model.to(torch_device(self.context))
            self._model = model
        return self._model

    def separate(self, audio: Path, out_dir: Path) -> tuple[Path, Path]:
        import julius
        import torch
        from demucs.apply import apply_model

        model = self.load()
        device = torch_device(self.context)
        info = sf.info(str(audio))
        rate, channels, total = int(info.samplerate), int(info.channels), int(info.frames)
        out_channels = channels if channels <= 2 else 2
        block = max(1, int(round(self.block_seconds * rate)))
        overlap = min(int(round(self.block_overlap_seconds * rate)), block - 1) if total > block else 0
        blocks = plan_blocks(total, block, overlap)
        level = measure(audio)
        vocals_index = model.sources.index("vocals")

        out_dir.mkdir(parents=True, exist_ok=True)
        vocals_path = out_dir / "vocals.wav"
        background_path = out_dir / "background.wav"
        partial = [out_dir / ".vocals.partial.wav", out_dir / ".background.partial.wav"]
        fade = CrossFade(overlap)
        written = 0
        with (
            sf.SoundFile(str(partial[0]), "w", samplerate=rate, channels=out_channels, subtype="FLOAT") as vocals_out,
            sf.SoundFile(
                str(partial[1]), "w", samplerate=rate, channels=out_channels, subtype="FLOAT"
            ) as background_out,
        ):
            for index, ((start, end), data) in enumerate(zip(blocks, read_blocks(audio, blocks), strict=False)):
                mix = torch.from_numpy(to_channels(data, model.audio_channels))
                if rate != model.samplerate:
                    mix = julius.resample_frac(mix, rate, model.samplerate)
                mix = (mix - level.mean) / level.std
                with torch.no_grad():
                    stems = apply_model(
                        model,
                        mix[None],
                        shifts=self.shifts,
                        split=True,
                        overlap=self.segment_overlap,
                        device=device,
                        progress=False,
                    )[0]
                stems = stems.cpu() * level.std + level.mean
                vocals = stems[vocals_index]
                background = stems.sum(dim=0) - vocals
                pair = torch.stack([vocals, background])
                if rate != model.samplerate:
                    pair = julius.resample_frac(pair, model.samplerate, rate)
                pair_np = fit_length(pair.numpy(), end - start)
                pair_np = np.stack([to_channels(stem, out_channels) for stem in pair_np])
                final = fade.feed(pair_np, last=index == len(blocks) - 1)
                vocals_out.write(final[0].T)
                background_out.write(final[1].T)
                written += final.shape[-1]
        if written != total:
            raise RuntimeError(f"demucs wrote {written} frames for an input of {total}")
        partial[0].replace(vocals_path)
        partial[1].replace(background_path)
        return vocals_path, background_path
