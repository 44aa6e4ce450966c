"""separate: split the full-rate audio into vocals and background (backend: demucs, or none).

Outputs: ``vocals.wav`` and ``background.wav`` (full rate, stereo, as the backend wrote
them) and ``speech.wav``, the vocals at 16 kHz mono for diarization and ASR.  With the
``none`` backend both stems are the original audio.
"""

from __future__ import annotations

from .base import Stage
from .context import StageContext
from .datatypes import Ref, Unit, UnitResult
from .extract import SPEECH_RATE
from .media import run_ffmpeg, wav_duration


class Separate(Stage):
    name = "separate"
    version = 1

    def inputs(self, ctx: StageContext, language: str | None) -> dict[str, Ref]:
        extracted = ctx.upstream("extract")
        return {"audio.wav": extracted["audio.wav"]}

    def run(self, ctx: StageContext, unit: Unit) -> UnitResult:
        audio = ctx.fetch(unit.inputs["audio.wav"])
        unit.progress.update(5.0, f"separating with {unit.backend.name}")
        raw = unit.out_dir / "raw"
        with unit.step("separate"), unit.progress.heartbeat(f"separating with {unit.backend.name}"):
            vocals, background = unit.backend.separate(audio, raw)  # type: ignore[attr-defined]
        unit.progress.update(85.0, "resampling vocals for speech")
        speech = unit.out_dir / "speech.wav"
        with unit.step("resample"):
            run_ffmpeg(
                ["-i", str(vocals), "-ac", "1", "-ar", str(SPEECH_RATE), "-c:a", "pcm_s16le", str(speech)],
                "resample vocals",
            )
        seconds = wav_duration(audio)
        step = unit.steps.get("separate", 0.0)
        return UnitResult(
            outputs={"vocals.wav": vocals, "background.wav": background, "speech.wav": speech},
            metrics={
                "audioSeconds": round(seconds, 3),
                "realTimeFactor": round(step / seconds, 4) if seconds else None,
            },
        )


STAGE = Separate
