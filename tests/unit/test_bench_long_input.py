"""The long-input benchmark's measuring and bookkeeping (bench/long_input.py)."""

from __future__ import annotations

import os
import sys

from bench.long_input import ratios, run_measured, speech_placements, table, tree_rss


def test_one_sentence_every_interval_in_turn():
    assert speech_placements(300.0, 60.0) == [(5.0, 0), (65.0, 1), (125.0, 2), (185.0, 3), (245.0, 4)]
    assert [index for _, index in speech_placements(3600.0, 60.0)][12:15] == [12, 0, 1]  # 13 sentences, cycling
    assert speech_placements(20.0, 60.0) == []


def test_tree_rss_counts_a_running_process():
    assert tree_rss(os.getpid()) > 10 * 1024 * 1024
    assert tree_rss(2**22 + 12345) == 0  # no such process


def test_a_child_holding_memory_shows_in_both_peaks(tmp_path):
    code = (
        "import time; block = bytearray(300 * 1024 * 1024); block[::4096] = b'x' * len(block[::4096]); time.sleep(0.5)"
    )
    row = run_measured([sys.executable, "-c", code], dict(os.environ), tmp_path / "log")
    assert row["exitCode"] == 0 and row["seconds"] >= 0.5
    assert 300 <= row["peakTreeRssMiB"] < 600
    # the kernel's high-water mark also counts what the child had right after the fork, before its exec:
    # the parent's size (a test process can be gigabytes), so it is bounded below only
    assert row["maxRssMiB"] >= 300
    failed = run_measured([sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ), tmp_path / "log")
    assert failed["exitCode"] == 3


def test_ratios_and_table():
    def run(minutes, peaks):
        return {"minutes": minutes, "stages": [{"stage": s, "backend": "b", "exitCode": 0, "seconds": 1.0,
                                                "peakTreeRssMiB": p} for s, p in peaks.items()]}  # fmt: skip

    runs = [run(60, {"extract": 120.0, "separate": 100.0}), run(5, {"extract": 100.0, "separate": 100.0})]
    assert ratios(runs) == [
        {"stage": "extract", "shortMiB": 100.0, "longMiB": 120.0, "ratio": 1.2},
        {"stage": "separate", "shortMiB": 100.0, "longMiB": 100.0, "ratio": 1.0},
    ]
    text = table({"runs": runs, "ratios": ratios(runs)})
    assert "| extract | b | 120 / 1.0 | 100 / 1.0 |" in text and "| extract | 1.20 |" in text
    assert "| mix |  | not run | not run |" in text
    assert ratios(runs[:1]) == []
