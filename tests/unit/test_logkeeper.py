"""The stage log copy is stored while the stage runs, when it grew, and once more at the end."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from dubbing.artifacts import LocalStore
from dubbing.stages.logcapture import BoundedLog
from dubbing.stages.logkeeper import LogKeeper


class CountingStore(LocalStore):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.puts = 0
        self.put_done = threading.Event()

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None):  # type: ignore[override]
        result = super().put_bytes(key, data, content_type)
        self.puts += 1
        self.put_done.set()
        return result


def wait_for_put(store: CountingStore) -> None:
    assert store.put_done.wait(10), "no put within 10 s"
    store.put_done.clear()


def test_the_copy_is_stored_while_it_grows_and_not_again_while_it_does_not(tmp_path: Path):
    store, log = CountingStore(tmp_path), BoundedLog()
    log.append(b"first line\n")
    with LogKeeper(log, every=0.05) as keeper:
        keeper.keep_at(store, "logs/p.log")
        wait_for_put(store)
        assert store.get_bytes("logs/p.log") == b"first line\n"
        time.sleep(0.5)  # ten periods without news: nothing put
        assert store.puts == 1
        log.append(b"second line\n")
        wait_for_put(store)
        assert store.get_bytes("logs/p.log") == b"first line\nsecond line\n"
        log.append(b"last words\n")
    assert store.get_bytes("logs/p.log") == b"first line\nsecond line\nlast words\n"  # the end's put


def test_with_no_period_the_copy_is_stored_at_the_end_only(tmp_path: Path):
    store, log = CountingStore(tmp_path), BoundedLog()
    with LogKeeper(log, every=0) as keeper:
        keeper.keep_at(store, "logs/p.log")
        log.append(b"a\n")
        time.sleep(0.2)
        assert store.puts == 0
    assert store.puts == 1 and store.get_bytes("logs/p.log") == b"a\n"


def test_nothing_is_stored_before_the_place_is_known(tmp_path: Path):
    store, log = CountingStore(tmp_path), BoundedLog()
    with LogKeeper(log, every=0.05):
        log.append(b"a\n")
    assert store.puts == 0


class FailingStore(CountingStore):
    def put_bytes(self, key: str, data: bytes, content_type: str | None = None):  # type: ignore[override]
        self.puts += 1
        raise OSError("the store is down")


def test_a_failed_put_is_said_at_the_end_only_and_stops_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    store, log = FailingStore(tmp_path), BoundedLog()
    with LogKeeper(log, every=0.02) as keeper:
        keeper.keep_at(store, "logs/p.log")
        log.append(b"a\n")
        deadline = time.monotonic() + 10
        while store.puts < 3 and time.monotonic() < deadline:  # a failed put is tried again next period
            time.sleep(0.02)
        assert store.puts >= 3
        assert capsys.readouterr().err == ""
    assert "the stage's log was not stored at logs/p.log: the store is down" in capsys.readouterr().err
