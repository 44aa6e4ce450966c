"""diarize: who speaks when, on the 16 kHz vocals (backend: pyannote, embedding, single).

Outputs ``turns.json`` (``{"speakers": [...], "turns": [{start, end, speaker}]}``) and
``turns.rttm`` (the NIST format other tools read).
"""

from __future__ import annotations

import json

from .base import Stage
from .context import StageContext
from .datatypes import Ref, Unit, UnitResult
from .media import wav_duration


def to_rttm(turns, file_id: str = "audio") -> str:
    return "".join(
        f"SPEAKER {file_id} 1 {turn.start:.3f} {max(0.0, turn.end - turn.start):.3f} <NA> <NA> {turn.speaker} <NA> <NA>\n"
        for turn in turns
    )


class Diarize(Stage):
    name = "diarize"
    version = 1

    def inputs(self, ctx: StageContext, language: str | None) -> dict[str, Ref]:
        return {"speech.wav": ctx.upstream("separate")["speech.wav"]}

    def run(self, ctx: StageContext, unit: Unit) -> UnitResult:
        speech = ctx.fetch(unit.inputs["speech.wav"])
        unit.progress.update(5.0, f"finding speakers with {unit.backend.name}")
        with unit.step("diarize"), unit.progress.heartbeat(f"finding speakers with {unit.backend.name}"):
            turns = sorted(unit.backend.diarize(speech), key=lambda t: (t.start, t.end))  # type: ignore[attr-defined]
        speakers = sorted({turn.speaker for turn in turns})
        seconds = wav_duration(speech)
        data = {
            "speakers": speakers,
            "turns": [{"start": round(t.start, 3), "end": round(t.end, 3), "speaker": t.speaker} for t in turns],
        }
        (unit.out_dir / "turns.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        (unit.out_dir / "turns.rttm").write_text(to_rttm(turns), encoding="utf-8")
        return UnitResult(
            outputs={"turns.json": unit.out_dir / "turns.json", "turns.rttm": unit.out_dir / "turns.rttm"},
            metrics={
                "speakers": len(speakers),
                "turns": len(turns),
                "speechSeconds": round(sum(t.end - t.start for t in turns), 3),
                "audioSeconds": round(seconds, 3),
                "realTimeFactor": round(unit.steps.get("diarize", 0.0) / seconds, 4) if seconds else None,
            },
        )


STAGE = Diarize
