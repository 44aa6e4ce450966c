"""Benchmark long inputs: peak memory and wall time of every stage, a short input against a long one.

Generates an N-minute video (a small test picture; the audio a quiet tone bed with one
espeak-ng sentence of :data:`dubbing.samples.SENTENCES` every ``--speech-every`` seconds,
so the speech share is small and a long input runs in reasonable time), then runs every
stage of a dub into ``--to`` as its own process (``dubbing stage NAME``, what a stage Pod
runs) against one local artifact store, and records per stage:

- ``peakTreeRssMiB``: the highest sum of the resident memory of the stage process and
  every process it started (ffmpeg included), sampled every 50 ms from /proc: what a
  Pod's memory limit is measured against (less the page cache);
- ``maxRssMiB``: the kernel's high-water mark of the largest single process (``wait4``), which also
  counts the child's size between fork and exec, i.e. the parent's (small for the benchmark itself);
- ``seconds``: wall time.

Writes ``<out>/long-input.json`` and ``<out>/long-input.md`` (a table per length and the
long/short ratio per stage), and ``<out>/long-input.svg`` (the peaks as bars).

    python -m bench.long_input --minutes 5 --minutes 60 --out bench-results [--to pt-BR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from dubbing.api.v1alpha1 import STAGES
from dubbing.samples import SENTENCES, VOICES, speak
from dubbing.stages.pipeline import make_job

RATE = 22050
BED_DB = -50.0
SAMPLE_INTERVAL_S = 0.05
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024


def speech_placements(seconds: float, every: float, offset: float = 5.0) -> list[tuple[float, int]]:
    """(start second, sentence index) of each spoken sentence: one every ``every`` seconds, sentences in turn."""
    placements: list[tuple[float, int]] = []
    start, number = offset, 0
    while start + every / 2 < seconds:
        placements.append((start, number % len(SENTENCES)))
        start += every
        number += 1
    return placements


def make_long_input(out: Path, minutes: float, every: float, work: Path) -> dict[str, Any]:
    """The N-minute MP4 (H.264 test picture, AAC audio); its audio is written block by block."""
    import numpy as np
    import soundfile as sf

    seconds = minutes * 60.0
    voices: dict[int, np.ndarray] = {}
    placements = speech_placements(seconds, every)
    for _, index in placements:
        if index not in voices:
            speaker, text = SENTENCES[index]
            data, rate = sf.read(str(speak(text, VOICES[speaker], work / f"s{index}.wav")), dtype="float32")
            if rate != RATE:
                raise RuntimeError(f"espeak-ng wrote {rate} Hz, expected {RATE}")
            voices[index] = 0.8 * data
    wav = work / "long.wav"
    total = int(seconds * RATE)
    block = 60 * RATE
    level = 10 ** (BED_DB / 20.0)
    spoken = 0.0
    with sf.SoundFile(str(wav), "w", RATE, 1, subtype="PCM_16") as sink:
        for begin in range(0, total, block):
            end = min(total, begin + block)
            t = np.arange(begin, end, dtype=np.float64) / RATE
            chunk = (level * (0.6 * np.sin(2 * np.pi * 110.0 * t) + 0.4 * np.sin(2 * np.pi * 165.0 * t))).astype(
                np.float32
            )
            for start, index in placements:
                first = int(start * RATE)
                voice = voices[index]
                lo, hi = max(first, begin), min(first + len(voice), end)
                if hi > lo:
                    chunk[lo - begin : hi - begin] += voice[lo - first : hi - first]
            sink.write(chunk)
    spoken = sum(len(voices[index]) / RATE for _, index in placements)
    subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error",
            "-f", "lavfi", "-i", f"testsrc2=size=160x120:rate=5:duration={seconds:.3f}", "-i", str(wav),
            "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "50",
            "-c:a", "aac", "-b:a", "96k", "-ar", "44100", "-ac", "2", "-t", f"{seconds:.3f}", str(out),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    wav.unlink()
    return {"seconds": seconds, "sentences": len(placements), "speechSeconds": round(spoken, 2)}


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants (0 for those gone meanwhile)."""
    tree = _children()
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(tree.get(current, ()))
        try:
            with open(f"/proc/{current}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def run_measured(command: Sequence[str], env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run ``command``, sampling its process tree's memory; its peak, the kernel's max RSS, wall time, exit code."""
    started = time.monotonic()
    with open(log, "wb") as output:
        process = subprocess.Popen(list(command), stdout=output, stderr=subprocess.STDOUT, env=env)
        peak = 0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, tree_rss(process.pid))
            time.sleep(SAMPLE_INTERVAL_S)
    process.returncode = os.waitstatus_to_exitcode(status)
    return {
        "exitCode": process.returncode,
        "seconds": round(time.monotonic() - started, 2),
        "peakTreeRssMiB": round(peak / MIB, 1),
        "maxRssMiB": round(usage.ru_maxrss / 1024, 1),
    }


def run_length(minutes: float, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    work = root / f"{minutes:g}min"
    work.mkdir(parents=True)
    media = work / f"long-{minutes:g}min.mp4"
    print(f"generating a {minutes:g}-minute input ...", file=sys.stderr, flush=True)
    generated = make_long_input(media, minutes, args.speech_every, work)
    from dubbing.stages.plan import apply_overrides

    job = make_job(media, [args.to], "en", apply_overrides({}, args.backend), name=f"long-{minutes:g}")
    job_file = work / "job.json"
    job_file.write_text(json.dumps(job.model_dump(mode="json", exclude_none=True)), encoding="utf-8")
    env = {**os.environ, "DUBBING_DEVICE": os.environ.get("DUBBING_DEVICE", "cpu"), "PYTHONUNBUFFERED": "1"}
    stages: list[dict[str, Any]] = []
    for stage in STAGES:
        termination = work / f"{stage}.termination.json"
        command = [
            sys.executable, "-m", "dubbing.cli", "stage", stage, "--job-file", str(job_file),
            "--artifacts", (work / "store").as_uri(), "--input", str(media), "--work-dir", str(work / f"work-{stage}"),
            "--termination-message-path", str(termination),
        ]  # fmt: skip
        row = run_measured(command, env, work / f"{stage}.log")
        summary = json.loads(termination.read_text(encoding="utf-8")) if termination.is_file() else {}
        row = {"stage": stage, "backend": summary.get("backend"), **row}
        stages.append(row)
        print(
            f"  {stage:<9} {row['seconds']:>8.1f} s  peak {row['peakTreeRssMiB']:>8.1f} MiB  exit {row['exitCode']}",
            file=sys.stderr,
            flush=True,
        )
        shutil.rmtree(work / f"work-{stage}", ignore_errors=True)
        if row["exitCode"] != 0:
            row["log"] = (work / f"{stage}.log").read_text(errors="replace")[-3000:]
            break
    return {"minutes": minutes, "input": {**generated, "bytes": media.stat().st_size}, "stages": stages}


def ratios(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per stage: the longest run's peak over the shortest run's (tree RSS)."""
    if len(runs) < 2:
        return []
    short, long = min(runs, key=lambda r: r["minutes"]), max(runs, key=lambda r: r["minutes"])
    base = {row["stage"]: row for row in short["stages"]}
    rows = []
    for row in long["stages"]:
        other = base.get(row["stage"])
        if other and other["peakTreeRssMiB"]:
            rows.append(
                {
                    "stage": row["stage"],
                    "shortMiB": other["peakTreeRssMiB"],
                    "longMiB": row["peakTreeRssMiB"],
                    "ratio": round(row["peakTreeRssMiB"] / other["peakTreeRssMiB"], 2),
                }
            )
    return rows


def table(result: dict[str, Any]) -> str:
    runs = result["runs"]
    lines = ["| stage | backend | " + " | ".join(f"{r['minutes']:g} min: peak MiB / s" for r in runs) + " |"]
    lines.append("|---|---|" + "---|" * len(runs))
    for index, stage in enumerate(STAGES):
        cells = []
        backend = ""
        for run in runs:
            row = run["stages"][index] if index < len(run["stages"]) else None
            if row is None:
                cells.append("not run")
                continue
            backend = backend or str(row.get("backend") or "")
            failed = "" if row["exitCode"] == 0 else f" (exit {row['exitCode']})"
            cells.append(f"{row['peakTreeRssMiB']:.0f} / {row['seconds']:.1f}{failed}")
        lines.append(f"| {stage} | {backend} | " + " | ".join(cells) + " |")
    if result["ratios"]:
        lines += ["", "| stage | long / short peak |", "|---|---|"]
        lines += [f"| {r['stage']} | {r['ratio']:.2f} |" for r in result["ratios"]]
    return "\n".join(lines)


def svg(result: dict[str, Any]) -> str:
    """Grouped bars: each stage's peak tree RSS per input length."""
    runs = result["runs"]
    colours = ["#4a7ab5", "#d9822b", "#5a9e5a", "#9b59b6"]
    peak = max((row["peakTreeRssMiB"] for run in runs for row in run["stages"]), default=1.0) or 1.0
    width, height, left, bottom = 760, 320, 60, 40
    group = (width - left - 20) / len(STAGES)
    bar = group * 0.8 / max(1, len(runs))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif">']
    parts.append(f'<text x="{left}" y="16" font-size="13">peak RSS per stage (MiB), process tree</text>')
    for index, stage in enumerate(STAGES):
        x0 = left + index * group
        parts.append(
            f'<text x="{x0 + group / 2:.1f}" y="{height - bottom + 16}" font-size="11" text-anchor="middle">{escape(stage)}</text>'
        )
        for number, run in enumerate(runs):
            if index >= len(run["stages"]):
                continue
            value = run["stages"][index]["peakTreeRssMiB"]
            h = (height - bottom - 30) * value / peak
            x = x0 + group * 0.1 + number * bar
            parts.append(
                f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colours[number % 4]}"/>'
            )
    for number, run in enumerate(runs):
        parts.append(
            f'<rect x="{width - 150}" y="{24 + 16 * number}" width="10" height="10" fill="{colours[number % 4]}"/>'
            f'<text x="{width - 135}" y="{33 + 16 * number}" font-size="11">{run["minutes"]:g} min input</text>'
        )
    parts.append(f'<text x="4" y="{height - bottom}" font-size="10">0</text>')
    parts.append(f'<text x="4" y="40" font-size="10">{peak:.0f}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="bench-results", help="directory for long-input.json/.md/.svg")
    parser.add_argument("--minutes", type=float, action="append", default=[], help="input length (repeatable)")
    parser.add_argument("--speech-every", type=float, default=60.0, help="one sentence every this many seconds")
    parser.add_argument("--to", default="pt-BR", help="target language")
    parser.add_argument("--backend", action="append", default=[], metavar="STAGE=NAME")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    minutes = sorted(args.minutes or [5.0, 60.0])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="dubbing-long-"))
    try:
        runs = [run_length(m, args, root) for m in minutes]
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    result = {
        "benchmark": "long-input",
        "speechEverySeconds": args.speech_every,
        "targetLanguage": args.to,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "runs": runs,
        "ratios": ratios(runs),
    }
    (out / "long-input.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    text = table(result)
    (out / "long-input.md").write_text(text + "\n", encoding="utf-8")
    (out / "long-input.svg").write_text(svg(result), encoding="utf-8")
    print(text)
    ok = all(row["exitCode"] == 0 for run in runs for row in run["stages"]) and all(
        len(run["stages"]) == len(STAGES) for run in runs
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
