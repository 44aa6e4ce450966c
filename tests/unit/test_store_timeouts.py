"""A stage whose object store does not answer fails within the S3 timeouts instead of hanging.

Two loopback servers stand for a store that is down in the two ways a network fails silently:
one accepts connections and never answers (read timeout), one whose accept queue is full so the
kernel drops each new connection's SYN (connect timeout; as a firewall that drops packets).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from dubbing.artifacts import MinioStore, S3Settings, StoreError
from dubbing.config.base import SettingsError

#: What a call may take at most here: 6 tries of the timeout below plus urllib3's back-off (~6 s).
BOUND_SECONDS = 40.0


def settings(port: int, **timeouts: str) -> S3Settings:
    return S3Settings.from_env(
        {
            "DUBBING_S3_ENDPOINT": f"127.0.0.1:{port}",
            "DUBBING_S3_ACCESS_KEY": "a",
            "DUBBING_S3_SECRET_KEY": "b",
            "DUBBING_S3_REGION": "us-east-1",
            **timeouts,
        }
    )


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts every connection and never sends a byte."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """Listens with a backlog of 0, never accepts, and has its one queued connection taken: the
    kernel drops the SYN of every further connection."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=5)
    yield port
    filler.close()
    server.close()


def timed_failure(store: MinioStore) -> tuple[float, str]:
    started = time.monotonic()
    with pytest.raises(StoreError) as failure:
        store.put_bytes("jobs/a/b.json", b"{}")
    return time.monotonic() - started, str(failure.value)


def test_the_timeouts_default_to_seconds_not_the_sdks_five_minutes():
    s = settings(9000)
    assert (s.connect_timeout_seconds, s.read_timeout_seconds) == (10.0, 120.0)
    timeout = s.http_client().connection_pool_kw["timeout"]
    assert (timeout.connect_timeout, timeout.read_timeout) == (10.0, 120.0)
    with pytest.raises(SettingsError, match="DUBBING_S3_CONNECT_TIMEOUT_SECONDS"):
        settings(9000, DUBBING_S3_CONNECT_TIMEOUT_SECONDS="0")


def test_a_store_that_accepts_and_never_answers_fails_the_call(silent_server: int):
    store = MinioStore("dubbing", "", settings(silent_server, DUBBING_S3_READ_TIMEOUT_SECONDS="0.5"))
    took, message = timed_failure(store)
    assert took < BOUND_SECONDS
    assert "s3://dubbing" in message and "timed out" in message.lower()


def test_a_store_that_drops_connections_fails_the_call(full_backlog: int):
    store = MinioStore("dubbing", "", settings(full_backlog, DUBBING_S3_CONNECT_TIMEOUT_SECONDS="0.5"))
    took, message = timed_failure(store)
    assert took < BOUND_SECONDS
    assert "s3://dubbing" in message and "timed out" in message.lower()
