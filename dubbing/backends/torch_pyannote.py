"""Diarization backend ``pyannote``: a pyannote.audio speaker-diarization pipeline.

Model cache layout, the layout of a pyannote 4 pipeline repository, loaded with
``pyannote.audio.Pipeline.from_pretrained(<cache>/pyannote/<pipeline>/config.yaml)``:

    <cache>/pyannote/<pipeline>/config.yaml                 the pipeline ("model" option,
                                                            default speaker-diarization-community-1)
    <cache>/pyannote/<pipeline>/segmentation/pytorch_model.bin
    <cache>/pyannote/<pipeline>/embedding/pytorch_model.bin
    <cache>/pyannote/<pipeline>/plda/xvec_transform.npz, plda.npz

``config.yaml`` names its parts as ``$model/segmentation``, ``$model/embedding`` and
``$model/plda`` (pyannote expands ``$model/`` to the pipeline's own folder), so a copy
of the ``pyannote/speaker-diarization-community-1`` repository works as it is.  A part
may also be an absolute local path.  A part given as a hub id (``pyannote/segmentation-3.0``
in the 3.1 configs) is fetched from the Hugging Face hub at load time, which needs a
token (``HF_TOKEN``) and network access.

pyannote.audio sends usage telemetry by default; this backend turns it off
(``PYANNOTE_METRICS_ENABLED=false``) unless the environment says otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import yaml

from ..segments import SpeakerTurn
from .audio import read_mono
from .base import BackendContext, Diarizer, Readiness
from .torch_common import device_details, missing_module, option, torch_device

MODULES = ("torch", "pyannote.audio")
DEFAULT_PIPELINE = "speaker-diarization-community-1"
SAMPLE_RATE = 16000
#: File each kind of part needs inside its folder.
PART_FILES: dict[str, tuple[str, ...]] = {
    "segmentation": ("pytorch_model.bin",),
    "embedding": ("pytorch_model.bin",),
    "plda": ("xvec_transform.npz", "plda.npz"),
}


def pipeline_dir(cache: Path, name: str) -> Path:
    return cache / "pyannote" / name


def _local_part(value: Any, folder: Path) -> Path | None:
    """The local folder or file a config entry points to, or None if it names a hub repository."""
    if isinstance(value, dict):
        checkpoint = value.get("checkpoint")
        subfolder = value.get("subfolder")
        if isinstance(checkpoint, str) and os.path.isabs(checkpoint):
            return Path(checkpoint) / subfolder if subfolder else Path(checkpoint)
        return None
    if not isinstance(value, str):
        return None
    if value.startswith("$model/"):
        return folder / value[len("$model/") :].split("@", 1)[0]
    if os.path.isabs(value):
        return Path(value)
    return None


def _hub_id(value: Any) -> str | None:
    if isinstance(value, dict):
        checkpoint = value.get("checkpoint")
        return checkpoint if isinstance(checkpoint, str) else None
    return value if isinstance(value, str) else None


def config_problem(config: Mapping[str, Any], folder: Path, has_token: bool) -> tuple[str | None, list[str]]:
    """Check a pipeline config's parts without loading anything.

    Returns (the readiness reason or None, the hub ids it will download).
    """
    try:
        params = config["pipeline"].get("params", {}) or {}
    except (KeyError, AttributeError, TypeError):
        return f"{folder / 'config.yaml'} has no pipeline section", []
    hub: list[str] = []
    for part, files in PART_FILES.items():
        if part not in params:
            continue
        value = params[part]
        local = _local_part(value, folder)
        if local is None:
            ident = _hub_id(value)
            if ident is not None:
                hub.append(ident)
            continue
        if local.is_file():
            continue
        for name in files:
            if not (local / name).is_file():
                return f"weights absent: {local / name}", hub
    if hub and not has_token:
        return (
            f"no Hugging Face token: {folder / 'config.yaml'} downloads {', '.join(hub)} from the hub (set HF_TOKEN)",
            hub,
        )
    return None, hub


def turns_from_annotation(tracks: Iterable[tuple[float, float, str]], duration: float) -> list[SpeakerTurn]:
    """Speaker turns from (start, end, label) tracks: clipped to the file, labels renamed
    S0, S1, ... in order of first speech, sorted by start time; empty turns dropped."""
    clipped = []
    for start, end, label in tracks:
        start, end = max(0.0, float(start)), min(float(duration), float(end))
        if end > start:
            clipped.append((start, end, str(label)))
    clipped.sort(key=lambda track: (track[0], track[1]))
    names: dict[str, str] = {}
    turns = []
    for start, end, label in clipped:
        speaker = names.setdefault(label, f"S{len(names)}")
        turns.append(SpeakerTurn(start=round(start, 3), end=round(end, 3), speaker=speaker))
    return turns


class PyannoteDiarizer(Diarizer):
    """pyannote.audio's SpeakerDiarization pipeline from the model cache; GPU preferred."""

    name: ClassVar[str] = "pyannote"
    gpu_preferred: ClassVar[bool] = True

    def __init__(self, context: BackendContext, options: Mapping[str, Any]) -> None:
        super().__init__(context, options)
        self.pipeline_name = str(option(self.options, "model", DEFAULT_PIPELINE))
        self.min_speakers = self.options.get("minSpeakers")
        self.max_speakers = self.options.get("maxSpeakers")
        self._pipeline: Any = None

    @classmethod
    def readiness(cls, context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        name = str(option(options, "model", DEFAULT_PIPELINE))
        common: dict[str, Any] = {
            "stage": cls.stage,
            "backend": cls.name,
            "needs_gpu": cls.gpu_preferred,
            "model": name,
        }
        missing = missing_module(MODULES)
        if missing:
            return Readiness(installed=False, ready=False, reason=missing, **common)
        folder = pipeline_dir(context.model_cache, name)
        config_path = folder / "config.yaml"
        if not config_path.is_file():
            return Readiness(installed=True, ready=False, reason=f"weights absent: {config_path}", **common)
        try:
            config = yaml.safe_load(config_path.read_text())
        except yaml.YAMLError as error:
            return Readiness(installed=True, ready=False, reason=f"unreadable {config_path}: {error}", **common)
        reason, hub = config_problem(config or {}, folder, bool(context.settings.get("hfToken")))
        if reason:
            return Readiness(installed=True, ready=False, reason=reason, **common)
        details: dict[str, Any] = {"config": str(config_path), **device_details(context)}
        if hub:
            details["downloads"] = hub
        return Readiness(installed=True, ready=True, details=details, **common)

    def identity(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.pipeline_name,
            "minSpeakers": self.min_speakers,
            "maxSpeakers": self.max_speakers,
        }

    def load(self) -> Any:
        """The pipeline, through pyannote's own loader, on the chosen device."""
        if self._pipeline is None:
            os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
            from pyannote.audio import Pipeline

            config = pipeline_dir(self.context.model_cache, self.pipeline_name) / "config.yaml"
            token = self.context.settings.get("hfToken") or None
            pipeline = Pipeline.from_pretrained(config, token=token)
            if pipeline is None:
                raise RuntimeError(f"pyannote could not load the pipeline {config}")
            pipeline.to(torch_device(self.context))
            self._pipeline = pipeline
        return self._pipeline

    def diarize(self, speech_wav: Path) -> list[SpeakerTurn]:
        import torch

        samples, rate = read_mono(speech_wav)
        if rate != SAMPLE_RATE:
            raise ValueError(f"{speech_wav}: sample rate {rate} Hz, diarization expects {SAMPLE_RATE} Hz")
        duration = len(samples) / rate
        pipeline = self.load()
        waveform = torch.from_numpy(samples).unsqueeze(0)
        output = pipeline(
            {"waveform": waveform, "sample_rate": rate},
            min_speakers=self.min_speakers,
            max_speakers=self.max_speakers,
        )
        # pyannote 4 returns both; the exclusive one (one speaker at a time) suits
        # assigning each transcript segment to one speaker.  pyannote 3 returns an Annotation.
        annotation = getattr(output, "exclusive_speaker_diarization", None)
        if annotation is None:
            annotation = getattr(output, "speaker_diarization", output)
        tracks = ((segment.start, segment.end, label) for segment, _, label in annotation.itertracks(yield_label=True))
        return turns_from_annotation(tracks, duration)
