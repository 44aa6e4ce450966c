"""Gate: cancel a job while its final stage is writing the final output to MinIO.

The job's stages before ``mux`` are the stand-in stage program; ``mux`` is
tests/e2e/gate_stage.py, which writes ``<outputs prefix>/<lang>/dubbed.mp4`` through
the project's MinIO store from a slow stream (real MinIO, the suite's).  A control job
lets the same write finish (the object appears, full size).  The cancelled job must
show: the stage process got SIGTERM (it journals the signal), the job is Cancelled
within a few seconds, no Pod of it is left running, and nothing is under its outputs
prefix.  (The real ``mux`` stage writes into its own cache first and publishes to the
outputs prefix by a server-side copy once the file is complete; an S3 PUT is only
visible once complete — this gate checks that second guarantee on a live cancel.)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dubbing.api.v1alpha1 import STAGES

from . import common as c

pytestmark = [pytest.mark.cluster, pytest.mark.minio, pytest.mark.slow]

BUCKET = "dubbing"
GATE_STAGE = Path(__file__).with_name("gate_stage.py")


def test_cancel_midrun(gate: c.Gate, cluster: c.KubeCluster, minio_server: Any) -> None:
    kube = cluster
    endpoint, access, secret = minio_server.endpoint, minio_server.access_key, minio_server.secret_key
    s3 = minio_server.client()
    if not s3.bucket_exists(BUCKET):
        s3.make_bucket(BUCKET)
    with c.namespace(kube, "gate-cancel") as ns:
        c.s3_secret(kube, ns, access, secret)
        plans = c.plan_dir()
        env = {
            **c.fake_stage_env(plans),
            "DUBBING_STAGE_COMMAND": json.dumps([sys.executable, str(GATE_STAGE), "{stage}", str(plans)]),
            "DUBBING_STAGE_GPUS": ",".join(f"{s}=0" for s in STAGES),
            "DUBBING_MAX_RUNNING_JOBS_PER_USER": "2",
            "DUBBING_ARTIFACTS_URL": f"s3://{BUCKET}",
            "DUBBING_S3_ENDPOINT": endpoint,
            "DUBBING_S3_SECURE": "false",
            "DUBBING_STAGE_GRACE_SECONDS": "20",
        }
        log = plans / "operator.log"
        gate.logs.append(log)
        op = c.start_operator(kube, ns, env, log)
        try:
            quick = {"default": {"sleep": 0.2}}
            c.apply(
                kube,
                c.job_manifest("control", ns, owner="a"),
                plans,
                {**quick, "mux": {"bytes": 8 << 20, "seconds": 3}},
            )
            c.apply(
                kube,
                c.job_manifest("cancel-me", ns, owner="b"),
                plans,
                {**quick, "mux": {"bytes": 256 << 20, "seconds": 120}},
            )

            def uploading() -> bool:
                return any(s == "mux" and w == "start" for s, w, _, _ in c.journal(plans, ns, "cancel-me"))

            c.wait_for("cancel-me's mux to start its upload", uploading, 180, every=0.3)
            time.sleep(4)  # well into the upload
            c.check(c.phase(kube, ns, "cancel-me") == "Running", "the job is not running at cancel time")
            t_cancel = time.monotonic()
            kube.kubectl("patch", "dj", "cancel-me", "-n", ns, "--type=merge", "-p", '{"spec":{"cancel":true}}')
            job = c.wait_phase(kube, ns, "cancel-me", ("Cancelled", "Failed", "Succeeded"), 60)
            gate.summary["cancel_to_cancelled_s"] = round(time.monotonic() - t_cancel, 2)
            control = c.wait_phase(kube, ns, "control", ("Cancelled", "Failed", "Succeeded"), 180)
        finally:
            op.stop()

        st = job["status"]
        gate.summary["phase"] = st["phase"]
        c.check(st["phase"] == "Cancelled", f"cancel-me ended {st['phase']}: {st.get('message')}")
        c.check(gate.summary["cancel_to_cancelled_s"] <= 15, "Cancelled took more than 15 s")
        entries = c.journal(plans, ns, "cancel-me")
        sig = [e for e in entries if e[0] == "mux" and e[1] == "sigterm"]
        gate.summary["sigterm_recorded"] = bool(sig)
        c.check(bool(sig), f"the mux process recorded no SIGTERM: {entries}")
        c.check(not any(e[0] == "mux" and e[1] == "end" for e in entries), "the mux upload finished despite the cancel")
        left = [
            p["metadata"]["name"]
            for p in c.pods(kube, ns, "cancel-me")
            if p["status"].get("phase") in ("Pending", "Running")
        ]
        gate.summary["pods_left_running"] = left
        c.check(not left, f"Pods left running: {left}")
        mux = next(s for s in st["stages"] if s["name"] == "mux")
        c.check(mux["phase"] == "Cancelled", f"mux stage is {mux['phase']}")

        prefix = f"jobs/{ns}/cancel-me/outputs/"
        objs = [o.object_name for o in s3.list_objects(BUCKET, prefix=prefix, recursive=True)]
        gate.summary["objects_under_cancelled_outputs"] = objs
        c.check(not objs, f"objects under {prefix} after the cancel: {objs}")

        c.check(control["status"]["phase"] == "Succeeded", f"control ended {control['status']['phase']}")
        key = f"jobs/{ns}/control/outputs/es/dubbed.mp4"
        size = s3.stat_object(BUCKET, key).size
        gate.summary["control_object_bytes"] = size
        c.check(size == 8 << 20, f"control output has {size} bytes")
        for o in list(s3.list_objects(BUCKET, prefix=f"jobs/{ns}/", recursive=True)):
            s3.remove_object(BUCKET, o.object_name)
