"""Gate: Redis down at start, up, then down again, while jobs are submitted through the web UI and kubectl.

The web UI (real app, real MinIO) and the operator (stand-in stage program) both point at
one ``redis-server`` that is down when they start.  In each of the three periods (down,
up, down) jobs are submitted right after the flip, before either component has noticed,
and again once both report the new mode: through the web UI's API (upload a small WAV,
complete, create the job) and through ``kubectl apply``.  Passes when no submission
failed, every job ends Succeeded, and both components flipped each time: the operator's
``dubbing_queue_backend`` gauge (apiserver → redis → apiserver) and the web UI's
``/readyz`` Redis field (degraded → ok → degraded, HTTP 200 throughout).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from dubbing.api.v1alpha1 import STAGES

from . import common as c
from . import web as w

pytestmark = [pytest.mark.cluster, pytest.mark.minio, pytest.mark.slow]

PERIODS = (("down", False), ("up", True), ("down-again", False))


def test_redis_flap(gate: c.Gate, cluster: c.KubeCluster, webui_s3: w.S3) -> None:
    w.need_redis()
    kube, s3 = cluster, webui_s3
    plans = c.plan_dir()
    media = plans / "clip.wav"
    w.make_wav(media, 200_044)
    with c.namespace(kube, "gate-redis") as ns, w.redis(plans, start=False) as rds:
        c.s3_secret(kube, ns, s3.access_key, s3.secret_key)
        with w.webui(kube, ns, s3, rds, plans / "webui") as ui:
            gate.logs.append(ui.log)
            env = {
                **c.fake_stage_env(plans),
                "DUBBING_STAGE_GPUS": ",".join(f"{s}=0" for s in STAGES),
                "DUBBING_MAX_RUNNING_JOBS_PER_USER": "3",
                "DUBBING_REDIS_URL": rds.url,
                "DUBBING_REDIS_PREFIX": f"gate-{ns}",
            }
            log = plans / "operator.log"
            gate.logs.append(log)
            op = c.start_operator(kube, ns, env, log)
            try:
                _run(gate, kube, ns, ui, rds, op, media)
            finally:
                op.stop()


def _modes(ui: w.WebUI, op: Any) -> tuple[str | None, str | None, int]:
    """(operator queue mode, web UI readyz redis field, readyz HTTP status)."""
    try:
        text = op.metrics()
    except OSError:
        text = ""
    mode = next(
        (m for m in ("redis", "apiserver") if w.metric_value(text, "dubbing_queue_backend", {"mode": m}) == 1.0), None
    )
    with ui.anonymous() as a:
        r = a.get("/readyz")
    return mode, r.json().get("redis"), r.status_code


def _run(gate: c.Gate, kube: Any, ns: str, ui: w.WebUI, rds: w.RedisServer, op: Any, media: Path) -> None:
    submitted: list[dict[str, Any]] = []
    failures: list[str] = []
    seen_op: list[str] = []
    seen_web: list[str] = []
    readyz_codes: set[int] = set()
    counter = iter(range(1000))

    def submit(period: str, when: str) -> None:
        # Through the web UI, as the upload page does it.
        try:
            with ui.client("alice") as cl:
                up = w.uploadclient.create(cl, media.name, media.stat().st_size)
                if up.status_code != 201:
                    raise RuntimeError(f"create upload {up.status_code} {up.text[:200]}")
                w.uploadclient.send(cl, media, up.json())
                done = cl.post(f"/api/uploads/{up.json()['id']}/complete")
                if done.status_code != 200:
                    raise RuntimeError(f"complete {done.status_code} {done.text[:200]}")
                job = cl.post("/api/jobs", json={"uploadId": up.json()["id"], "targetLanguages": ["es"]})
                if job.status_code != 201:
                    raise RuntimeError(f"create job {job.status_code} {job.text[:200]}")
                submitted.append({"name": job.json()["name"], "via": "webui", "period": period, "when": when})
        except Exception as err:  # noqa: BLE001 - counted as a failed submission
            failures.append(f"webui {period}/{when}: {type(err).__name__}: {err}")
        # Through kubectl.
        name = f"kubectl-{period}-{when}-{next(counter)}"
        try:
            c.apply(kube, c.job_manifest(name, ns, owner="carol"))
            submitted.append({"name": name, "via": "kubectl", "period": period, "when": when})
        except Exception as err:  # noqa: BLE001
            failures.append(f"kubectl {period}/{when}: {type(err).__name__}: {err}")

    flips: list[dict[str, Any]] = []
    for period, redis_up in PERIODS:
        if redis_up and rds.proc is None:
            rds.start()
        elif not redis_up and rds.proc is not None:
            rds.stop()
        t0 = time.monotonic()
        submit(period, "at-flip")
        want_op, want_web = ("redis", "ok") if redis_up else ("apiserver", "degraded")

        def flipped(want_op: str = want_op, want_web: str = want_web) -> bool:
            mode, web, code = _modes(ui, op)
            readyz_codes.add(code)
            return mode == want_op and web == want_web

        c.wait_for(f"operator mode {want_op} and web UI redis {want_web}", flipped, 45, every=0.5)
        mode, web, _ = _modes(ui, op)
        seen_op.append(mode or "none")
        seen_web.append(web or "none")
        flips.append({"period": period, "seconds_to_flip": round(time.monotonic() - t0, 1)})
        submit(period, "after-flip")

    gate.summary.update({"operator_modes": seen_op, "webui_redis": seen_web, "flips": flips})
    c.check(seen_op == ["apiserver", "redis", "apiserver"], f"operator modes {seen_op}")
    c.check(seen_web == ["degraded", "ok", "degraded"], f"web UI redis states {seen_web}")
    c.check(readyz_codes == {200}, f"/readyz answered {sorted(readyz_codes)} (must stay 200)")

    phases: dict[str, str] = {}
    deadline = time.monotonic() + 240
    for job in submitted:
        left = max(5.0, deadline - time.monotonic())
        done = c.wait_phase(kube, ns, job["name"], ("Succeeded", "Failed", "Cancelled"), left)
        phases[job["name"]] = done["status"]["phase"]
    gate.summary.update(
        {
            "submitted": len(submitted),
            "failed_submissions": failures,
            "jobs_by_via": {v: sum(1 for j in submitted if j["via"] == v) for v in ("webui", "kubectl")},
            "succeeded": sum(1 for p in phases.values() if p == "Succeeded"),
        }
    )
    c.check(not failures, f"failed submissions: {failures}")
    bad = {n: p for n, p in phases.items() if p != "Succeeded"}
    c.check(not bad, f"jobs not Succeeded: {bad}")
    # Every job ran each stage exactly once to success (nothing admitted twice across the flips).
    for job in submitted:
        pods = [p for p in c.pods(kube, ns, job["name"]) if p["status"].get("phase") == "Succeeded"]
        per_stage: dict[str, int] = {}
        for p in pods:
            stage = p["metadata"]["labels"].get("dubbing.dev/stage", "?")
            per_stage[stage] = per_stage.get(stage, 0) + 1
        c.check(
            all(per_stage.get(s) == 1 for s in STAGES),
            f"{job['name']}: successful Pods per stage {json.dumps(per_stage)}",
        )
    with ui.client("alice") as cl:
        listed = {j["name"] for j in cl.get("/api/jobs").json()}
    missing = [j["name"] for j in submitted if j["via"] == "webui" and j["name"] not in listed]
    c.check(not missing, f"web UI does not list its jobs: {missing}")
