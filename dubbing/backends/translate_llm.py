"""Translation backend ``llm``: a chat model behind an OpenAI-compatible HTTP API (vLLM, Ollama, llama.cpp).

Configured per cluster (``DUBBING_LLM_ENDPOINT``, ``DUBBING_LLM_MODEL``, ``DUBBING_LLM_API_KEY``:
the chart's ``llm`` values) and per job (``stages.translate``: ``model``, ``temperature``,
``styleNotes``).  Segments go in batches with their neighbours as context and their speakers
(:mod:`.llm_prompt`), each with a length budget from its time slot; the glossary's terms go in
already rendered and must come back.  Answers are validated; an unusable one is sent back
with the reason (``invalidRetries`` times), then the batch is split in halves down to single
segments.  Translations still over budget get one shortening request.  Batches run
``DUBBING_LLM_CONCURRENCY`` at a time; transient HTTP failures are retried with backoff
(:mod:`.llm_client`).  Token usage is summed for the stage's manifest (:meth:`usage`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from . import llm_prompt as prompt
from .base import BackendContext, BackendError, GlossaryTerm, Readiness, SegmentToTranslate, Translator
from .languages import same_language
from .llm_client import LlmError, OpenAICompatibleClient, endpoint_base

log = logging.getLogger(__name__)

READINESS_TIMEOUT_SECONDS = 3.0
DEFAULT_TEMPERATURE = 0.2
DEFAULT_BATCH = 8
DEFAULT_CONTEXT = 2
DEFAULT_INVALID_RETRIES = 2
#: A translation longer than its budget by more than this share is sent back to be shortened.
BUDGET_TOLERANCE = 0.15
#: Tokens allowed for an answer, per segment in the request (plus a fixed margin).
TOKENS_PER_SEGMENT = 160
#: OpenAI's frequency_penalty: small models otherwise fall into repeating one token.
DEFAULT_FREQUENCY_PENALTY = 0.5
#: Longest translation accepted, as a multiple of the longest budget in the request.
MAX_LENGTH_FACTOR = 2.0
UNBUDGETED_MAX_LENGTH = 600


def configured_model(context: BackendContext, options: Mapping[str, Any]) -> str | None:
    return str(options.get("model") or context.settings.get("llmModel") or "") or None


def over_budget(text: str, max_chars: int | None, tolerance: float = BUDGET_TOLERANCE) -> bool:
    return max_chars is not None and len(text) > max_chars * (1.0 + tolerance)


class LlmTranslator(Translator):
    name: ClassVar[str] = "llm"
    glossary_mode: ClassVar[str] = "prompt"

    @classmethod
    def readiness(cls, context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        endpoint = context.settings.get("llmEndpoint")
        model = configured_model(context, options)
        if not endpoint:
            return Readiness(
                cls.stage,
                cls.name,
                installed=True,
                ready=False,
                reason="no endpoint configured (DUBBING_LLM_ENDPOINT; the chart's llm.endpoint)",
                model=model,
            )
        if not model:
            return Readiness(
                cls.stage,
                cls.name,
                installed=True,
                ready=False,
                reason="no model named (DUBBING_LLM_MODEL, the chart's llm.model, or the job's stages.translate.model)",
            )
        key = context.settings.get("llmApiKey")
        client = OpenAICompatibleClient(str(endpoint), api_key=key, timeout=READINESS_TIMEOUT_SECONDS)
        try:
            served = client.models(timeout=READINESS_TIMEOUT_SECONDS)
        except LlmError as error:
            reason = str(error)
            if not key and not error.transient and "API key" in reason:
                reason += "; no API key configured (DUBBING_LLM_API_KEY; the chart's llm.apiKeySecret)"
            return Readiness(
                cls.stage, cls.name, installed=True, ready=False, reason=reason, model=model, transient=error.transient
            )
        finally:
            client.close()
        if model not in served:
            listed = ", ".join(served[:10]) or "none"
            return Readiness(
                cls.stage,
                cls.name,
                installed=True,
                ready=False,
                reason=f"model {model!r} not served by {endpoint_base(str(endpoint))} (it serves: {listed})",
                model=model,
            )
        return Readiness(
            cls.stage,
            cls.name,
            installed=True,
            ready=True,
            model=model,
            details={"endpoint": endpoint_base(str(endpoint)), "apiKey": bool(key)},
        )

    def __init__(self, context: BackendContext, options: Mapping[str, Any]) -> None:
        super().__init__(context, options)
        self.model = configured_model(context, options) or ""
        self.temperature = float(self.options.get("temperature", DEFAULT_TEMPERATURE))
        self.style_notes = self.options.get("styleNotes") or None
        self.batch_size = int(self.options.get("batchSize", DEFAULT_BATCH))
        self.context_lines = int(self.options.get("contextSegments", DEFAULT_CONTEXT))
        self.invalid_retries = int(self.options.get("invalidRetries", DEFAULT_INVALID_RETRIES))
        self.frequency_penalty = float(self.options.get("frequencyPenalty", DEFAULT_FREQUENCY_PENALTY))
        self.concurrency = int(context.settings.get("llmConcurrency") or 2)
        self.client = OpenAICompatibleClient(
            str(context.settings.get("llmEndpoint") or ""),
            api_key=context.settings.get("llmApiKey"),
            timeout=float(context.settings.get("llmTimeoutSeconds") or 120.0),
            backoff=float(self.options.get("backoffSeconds", 1.0)),
        )
        self.over_budget_after = 0
        self.shortened = 0

    def identity(self) -> dict[str, Any]:
        # The endpoint is where the model runs, not what it is: not part of the cache key.
        return {
            "backend": self.name,
            "model": self.model,
            "temperature": self.temperature,
            "styleNotes": self.style_notes,
            "frequencyPenalty": self.frequency_penalty,
            "prompt": prompt.PROMPT_VERSION,
        }

    def usage(self) -> dict[str, Any]:
        return {
            **self.client.usage.as_dict(),
            "model": self.model,
            "responseFormat": self.client.response_format,
            "shortened": self.shortened,
            "overBudget": self.over_budget_after,
        }

    # --- translation -------------------------------------------------------------------------

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        segments = [SegmentToTranslate(id=index, text=text) for index, text in enumerate(texts)]
        return self.translate_segments(segments, source, target)

    def translate_segments(
        self,
        segments: Sequence[SegmentToTranslate],
        source: str,
        target: str,
        glossary: Sequence[GlossaryTerm] = (),
    ) -> list[str]:
        groups = prompt.batches(segments, self.batch_size, self.context_lines)
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            answers = list(pool.map(lambda batch: self._translate_batch(batch, source, target, glossary), groups))
        found: dict[int, str] = {}
        for answer in answers:
            found.update(answer)
        long = [
            segment for segment in segments if segment.id in found and over_budget(found[segment.id], segment.max_chars)
        ]
        if long:
            found.update(self.shorten([(segment, found[segment.id]) for segment in long], source, target, glossary))
        self.over_budget_after += sum(
            1 for segment in segments if segment.id in found and over_budget(found[segment.id], segment.max_chars)
        )
        return [found.get(segment.id, segment.text) for segment in segments]

    def _ask(
        self,
        conversation: list[dict[str, str]],
        sent: Mapping[int, Sequence[str]],
        budgets: Sequence[int | None],
        originals: Mapping[int, str] | None = None,
    ) -> dict[int, str] | prompt.InvalidReply:
        """One request and its retries on unusable answers: id → text, or the last refusal."""
        known = [budget for budget in budgets if budget]
        longest = int(max(known) * MAX_LENGTH_FACTOR) if known and len(known) == len(budgets) else UNBUDGETED_MAX_LENGTH
        problem: prompt.InvalidReply | None = None
        for _ in range(self.invalid_retries + 1):
            reply = self.client.chat(
                conversation,
                model=self.model,
                temperature=self.temperature,
                schema=prompt.reply_schema(list(sent), longest),
                max_tokens=64 + TOKENS_PER_SEGMENT * len(sent),
                frequency_penalty=self.frequency_penalty,
            )
            try:
                return prompt.parse_reply(reply.content, sent, originals)
            except prompt.InvalidReply as refused:
                problem = refused
                self.client.usage.add(invalid_replies=1)
                log.warning(
                    "llm answer refused (%s, finish %s): %s: %.300r",
                    self.model,
                    reply.finish_reason,
                    refused,
                    reply.content,
                )
                conversation = prompt.retry_messages(conversation, reply.content, str(refused))
        assert problem is not None
        return problem

    def _translate_batch(
        self, batch: prompt.Batch, source: str, target: str, glossary: Sequence[GlossaryTerm]
    ) -> dict[int, str]:
        conversation, sent = prompt.messages(batch, source, target, glossary, self.style_notes)
        lines = (*batch.before, *batch.segments, *batch.after)
        originals = {segment.id: segment.text for segment in lines} if not same_language(source, target) else None
        answer = self._ask(conversation, sent, [segment.max_chars for segment in batch.segments], originals)
        if isinstance(answer, dict):
            return {ident: prompt.exact_terms(text, glossary) for ident, text in answer.items()}
        if len(batch.segments) == 1:
            segment = batch.segments[0]
            raise BackendError(
                "InvalidTranslation",
                f"model {self.model} gave no usable translation of segment {segment.id} after "
                f"{self.invalid_retries + 1} tries: {answer}",
                transient=True,
            )
        # A smaller request is easier to get right: halves, each with the other as context.
        middle = len(batch.segments) // 2
        first, second = batch.segments[:middle], batch.segments[middle:]
        halves = [
            prompt.Batch(first, batch.before, (second + batch.after)[: max(1, self.context_lines)]),
            prompt.Batch(second, (batch.before + first)[-max(1, self.context_lines) :], batch.after),
        ]
        found: dict[int, str] = {}
        for half in halves:
            found.update(self._translate_batch(half, source, target, glossary))
        return found

    def shorten(
        self,
        items: Sequence[tuple[SegmentToTranslate, str]],
        source: str,
        target: str,
        glossary: Sequence[GlossaryTerm] = (),
    ) -> dict[int, str]:
        """Shorter translations for (segment with its ``max_chars``, current translation) pairs.

        Only answers that are shorter than the current translation are kept (id → new text); an
        unusable answer leaves the current ones."""
        changed: dict[int, str] = {}
        for start in range(0, len(items), max(1, self.batch_size)):
            chunk = items[start : start + self.batch_size]
            conversation, sent = prompt.shorten_messages(chunk, source, target, glossary)
            answer = self._ask(conversation, sent, [segment.max_chars for segment, _ in chunk])
            if not isinstance(answer, dict):
                continue
            for segment, current in chunk:
                text = prompt.exact_terms(answer.get(segment.id, ""), glossary)
                if text and len(text) < len(current):
                    changed[segment.id] = text
        self.shortened += len(changed)
        return changed

    def close(self) -> None:
        self.client.close()
