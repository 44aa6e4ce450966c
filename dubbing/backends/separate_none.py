"""Separation backend ``none``: no separation at all.

Both "stems" are the original audio: ``vocals.wav`` and ``background.wav`` are copies
of the input.  This is *not* source separation; it lets the pipeline run without a
separation model.  ASR and diarization then hear the music too, and the mix stage
keeps the original (voices included) as the bed; by default (background ``auto``) it
suppresses the bed wherever the source speaks and ducks it under the dubbed speech.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import soundfile as sf

from .base import BackendContext, Readiness, Separator


class NoSeparation(Separator):
    name: ClassVar[str] = "none"

    @classmethod
    def readiness(cls, context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        return Readiness(
            cls.stage,
            cls.name,
            installed=True,
            ready=True,
            details={"note": "no separation: vocals and background are both the original audio"},
        )

    def separate(self, audio: Path, out_dir: Path) -> tuple[Path, Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        vocals = out_dir / "vocals.wav"
        background = out_dir / "background.wav"
        if audio.suffix.lower() == ".wav":
            shutil.copyfile(audio, vocals)
        else:  # keep the promise of WAV stems whatever the input container
            data, rate = sf.read(str(audio), always_2d=True)
            sf.write(str(vocals), data, rate)
        shutil.copyfile(vocals, background)
        return vocals, background
