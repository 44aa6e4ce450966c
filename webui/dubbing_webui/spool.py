"""The upload spool: where chunk bodies and unfinished tus parts wait on disk, and its bounds.

Every request that writes to the spool first reserves the most it can add; the reservation is
refused (507) when the user's unfinished uploads plus their requests in flight, the whole spool, or
the file system's free space would pass their limits. Only one request at a time writes to an
upload (a second gets 409, on whichever replica it arrives: the lock is the store's), so an upload
never has more than one part in flight.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from .upload_errors import Conflict, SpoolFull


@dataclass(frozen=True)
class SpoolLimits:
    per_user: int
    total: int
    min_free: int


def refusal(need: int, user_held: int, total_held: int, free: int, limits: SpoolLimits) -> str | None:
    """Why ``need`` more bytes may not be spooled, or None when they may."""
    if user_held + need > limits.per_user:
        return (
            f"no room in your upload spool: your unfinished uploads and requests in flight hold {user_held} bytes, "
            f"this request needs up to {need} more and the limit is {limits.per_user}; "
            "finish or delete some unfinished uploads"
        )
    if total_held + need > limits.total:
        return "the upload spool is full; try again later"
    if free - need < limits.min_free:
        return "the server is low on disk space for uploads; try again later"
    return None


def dir_bytes(path: Path) -> int:
    total = 0
    with os.scandir(path) as entries:
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:
                pass
    return total


class Spool:
    def __init__(
        self,
        root: Path,
        limits: SpoolLimits,
        user_on_disk: Callable[[str], int],
        upload_writer: Callable[[str], AbstractContextManager[bool]],
    ) -> None:
        self.root = root
        self.limits = limits
        self.tmp = root / "tmp"
        self.partials = root / "partial"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.partials.mkdir(parents=True, exist_ok=True)
        self._user_on_disk = user_on_disk
        self._upload_writer = upload_writer
        self._inflight: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def reserve(self, user: str, need: int) -> Iterator[None]:
        """Hold ``need`` bytes of the user's share while the block runs, or raise :class:`SpoolFull`."""
        on_disk_user = self._user_on_disk(user)
        on_disk_all = dir_bytes(self.partials)
        free = shutil.disk_usage(self.root).free
        with self._lock:
            inflight_user = self._inflight.get(user, 0)
            why = refusal(
                need, on_disk_user + inflight_user, on_disk_all + sum(self._inflight.values()), free, self.limits
            )
            if why is not None:
                raise SpoolFull(why)
            self._inflight[user] = inflight_user + need
        try:
            yield
        finally:
            with self._lock:
                left = self._inflight.get(user, 0) - need
                if left > 0:
                    self._inflight[user] = left
                else:
                    self._inflight.pop(user, None)

    @contextmanager
    def writer(self, upload_id: str) -> Iterator[None]:
        """The one request writing to ``upload_id``; a second at the same time gets :class:`Conflict`."""
        with self._upload_writer(upload_id) as mine:
            if not mine:
                raise Conflict("another request is sending data to this upload; retry when it has ended")
            yield
