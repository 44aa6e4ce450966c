"""Background processes tracked by pid files, with their output in log files.

A process is "ours" only if the pid in its pid file is alive and one word of its
command line (or that word's basename) equals the marker it was started with, so a recycled pid is never
mistaken for (or signalled as) a cluster component.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

MAX_LOG_BYTES = 32 * 1024 * 1024  # a larger log is moved to <name>.1 when its process restarts

# Children started by this Python process, so stopping one also reaps it.
_children: dict[int, subprocess.Popen] = {}


def read_cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X")


def running_pid(pid_file: Path, marker: str) -> int | None:
    """The live pid recorded in ``pid_file`` if its command line contains ``marker``."""
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    cmdline = read_cmdline(pid)
    if (
        not cmdline
        or _is_zombie(pid)
        or not any(part == marker or os.path.basename(part) == marker for part in cmdline)
    ):
        return None
    return pid


def start(
    argv: Sequence[str],
    *,
    pid_file: Path,
    log_file: Path,
    marker: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start ``argv`` detached (own session), unless it is already running; return its pid."""
    existing = running_pid(pid_file, marker)
    if existing is not None:
        return existing
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    if log_file.exists() and log_file.stat().st_size > MAX_LOG_BYTES:
        log_file.replace(log_file.with_name(log_file.name + ".1"))
    with open(log_file, "ab") as log:
        log.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    _children[proc.pid] = proc
    pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def exited(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is not None
    return read_cmdline(pid) is None or _is_zombie(pid)


def stop(pid_file: Path, marker: str, *, timeout: float = 15.0) -> bool:
    """SIGTERM the process, SIGKILL it after ``timeout``; remove the pid file. True if it was running."""
    pid = running_pid(pid_file, marker)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not exited(pid):
        time.sleep(0.1)
    if not exited(pid):
        _kill_group_or_process(pid)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not exited(pid):
            time.sleep(0.1)
    child = _children.pop(pid, None)
    if child is not None:
        child.wait(timeout=5)
    pid_file.unlink(missing_ok=True)
    return True


def _kill_group_or_process(pid: int) -> None:
    """SIGKILL the session we started (pid leads its group) or just the process."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
            return
    except ProcessLookupError:
        return
    _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def tail(log_file: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"(no log at {log_file})"
