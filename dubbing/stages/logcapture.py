"""A stage Pod's own copy of its log, for the artifact store.

The cluster deletes finished Pods (kube-controller-manager's Pod GC keeps 12,500 terminated Pods
by default; a node drain or ``kubectl delete`` takes them sooner), and their logs with them. A stage
run in a Pod therefore keeps what it writes to stdout and stderr (its own lines, tracebacks, and
what subprocesses such as ffmpeg print) and stores it under ``jobs/<namespace>/<name>/logs/<pod>.log``,
while it runs and at the end (:mod:`dubbing.stages.logkeeper`); the web UI reads it there once the
Pod is gone.

The copy is bounded: the first :data:`HEAD_BYTES` and the last :data:`TAIL_BYTES`, with a line
saying how much was left out between them, so a stage that prints without end costs a fixed amount
of memory and storage. Everything still goes to the real stdout and stderr as before.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from types import TracebackType

HEAD_BYTES = 256 * 1024
TAIL_BYTES = 2 * 1024 * 1024
MAX_PARTIAL_LINE = 64 * 1024


class BoundedLog:
    """The first ``head`` bytes and the last ``tail`` bytes of what was appended."""

    def __init__(self, head: int = HEAD_BYTES, tail: int = TAIL_BYTES) -> None:
        self.head_limit, self.tail_limit = head, tail
        self._head = bytearray()
        self._tail: deque[bytes] = deque()
        self._tail_bytes = 0
        self.total = 0
        self._lock = threading.Lock()

    def append(self, data: bytes) -> None:
        with self._lock:
            self.total += len(data)
            room = self.head_limit - len(self._head)
            if room > 0:
                self._head += data[:room]
                data = data[room:]
            if not data:
                return
            self._tail.append(data)
            self._tail_bytes += len(data)
            while self._tail and self._tail_bytes - len(self._tail[0]) >= self.tail_limit:
                self._tail_bytes -= len(self._tail.popleft())

    def contents(self) -> bytes:
        with self._lock:
            tail = b"".join(self._tail)
            if len(tail) > self.tail_limit:
                tail = tail[-self.tail_limit :]
            left_out = self.total - len(self._head) - len(tail)
            if left_out <= 0:
                return bytes(self._head) + tail
            marker = f"\n[... {left_out} bytes of log left out here ...]\n".encode()
            return bytes(self._head) + marker + tail


class FdCapture:
    """While active, what this process (and its children) write to fds 1 and 2 is also appended to
    ``log``, line by line (the lines of the two streams interleave, never their bytes); it still
    reaches the original stdout and stderr at once, in order per stream."""

    def __init__(self, log: BoundedLog, fds: tuple[int, ...] = (1, 2)) -> None:
        self.log = log
        self.fds = fds
        self._saved: dict[int, int] = {}
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> FdCapture:
        for fd in self.fds:
            read_end, write_end = os.pipe()
            original = os.dup(fd)
            os.dup2(write_end, fd)
            os.close(write_end)
            self._saved[fd] = original
            t = threading.Thread(target=self._pump, args=(read_end, original), name=f"log-fd{fd}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _pump(self, read_end: int, original: int) -> None:
        partial = b""  # the copy takes whole lines, so lines of stdout and stderr are not spliced
        try:
            while chunk := os.read(read_end, 65536):
                partial += chunk
                cut = partial.rfind(b"\n") + 1
                if cut:
                    self.log.append(partial[:cut])
                    partial = partial[cut:]
                elif len(partial) >= MAX_PARTIAL_LINE:  # a line without end: taken in pieces this long
                    self.log.append(partial + b"\n")
                    partial = b""
                view = memoryview(chunk)
                while view:
                    try:
                        view = view[os.write(original, view) :]
                    except OSError:
                        break  # the real stream is gone: the copy is still kept
        finally:
            if partial:  # the last words, without their newline: given one in the copy
                self.log.append(partial + b"\n")
            os.close(read_end)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # the pipes' write ends are the fds themselves: putting the originals back closes them,
        # and each pump reads to the end (a child still holding one keeps it open: not waited for)
        for fd, original in self._saved.items():
            os.dup2(original, fd)
        for t in self._threads:
            t.join(timeout=5)
        for original in self._saved.values():
            os.close(original)
        self._saved.clear()
        self._threads.clear()
