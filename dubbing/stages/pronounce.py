"""Pronunciation hints from the job's glossary, for the tts stage (pure functions).

A glossary entry may say how its rendering (``target``, or the term kept as is) is said:
``phonemes`` in the alphabet a TTS backend takes inline (``Synthesizer.phoneme_alphabet``:
espeak-ng mnemonics for espeak, IPA for piper, both written ``[[...]]``) or ``pronounce``, a
respelling every backend can read.  The text given to the backend has the rendering replaced
(whole words, case-insensitive, longest first); the subtitles and ``clips.json``'s ``text``
keep the written form, and ``clips.json`` gives the ``spoken`` text where it differs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..api.v1alpha1 import GlossaryEntry
from ..backends.languages import same_language

OPTION = "pronunciation"


def hints_for(entries: Sequence[GlossaryEntry] | None, target: str) -> list[dict[str, Any]]:
    """The entries for ``target`` that say how they are spoken, as tts options."""
    hints: list[dict[str, Any]] = []
    for entry in entries or []:
        if entry.languages and not any(same_language(target, lang) for lang in entry.languages):
            continue
        if entry.pronounce is None and entry.phonemes is None:
            continue
        hint: dict[str, Any] = {"written": entry.target or entry.source}
        if entry.pronounce:
            hint["pronounce"] = entry.pronounce
        if entry.phonemes is not None:
            hint["phonemes"] = entry.phonemes.model_dump(exclude_none=True)
        hints.append(hint)
    return hints


def spoken_form(hint: Mapping[str, Any], alphabet: str | None) -> str | None:
    """What the backend is given for the hint's word: its phonemes where the backend takes that
    alphabet, else its respelling, else nothing (the written form stays)."""
    phonemes = hint.get("phonemes") or {}
    if alphabet and phonemes.get(alphabet):
        return f"[[{phonemes[alphabet]}]]"
    pronounce = hint.get("pronounce")
    return str(pronounce) if pronounce else None


def spoken_text(text: str, hints: Sequence[Mapping[str, Any]], alphabet: str | None) -> tuple[str, dict[str, int]]:
    """(the text to synthesise, written form → times replaced)."""
    forms: dict[str, str] = {}
    written: dict[str, str] = {}
    for hint in hints:
        form = spoken_form(hint, alphabet)
        key = " ".join(str(hint["written"]).split()).casefold()
        if form is not None and key and key not in forms:
            forms[key], written[key] = form, str(hint["written"])
    if not forms:
        return text, {}
    keys = sorted(forms, key=lambda k: (-len(k), k))
    pattern = re.compile(
        r"(?<!\w)(?:" + "|".join(r"\s+".join(map(re.escape, k.split())) for k in keys) + r")(?!\w)", re.IGNORECASE
    )
    applied: dict[str, int] = {}

    def swap(match: re.Match[str]) -> str:
        key = " ".join(match.group(0).split()).casefold()
        applied[written[key]] = applied.get(written[key], 0) + 1
        return forms[key]

    return pattern.sub(swap, text), applied


def mark_spoken(
    clips: list[dict[str, Any]], hints: Sequence[Mapping[str, Any]], alphabet: str | None
) -> dict[str, int]:
    """Give each clip whose spoken text differs from its ``text`` a ``spoken``; return written form → times."""
    total: dict[str, int] = {}
    for clip in clips:
        spoken, applied = spoken_text(str(clip["text"]), hints, alphabet)
        if spoken != clip["text"]:
            clip["spoken"] = spoken
        for written, count in applied.items():
            total[written] = total.get(written, 0) + count
    return total
