"""Benchmark of the operator's control loop on the development cluster.

Stages are the test workload (``tests/operator/fake_stage.py`` with ``sleep: 0``: they
end at once), so what is measured is the loop itself:

* job created -> its first stage Pod created (p50, p95);
* a stage process ending -> the next stage's Pod created (p50, p95);
* stage transitions per second with N jobs submitted at once;
* the operator's resident memory (peak, end) and CPU seconds at each size.

The jobs run on extra development kubelets started for the run (``--gpu-nodes``,
labelled with a pool of their own; every stage Pod selects that pool), so the
cluster's own nodes and other users' Pods are left alone.  Pod creation times are
when a watch first saw the Pod; stage ends come from the workload's journal (both
sub-second wall-clock times on this machine).

    python scripts/bench_operator.py --jobs 20 --jobs 100 [--gpu-nodes 4] [--out bench-results]

Results: ``<out>/operator-<N>.json`` per size and ``<out>/operator.md`` (a table).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FAKE_STAGE = REPO / "tests" / "operator" / "fake_stage.py"
POOL_LABEL = "dubbing.dev/pool"
STAGE_COUNT = 8


# ----------------------------------------------------------------------------- pure helpers


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def summarize(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 4) if values else None,
        "p95": round(percentile(values, 95), 4) if values else None,
        "max": round(max(values), 4) if values else None,
        "mean": round(statistics.fmean(values), 4) if values else None,
    }


def parse_journal(text: str) -> dict[str, dict[str, float]]:
    """``stage what pid time`` lines -> {stage: {"start": t, "end": t}} (first start, last end)."""
    out: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 4:
            continue
        stage, what, _, when = parts
        slot = out.setdefault(stage, {})
        if what == "start":
            slot.setdefault("start", float(when))
        elif what == "end":
            slot["end"] = float(when)
    return out


def transition_latencies(stages: list[str], journal: dict[str, dict[str, float]], pod_added: dict[str, float]) -> list[float]:
    """Seconds from each stage's process end to the next stage's Pod being seen (``pod_added`` by stage)."""
    lat = []
    for a, b in zip(stages, stages[1:]):
        end = journal.get(a, {}).get("end")
        added = pod_added.get(b)
        if end is not None and added is not None:
            lat.append(added - end)
    return lat


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| jobs | GPU nodes | create->1st Pod p50 / p95 (s) | Pod end->next Pod p50 / p95 (s) | "
            "transitions/s | wall (s) | operator RSS peak / end (MiB) | operator CPU (s) |")  # fmt: skip
    lines = [head, "|" + "---|" * 8]
    for r in rows:
        f, t = r["create_to_first_pod_seconds"], r["pod_end_to_next_pod_seconds"]
        lines.append(
            f"| {r['jobs']} | {r['gpu_nodes']} | {f['p50']} / {f['p95']} | {t['p50']} / {t['p95']} | "
            f"{r['transitions_per_second']} | {r['wall_seconds']} | {r['operator']['rss_peak_mib']} / "
            f"{r['operator']['rss_end_mib']} | {r['operator']['cpu_seconds']} |"
        )
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- process sampling


def proc_sample(pid: int) -> tuple[float, float]:
    """(RSS MiB, user+system CPU seconds) of a process, from /proc."""
    rss_kib = 0
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss_kib = int(line.split()[1])
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return rss_kib / 1024.0, cpu


@dataclass
class Sampler:
    pid: int
    peak_rss: float = 0.0
    last: tuple[float, float] = (0.0, 0.0)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.last = proc_sample(self.pid)
                self.peak_rss = max(self.peak_rss, self.last[0])
            except OSError:
                return
            time.sleep(0.25)

    def stop(self) -> tuple[float, float, float]:
        self._stop.set()
        try:
            self.last = proc_sample(self.pid)
        except OSError:
            pass
        return self.peak_rss, self.last[0], self.last[1]


# ----------------------------------------------------------------------------- cluster plumbing


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PodWatch:
    """When each Pod of a namespace was first seen (watch ADDED)."""

    def __init__(self, core, namespace: str) -> None:
        self.added: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(core, namespace), daemon=True)
        self._thread.start()

    def _run(self, core, namespace: str) -> None:
        from kubernetes import watch

        while not self._stop.is_set():
            try:
                for ev in watch.Watch().stream(core.list_namespaced_pod, namespace, timeout_seconds=5):
                    name = ev["object"].metadata.name
                    if name not in self.added:
                        self.added[name] = time.time()
            except Exception:  # noqa: BLE001 - reconnect
                time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()


def kubectl(kubeconfig: Path, *args: str, input: str | None = None, check: bool = True) -> str:
    from devcluster import build

    binary = str(build.kubectl_binary() or "kubectl")
    proc = subprocess.run([binary, f"--kubeconfig={kubeconfig}", *args], input=input, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {proc.stderr}")
    return proc.stdout


def run_size(n_jobs: int, gpu_nodes: int, kubeconfig: Path, timeout: float) -> dict[str, Any]:
    from kubernetes import client, config

    from devcluster import cluster
    from devcluster.config import GPU_LABEL, ClusterConfig, NodeSpec
    from dubbing.api.v1alpha1 import STAGES

    api = config.new_client_from_config(config_file=str(kubeconfig))
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    cfg = ClusterConfig.from_env()
    pool = f"bench-{secrets.token_hex(3)}"
    namespace = pool
    per_node_gpus = math.ceil(n_jobs / gpu_nodes) + 1
    nodes = [
        NodeSpec(f"dev-{pool}-{i}", free_port(), per_node_gpus, cpu="256", memory="512Gi",
                 labels=(GPU_LABEL, (POOL_LABEL, pool)))  # fmt: skip
        for i in range(gpu_nodes)
    ]
    plan_dir = Path(tempfile.mkdtemp(prefix="bench-op-", dir="/var/tmp"))
    plan_dir.chmod(0o777)
    op_proc: subprocess.Popen | None = None
    watch: PodWatch | None = None
    try:
        for node in nodes:
            cluster.start_kubelet(node, cfg=cfg, wait_ready=False)
        for node in nodes:
            cluster.wait_node_ready(node.name, cfg=cfg, timeout=120)
        kubectl(kubeconfig, "create", "namespace", namespace)
        kubectl(kubeconfig, "create", "secret", "generic", "dubbing-s3", "-n", namespace,
                "--from-literal=accessKey=bench", "--from-literal=secretKey=bench")  # fmt: skip
        deadline = time.monotonic() + 30
        while kubectl(kubeconfig, "get", "serviceaccount", "default", "-n", namespace, check=False) == "":
            if time.monotonic() > deadline:
                raise RuntimeError("namespace has no default ServiceAccount")
            time.sleep(0.2)
        names = [f"b{i:04d}" for i in range(n_jobs)]
        for name in names:
            (plan_dir / f"{namespace}_{name}.json").write_text(json.dumps({"default": {"sleep": 0}}))
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "DUBBING_STAGE_COMMAND": json.dumps([sys.executable, str(FAKE_STAGE), "{stage}", str(plan_dir)]),
            "DUBBING_NODE_SELECTOR": json.dumps({POOL_LABEL: pool}),
            "DUBBING_MAX_RUNNING_GPU_JOBS": str(n_jobs),
            "DUBBING_MAX_RUNNING_JOBS_PER_USER": str(n_jobs),
            "DUBBING_METRICS_PORT": str(free_port()),
            "DUBBING_RESYNC_SECONDS": "10",
        }
        log = open(plan_dir / "operator.log", "w")
        op_proc = subprocess.Popen(
            [sys.executable, "-m", "dubbing_operator", "--kubeconfig", str(kubeconfig), "--namespace", namespace],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip
        sampler = Sampler(op_proc.pid)
        sampler.start()
        time.sleep(3)  # the operator lists once before it admits anything
        watch = PodWatch(core, namespace)
        created: dict[str, float] = {}
        for name in names:
            body = {
                "apiVersion": "dubbing.dev/v1alpha1", "kind": "DubbingJob",
                "metadata": {"name": name, "namespace": namespace, "labels": {"dubbing.dev/owner": "bench"}},
                "spec": {"input": {"bucket": "media", "key": "in.mp4"}, "targetLanguages": ["es"]},
            }  # fmt: skip
            created[name] = time.time()
            custom.create_namespaced_custom_object("dubbing.dev", "v1alpha1", namespace, "dubbingjobs", body)
        t0 = min(created.values())
        phases: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            items = custom.list_namespaced_custom_object("dubbing.dev", "v1alpha1", namespace, "dubbingjobs")["items"]
            phases = {i["metadata"]["name"]: (i.get("status") or {}).get("phase", "") for i in items}
            if all(phases.get(n) in ("Succeeded", "Failed", "Cancelled") for n in names):
                break
            time.sleep(0.5)
        t_done = time.time()
        peak, rss_end, cpu = sampler.stop()
        watch.stop()
        first_pod, transitions, ends = [], [], []
        for name in names:
            journal_file = plan_dir / f"{namespace}_{name}.log"
            journal = parse_journal(journal_file.read_text()) if journal_file.exists() else {}
            added = {s: watch.added[f"{name}-{s}-1"] for s in STAGES if f"{name}-{s}-1" in watch.added}
            if "extract" in added:
                first_pod.append(added["extract"] - created[name])
            transitions += transition_latencies(list(STAGES), journal, added)
            ends += [v["end"] for v in journal.values() if "end" in v]
        last_end = max(ends) if ends else t_done
        done = sum(1 for n in names if phases.get(n) == "Succeeded")
        completed_stages = len(ends)
        return {
            "jobs": n_jobs,
            "gpu_nodes": gpu_nodes,
            "gpus_per_node": per_node_gpus,
            "stages_per_job": len(STAGES),
            "succeeded": done,
            "not_finished": sorted(n for n in names if phases.get(n) not in ("Succeeded", "Failed", "Cancelled")),
            "create_to_first_pod_seconds": summarize(first_pod),
            "pod_end_to_next_pod_seconds": summarize(transitions),
            "completed_stages": completed_stages,
            "wall_seconds": round(last_end - t0, 2),
            "transitions_per_second": round(completed_stages / (last_end - t0), 2) if last_end > t0 else None,
            "operator": {"rss_peak_mib": round(peak, 1), "rss_end_mib": round(rss_end, 1), "cpu_seconds": round(cpu, 2)},
            "host": {"cpus": os.cpu_count(), "load_avg_1m_at_end": round(os.getloadavg()[0], 2)},
        }
    finally:
        if watch is not None:
            watch.stop()
        if op_proc is not None and op_proc.poll() is None:
            op_proc.send_signal(signal.SIGTERM)
            try:
                op_proc.wait(20)
            except subprocess.TimeoutExpired:
                op_proc.kill()
        kubectl(kubeconfig, "delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)
        for node in nodes:
            cluster.stop_kubelet(node.name, delete_node=True, cfg=cfg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, action="append", help="concurrent jobs (repeat for several sizes; default 20)")
    parser.add_argument("--gpu-nodes", type=int, default=4, help="extra simulated GPU nodes (default 4)")
    parser.add_argument("--kubeconfig", type=Path, default=REPO / ".devcluster" / "kubeconfig")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the jobs of one size")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO / "scripts"))
    from devcluster import cluster

    if not cluster.is_healthy(kubelets=False):
        print("the development cluster is not up: run `python -m devcluster up` first", file=sys.stderr)
        return 2
    kubectl(args.kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.jobs or [20]:
        print(f"operator bench: {n} jobs on {args.gpu_nodes} simulated GPU nodes ...", flush=True)
        result = run_size(n, args.gpu_nodes, args.kubeconfig, args.timeout)
        (args.out / f"operator-{n}.json").write_text(json.dumps(result, indent=2) + "\n")
        rows.append(result)
        print(json.dumps(result, indent=2), flush=True)
    md = args.out / "operator.md"
    md.write_text("# Operator control loop (test stage workload, stages end at once)\n\n" + table(rows))
    print(table(rows))
    return 0 if all(r["succeeded"] == r["jobs"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
