"""Gate: bad inputs get a clear error, crash nothing and leave nothing behind (manifest and stage part).

Two tables, each a list of rows that is easy to extend:

* ``MANIFEST_ROWS``: malformed DubbingJob manifests (tests/cluster/test_crd.py's table
  plus a few more); each must be refused by the API server with a message naming the
  field, and no object may exist afterwards.
* ``RUNTIME_ROWS``: manifests that pass the schema but whose input is bad at run time (a
  key that is not in MinIO, a text file named .mp4, a video without audio, a zero-byte
  file).  The real ``dubbing stage`` runs in the stage Pods against a real MinIO; each
  job must end Failed at ``extract`` with a one-line reason in status (no traceback),
  after one attempt (permanent errors are not retried), with no Pod left running and
  nothing under its outputs prefix, and the operator must still be up.

The web UI / API rows live in test_bad_inputs_web.py; rows here are plain data.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.test_crd import INVALID, _set, _valid

from . import common as c

pytestmark = [pytest.mark.cluster, pytest.mark.minio, pytest.mark.slow]

MEDIA, ARTIFACTS = "media", "dubbing"


@dataclass(frozen=True)
class ManifestRow:
    case: str
    change: Callable[[dict[str, Any]], None]
    expected: tuple[str, ...]  # fragments the API server's refusal must contain (the field's path first)


@dataclass(frozen=True)
class RuntimeRow:
    case: str
    make: Callable[[Path], Path | None]  # writes the input file into a directory; None: upload nothing
    stage: str = "extract"  # where the job must fail


MANIFEST_ROWS: list[ManifestRow] = [ManifestRow(case, change, tuple(exp)) for case, change, exp in INVALID] + [
    ManifestRow("priority-too-high", _set("spec.priority", 101), ("spec.priority", "less than or equal to 100")),
    ManifestRow("negative-rerun", _set("spec.rerun", -1), ("spec.rerun", "greater than or equal to 0")),
    ManifestRow(
        "targets-not-a-list", _set("spec.targetLanguages", "es"), ("spec.targetLanguages", "must be of type array")
    ),
]


def _text_as_mp4(d: Path) -> Path:
    p = d / "notes.mp4"
    p.write_text("this is a text file, not a video\n" * 20)
    return p


def _zero_bytes(d: Path) -> Path:
    p = d / "empty.mp4"
    p.write_bytes(b"")
    return p


def _video_without_audio(d: Path) -> Path:
    p = d / "silent-video.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=2:size=160x120:rate=10",
                    "-an", "-pix_fmt", "yuv420p", str(p)], check=True)  # fmt: skip
    return p


RUNTIME_ROWS: list[RuntimeRow] = [
    RuntimeRow("missing-key", lambda d: None),
    RuntimeRow("text-named-mp4", _text_as_mp4),
    RuntimeRow("video-without-audio", _video_without_audio),
    RuntimeRow("zero-byte", _zero_bytes),
]


def check_manifests(kube, ns: str, rows: list[ManifestRow]) -> dict[str, str]:
    """Apply each; return case -> problem for the rows that did not behave (empty: all refused well)."""
    problems: dict[str, str] = {}
    for row in rows:
        doc = copy.deepcopy(_valid(f"bad-{row.case}"))
        row.change(doc)
        res = kube.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(doc), check=False)
        if res.returncode == 0:
            problems[row.case] = "accepted"
            continue
        missing = [f for f in row.expected if f not in res.stderr]
        if missing:
            problems[row.case] = f"refusal lacks {missing}: {res.stderr.strip()[:300]}"
        if kube.kubectl("get", "dj", f"bad-{row.case}", "-n", ns, check=False).returncode == 0:
            problems[row.case] = "object exists after a refused apply"
    return problems


def test_bad_inputs(gate: c.Gate, cluster: c.KubeCluster, minio_server: Any, tmp_path: Path) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (needed to make the video without audio and by the extract stage)")
    kube = cluster
    with c.namespace(kube, "gate-bad") as ns:
        problems = check_manifests(kube, ns, MANIFEST_ROWS)
        gate.summary["manifests"] = {"rows": len(MANIFEST_ROWS), "problems": problems}
        endpoint, access, secret = minio_server.endpoint, minio_server.access_key, minio_server.secret_key
        s3 = minio_server.client()
        for b in (MEDIA, ARTIFACTS):
            if not s3.bucket_exists(b):
                s3.make_bucket(b)
        c.s3_secret(kube, ns, access, secret)
        files = tmp_path  # pytest removes it with its other temporary directories
        env = {
            "DUBBING_STAGE_COMMAND": json.dumps([sys.executable, "-m", "dubbing.cli", "stage", "{stage}"]),
            "DUBBING_ARTIFACTS_URL": f"s3://{ARTIFACTS}",
            "DUBBING_S3_ENDPOINT": endpoint,
            "DUBBING_S3_SECURE": "false",
            "DUBBING_STAGE_GPU_DEVICE": "auto",
            "DUBBING_MAX_ATTEMPTS": "3",
            "DUBBING_BACKOFF_BASE_SECONDS": "1",
            "DUBBING_RESYNC_SECONDS": "3",
            "DUBBING_MAX_RUNNING_JOBS_PER_USER": str(len(RUNTIME_ROWS)),
        }
        log = files / "operator.log"
        gate.logs.append(log)
        op = c.start_operator(kube, ns, env, log)
        results: dict[str, dict[str, Any]] = {}
        try:
            for row in RUNTIME_ROWS:
                made = row.make(files)
                key = f"{ns}/{row.case}.mp4"
                if made is not None:
                    s3.fput_object(MEDIA, key, str(made))
                m = c.job_manifest(row.case, ns, owner="bad-inputs", input={"bucket": MEDIA, "key": key})
                c.apply(kube, m)
            for row in RUNTIME_ROWS:
                job = c.wait_phase(kube, ns, row.case, ("Succeeded", "Failed", "Cancelled"), 240)
                results[row.case] = {"job": job}
            time.sleep(4)  # a retry storm would show up as more Pods by now
            alive = op.proc is not None and op.proc.poll() is None
        finally:
            op.stop()
        gate.summary["operator_stayed_up"] = alive
        runtime: dict[str, Any] = {}
        for row in RUNTIME_ROWS:
            st = results[row.case]["job"]["status"]
            stages = {s["name"]: s for s in st.get("stages") or []}
            failed = stages.get(row.stage, {})
            job_pods = c.pods(kube, ns, row.case)
            outputs = list(s3.list_objects(ARTIFACTS, prefix=f"jobs/{ns}/{row.case}/outputs/", recursive=True))
            msg = st.get("message") or ""
            issues = []
            if st["phase"] != "Failed" or st.get("reason") != f"Stage{row.stage.capitalize()}Failed":
                issues.append(f"phase {st['phase']} reason {st.get('reason')}")
            if "\n" in msg or "Traceback" in msg or not msg:
                issues.append("message is not one line without a traceback")
            if failed.get("attempts") != 1 or len(job_pods) != 1:
                issues.append(f"retried: attempts {failed.get('attempts')}, {len(job_pods)} Pods")
            if any(p["status"].get("phase") in ("Pending", "Running") for p in job_pods):
                issues.append("a Pod is left running")
            if outputs:
                issues.append(f"outputs left: {[o.object_name for o in outputs]}")
            runtime[row.case] = {"reason": failed.get("reason"), "message": msg[:240], "issues": issues}
        gate.summary["runtime"] = runtime
        for o in list(s3.list_objects(ARTIFACTS, prefix=f"jobs/{ns}/", recursive=True)):
            s3.remove_object(ARTIFACTS, o.object_name)
        c.check(not problems, f"manifest rows misbehaved: {problems}")
        c.check(alive, "the operator exited")
        bad = {k: v["issues"] for k, v in runtime.items() if v["issues"]}
        c.check(not bad, f"runtime rows misbehaved: {bad}")
