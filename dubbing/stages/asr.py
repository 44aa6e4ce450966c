"""asr: timed segments with words, speakers from the diarization (backend: faster-whisper).

Output ``transcript.json`` (:class:`dubbing.segments.Transcript`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..backends.languages import normalise_source
from ..segments import SpeakerTurn
from .base import Stage
from .context import StageContext
from .datatypes import Ref, Unit, UnitResult
from .media import wav_duration


class Asr(Stage):
    name = "asr"
    version = 1

    def inputs(self, ctx: StageContext, language: str | None) -> dict[str, Ref]:
        return {
            "speech.wav": ctx.upstream("separate")["speech.wav"],
            "turns.json": ctx.upstream("diarize")["turns.json"],
        }

    def key_languages(self, ctx: StageContext, language: str | None, inputs: Mapping[str, Ref]) -> dict[str, str]:
        return {"source": ctx.job.spec.sourceLanguage}

    def summary_outputs(
        self, published: Mapping[str, Mapping[str, Any]], entries: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The transcript's key, and the language heard (detected with sourceLanguage auto):
        the operator shows it as the job's ``status.detectedSourceLanguage``."""
        entry = next(iter(entries.values()))
        metrics = entry.get("metrics") or {}
        language = metrics.get("language") if metrics.get("languageDetected") else None
        return {"key": entry["key"], **({"language": language} if language else {})}

    def run(self, ctx: StageContext, unit: Unit) -> UnitResult:
        speech = ctx.fetch(unit.inputs["speech.wav"])
        turns_data = json.loads(ctx.fetch(unit.inputs["turns.json"]).read_text(encoding="utf-8"))
        turns = [SpeakerTurn.from_dict(item) for item in turns_data.get("turns", [])]
        source = normalise_source(ctx.job.spec.sourceLanguage)
        unit.progress.update(
            5.0,
            f"transcribing with {unit.backend.name} ({unit.options.get('model', 'default')}), language {source or 'auto'}",
        )
        with unit.step("transcribe"), unit.progress.heartbeat("transcribing"):
            transcript = unit.backend.transcribe(speech, source, turns)  # type: ignore[attr-defined]
        seconds = wav_duration(speech)
        data: dict[str, Any] = transcript.to_dict()
        if data.get("duration") is None:
            data["duration"] = seconds
        (unit.out_dir / "transcript.json").write_text(
            json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        segments = transcript.segments
        return UnitResult(
            outputs={"transcript.json": unit.out_dir / "transcript.json"},
            metrics={
                "language": transcript.language,
                "languageDetected": source is None,
                "segments": len(segments),
                "words": sum(len(s.words) or len(s.text.split()) for s in segments),
                "speakers": len({s.speaker for s in segments}),
                "audioSeconds": round(seconds, 3),
                "realTimeFactor": round(unit.steps.get("transcribe", 0.0) / seconds, 4) if seconds else None,
            },
        )


STAGE = Asr
