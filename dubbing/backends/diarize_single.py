"""Diarization backend ``single``: everybody is one speaker, speech regions from an energy VAD."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from ..segments import SpeakerTurn
from .audio import file_speech_regions
from .base import BackendContext, Diarizer, Readiness

SPEAKER = "S0"


class SingleSpeaker(Diarizer):
    name: ClassVar[str] = "single"

    @classmethod
    def readiness(cls, context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        return Readiness(cls.stage, cls.name, installed=True, ready=True, details={"speakers": 1})

    def diarize(self, speech_wav: Path) -> list[SpeakerTurn]:
        regions, _, _ = file_speech_regions(speech_wav)  # read a block at a time
        return [SpeakerTurn(start, end, SPEAKER) for start, end in regions]
