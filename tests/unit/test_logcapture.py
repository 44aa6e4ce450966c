"""The bounded copy of a stage's log: head and tail kept, the middle counted, memory fixed."""

from __future__ import annotations

import os
import subprocess
import sys

from dubbing.stages.logcapture import BoundedLog, FdCapture


def test_short_logs_are_kept_whole() -> None:
    log = BoundedLog(head=10, tail=20)
    log.append(b"hello ")
    log.append(b"world\n")
    assert log.contents() == b"hello world\n"


def test_a_long_log_keeps_its_head_and_tail_and_says_what_is_left_out() -> None:
    log = BoundedLog(head=8, tail=16)
    data = b"".join(f"line {i:04d}\n".encode() for i in range(10_000))  # 100,000 bytes
    for i in range(0, len(data), 7):
        log.append(data[i : i + 7])
    out = log.contents()
    assert out.startswith(data[:8])
    assert out.endswith(data[-16:])
    assert f"[... {len(data) - 24} bytes of log left out here ...]".encode() in out
    assert log.total == len(data)
    assert sum(len(c) for c in log._tail) < 16 + 7  # the tail holds at most one chunk more than its limit


def test_what_a_child_process_writes_is_copied_and_still_printed(tmp_path: object, capfd: object) -> None:
    log = BoundedLog()
    with FdCapture(log):
        subprocess.run(
            [sys.executable, "-c", "import sys; print('from the child'); print('to stderr', file=sys.stderr)"],
            check=True,
        )
        os.write(1, b"from this process\n")
    text = log.contents().decode()
    assert "from the child\n" in text and "to stderr\n" in text and "from this process\n" in text
    out, err = capfd.readouterr()  # type: ignore[attr-defined]
    assert "from the child" in out and "from this process" in out and "to stderr" in err
