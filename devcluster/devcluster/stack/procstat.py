"""A process's resident memory and CPU time, read from /proc, once or sampled over time."""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


def proc_rss_kib(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    m = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) if m else 0


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class ProcSampler:
    """Samples a process's RSS (KiB) every ``every`` seconds in a thread: (monotonic time, rss)."""

    pid: int
    every: float = 0.05
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> ProcSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), proc_rss_kib(self.pid)))
            except OSError:
                return
            self._stop.wait(self.every)

    def peak_kib(self, since: float = 0.0, until: float = float("inf")) -> int:
        vals = [rss for t, rss in self.samples if since <= t <= until]
        return max(vals) if vals else 0
