"""A test workload standing in for ``dubbing stage <name>`` to exercise the operator's control loop.

It produces no media and claims none: it sleeps, fails or succeeds as a plan
file says, prints progress lines in the stage format and writes a JSON
termination message.  Plan: ``<plan-dir>/<namespace>_<job>.json`` =
``{"default": {...}, "<stage>": {"sleep": s, "fail_times": n, "exit": code}}`` (a job without its own
plan follows ``<plan-dir>/all-jobs.json`` when there is one).
Each start is appended to ``<plan-dir>/<namespace>_<job>.log`` (stage, pid, time),
and a SIGTERM is recorded there before exiting 143.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path


def main() -> int:
    stage, plan_dir = sys.argv[1], Path(sys.argv[2])
    job = json.loads(os.environ["DUBBING_JOB"])
    base = f"{job['metadata']['namespace']}_{job['metadata']['name']}"
    plan_file = plan_dir / f"{base}.json"
    if not plan_file.exists():
        plan_file = plan_dir / "all-jobs.json"  # a plan for every job without its own
    plan = json.loads(plan_file.read_text()) if plan_file.exists() else {}
    step = {**plan.get("default", {}), **plan.get(stage, {})}
    journal = plan_dir / f"{base}.log"

    def note(what: str) -> None:
        with journal.open("a") as f:
            f.write(f"{stage} {what} {os.getpid()} {time.time():.3f}\n")

    def on_term(signum, frame):
        note("sigterm")
        sys.exit(143)

    signal.signal(signal.SIGTERM, on_term)
    note("start")
    starts = sum(1 for line in journal.read_text().splitlines() if line.startswith(f"{stage} start "))
    sleep = float(step.get("sleep", 0.1))
    print(f"[{stage}] 0% starting", flush=True)
    time.sleep(sleep / 2)
    print(f"[{stage}] 50% halfway", flush=True)
    time.sleep(sleep / 2)
    failing = starts <= int(step.get("fail_times", 0))
    code = int(step.get("exit", 1)) if failing else 0
    last_line = f"[{stage}] 100% {'failed' if code else 'done'}"
    summary = {
        "stage": stage, "ok": code == 0, "cacheHit": False, "backend": "test", "model": None,
        "durationSeconds": sleep, "outputs": {}, "reason": "TestFailure" if code else None,
        "message": f"planned failure {starts}" if code else None, "lastLogLine": last_line,
    }  # fmt: skip
    Path(os.environ.get("DUBBING_TERMINATION_MESSAGE_PATH", "/dev/termination-log")).write_text(json.dumps(summary))
    print(last_line, flush=True)
    note("end")
    return code


if __name__ == "__main__":
    sys.exit(main())
