"""Rules for uploaded file names and types (pure functions)."""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_BYTES = 255
_SAFE_KEY = re.compile(r"[^A-Za-z0-9._-]+")


class NameError_(ValueError):
    pass


def check_name(name: str) -> str:
    """Return the name if it is a plain file name; raise otherwise.

    Refused: empty, longer than 255 bytes in UTF-8, containing a path separator,
    a control character, or being '.', '..' or starting with a dot.
    """
    if not name or not name.strip():
        raise NameError_("file name is empty")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise NameError_(f"file name is longer than {MAX_NAME_BYTES} bytes")
    if "/" in name or "\\" in name:
        raise NameError_("file name must not contain a path separator")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise NameError_("file name must not contain control characters")
    if name in (".", "..") or name.startswith("."):
        raise NameError_("file name must not start with a dot")
    return name


def key_name(name: str) -> str:
    """A conservative object-key form of an accepted name (ASCII, no spaces)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cleaned = _SAFE_KEY.sub("_", ascii_name).strip("._") or "upload"
    return cleaned[:120]


def check_type(content_type: str, allowed_prefixes: tuple[str, ...]) -> str:
    ctype = (content_type or "application/octet-stream").split(";")[0].strip().lower()
    if not re.fullmatch(r"[a-z0-9.+-]+/[a-z0-9.+-]+", ctype):
        raise NameError_("malformed content type")
    if not any(ctype == p or (p.endswith("/") and ctype.startswith(p)) for p in allowed_prefixes):
        raise NameError_(f"type {ctype} is not accepted (video or audio only)")
    return ctype
