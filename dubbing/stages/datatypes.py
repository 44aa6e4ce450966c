"""The stage runtime's data: stored files (``Ref``), units of work and what they produce, a stage's outcome."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..backends.base import Backend
from .progress import Progress


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Ref:
    """One stored file: its key in the store, SHA-256 and size."""

    key: str
    sha256: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "sha256": self.sha256, "size": self.size}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ref:
        return cls(str(data["key"]), str(data["sha256"]), int(data["size"]))


@dataclass
class UnitResult:
    """What a stage's work produced: local files by output name (names may contain ``/``)."""

    outputs: dict[str, Path]
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class Unit:
    """One piece of a stage's work: the whole stage, or one target language of it."""

    stage: str
    language: str | None
    backend: Backend
    options: dict[str, Any]
    inputs: dict[str, Ref]
    key: str
    out_dir: Path
    progress: Progress
    steps: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.steps[name] = round(self.steps.get(name, 0.0) + time.monotonic() - started, 4)


@dataclass
class StageOutcome:
    stage: str
    cache_hit: bool
    backend: str | None
    model: str | None
    duration_seconds: float
    outputs: dict[str, Any]
    index: dict[str, Any]
