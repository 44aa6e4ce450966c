"""Progress lines: ``[<stage>] <percent>% <message>``, e.g. ``[asr]  42.0% segment 12/30``.

The operator reads the last log line of a stage Pod and parses it with :data:`LINE_RE`.
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator

from ..config.stage import StageSettings

LINE_RE = re.compile(r"^\[(?P<stage>[a-z]+)\]\s+(?P<percent>\d{1,3}\.\d)% (?P<message>.*)$")

Sink = Callable[[str, float, str], None]


def format_line(stage: str, percent: float, message: str) -> str:
    percent = min(100.0, max(0.0, float(percent)))
    message = " ".join(str(message).split())
    return f"[{stage}] {percent:5.1f}% {message}"


def parse_line(line: str) -> tuple[str, float, str] | None:
    match = LINE_RE.match(line.rstrip("\n"))
    if not match:
        return None
    return match["stage"], float(match["percent"]), match["message"]


_printed: list[str] = [""]  # the last line print_sink wrote (this process runs one stage)


def print_sink(stage: str, percent: float, message: str) -> None:
    line = format_line(stage, percent, message)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    _printed[0] = line


def last_printed() -> str:
    """The last progress line this process printed ("" if none)."""
    return _printed[0]


class Progress:
    """Reports a stage's progress; ``span`` maps this reporter's 0..100 onto a part of the stage's."""

    def __init__(
        self,
        stage: str,
        sink: Sink = print_sink,
        span: tuple[float, float] = (0.0, 100.0),
        prefix: str = "",
        state: dict | None = None,
    ) -> None:
        self.stage = stage
        self.sink = sink
        self.span = span
        self.prefix = prefix
        self.state = state if state is not None else {"last": -1.0}

    def __call__(self, percent: float, message: str) -> None:
        self.update(percent, message)

    @property
    def last_percent(self) -> float:
        return self.state["last"]

    def update(self, percent: float, message: str) -> None:
        low, high = self.span
        value = low + (high - low) * min(100.0, max(0.0, float(percent))) / 100.0
        value = max(value, self.state["last"], 0.0)  # never goes backwards
        self.state["last"] = value
        self.sink(self.stage, value, f"{self.prefix}{message}")

    def note(self, message: str) -> None:
        """Say something without moving the percentage."""
        self.sink(self.stage, max(self.state["last"], self.span[0], 0.0), f"{self.prefix}{message}")

    @contextlib.contextmanager
    def heartbeat(self, message: str, interval: float | None = None) -> Iterator[None]:
        """While a long call runs, repeat ``message (N s)`` every ``interval`` seconds
        (default ``$DUBBING_HEARTBEAT_SECONDS`` or 10), so the last log line stays fresh."""
        every = interval if interval is not None else StageSettings.from_env().heartbeat_seconds
        stop = threading.Event()
        started = time.monotonic()

        def beat() -> None:
            while not stop.wait(every):
                self.note(f"{message} ({time.monotonic() - started:.0f} s)")

        thread = threading.Thread(target=beat, name=f"heartbeat-{self.stage}", daemon=True)
        if every > 0:
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread.is_alive():
                thread.join(timeout=every + 1)

    def part(self, start: float, end: float, prefix: str = "") -> Progress:
        """A reporter for a part of this one: its 0..100 covers ``start``..``end`` of ours."""
        low, high = self.span
        span = (low + (high - low) * start / 100.0, low + (high - low) * end / 100.0)
        return Progress(self.stage, self.sink, span, self.prefix + prefix, self.state)
