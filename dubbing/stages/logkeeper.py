"""Where a stage Pod's log copy goes, and how often it is stored while the stage runs.

The copy (:mod:`dubbing.stages.logcapture`) is stored at the end of the run; a Pod the kernel
kills for memory, or one killed with SIGKILL after its grace period, has no end. So while the
stage runs the copy is also stored every ``every`` seconds when it has grown: such a Pod leaves
its log up to that moment (the web UI shows it once the cluster has deleted the Pod).
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType

from ..artifacts import ArtifactStore
from .logcapture import BoundedLog

CONTENT_TYPE = "text/plain; charset=utf-8"


class LogKeeper:
    """Stores ``log`` at the place :meth:`keep_at` names: every ``every`` seconds while the copy
    grows (0: never before the end), and once more on :meth:`close`."""

    def __init__(self, log: BoundedLog, every: float) -> None:
        self.log = log
        self.every = every
        self._where: tuple[ArtifactStore, str] | None = None
        self._stored_total = -1
        self._lock = threading.Lock()  # one put at a time, the last one last
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def keep_at(self, store: ArtifactStore, key: str) -> None:
        """The job and its store are known: the copy goes to ``key`` from now on."""
        self._where = (store, key)
        if self.every > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="log-keeper", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.store(final=False)

    def store(self, *, final: bool) -> None:
        """Put the copy if it grew since the last put (always when ``final``)."""
        where = self._where
        if where is None:
            return
        store, key = where
        with self._lock:
            total = self.log.total
            if not final and total == self._stored_total:
                return
            try:
                store.put_bytes(key, self.log.contents(), CONTENT_TYPE)
                self._stored_total = total
            except Exception as error:  # noqa: BLE001 - the log's copy is a convenience; the stage's result stands
                if final:
                    sys.stderr.write(f"the stage's log was not stored at {key}: {error}\n")

    def close(self) -> None:
        """Stop the periodic puts and store the copy a last time."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.store(final=True)

    def __enter__(self) -> LogKeeper:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
