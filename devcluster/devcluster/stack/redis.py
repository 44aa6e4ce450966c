"""A throwaway Redis (Debian's ``redis-server``) on a loopback port, no persistence; it can be
stopped and started again on the same port (what "Redis goes down" means to a client)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..ports import free_port
from . import Unavailable


@dataclass
class RedisServer:
    port: int
    workdir: str | Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it (a no-op while it runs); return once it answers PING."""
        if self.proc is not None and self.proc.poll() is None:
            return
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (apt-get install redis-server)"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                self.proc.wait(10)
            self.proc = None

    def kill(self) -> None:
        """SIGKILL: gone at once, as when its machine dies."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None


@contextmanager
def redis(workdir: Path, start: bool = True) -> Iterator[RedisServer]:
    """A redis-server on a free port fixed for its lifetime; ``start=False`` leaves it down (the caller starts it)."""
    if shutil.which("redis-server") is None:
        raise Unavailable("redis-server is not installed")
    server = RedisServer(free_port(), workdir)
    if start:
        server.start()
    try:
        yield server
    finally:
        server.stop()
