"""Stage Pods' memory from the input's length (pure).

Once extract has run, the job's status carries the input's length (``status.mediaSeconds``);
each later stage Pod then requests ``base + perMinute × minutes`` of memory (the stage's
line in ``Settings.stage_memory``), never less than the stage's configured request, never
more than ``Settings.stage_memory_max``; its limit is at least the configured limit and
at least :data:`LIMIT_HEADROOM` times the request (within the same maximum).  So the
scheduler places a long input's Pods on nodes that can hold them, and a short input's
Pods ask no more than before.  A job that sets a stage's memory itself keeps its values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

MIB = 1024 * 1024
#: The limit is at least this many times the sized request.
LIMIT_HEADROOM = 1.5

_SUFFIXES = {
    "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}  # fmt: skip
_QUANTITY = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?")


def memory_bytes(quantity: str | int | float) -> int:
    """Bytes of a Kubernetes memory quantity (``512Mi``, ``2Gi``, ``1e9``, ``1500M``), rounded up."""
    if isinstance(quantity, bool):
        raise ValueError(f"not a memory quantity: {quantity!r}")
    if isinstance(quantity, int | float):
        if quantity < 0 or not math.isfinite(quantity):
            raise ValueError(f"not a memory quantity: {quantity!r}")
        return math.ceil(quantity)
    match = _QUANTITY.fullmatch(str(quantity).strip())
    if not match:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    number = float(match.group(1)) * (10 ** int(match.group(2)) if match.group(2) else 1)
    return math.ceil(number * _SUFFIXES[match.group(3) or ""])


def mebibytes(value: int) -> str:
    """A quantity in whole MiB (rounded up): ``1536Mi``."""
    return f"{math.ceil(value / MIB)}Mi"


@dataclass(frozen=True)
class MemoryModel:
    """A stage's peak memory as a line in the input's minutes."""

    base: int  # bytes
    per_minute: int  # bytes per minute of input

    @classmethod
    def parse(cls, entry: Mapping[str, str | int | float]) -> MemoryModel:
        unknown = set(entry) - {"base", "perMinute"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)} (expected base, perMinute)")
        return cls(memory_bytes(entry.get("base", 0)), memory_bytes(entry.get("perMinute", 0)))

    def need(self, media_seconds: float) -> int:
        return self.base + math.ceil(self.per_minute * max(0.0, media_seconds) / 60.0)


def sized_memory(
    model: MemoryModel, media_seconds: float, request: int | None, limit: int | None, maximum: int
) -> tuple[int, int]:
    """(request, limit) in bytes for an input of ``media_seconds``.

    ``request``/``limit``: what the stage is configured with (None: nothing), the floors;
    ``maximum``: the most a sized value may be (configured values above it stay as they are).
    """
    floor = request or 0
    sized = max(floor, min(maximum, model.need(media_seconds)))
    wanted_limit = max(sized, min(maximum, math.ceil(sized * LIMIT_HEADROOM)))
    return sized, max(limit or 0, wanted_limit)
