"""Pure arithmetic of an upload's parts."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit


def contiguous_bytes(held: Iterable[int], chunk_size: int, size: int) -> int:
    """Bytes held from the start of the file: the chunks ``0..k-1`` all present (the last may be short)."""
    have = set(held)
    count = 0
    while count in have:
        count += 1
    return min(count * chunk_size, size)


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL (a CSP source)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
