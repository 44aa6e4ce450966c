"""What the ``llm`` translate backend asks a chat model, and how it checks the answer (pure functions).

A request carries a batch of segments to translate plus a few source segments before and after
it as context, each with its speaker, so the model sees the conversation and who says what.
Every segment has a length budget in characters (``maxChars``: what can be spoken in its time
slot, :mod:`dubbing.stages.budget`), so that the time-fit has less to stretch.

Glossary terms are written into the source line already as their renderings (``server`` →
``servidor``; a keep-as-is term stays) and listed under ``terms``; the answer is refused unless
each line's translation has each of its renderings, which are then written exactly as the glossary
has them.  The answer is a JSON object
``{"translations": [{"id": <int>, "text": <str>}, ...]}`` (the schema is sent as
``response_format`` where the server takes one); :func:`parse_reply` refuses anything else with
a reason that the retry quotes back to the model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .base import GlossaryTerm, SegmentToTranslate
from .languages import primary

PROMPT_VERSION = 2

#: A character six times in a row, not a digit or a dot (a model stuck repeating itself).
REPEATED_CHARACTER = re.compile(r"([^\d.\s])\1{5,}")

LANGUAGE_NAMES: Mapping[str, str] = {
    "en": "English", "es": "Spanish", "pt": "Portuguese", "fr": "French", "de": "German",
    "it": "Italian", "nl": "Dutch", "ru": "Russian", "pl": "Polish", "tr": "Turkish",
    "ja": "Japanese", "zh": "Chinese", "ko": "Korean", "hi": "Hindi", "ar": "Arabic",
}  # fmt: skip


class InvalidReply(ValueError):
    """The model's answer cannot be used; the message says why (and is quoted back on retry)."""


def language_name(tag: str) -> str:
    name = LANGUAGE_NAMES.get(primary(tag))
    return f"{name} ({tag})" if name else tag


@dataclass(frozen=True)
class Batch:
    """Segments translated in one request, and the source around them."""

    segments: tuple[SegmentToTranslate, ...]
    before: tuple[SegmentToTranslate, ...] = ()
    after: tuple[SegmentToTranslate, ...] = ()

    @property
    def ids(self) -> list[int]:
        return [segment.id for segment in self.segments]


def batches(segments: Sequence[SegmentToTranslate], size: int, context: int) -> list[Batch]:
    """Consecutive groups of ``size`` segments, each with up to ``context`` neighbours either side.

    Segments with nothing to say are left out (they translate to themselves)."""
    spoken = [segment for segment in segments if segment.text.strip()]
    size = max(1, size)
    groups = []
    for start in range(0, len(spoken), size):
        stop = start + size
        groups.append(
            Batch(
                segments=tuple(spoken[start:stop]),
                before=tuple(spoken[max(0, start - context) : start]),
                after=tuple(spoken[stop : stop + context]),
            )
        )
    return groups


# --- glossary -------------------------------------------------------------------------------------


def _term_pattern(term: str) -> re.Pattern[str]:
    """The term as a whole word or phrase, any case."""
    return re.compile(r"(?<!\w)" + re.escape(term) + r"(?!\w)", re.IGNORECASE)


def _literal(text: str) -> Callable[[re.Match[str]], str]:
    """A replacement that is ``text`` as written (no backslash escapes)."""

    def replace(_match: re.Match[str]) -> str:
        return text

    return replace


def apply_terms(text: str, glossary: Sequence[GlossaryTerm]) -> tuple[str, list[str]]:
    """``text`` with every glossary term already written as its rendering, and the renderings used.

    The model then sees the wanted word in the line and copies it (placeholder markers confused a
    small model: it swapped them between lines).  Longer terms are matched first, so "Kubernetes
    operator" wins over "Kubernetes"."""
    used: list[str] = []
    for term in sorted(glossary, key=lambda t: -len(t.source)):
        if not term.source.strip():
            continue
        text, found = _term_pattern(term.source).subn(_literal(term.rendering), text)
        if found and term.rendering not in used:
            used.append(term.rendering)
    return text, used


def missing_terms(translation: str, required: Sequence[str]) -> list[str]:
    """The required renderings that do not appear in ``translation`` (whole words, any case)."""
    return [term for term in required if not _term_pattern(term).search(translation)]


def exact_terms(translation: str, glossary: Sequence[GlossaryTerm]) -> str:
    """Each rendering written exactly as the glossary has it ("kubernetes" → "Kubernetes")."""
    for term in glossary:
        rendering = term.rendering
        translation = _term_pattern(rendering).sub(_literal(rendering), translation)
    return translation


# --- the request ---------------------------------------------------------------------------------


def reply_schema(ids: Sequence[int], max_length: int | None = None) -> dict[str, Any]:
    """The answer's JSON schema: exactly one translation per id asked for, each at most
    ``max_length`` characters (a server that enforces schemas then cannot let the model add or
    drop lines, or run on)."""
    text: dict[str, Any] = {"type": "string", "minLength": 1}
    if max_length:
        text["maxLength"] = max_length
    return {
        "type": "object",
        "properties": {
            "translations": {
                "type": "array",
                "minItems": len(ids),
                "maxItems": len(ids),
                "items": {
                    "type": "object",
                    "properties": {"id": {"type": "integer", "enum": list(ids)}, "text": text},
                    "required": ["id", "text"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["translations"],
        "additionalProperties": False,
    }


def system_prompt(source: str, target: str, style_notes: str | None, glossary_used: bool) -> str:
    rules = [
        f"You translate the lines of a video's dialogue from {language_name(source)} into {language_name(target)}, "
        "for dubbing: each translation is spoken in place of the original line.",
        "Translate every segment in `segments`, keeping its id. `before` and `after` are neighbouring lines, "
        "given only as context: do not translate them.",
        "Each segment has `maxChars`: the translation must not be longer than that many characters, so it "
        "can be spoken in the same time. Prefer a shorter natural phrasing over a literal one.",
        "Keep each speaker's voice and register; `speaker` says who speaks.",
    ]
    if glossary_used:
        rules.append(
            "`terms` are fixed: wherever a line contains one, its translation must contain it too, written "
            "exactly the same (do not translate or change them)."
        )
    if style_notes:
        rules.append(f"Style: {style_notes.strip()}")
    rules.append('Answer with JSON only: {"translations": [{"id": <id>, "text": "<translation>"}, ...]}.')
    return "\n".join(rules)


def _line(segment: SegmentToTranslate, text: str, budget: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"id": segment.id, "speaker": segment.speaker, "text": text}
    if budget and segment.max_chars is not None:
        item["maxChars"] = segment.max_chars
    return item


def user_message(batch: Batch, glossary: Sequence[GlossaryTerm]) -> tuple[str, dict[int, list[str]]]:
    """The request's JSON text, and per segment id the glossary renderings its translation must have."""
    sent: dict[int, list[str]] = {}
    lines = []
    terms: list[str] = []
    for segment in batch.segments:
        text, used = apply_terms(segment.text, glossary)
        sent[segment.id] = used
        terms += [term for term in used if term not in terms]
        lines.append(_line(segment, text, budget=True))
    payload: dict[str, Any] = {}
    if terms:
        payload["terms"] = terms
    if batch.before:
        payload["before"] = [_line(s, apply_terms(s.text, glossary)[0], budget=False) for s in batch.before]
    payload["segments"] = lines
    if batch.after:
        payload["after"] = [_line(s, apply_terms(s.text, glossary)[0], budget=False) for s in batch.after]
    return json.dumps(payload, ensure_ascii=False), sent


def messages(
    batch: Batch, source: str, target: str, glossary: Sequence[GlossaryTerm], style_notes: str | None
) -> tuple[list[dict[str, str]], dict[int, list[str]]]:
    user, sent = user_message(batch, glossary)
    used = any(sent.values())
    return [
        {"role": "system", "content": system_prompt(source, target, style_notes, used)},
        {"role": "user", "content": user},
    ], sent


def retry_messages(previous: list[dict[str, str]], reply: str, problem: str) -> list[dict[str, str]]:
    """The conversation again, with the refused answer and why it was refused."""
    return [
        *previous,
        {"role": "assistant", "content": reply[:4000]},
        {"role": "user", "content": f"That answer cannot be used: {problem}. Answer again, with JSON only."},
    ]


def shorten_messages(
    items: Sequence[tuple[SegmentToTranslate, str]], source: str, target: str, glossary: Sequence[GlossaryTerm]
) -> tuple[list[dict[str, str]], dict[int, list[str]]]:
    """Ask for shorter translations: each (segment with its new ``max_chars``, current translation)."""
    sent: dict[int, list[str]] = {}
    lines = []
    terms: list[str] = []
    for segment, current in items:
        original, used = apply_terms(segment.text, glossary)
        # the terms the line has, and that its current translation kept, must stay
        sent[segment.id] = [term for term in used if not missing_terms(current, [term])]
        terms += [term for term in sent[segment.id] if term not in terms]
        lines.append(
            {
                "id": segment.id,
                "speaker": segment.speaker,
                "original": original,
                "translation": current,
                "maxChars": segment.max_chars,
            }
        )
    system = "\n".join(
        [
            f"These {language_name(target)} dubbing lines (translated from {language_name(source)}) are too long "
            "to be spoken in their time.",
            "Rewrite each `translation` so that it has at most `maxChars` characters and keeps the meaning of "
            "`original`: drop filler words, use shorter words and phrasings. Keep its id.",
            "Keep every term of `terms` that the translation has, written exactly the same.",
            'Answer with JSON only: {"translations": [{"id": <id>, "text": "<shorter translation>"}, ...]}.',
        ]
    )
    payload: dict[str, Any] = {"terms": terms} if terms else {}
    payload["segments"] = lines
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": json.dumps(payload, ensure_ascii=False)},
    ], sent


# --- the answer ----------------------------------------------------------------------------------


def _letters(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _json_object(content: str) -> Any:
    """The JSON in a reply: the whole text, or the text between the first ``{`` and the last ``}``
    (models that wrap it in a code fence)."""
    text = content.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        first, last = text.find("{"), text.rfind("}")
        if first == -1 or last <= first:
            raise InvalidReply("the answer is not JSON") from None
        try:
            return json.loads(text[first : last + 1])
        except json.JSONDecodeError as error:
            raise InvalidReply(f"the answer is not valid JSON ({error.msg} at character {error.pos})") from None


def parse_reply(
    content: str, sent: Mapping[int, Sequence[str]], originals: Mapping[int, str] | None = None
) -> dict[int, str]:
    """id → translation, or :class:`InvalidReply`.

    Refused: not JSON, not ``{"translations": [...]}``, an id missing, unknown or repeated, an
    empty or runaway text, a glossary term missing, or (``originals`` given: id → source line, the
    batch's and its context's) a source line of three words or more given back untranslated."""
    echoes = {
        _letters(line): ident for ident, line in (originals or {}).items() if len(line.split()) >= 3 and _letters(line)
    }
    data = _json_object(content)
    if not isinstance(data, dict) or not isinstance(data.get("translations"), list):
        raise InvalidReply('the answer must be an object {"translations": [...]}')
    found: dict[int, str] = {}
    for item in data["translations"]:
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise InvalidReply('each translation must be an object {"id": <id>, "text": "<text>"}')
        try:
            ident = int(item.get("id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InvalidReply(f"translation id {item.get('id')!r} is not a number") from None
        if ident not in sent:
            raise InvalidReply(f"id {ident} was not asked for (ids: {', '.join(map(str, sent))})")
        if ident in found:
            raise InvalidReply(f"id {ident} is translated twice")
        text = " ".join(item["text"].split())
        if not text:
            raise InvalidReply(f"the translation of id {ident} is empty")
        if REPEATED_CHARACTER.search(text):
            raise InvalidReply(f"the translation of id {ident} repeats one character over and over")
        lost = missing_terms(text, sent[ident])
        if lost:
            raise InvalidReply(f"the translation of id {ident} must contain {', '.join(repr(t) for t in lost)}")
        echoed = echoes.get(_letters(text))
        if echoed is not None:
            which = "the original line" if echoed == ident else f"line {echoed} as given"
            raise InvalidReply(f"id {ident} is not translated: it is {which}")
        found[ident] = text
    missing = [ident for ident in sent if ident not in found]
    if missing:
        raise InvalidReply(f"ids {', '.join(map(str, missing))} are not translated")
    return found
