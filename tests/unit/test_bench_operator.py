"""Pure helpers of bench/operator_loop.py (the operator benchmark)."""

from __future__ import annotations

from bench import operator_loop as bench


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 21)]
    assert bench.percentile(values, 50) == 10.0 and bench.percentile(values, 95) == 19.0
    assert bench.percentile([], 50) is None
    assert bench.summarize([2.0, 1.0])["p50"] == 1.0


def test_transition_latency_from_journal_end_to_next_pod_seen():
    journal = bench.parse_journal(
        "extract start 1 10.0\nextract end 1 10.5\nseparate start 2 11.0\nseparate end 2 11.2\n"
    )
    assert journal == {"extract": {"start": 10.0, "end": 10.5}, "separate": {"start": 11.0, "end": 11.2}}
    lat = bench.transition_latencies(["extract", "separate", "diarize"], journal, {"separate": 10.7, "diarize": 11.5})
    assert [round(x, 3) for x in lat] == [0.2, 0.3]


def test_table_labels_a_queued_run_and_shows_status_writes_per_job():
    def row(jobs: int, max_running: int, writes: float) -> dict:
        summary = {"p50": 1.0, "p95": 2.0}
        return {
            "jobs": jobs, "max_running": max_running, "gpu_nodes": 4,
            "create_to_first_pod_seconds": summary, "pod_end_to_next_pod_seconds": summary,
            "transitions_per_second": 5.0, "wall_seconds": 60.0,
            "operator": {"rss_ready_mib": 90, "rss_peak_mib": 100, "rss_end_mib": 95, "rss_growth_kib_per_job": 10,
                         "cpu_seconds": 20, "cpu_seconds_per_transition": 0.04},
            "operator_work": {"status_writes_per_job": writes},
        }  # fmt: skip

    lines = bench.table([row(100, 100, 9.5), row(300, 20, 14.2)]).splitlines()
    assert lines[0].count("|") == lines[1].count("|") == lines[2].count("|") == lines[3].count("|")
    assert lines[2].startswith("| 100 | 4 | 1.0 / 2.0 | 1.0 / 2.0 |") and lines[2].endswith("| 9.5 |")
    assert lines[3].startswith("| 300 (<= 20 running) | 4 |") and lines[3].endswith("| 14.2 |")
