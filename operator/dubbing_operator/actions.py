"""What a decision asks the world to do; ``apply`` carries it out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CreatePod:
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return self.manifest["metadata"]["name"]


@dataclass(frozen=True)
class DeletePod:
    name: str
    grace_seconds: int | None = None


@dataclass(frozen=True)
class PatchStatus:
    status: dict[str, Any]  # the whole new status, written with the job's resourceVersion


@dataclass(frozen=True)
class EmitEvent:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class AddFinalizer:
    name: str


@dataclass(frozen=True)
class RemoveFinalizer:
    name: str


@dataclass(frozen=True)
class Notify:
    """Send the outcome message; ``check_first``: a send may already have happened, look before sending."""

    id: str
    outcome: str
    topic: str
    check_first: bool


@dataclass(frozen=True)
class Requeue:
    after: float


Action = CreatePod | DeletePod | PatchStatus | EmitEvent | AddFinalizer | RemoveFinalizer | Notify | Requeue
