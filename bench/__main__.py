"""Run every benchmark and write one summary: ``<out>/summary.json``, ``summary.md`` and ``summary.svg``.

Runs, each as its own process (a failure is recorded and the rest still run):
bench/pipeline.py, bench/operator_loop.py (the sizes, then a queued run: 300 jobs with 20
admitted at a time), bench/operator_hollow.py (1,000 and 5,000 jobs on hollow nodes: the
operator's own limit), bench/operator_relists.py (the operator's RSS over 20 full lists of
5,000 finished jobs), bench/upload.py, bench/dashboard.py and bench/long_input.py (5- and
60-minute inputs), all writing into ``<out>``; then collects their JSON
into the headline numbers and draws a bar chart of them (plain SVG).

    python -m bench [--out bench-results] [--upload-mb 1024] [--operator-jobs 100 --operator-jobs 300 --operator-jobs 1000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from html import escape
from pathlib import Path
from typing import Any

from bench.operator_loop import result_name

REPO = Path(__file__).resolve().parents[1]


def _run(name: str, cmd: list[str], timeout: float) -> dict[str, Any]:
    t = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=REPO, timeout=timeout, capture_output=True, text=True)
        ok, tail = proc.returncode == 0, (proc.stdout + proc.stderr)[-1500:]
    except subprocess.TimeoutExpired:
        ok, tail = False, f"timed out after {timeout:.0f} s"
    print(f"{name}: {'ok' if ok else 'FAILED'} in {time.monotonic() - t:.0f} s", file=sys.stderr, flush=True)
    return {"ok": ok, "seconds": round(time.monotonic() - t, 1), **({} if ok else {"tail": tail})}


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


QUEUE_JOBS, QUEUE_RUNNING = 300, 20
HOLLOW_JOBS = (1000, 5000)
#: The latency run: 1,000 jobs created at an even pace over one stage length, stages long enough
#: that the transitions asked for (about 16 a second) stay under what the machine carries, so the
#: stage gap is the operator's reaction time rather than a queue.
PACED_JOBS, PACED_STAGE_SECONDS = 1000, 60
#: The memory run: the operator's RSS at each of this many full lists of this many finished jobs.
RELIST_JOBS, RELISTS = 5000, 20


def headlines(out: Path, operator_jobs: list[int]) -> list[dict[str, Any]]:
    """(benchmark, metric, value, unit) rows from the result files that exist."""
    rows: list[dict[str, Any]] = []

    def add(bench: str, metric: str, value: Any, unit: str) -> None:
        if value is not None:
            rows.append({"benchmark": bench, "metric": metric, "value": value, "unit": unit})

    if p := _load(out / "pipeline.json"):
        add("pipeline", "cold total (60 s clip)", p["cold"]["totalSeconds"], "s")
        add("pipeline", "cold real-time factor", p["cold"]["realTimeFactor"], "x")
        add("pipeline", "cached total", p["cached"]["totalSeconds"], "s")
        for st in p["cold"]["stages"]:
            add("pipeline", f"stage {st['stage']} (cold)", st["seconds"], "s")
        for lang, q in (p.get("quality") or {}).items():
            add("pipeline", f"dub {lang}: back-transcription WER", q.get("wer"), "")
            add("pipeline", f"dub {lang}: segments in their slot", q.get("fitShare"), "")
            add("pipeline", f"dub {lang}: min voice similarity to source", q.get("minSourceSimilarity"), "")
            add("pipeline", f"dub {lang}: max cross-speaker similarity", q.get("maxCrossSpeakerSimilarity"), "")
            add("pipeline", f"dub {lang}: loudness", q.get("lufs"), "LUFS")
            add("pipeline", f"dub {lang}: onset drift median", q.get("onsetDriftMedian"), "s")
    for n in operator_jobs:
        if o := _load(out / result_name(n)):
            add("operator", f"{n} jobs: create→1st Pod p50", o["create_to_first_pod_seconds"]["p50"], "s")
            add("operator", f"{n} jobs: create→1st Pod p95", o["create_to_first_pod_seconds"]["p95"], "s")
            add("operator", f"{n} jobs: Pod end→next Pod p50", o["pod_end_to_next_pod_seconds"]["p50"], "s")
            add("operator", f"{n} jobs: Pod end→next Pod p95", o["pod_end_to_next_pod_seconds"]["p95"], "s")
            add("operator", f"{n} jobs: transitions/s", o["transitions_per_second"], "1/s")
            add("operator", f"{n} jobs: operator RSS peak", o["operator"]["rss_peak_mib"], "MiB")
            add(
                "operator", f"{n} jobs: operator RSS growth per job", o["operator"].get("rss_growth_kib_per_job"), "KiB"
            )
            add("operator", f"{n} jobs: operator CPU", o["operator"]["cpu_seconds"], "s")
            add(
                "operator",
                f"{n} jobs: operator CPU per transition",
                o["operator"].get("cpu_seconds_per_transition"),
                "s",
            )
            add(
                "operator",
                f"{n} jobs: API calls per transition",
                (o.get("operator_work") or {}).get("api_calls_per_transition"),
                "",
            )
            add(
                "operator",
                f"{n} jobs: status writes per job",
                (o.get("operator_work") or {}).get("status_writes_per_job"),
                "",
            )
    if q := _load(out / result_name(QUEUE_JOBS, QUEUE_RUNNING)):
        label = f"{QUEUE_JOBS} jobs, {QUEUE_RUNNING} at a time"
        add("operator-queue", f"{label}: wall", q["wall_seconds"], "s")
        add("operator-queue", f"{label}: transitions/s", q["transitions_per_second"], "1/s")
        add(
            "operator-queue",
            f"{label}: status writes per job",
            (q.get("operator_work") or {}).get("status_writes_per_job"),
            "",
        )
        add(
            "operator-queue",
            f"{label}: operator CPU per transition",
            q["operator"].get("cpu_seconds_per_transition"),
            "s",
        )
    for n in HOLLOW_JOBS:
        if h := _load(out / f"hollow-{n}.json"):
            label = f"{n} jobs, {h['stage_seconds']:g} s stages"
            add("operator-hollow", f"{label}: stage gap p50", h["stage_gap_seconds"]["p50"], "s")
            add("operator-hollow", f"{label}: stage gap p95", h["stage_gap_seconds"]["p95"], "s")
            add("operator-hollow", f"{label}: transitions/s", h["transitions_per_second"], "1/s")
            add("operator-hollow", f"{label}: API calls per transition", h["api_calls_per_transition"], "")
            add("operator-hollow", f"{label}: operator RSS peak", h["operator"]["rss_peak_mib"], "MiB")
    if h := _load(out / f"hollow-{PACED_JOBS}-paced.json"):
        label = f"{PACED_JOBS} jobs paced, {h['stage_seconds']:g} s stages"
        add("operator-hollow", f"{label}: stage gap p50", h["stage_gap_seconds"]["p50"], "s")
        add("operator-hollow", f"{label}: stage gap p95", h["stage_gap_seconds"]["p95"], "s")
    if r := _load(out / "relists.json"):
        label = f"{r['jobs']} finished jobs, {r['lists']} full lists"
        add("operator-relists", f"{label}: RSS after the first", r["rss_first_list_mib"], "MiB")
        add("operator-relists", f"{label}: RSS after the last", r["rss_last_list_mib"], "MiB")
        add("operator-relists", f"{label}: RSS slope", r["mib_per_list"], "MiB/list")
    if u := _load(out / "upload.json"):
        for size in u.get("sizes") or []:
            label = f"{size['file_mib']} MiB"
            add("upload", f"{label}: direct to MinIO", size["direct_minio"]["parts_mb_s"], "MB/s")
            add("upload", f"{label}: browser path (presigned)", size["browser_direct"]["parts_mb_s"], "MB/s")
            add("upload", f"{label}: proxy path", size["webui_proxy"]["parts_mb_s"], "MB/s")
            add("upload", f"{label}: ratio browser/direct", size["browser_direct"]["ratio_parts_vs_direct"], "x")
            add("upload", f"{label}: ratio proxy/direct", size["webui_proxy"]["ratio_parts_vs_direct"], "x")
            for path in ("browser_direct", "webui_proxy"):
                growth = size[path]["webui_rss_growth_mib"]
                add("upload", f"{label}: web UI RSS growth, {path.replace('_', ' ')}", growth, "MiB")
    if li := _load(out / "long-input.json"):
        for ratio in li.get("ratios") or []:
            add("long-input", f"stage {ratio['stage']}: peak RSS, 60 min / 5 min input", ratio["ratio"], "x")
        for run in li.get("runs") or []:
            peak = max((s["peakTreeRssMiB"] for s in run["stages"]), default=None)
            add("long-input", f"{run['minutes']:g} min input: highest stage peak RSS", peak, "MiB")
    if d := _load(out / "dashboard.json"):
        add("dashboard", f"SSE latency p50 ({d['clients']} streams)", d["latency_ms_p50"], "ms")
        add("dashboard", "SSE latency p95", d["latency_ms_p95"], "ms")
        add("dashboard", "SSE latency max", d["latency_ms_max"], "ms")
        add("dashboard", "events lost", d["lost"], "")
        add("dashboard", "web UI CPU", d["webui_cpu_percent"], "%")
        add("dashboard", "web UI RSS peak", d["webui_rss_peak_mib"], "MiB")
    return rows


def markdown(rows: list[dict[str, Any]], runs: dict[str, Any]) -> str:
    lines = ["# Benchmarks: headline numbers", "", "| benchmark | metric | value | unit |", "|---|---|---|---|"]
    lines += [f"| {r['benchmark']} | {r['metric']} | {r['value']} | {r['unit']} |" for r in rows]
    lines += ["", "| run | result | seconds |", "|---|---|---|"]
    lines += [f"| {k} | {'ok' if v['ok'] else 'FAILED'} | {v['seconds']} |" for k, v in runs.items()]
    lines += [
        "",
        "Details: pipeline.txt, operator.md, operator-queue.md, hollow.md (hollow.svg), hollow-paced.md (hollow-paced.svg), relists.md (relists.svg), upload.md (upload.svg), dashboard.md, "
        "long-input.md; plot: summary.svg.",
        "",
    ]
    return "\n".join(lines)


COLOURS = {
    "pipeline": "#4c78a8",
    "operator": "#f58518",
    "operator-queue": "#e45756",
    "operator-hollow": "#72b7b2",
    "operator-relists": "#eeca3b",
    "upload": "#54a24b",
    "dashboard": "#b279a2",
    "long-input": "#9d755d",
}


def svg(rows: list[dict[str, Any]]) -> str:
    """Horizontal bars, one panel per unit (values on a shared axis only within a unit)."""
    by_unit: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if isinstance(r["value"], (int, float)) and r["unit"]:
            by_unit.setdefault(r["unit"], []).append(r)
    width, label_w, bar_w, row_h = 900, 410, 400, 18
    parts: list[str] = []
    y = 30
    for unit, items in by_unit.items():
        top = max(float(i["value"]) for i in items) or 1.0
        parts.append(f'<text x="10" y="{y}" font-weight="bold">values in {escape(unit)}</text>')
        y += 8
        for i in items:
            v = float(i["value"])
            length = max(1.0, bar_w * v / top)
            label = escape(f"{i['benchmark']}: {i['metric']}")
            parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{label}</text>')
            parts.append(
                f'<rect x="{label_w}" y="{y + 2}" width="{length:.1f}" height="{row_h - 4}" '
                f'fill="{COLOURS.get(i["benchmark"], "#888")}"/>'
            )
            parts.append(f'<text x="{label_w + length + 4:.1f}" y="{y + 13}">{v:g}</text>')
            y += row_h
        y += 22
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" font-family="sans-serif" '
        f'font-size="11"><rect width="100%" height="100%" fill="white"/>'
        f'<text x="10" y="16" font-size="13" font-weight="bold">Benchmarks: headline numbers</text>'
    )
    return head + "".join(parts) + "</svg>\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench-results")
    parser.add_argument("--upload-mb", type=int, default=1024)
    parser.add_argument("--operator-jobs", type=int, action="append")
    parser.add_argument("--skip", action="append", default=[],
                        choices=["pipeline", "operator", "operator-queue", "operator-hollow", "operator-hollow-paced", "operator-relists", "upload",
                                 "dashboard", "long-input"])  # fmt: skip
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    jobs = args.operator_jobs or [100, 300, 1000]
    py = sys.executable
    plan: list[tuple[str, list[str], float]] = []
    # Each benchmark as `python -m bench.<module>` from the repository root (the _run cwd).
    plan.append(("pipeline", [py, "-m", "bench.pipeline", "--out", str(out)], 3600))
    op = [py, "-m", "bench.operator_loop", "--out", str(out)]
    for n in jobs:
        op += ["--jobs", str(n)]
    plan.append(("operator", op, 600 + sum(max(900, 3 * n) + 600 for n in jobs)))
    queued = [py, "-m", "bench.operator_loop", "--out", str(out), "--jobs", str(QUEUE_JOBS),
              "--max-running", str(QUEUE_RUNNING)]  # fmt: skip
    plan.append(("operator-queue", queued, 600 + max(900, 3 * QUEUE_JOBS) + 600))
    hollow = [py, "-m", "bench.operator_hollow", "--out", str(out)]
    for n in HOLLOW_JOBS:
        hollow += ["--jobs", str(n)]
    plan.append(("operator-hollow", hollow, 600 + sum(1800 + 600 for _ in HOLLOW_JOBS)))
    paced = [py, "-m", "bench.operator_hollow", "--out", str(out), "--jobs", str(PACED_JOBS),
             "--stage-seconds", str(PACED_STAGE_SECONDS), "--create-over", str(PACED_STAGE_SECONDS),
             "--label", "paced"]  # fmt: skip
    plan.append(("operator-hollow-paced", paced, 600 + 12 * PACED_STAGE_SECONDS + 1200))
    relists = [py, "-m", "bench.operator_relists", "--out", str(out), "--jobs", str(RELIST_JOBS),
               "--lists", str(RELISTS)]  # fmt: skip
    plan.append(("operator-relists", relists, 1800))
    upload = [py, "-m", "bench.upload", "--mb", "256", "--mb", str(args.upload_mb), "--out", str(out)]
    plan.append(("upload", upload, 2400))
    plan.append(("dashboard", [py, "-m", "bench.dashboard", "--out", str(out)], 900))
    long_input = [py, "-m", "bench.long_input", "--minutes", "5", "--minutes", "60", "--out", str(out)]
    plan.append(("long-input", long_input, 5400))
    runs = {name: _run(name, cmd, timeout) for name, cmd, timeout in plan if name not in args.skip}
    rows = headlines(out, jobs)
    (out / "summary.json").write_text(json.dumps({"runs": runs, "headlines": rows}, indent=2) + "\n")
    (out / "summary.md").write_text(markdown(rows, runs))
    (out / "summary.svg").write_text(svg(rows))
    print((out / "summary.md").read_text())
    return 0 if all(r["ok"] for r in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
