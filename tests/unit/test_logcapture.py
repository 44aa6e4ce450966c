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
        subprocess.run(  # unbuffered, line and newline come as two writes, the streams in between
            [sys.executable, "-u", "-c", "import sys; print('from the child'); print('to stderr', file=sys.stderr)"],
            check=True,
        )
        os.write(1, b"from this process\n")
    text = log.contents().decode()
    assert "from the child\n" in text and "to stderr\n" in text and "from this process\n" in text
    out, err = capfd.readouterr()  # type: ignore[attr-defined]
    assert "from the child" in out and "from this process" in out and "to stderr" in err


def test_lines_of_the_two_streams_are_never_spliced() -> None:
    log = BoundedLog()
    script = (
        "import os, sys\n"
        "for i in range(200):\n"
        "    os.write(1, b'out-' + str(i).encode()); os.write(2, b'err-' + str(i).encode())\n"
        "    os.write(1, b' end\\n'); os.write(2, b' end\\n')\n"
        "os.write(1, b'no newline at the end')\n"
    )
    with FdCapture(log):
        subprocess.run([sys.executable, "-c", script], check=True)
    text = log.contents().decode()
    assert text.endswith("\n")
    expected = [f"out-{i} end" for i in range(200)] + [f"err-{i} end" for i in range(200)] + ["no newline at the end"]
    assert sorted(text[:-1].split("\n")) == sorted(expected)


def test_a_line_without_end_is_kept_in_pieces_not_held_whole() -> None:
    log = BoundedLog()
    with FdCapture(log, fds=(1,)):
        subprocess.run([sys.executable, "-c", "import os; os.write(1, b'x' * 300_000)"], check=True)
    pieces = log.contents().decode().split("\n")[:-1]
    assert "".join(pieces) == "x" * 300_000
    assert len(pieces) >= 4 and all(len(p) < 64 * 1024 * 2 for p in pieces)
