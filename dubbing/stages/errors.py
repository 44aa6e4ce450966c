"""Known stage failures: a reason (CamelCase, for the operator and the UI) and one line of message.

``permanent`` failures are the input's or the job's fault: the stage exits 2 and the
operator does not retry.  Everything else exits 1 and may be retried.
"""

from __future__ import annotations


class StageFailure(Exception):
    def __init__(self, reason: str, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = " ".join(str(message).split())  # one line
        self.permanent = permanent

    @property
    def exit_code(self) -> int:
        return 2 if self.permanent else 1

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


class InputError(StageFailure):
    """The input media or the job itself is unusable: retrying cannot help."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(reason, message, permanent=True)


class MissingInput(StageFailure):
    """An earlier stage's output is not in the store (the stages ran out of order, or it was deleted)."""

    def __init__(self, message: str) -> None:
        super().__init__("MissingInput", message, permanent=False)
