"""BCP-47 helpers shared by the translate and tts backends (pure functions)."""

from __future__ import annotations

#: Option keys a per-language stage passes to readiness/choose so a backend can
#: say whether it serves the pair (translate) or the language (tts).
SOURCE_LANGUAGE_OPTION = "sourceLanguage"
TARGET_LANGUAGE_OPTION = "targetLanguage"


def primary(tag: str) -> str:
    """The primary language subtag, lower case: ``pt-BR`` → ``pt``."""
    return tag.split("-", 1)[0].lower()


def region(tag: str) -> str | None:
    """The region subtag (``BR`` in ``pt-BR``, ``419`` in ``es-419``), or None."""
    for part in tag.split("-")[1:]:
        if (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit()):
            return part.upper()
    return None


def same_language(a: str, b: str) -> bool:
    """Two tags name the same language for dubbing purposes (regional variants count as the same)."""
    return primary(a) == primary(b)


def normalise_source(tag: str | None) -> str | None:
    """``auto``/empty → None (detect), else the tag unchanged."""
    if tag is None or tag == "" or tag.lower() == "auto":
        return None
    return tag
