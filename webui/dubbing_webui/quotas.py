"""Per-user limits: stored bytes, unfinished uploads, unfinished jobs (pure decisions).

A limit of 0 means none. The refusal says which limit, the user's use and what to do about it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: Job phases after which a job no longer counts against its owner's running limit.
FINISHED_PHASES = frozenset({"Succeeded", "Failed", "Cancelled"})


@dataclass(frozen=True)
class Limits:
    stored_bytes: int = 0
    open_uploads: int = 0
    active_jobs: int = 0


@dataclass(frozen=True)
class UploadUsage:
    stored_bytes: int  # sizes of the user's uploads, finished or not (what is or will be in the store)
    open_uploads: int


def upload_usage(uploads: Iterable[tuple[str, int]]) -> UploadUsage:
    """From the user's uploads as (state, size) pairs."""
    stored, open_ = 0, 0
    for state, size in uploads:
        if state in ("open", "assembled", "complete"):
            stored += size
        if state in ("open", "assembled"):  # assembled: in the store, still being verified
            open_ += 1
    return UploadUsage(stored, open_)


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def upload_refusal(usage: UploadUsage, size: int, limits: Limits) -> tuple[int, str] | None:
    """(HTTP status, message) when a new upload of ``size`` bytes would break a limit, else None."""
    if limits.open_uploads and usage.open_uploads >= limits.open_uploads:
        return 429, (
            f"you have {usage.open_uploads} unfinished uploads, the limit is {limits.open_uploads}: "
            "finish or cancel one first"
        )
    if limits.stored_bytes and usage.stored_bytes + size > limits.stored_bytes:
        return 413, (
            f"this upload ({_gib(size)}) would bring your stored files to {_gib(usage.stored_bytes + size)}, "
            f"over your quota of {_gib(limits.stored_bytes)}: delete uploads you no longer need"
        )
    return None


def job_refusal(phases: Iterable[str | None], limits: Limits) -> str | None:
    """A message when one more job would exceed the user's unfinished jobs, else None."""
    active = sum(1 for p in phases if p not in FINISHED_PHASES)
    if limits.active_jobs and active >= limits.active_jobs:
        return f"you have {active} unfinished jobs, the limit is {limits.active_jobs}: wait for one to finish or cancel one"
    return None
