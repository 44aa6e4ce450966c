"""What the ``llm`` translate backend asks a chat model, and how it checks the answer (pure functions).

A request carries a batch of segments to translate plus a few source segments before and after
it as context, each with its speaker, so the model sees the conversation and who says what.
Every segment has a length budget in characters (``maxChars``: what can be spoken in its time
slot, :mod:`dubbing.stages.budget`), so that the time-fit has less to stretch.

Glossary terms are protected: each occurrence in the source becomes a placeholder (``⟦1⟧``) the
model must copy; the answer is refused unless every placeholder comes back exactly as often as
it was sent, and then each is replaced by the term's rendering.  The answer is a JSON object
``{"translations": [{"id": <int>, "text": <str>}, ...]}`` (the schema is sent as
``response_format`` where the server takes one); :func:`parse_reply` refuses anything else with
a reason that the retry quotes back to the model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .base import GlossaryTerm, SegmentToTranslate
from .languages import primary

PROMPT_VERSION = 1

PLACEHOLDER = "⟦{}⟧"
PLACEHOLDER_PATTERN = re.compile(r"⟦(\d+)⟧")
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


def protect(text: str, glossary: Sequence[GlossaryTerm]) -> tuple[str, dict[str, int]]:
    """``text`` with every glossary term replaced by its placeholder, and how many of each were placed.

    Longer terms are matched first, so "Kubernetes operator" wins over "Kubernetes"."""
    counts: dict[str, int] = {}
    order = sorted(range(len(glossary)), key=lambda i: -len(glossary[i].source))
    for index in order:
        term = glossary[index]
        if not term.source.strip():
            continue
        marker = PLACEHOLDER.format(index + 1)
        text, found = _term_pattern(term.source).subn(marker, text)
        if found:
            counts[marker] = counts.get(marker, 0) + found
    return text, counts


def restore(text: str, glossary: Sequence[GlossaryTerm]) -> str:
    """Placeholders back to each term's rendering."""

    def rendering(match: re.Match[str]) -> str:
        index = int(match.group(1)) - 1
        return glossary[index].rendering if 0 <= index < len(glossary) else match.group(0)

    return PLACEHOLDER_PATTERN.sub(rendering, text)


def missing_placeholders(text: str, expected: Mapping[str, int]) -> list[str]:
    """Placeholders that do not come back exactly as often as sent (extra invented ones included)."""
    found: dict[str, int] = {}
    for match in PLACEHOLDER_PATTERN.finditer(text):
        found[match.group(0)] = found.get(match.group(0), 0) + 1
    return sorted(marker for marker in set(expected) | set(found) if found.get(marker, 0) != expected.get(marker, 0))


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
        rules.append("Copy every marker like ⟦1⟧ unchanged into the translation, once for each time it appears.")
    if style_notes:
        rules.append(f"Style: {style_notes.strip()}")
    rules.append('Answer with JSON only: {"translations": [{"id": <id>, "text": "<translation>"}, ...]}.')
    return "\n".join(rules)


def _line(segment: SegmentToTranslate, text: str, budget: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"id": segment.id, "speaker": segment.speaker, "text": text}
    if budget and segment.max_chars is not None:
        item["maxChars"] = segment.max_chars
    return item


def user_message(batch: Batch, glossary: Sequence[GlossaryTerm]) -> tuple[str, dict[int, dict[str, int]]]:
    """The request's JSON text, and per segment id the placeholders sent in it."""
    sent: dict[int, dict[str, int]] = {}
    lines = []
    for segment in batch.segments:
        text, counts = protect(segment.text, glossary)
        sent[segment.id] = counts
        lines.append(_line(segment, text, budget=True))
    payload: dict[str, Any] = {}
    if batch.before:
        payload["before"] = [_line(s, protect(s.text, glossary)[0], budget=False) for s in batch.before]
    payload["segments"] = lines
    if batch.after:
        payload["after"] = [_line(s, protect(s.text, glossary)[0], budget=False) for s in batch.after]
    return json.dumps(payload, ensure_ascii=False), sent


def messages(
    batch: Batch, source: str, target: str, glossary: Sequence[GlossaryTerm], style_notes: str | None
) -> tuple[list[dict[str, str]], dict[int, dict[str, int]]]:
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
) -> tuple[list[dict[str, str]], dict[int, dict[str, int]]]:
    """Ask for shorter translations: each (segment with its new ``max_chars``, current translation)."""
    # The current translations carry the terms' renderings: those are protected, under the same
    # markers, so that restore() puts the same renderings back.
    renderings = [GlossaryTerm(term.rendering) for term in glossary]
    sent: dict[int, dict[str, int]] = {}
    lines = []
    for segment, current in items:
        text, counts = protect(current, renderings)
        sent[segment.id] = counts
        lines.append(
            {
                "id": segment.id,
                "speaker": segment.speaker,
                "original": protect(segment.text, glossary)[0],
                "translation": text,
                "maxChars": segment.max_chars,
            }
        )
    system = "\n".join(
        [
            f"These {language_name(target)} dubbing lines (translated from {language_name(source)}) are too long "
            "to be spoken in their time.",
            "Rewrite each `translation` so that it has at most `maxChars` characters and keeps the meaning of "
            "`original`: drop filler words, use shorter words and phrasings. Keep its id.",
            "Copy every marker like ⟦1⟧ unchanged.",
            'Answer with JSON only: {"translations": [{"id": <id>, "text": "<shorter translation>"}, ...]}.',
        ]
    )
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": json.dumps({"segments": lines}, ensure_ascii=False)},
    ], sent


# --- the answer ----------------------------------------------------------------------------------


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


def parse_reply(content: str, sent: Mapping[int, Mapping[str, int]]) -> dict[int, str]:
    """id → translation (placeholders still in), or :class:`InvalidReply`.

    Refused: not JSON, not ``{"translations": [...]}``, an id missing, unknown or repeated, an
    empty text, or a glossary marker lost, changed or repeated."""
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
        lost = missing_placeholders(text, sent[ident])
        if lost:
            raise InvalidReply(f"the translation of id {ident} must contain {', '.join(lost)} as often as the line")
        found[ident] = text
    missing = [ident for ident in sent if ident not in found]
    if missing:
        raise InvalidReply(f"ids {', '.join(map(str, missing))} are not translated")
    return found
