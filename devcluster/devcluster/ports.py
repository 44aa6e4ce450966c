"""Free loopback ports, for the servers the development cluster, tests and benchmarks start."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel's choice; free until someone binds it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def free_port_pair(host: str = "127.0.0.1", tries: int = 50) -> int:
    """A free port whose next port is free too (MinIO takes port+1 for its console)."""
    for _ in range(tries):
        port = free_port(host)
        if port < 65000:
            with socket.socket() as other:
                try:
                    other.bind((host, port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free pair of ports")
