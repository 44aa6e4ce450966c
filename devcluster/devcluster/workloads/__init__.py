"""Stand-in workloads for the development cluster's stage Pods.

``fake_stage.py`` stands in for ``dubbing stage <name>``: it produces no media and does what a
plan file says (sleep, fail, succeed), so tests and benchmarks can exercise the operator's control
loop. The operator runs it through ``DUBBING_STAGE_COMMAND`` (:func:`fake_stage_env`); the
development kubelet runs it as the container's process, by path (it needs only the standard library).
"""

from __future__ import annotations

import atexit
import json
import shutil
import sys
import tempfile
from pathlib import Path

FAKE_STAGE = Path(__file__).resolve().with_name("fake_stage.py")
_made: list[Path] = []


def plan_dir(prefix: str = "fake-stage-") -> Path:
    """A directory for plan files and journals that stage processes (another uid) can write.

    Not under /tmp: a stage Pod gets its own emptyDir there. Removed by :func:`remove_plan_dirs`,
    at the latest when the process that made it exits, so nothing stays on the host.
    """
    d = Path(tempfile.mkdtemp(prefix=prefix, dir="/var/tmp"))
    d.chmod(0o777)
    _made.append(d)
    return d


def remove_plan_dirs() -> None:
    """Remove every plan directory this process made."""
    while _made:
        shutil.rmtree(_made.pop(), ignore_errors=True)


atexit.register(remove_plan_dirs)


def fake_stage_env(plans: Path) -> dict[str, str]:
    """Operator settings for control-loop runs: the stand-in stage program, quick retries and resyncs."""
    return {
        "DUBBING_STAGE_COMMAND": json.dumps([sys.executable, str(FAKE_STAGE), "{stage}", str(plans)]),
        "DUBBING_BACKOFF_BASE_SECONDS": "1",
        "DUBBING_BACKOFF_FACTOR": "2",
        "DUBBING_STAGE_GRACE_SECONDS": "10",
        "DUBBING_RESYNC_SECONDS": "3",
    }


def journal(plans: Path, namespace: str, job: str) -> list[tuple[str, str, int, float]]:
    """fake_stage's journal of one job: (stage, what, pid, time) per line."""
    path = plans / f"{namespace}_{job}.log"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        stage, what, pid, t = line.split()
        out.append((stage, what, int(pid), float(t)))
    return out
