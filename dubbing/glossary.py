"""Glossaries as people write them: parse, check, merge (pure functions).

One format everywhere (``dubbing run --glossary FILE``, the web UI's import and export, a
job's ``spec.glossary``): a JSON list of entries ``{"source", "target"?, "languages"?,
"pronounce"?, "phonemes"?}`` (see :class:`dubbing.api.v1alpha1.GlossaryEntry`), or an object
``{"glossary": [...]}``.  A glossary is taken whole or refused whole, with the reason: more
than :data:`MAX_ENTRIES` entries, a bad entry (with its number), or two entries for the same
term and language.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError

from .api.v1alpha1 import GlossaryEntry

MAX_ENTRIES = 500  # = DubbingJobSpec.glossary's maxItems (the CRD's)
#: No glossary of MAX_ENTRIES valid entries is bigger (each at most ~1,000 characters of fields,
#: 4 bytes a character in UTF-8, some written as 6-byte JSON escapes); a file or upload over it is refused unread.
MAX_BYTES = 4 * 1024 * 1024
MAX_REPORTED = 10


class GlossaryError(ValueError):
    """A glossary refused, with the reason."""


def term_key(source: str) -> str:
    """Terms match case-insensitively with any run of spaces as one."""
    return " ".join(source.split()).casefold()


def _overlap(a: Sequence[str] | None, b: Sequence[str] | None) -> list[str] | None:
    """The target languages two entries share: None for all, [] for none."""
    if a is None:
        return None if b is None else list(b)
    if b is None:
        return list(a)
    lower = {item.lower() for item in b}
    return [item for item in a if item.lower() in lower]


def _said(found: list[str]) -> list[str]:
    if len(found) > MAX_REPORTED:
        return [*found[:MAX_REPORTED], f"and {len(found) - MAX_REPORTED} more"]
    return found


def conflicts(entries: Sequence[GlossaryEntry]) -> list[str]:
    """Pairs of entries for the same term and a shared target language, said (at most 10 and a count)."""
    found: list[str] = []
    by_key: dict[str, list[int]] = {}
    for number, entry in enumerate(entries, start=1):
        by_key.setdefault(term_key(entry.source), []).append(number)
    for numbers in by_key.values():
        for i, first in enumerate(numbers):
            for second in numbers[i + 1 :]:
                a, b = entries[first - 1], entries[second - 1]
                shared = _overlap(a.languages, b.languages)
                if shared == []:
                    continue
                where = "every language" if shared is None else ", ".join(shared)
                kind = "the same entry twice" if a == b else "two entries"
                found.append(f"entries {first} and {second} are {kind} for {a.source!r} ({where})")
    return _said(found)


def parse(data: Any) -> list[GlossaryEntry]:
    """Entries from decoded JSON, or :class:`GlossaryError` with every reason (nothing partly taken)."""
    if isinstance(data, dict) and set(data) == {"glossary"}:
        data = data["glossary"]
    if not isinstance(data, list):
        raise GlossaryError('a glossary is a JSON list of entries (or {"glossary": [...]})')
    if len(data) > MAX_ENTRIES:
        raise GlossaryError(f"{len(data)} entries: a glossary holds at most {MAX_ENTRIES}")
    entries: list[GlossaryEntry] = []
    problems: list[str] = []
    for number, item in enumerate(data, start=1):
        try:
            entries.append(GlossaryEntry.model_validate(item))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "entry"
            problems.append(f"entry {number}: {where}: {first['msg']}")
    if problems:
        raise GlossaryError("; ".join(_said(problems)))
    clashes = conflicts(entries)
    if clashes:
        raise GlossaryError("; ".join(clashes))
    return entries


def loads(text: str | bytes) -> list[GlossaryEntry]:
    """Entries from JSON text, bounded in size before it is decoded."""
    size = len(text.encode("utf-8") if isinstance(text, str) else text)
    if size > MAX_BYTES:
        raise GlossaryError(
            f"{size} bytes: larger than any glossary of at most {MAX_ENTRIES} entries can be ({MAX_BYTES} bytes)"
        )
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise GlossaryError(f"not JSON: {error}") from None
    return parse(data)


def dump(entries: Iterable[GlossaryEntry]) -> list[dict[str, Any]]:
    """The export form (what :func:`parse` reads back)."""
    return [entry.model_dump(mode="json", exclude_none=True) for entry in entries]


def merge(base: Sequence[GlossaryEntry], own: Sequence[GlossaryEntry]) -> list[GlossaryEntry]:
    """A user's glossary (``base``) under a job's own entries (``own``): an entry of ``base`` for a
    term and language that ``own`` also has is left out (the job's wins); refused over the bound."""
    kept = [
        entry
        for entry in base
        if not any(
            term_key(entry.source) == term_key(mine.source) and _overlap(entry.languages, mine.languages) != []
            for mine in own
        )
    ]
    merged = [*kept, *own]
    if len(merged) > MAX_ENTRIES:
        raise GlossaryError(f"{len(merged)} entries with the job's own: a glossary holds at most {MAX_ENTRIES}")
    return merged
