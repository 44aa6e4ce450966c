"""Each user's glossary: stored whole, changed whole, copied into the jobs they start.

One row per user holds the glossary as JSON (plain SQL that SQLite and PostgreSQL both
run): every change (add, edit, delete, import) reads, checks the whole new glossary with
:mod:`dubbing.glossary` (bound, valid entries, one entry per term and language) and
writes it in one statement, so a refused change stores nothing.  Jobs get the user's
glossary merged under their own entries (:func:`dubbing.glossary.merge`: the job's win).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from dubbing.api.v1alpha1 import GlossaryEntry
from dubbing.glossary import GlossaryError, dump, loads, merge, parse

from .store import Store

__all__ = ["GlossaryError", "GlossaryService"]


class GlossaryService:
    def __init__(self, store: Store) -> None:
        self.store = store  # its schema has the user_glossaries table

    def entries(self, user: str) -> list[GlossaryEntry]:
        rows = self.store.query("SELECT entries FROM user_glossaries WHERE owner = ?", user)
        return parse(json.loads(rows[0]["entries"])) if rows else []

    def _change(self, user: str, change: Callable[[list[GlossaryEntry]], list[GlossaryEntry]]) -> list[GlossaryEntry]:
        """Read, change and write the user's glossary in one transaction; a refused change stores nothing."""
        with self.store.tx() as db:
            db.lock(f"dubbing-webui:glossary:{user}")  # read, change, write: one change at a time
            rows = db.query("SELECT entries FROM user_glossaries WHERE owner = ?", (user,))
            current = parse(json.loads(rows[0]["entries"])) if rows else []
            checked = parse(dump(change(current)))
            db.execute(
                "INSERT INTO user_glossaries (owner, entries, updated) VALUES (?, ?, ?) "
                "ON CONFLICT (owner) DO UPDATE SET entries = excluded.entries, updated = excluded.updated",
                (user, json.dumps(dump(checked), ensure_ascii=False), time.time()),
            )
        return checked

    def replace(self, user: str, entries: Sequence[GlossaryEntry]) -> list[GlossaryEntry]:
        """Store ``entries`` as the user's whole glossary (checked first: refused whole, nothing stored)."""
        return self._change(user, lambda _current: list(entries))

    def import_json(self, user: str, text: str | bytes) -> list[GlossaryEntry]:
        """An imported file replaces the glossary (or is refused whole, with the reason)."""
        return self.replace(user, loads(text))

    def export(self, user: str) -> list[dict[str, Any]]:
        return dump(self.entries(user))

    def add(self, user: str, item: dict[str, Any]) -> list[GlossaryEntry]:
        entry = parse([item])[0]
        return self._change(user, lambda current: [*current, entry])

    def edit(self, user: str, number: int, item: dict[str, Any]) -> list[GlossaryEntry]:
        """Entry ``number`` (1-based) replaced by ``item`` (its phonemes kept when ``item`` has none:
        the page's form does not show them)."""
        entry = parse([item])[0]

        def change(current: list[GlossaryEntry]) -> list[GlossaryEntry]:
            self._check_number(number, current)
            new = entry
            if "phonemes" not in item and current[number - 1].phonemes is not None:  # not on the form
                new = entry.model_copy(update={"phonemes": current[number - 1].phonemes})
            return [*current[: number - 1], new, *current[number:]]

        return self._change(user, change)

    def delete(self, user: str, number: int) -> list[GlossaryEntry]:
        def change(current: list[GlossaryEntry]) -> list[GlossaryEntry]:
            self._check_number(number, current)
            return [*current[: number - 1], *current[number:]]

        return self._change(user, change)

    def for_job(self, user: str, own: Sequence[GlossaryEntry]) -> list[GlossaryEntry]:
        """What a new job's spec.glossary gets: the user's glossary under the job's own entries."""
        return merge(self.entries(user), own)

    @staticmethod
    def _check_number(number: int, current: Sequence[GlossaryEntry]) -> None:
        if not 1 <= number <= len(current):
            raise GlossaryError(f"no entry {number} (the glossary has {len(current)})")


def entry_from_form(
    source: str, target: str, languages: str, pronounce: str, espeak: str | None = None, ipa: str | None = None
) -> dict[str, Any]:
    """A settings-page form as an entry (empty fields absent; languages comma- or space-separated).
    The phoneme fields absent from the form (None) leave ``phonemes`` out, so an edit keeps them."""
    item: dict[str, Any] = {"source": source.strip()}
    if target.strip():
        item["target"] = target.strip()
    codes = [code for code in languages.replace(",", " ").split() if code]
    if codes:
        item["languages"] = codes
    if pronounce.strip():
        item["pronounce"] = pronounce.strip()
    if espeak is not None or ipa is not None:
        phonemes = {
            name: value.strip() for name, value in (("espeak", espeak), ("ipa", ipa)) if value and value.strip()
        }
        item["phonemes"] = phonemes or None
    return item
