"""Gate: SIGKILL the operator at random moments while 20 jobs run; every job completes,
exactly one successful Pod per stage (no duplicate Pods, no stage run twice), and one
ntfy message per job (the ntfy-protocol test server records them).

The stages are the stand-in stage program (devcluster.workloads.fake_stage): this is
about the control loop, not media.  The kill times come from a seeded RNG; the seed is
printed and in the summary (``DUBBING_GATE_SEED=<seed>`` repeats a run).
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from dubbing.api.v1alpha1 import STAGES
from tests.operator.ntfy_server import NtfyServer

from . import common as c

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

JOBS = 20
KILLS = 6  # SIGKILLs spread over the run
TIMEOUT = 300.0  # seconds for every job to end


def test_operator_restart_midrun(gate: c.Gate, cluster: c.KubeCluster) -> None:
    given = os.environ.get("DUBBING_GATE_SEED")
    seed = int(given) if given else random.SystemRandom().randrange(1 << 30)
    print(f"seed {seed}", flush=True)
    kube = cluster
    rng = random.Random(seed)
    gate.summary.update(seed=seed, jobs=JOBS)
    with c.namespace(kube, "gate-restart") as ns:
        c.s3_secret(kube, ns)
        plans = c.plan_dir()
        ntfy = NtfyServer(token="gate-token").start()
        env = {
            **c.fake_stage_env(plans),
            # control loop only: no stage holds a GPU, many jobs run at once
            "DUBBING_STAGE_GPUS": ",".join(f"{s}=0" for s in STAGES),
            "DUBBING_MAX_RUNNING_GPU_JOBS": str(JOBS),
            "DUBBING_MAX_RUNNING_JOBS_PER_USER": str(JOBS),
            "DUBBING_NTFY_URL": ntfy.url,
            "DUBBING_NTFY_TOKEN": "gate-token",
            "DUBBING_NTFY_DEFAULT_TOPIC": f"gate-{ns}",
        }
        log = Path(plans) / "operator.log"
        gate.logs.append(log)
        op = c.start_operator(kube, ns, env, log)
        names = [f"job-{i:02d}" for i in range(JOBS)]
        try:
            for i, name in enumerate(names):
                plan = {"default": {"sleep": round(rng.uniform(0.2, 1.5), 2)}}
                c.apply(kube, c.job_manifest(name, ns, owner=f"user-{i % 4}"), plans, plan)
            kills: list[float] = []
            t0 = time.monotonic()
            deadline = t0 + TIMEOUT
            while time.monotonic() < deadline:
                done = [n for n in names if c.phase(kube, ns, n) in ("Succeeded", "Failed", "Cancelled")]
                if len(done) == len(names):
                    break
                if len(kills) < KILLS:
                    time.sleep(rng.uniform(1.0, 6.0))
                    op.kill()
                    kills.append(round(time.monotonic() - t0, 2))
                    time.sleep(rng.uniform(0.0, 1.0))
                    op.start()
                else:
                    time.sleep(1.0)
            gate.summary["kill_times_s"] = kills
            # an operator restarted right after the last job ended must not notify again
            op.kill()
            op.start()
            time.sleep(8)
        finally:
            op.stop()
            ntfy.stop()

        phases = Counter(c.phase(kube, ns, n) for n in names)
        gate.summary["phases"] = dict(phases)
        c.check(phases.get("Succeeded") == len(names), f"not every job succeeded: {dict(phases)}")
        per_stage: Counter[tuple[str, str]] = Counter()
        all_pods = c.pods(kube, ns)
        for pod in all_pods:
            labels = pod["metadata"]["labels"]
            c.check(
                pod["status"].get("phase") in ("Succeeded", "Failed"),
                f"Pod {pod['metadata']['name']} left {pod['status'].get('phase')}",
            )
            if pod["status"].get("phase") == "Succeeded":
                per_stage[(labels["dubbing.dev/job"], labels["dubbing.dev/stage"])] += 1
        wrong = {f"{j}/{s}": n for (j, s), n in per_stage.items() if n != 1}
        missing = [f"{j}/{s}" for j in names for s in STAGES if (j, s) not in per_stage]
        c.check(not wrong and not missing, f"successful Pods per stage != 1: {wrong}, missing {missing}")
        # the stage processes: each (job, stage) started as often as it had Pods (no hidden duplicate run)
        starts = Counter((j, st) for j in names for (st, what, _, _) in c.journal(plans, ns, j) if what == "start")
        extra = {f"{j}/{s}": n for (j, s), n in starts.items() if n > 1}
        gate.summary["stage_pods"] = len(all_pods)
        gate.summary["stages_started_more_than_once"] = extra
        c.check(not extra, f"a stage process ran more than once: {extra}")
        msgs = Counter(tag for m in ntfy.messages() for tag in m.get("tags", []) if tag.startswith("dj-"))
        gate.summary["ntfy_messages"] = len(ntfy.messages())
        dup = {t: n for t, n in msgs.items() if n > 1}
        c.check(not dup, f"duplicate notifications: {dup}")
        c.check(len(msgs) == len(names), f"{len(msgs)} notified jobs, expected {len(names)}")
        starts_in_log = Path(log).read_text().count("Traceback")
        gate.summary["operator_tracebacks"] = starts_in_log
