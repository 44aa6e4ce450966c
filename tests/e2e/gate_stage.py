"""Stage program of the cancel gate: the stand-in stage program for every stage but ``mux``,
and for ``mux`` a slow write of a final output through the project's MinIO store.

``mux`` publishes ``<outputs prefix>/<lang>/dubbed.mp4`` with ``MinioStore.put_stream``
(the same store and key layout the real stages use) from a stream that delivers the
plan's ``{"mux": {"bytes": n, "seconds": s}}`` (default 64 MiB over 60 s), so a cancel
lands in the middle of the upload.  Like fake_stage it journals start/sigterm/end to
``<plan-dir>/<namespace>_<job>.log``; SIGTERM ends it with 143.

The operator runs it by path (``DUBBING_STAGE_COMMAND``) with the suite's interpreter, where the
core and devcluster are installed.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import time
from pathlib import Path


class SlowStream(io.RawIOBase):
    """``total`` zero bytes, handed out at a steady rate over ``seconds``."""

    def __init__(self, total: int, seconds: float) -> None:
        self.total, self.sent, self.rate, self.t0 = total, 0, total / max(seconds, 0.1), time.monotonic()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.sent >= self.total:
            return b""
        size = self.total - self.sent if size is None or size < 0 else min(size, self.total - self.sent)
        due = self.t0 + (self.sent + size) / self.rate
        time.sleep(max(0.0, due - time.monotonic()))
        self.sent += size
        return b"\0" * size


def slow_mux(plan_dir: Path) -> int:
    from dubbing.artifacts.minio_store import MinioStore
    from dubbing.stages.layout import job_outputs_prefix

    job = json.loads(os.environ["DUBBING_JOB"])
    ns, name = job["metadata"]["namespace"], job["metadata"]["name"]
    journal = plan_dir / f"{ns}_{name}.log"

    def note(what: str) -> None:
        with journal.open("a") as f:
            f.write(f"mux {what} {os.getpid()} {time.time():.3f}\n")

    def on_term(signum, frame):
        note("sigterm")
        os._exit(143)  # at once, mid-upload: what an interrupted stage leaves is what is checked

    signal.signal(signal.SIGTERM, on_term)
    note("start")
    bucket = os.environ["DUBBING_ARTIFACTS"].removeprefix("s3://").split("/", 1)[0]
    store = MinioStore(bucket)
    lang = job["spec"]["targetLanguages"][0]
    key = f"{job_outputs_prefix(ns, name, lang)}/dubbed.mp4"
    plan_file = plan_dir / f"{ns}_{name}.json"
    step = (json.loads(plan_file.read_text()) if plan_file.exists() else {}).get("mux", {})
    total, seconds = int(step.get("bytes", 64 << 20)), float(step.get("seconds", 60))
    print("[mux] 10% uploading", flush=True)
    store.put_stream(key, SlowStream(total, seconds), total, "video/mp4")
    Path(os.environ.get("DUBBING_TERMINATION_MESSAGE_PATH", "/dev/termination-log")).write_text(
        json.dumps({"stage": "mux", "ok": True, "outputs": {lang: key}, "backend": "gate"})
    )
    note("end")
    return 0


def main() -> int:
    stage, plan_dir = sys.argv[1], Path(sys.argv[2])
    if stage == "mux":
        return slow_mux(plan_dir)
    from devcluster.workloads import fake_stage

    return fake_stage.main()


if __name__ == "__main__":
    sys.exit(main())
