"""The operator's C heap: few arenas, and the pages a full list freed handed back (glibc, as in the image).

Each case runs in a fresh interpreter, so the arenas and the heap are that case's alone.  The shape
is the operator's: worker threads that are all alive at once, each in turn parsing a large
answer into small objects, keeping one in sixteen (the new job copies) and dropping the rest."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dubbing_operator import heap

OPERATOR = Path(heap.__file__).resolve().parents[1]

WORKERS_IN_TURN = textwrap.dedent(
    """
    import sys, threading
    from dubbing_operator import heap

    def rss_mib():
        with open("/proc/self/status") as fh:
            return next(int(l.split()[1]) for l in fh if l.startswith("VmRSS:")) / 1024

    if sys.argv[1] == "capped":
        assert heap.limit_arenas(2)
    kept = []
    turn = threading.Condition()
    state = {"next": 0}

    def work(i):
        with turn:
            turn.wait_for(lambda: state["next"] == i)
        garbage = [bytes(2048) + i.to_bytes(4, "little") for _ in range(25_000)]  # about 50 MiB
        kept.extend(garbage[::16])
        del garbage
        with turn:
            state["next"] += 1
            turn.notify_all()
            turn.wait_for(lambda: state["next"] == 8)  # every worker stays alive, as in the pool

    before = rss_mib()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    grown = rss_mib() - before
    trimmed = heap.give_back_free_pages()
    print(round(grown), round(rss_mib() - before), trimmed)
    """
)


def run_workers(mode: str) -> tuple[float, float, bool]:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    env["PYTHONPATH"] = str(OPERATOR)
    out = subprocess.run(
        [sys.executable, "-c", WORKERS_IN_TURN, mode], env=env, capture_output=True, text=True, timeout=120, check=True
    ).stdout.split()
    return float(out[0]), float(out[1]), out[2] == "True"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_capped_arenas_hold_one_lists_garbage_not_one_per_worker():
    free_grown, free_after_trim, trimmed = run_workers("free")
    capped_grown, capped_after_trim, _ = run_workers("capped")
    assert trimmed, "glibc's malloc_trim should be reachable on this platform"
    # eight workers, 50 MiB each, a sixteenth of it kept (about 25 MiB in all)
    assert free_grown > 200, free_grown  # an arena per worker, each at its own high-water mark
    assert capped_grown < free_grown / 2, (capped_grown, free_grown)
    assert capped_after_trim < 120, capped_after_trim  # the kept copies, plus the pages they pin


def test_the_arena_cap_is_left_to_an_explicit_malloc_arena_max(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert heap.limit_arenas() is False
