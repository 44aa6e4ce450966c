"""Benchmark of the operator's control loop on the development cluster.

Stages are the stand-in stage program (``devcluster/devcluster/workloads/fake_stage.py``
with ``sleep: 0``: they end at once), so what is measured is the loop itself:

* job created -> its first stage Pod created (p50, p95);
* a stage process ending -> the next stage's Pod created (p50, p95);
* stage transitions per second with N jobs submitted at once;
* the operator's resident memory (peak, end) and CPU seconds at each size.

The jobs run on extra development kubelets started for the run (``--gpu-nodes``,
labelled with a pool of their own; every stage Pod selects that pool), so the
cluster's own nodes and other users' Pods are left alone.  Pod creation times are
when a watch first saw the Pod; stage ends come from the workload's journal (both
sub-second wall-clock times on this machine).

    python -m bench.operator_loop --jobs 100 --jobs 300 --jobs 1000 [--gpu-nodes N] [--out bench-results]

Results: ``<out>/operator-<N>.json`` per size and ``<out>/operator.md`` (a table).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devcluster.ports import free_port
from devcluster.workloads import FAKE_STAGE
from devcluster.workloads import plan_dir as make_plan_dir

REPO = Path(__file__).resolve().parents[1]
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


def transition_latencies(
    stages: list[str], journal: dict[str, dict[str, float]], pod_added: dict[str, float]
) -> list[float]:
    """Seconds from each stage's process end to the next stage's Pod being seen (``pod_added`` by stage)."""
    lat = []
    for a, b in zip(stages, stages[1:], strict=False):
        end = journal.get(a, {}).get("end")
        added = pod_added.get(b)
        if end is not None and added is not None:
            lat.append(added - end)
    return lat


def default_gpu_nodes(n_jobs: int) -> int:
    """One simulated GPU node per 50 concurrent jobs, at least 4 (a development node runs up to 110 Pods)."""
    return max(4, math.ceil(n_jobs / 50))


def result_name(n_jobs: int, max_running: int = 0) -> str:
    """Result file of one size: ``operator-N.json``, or ``operator-N-queueK.json`` when only K of N run at a time."""
    return f"operator-{n_jobs}-queue{max_running}.json" if 0 < max_running < n_jobs else f"operator-{n_jobs}.json"


def _1(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| jobs | GPU nodes | create->1st Pod p50 / p95 (s) | Pod end->next Pod p50 / p95 (s) | "
            "transitions/s | wall (s) | operator RSS ready / peak / end (MiB) | RSS growth per job (KiB) | "
            "operator CPU (s) | CPU per transition (ms) | status writes per job |")  # fmt: skip
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        f, t, o = r["create_to_first_pod_seconds"], r["pod_end_to_next_pod_seconds"], r["operator"]
        per = o.get("cpu_seconds_per_transition")
        jobs = (
            f"{r['jobs']} (<= {r['max_running']} running)" if r.get("max_running", r["jobs"]) < r["jobs"] else r["jobs"]
        )
        lines.append(
            f"| {jobs} | {r['gpu_nodes']} | {_1(f['p50'])} / {_1(f['p95'])} | {_1(t['p50'])} / {_1(t['p95'])} | "
            f"{r['transitions_per_second']} | {r['wall_seconds']} | {o.get('rss_ready_mib')} / {o['rss_peak_mib']} / "
            f"{o['rss_end_mib']} | {o.get('rss_growth_kib_per_job')} | {o['cpu_seconds']} | "
            f"{round(per * 1000, 1) if per is not None else None} | "
            f"{r.get('operator_work', {}).get('status_writes_per_job')} |"
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
    return rss_kib / 1024.0, cpu_seconds(pid)


def cpu_seconds(pid: int | str) -> float:
    """User + system CPU seconds a process has used, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


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


class Watcher:
    """A watch over one namespace's objects that resumes where it left off.

    Records when each object was first seen and the latest of each object (as a dict).
    """

    def __init__(self, list_fn, *args: str) -> None:
        self.added: dict[str, float] = {}
        self.latest: dict[str, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(list_fn, args), daemon=True)
        self._thread.start()

    def _run(self, list_fn, args: tuple[str, ...]) -> None:
        from kubernetes import watch

        version: str | None = None
        while not self._stop.is_set():
            w = watch.Watch()
            try:
                kwargs: dict[str, Any] = {"timeout_seconds": 30}
                if version:
                    kwargs["resource_version"] = version
                for ev in w.stream(list_fn, *args, **kwargs):
                    obj = ev["object"]
                    if not isinstance(obj, dict):
                        obj = obj.to_dict()
                        meta = obj["metadata"]
                        name, rv = meta["name"], meta["resource_version"]
                    else:
                        name, rv = obj["metadata"]["name"], obj["metadata"]["resourceVersion"]
                    if name not in self.added:
                        self.added[name] = time.time()
                    self.latest[name] = obj
                    version = rv
                    if self._stop.is_set():
                        return
            except Exception:  # noqa: BLE001 - expired resourceVersion or a dropped stream: list again
                version = None
                time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()


def operator_counts(port: int) -> dict[str, Any]:
    """Reconciles and API calls so far, from the operator's /metrics."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    calls: dict[str, int] = {}
    pod_reads: dict[str, int] = {}
    reconciles = 0
    for line in text.splitlines():
        if line.startswith("dubbing_api_calls_total{"):
            call = line.split('call="', 1)[1].split('"', 1)[0]
            calls[call] = int(float(line.rsplit(" ", 1)[1]))
        elif line.startswith("dubbing_pod_reads_total{"):
            source = line.split('source="', 1)[1].split('"', 1)[0]
            pod_reads[source] = int(float(line.rsplit(" ", 1)[1]))
        elif line.startswith("dubbing_reconcile_seconds_count "):
            reconciles = int(float(line.rsplit(" ", 1)[1]))
    return {
        "reconciles": reconciles,
        "pod_reads": dict(sorted(pod_reads.items())),  # a job's Pods from the watch cache, or by a LIST
        "api_calls": dict(sorted(calls.items())),
        "api_calls_total": sum(calls.values()),
    }


def wait_operator_synced(port: int, proc: subprocess.Popen, timeout: float = 120) -> float:
    """Seconds until the operator's ``dubbing_operator_synced`` metric says 1 (its first full list is done)."""
    import urllib.request

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"the operator exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
                if any(line.strip() == "dubbing_operator_synced 1.0" for line in resp.read().decode().splitlines()):
                    return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the operator was not ready after {timeout:.0f} s")


def kubectl(kubeconfig: Path, *args: str, input: str | None = None, check: bool = True) -> str:
    from devcluster import build

    binary = str(build.kubectl_binary() or "kubectl")
    proc = subprocess.run([binary, f"--kubeconfig={kubeconfig}", *args], input=input, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {proc.stderr}")
    return proc.stdout


def start_nodes_and_namespace(kubeconfig: Path, namespace: str, nodes: list[Any], cfg: Any) -> None:
    """Start the benchmark's development kubelets, wait for them to be Ready, and create the
    namespace with the S3 Secret the stage Pods name; returns once its default ServiceAccount exists."""
    from devcluster import cluster

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


def run_size(n_jobs: int, gpu_nodes: int, kubeconfig: Path, timeout: float, max_running: int = 0) -> dict[str, Any]:
    """Run ``n_jobs`` at once; ``max_running`` > 0 admits only that many at a time (the rest wait in the queue)."""
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
        NodeSpec(
            f"dev-{pool}-{i}",
            free_port(),
            per_node_gpus,
            cpu="256",
            memory="512Gi",
            labels=(GPU_LABEL, (POOL_LABEL, pool)),
        )  # fmt: skip
        for i in range(gpu_nodes)
    ]
    plan_dir = make_plan_dir("bench-op-")
    plan_dir.chmod(0o777)
    op_proc: subprocess.Popen | None = None
    watch: Watcher | None = None
    jobs_watch: Watcher | None = None
    try:
        start_nodes_and_namespace(kubeconfig, namespace, nodes, cfg)
        names = [f"b{i:04d}" for i in range(n_jobs)]
        for name in names:
            (plan_dir / f"{namespace}_{name}.json").write_text(json.dumps({"default": {"sleep": 0}}))
        metrics_port = free_port()
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "DUBBING_STAGE_COMMAND": json.dumps([sys.executable, str(FAKE_STAGE), "{stage}", str(plan_dir)]),
            "DUBBING_NODE_SELECTOR": json.dumps({POOL_LABEL: pool}),
            "DUBBING_MAX_RUNNING_GPU_JOBS": str(max_running or n_jobs),
            "DUBBING_MAX_RUNNING_JOBS_PER_USER": str(n_jobs),
            "DUBBING_METRICS_PORT": str(metrics_port),
            "DUBBING_RESYNC_SECONDS": "10",
        }
        log = open(plan_dir / "operator.log", "w")
        op_proc = subprocess.Popen(
            [sys.executable, "-m", "dubbing_operator", "--kubeconfig", str(kubeconfig), "--namespace", namespace],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip
        sampler = Sampler(op_proc.pid)
        sampler.start()
        ready_s = wait_operator_synced(metrics_port, op_proc)
        rss_ready, _ = proc_sample(op_proc.pid)
        watch = Watcher(core.list_namespaced_pod, namespace)
        jobs_watch = Watcher(custom.list_namespaced_custom_object, "dubbing.dev", "v1alpha1", namespace, "dubbingjobs")
        time.sleep(1)  # both watches are open
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
        growth: list[dict[str, float]] = []  # operator RSS and CPU as jobs finish
        while time.monotonic() < deadline:
            phases = {n: ((o.get("status") or {}).get("phase") or "") for n, o in list(jobs_watch.latest.items())}
            finished = sum(1 for n in names if phases.get(n) in ("Succeeded", "Failed", "Cancelled"))
            rss, cpu_now = sampler.last
            growth.append({"t": round(time.time() - t0, 1), "finished": finished, "rss_mib": round(rss, 1),
                           "cpu_s": round(cpu_now, 2)})  # fmt: skip
            if finished == len(names):
                break
            time.sleep(1.0)
        t_done = time.time()
        try:
            counts = operator_counts(metrics_port)
        except OSError as err:
            counts = {"error": str(err)}
        peak, rss_end, cpu = sampler.stop()
        watch.stop()
        jobs_watch.stop()
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
            "max_running": max_running or n_jobs,
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
            "operator": {
                "ready_seconds": round(ready_s, 2),
                "rss_ready_mib": round(rss_ready, 1),
                "rss_peak_mib": round(peak, 1),
                "rss_end_mib": round(rss_end, 1),
                "cpu_seconds": round(cpu, 2),
                "cpu_seconds_per_transition": round(cpu / completed_stages, 4) if completed_stages else None,
                "rss_growth_kib_per_job": round((peak - rss_ready) * 1024 / n_jobs, 1),
            },
            "operator_work": {
                **counts,
                "reconciles_per_transition": round(counts["reconciles"] / completed_stages, 2)
                if completed_stages and "reconciles" in counts
                else None,
                "api_calls_per_transition": round(counts["api_calls_total"] / completed_stages, 2)
                if completed_stages and "api_calls_total" in counts
                else None,
                # With a queue, each waiting job's place is written to its status as it moves up.
                "status_writes_per_job": round(
                    sum(v for k, v in counts.get("api_calls", {}).items() if k in ("patch_status", "replace_status"))
                    / n_jobs,
                    2,
                ),
            },
            "timeline": growth[:: max(1, len(growth) // 60)],
            "host": {"cpus": os.cpu_count(), "load_avg_1m_at_end": round(os.getloadavg()[0], 2)},
        }
    finally:
        for w in (watch, jobs_watch):
            if w is not None:
                w.stop()
        if op_proc is not None and op_proc.poll() is None:
            op_proc.send_signal(signal.SIGTERM)
            try:
                op_proc.wait(20)
            except subprocess.TimeoutExpired:
                op_proc.kill()
        # The operator is gone, so nobody will remove its finalizer from the jobs: do it here,
        # or the namespace would stay Terminating.
        from devcluster.namespaces import clear_job_finalizers_quietly

        clear_job_finalizers_quietly(custom, namespace)
        kubectl(kubeconfig, "delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)
        # Let the nodes' kubelets confirm the Pods' deletion, then stop them; the next size starts
        # only once the namespace is gone, so its clean-up does not load the API server meanwhile.
        gone_by = time.monotonic() + 600
        while (
            time.monotonic() < gone_by
            and kubectl(
                kubeconfig, "get", "pods", "-n", namespace, "--no-headers", "--ignore-not-found", check=False
            ).strip()
        ):
            time.sleep(2)
        for node in nodes:
            cluster.stop_kubelet(node.name, delete_node=True, cfg=cfg)
        while (
            time.monotonic() < gone_by
            and kubectl(
                kubeconfig, "get", "namespace", namespace, "--ignore-not-found", "-o", "name", check=False
            ).strip()
        ):
            time.sleep(2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--jobs", type=int, action="append", help="concurrent jobs (repeat for several sizes; default 20)"
    )
    parser.add_argument("--gpu-nodes", type=int, default=0,
                        help="extra simulated GPU nodes (default: one per 50 jobs, at least 4; a node runs 110 Pods)")  # fmt: skip
    parser.add_argument("--max-running", type=int, default=0,
                        help="admit at most this many jobs at a time, so the rest queue (default: all at once)")  # fmt: skip
    parser.add_argument("--kubeconfig", type=Path, default=REPO / ".devcluster" / "kubeconfig")
    parser.add_argument("--timeout", type=float, default=0,
                        help="seconds to wait for the jobs of one size (default: 900, or 3 per job if more)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=REPO / "bench-results")
    args = parser.parse_args(argv)
    # A SIGTERM (`python -m bench`'s timeout, Ctrl-C in a wrapper) still runs the clean-up of the current size.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from devcluster import cluster

    if not cluster.is_healthy(kubelets=False):
        print("the development cluster is not up: run `python -m devcluster up` first", file=sys.stderr)
        return 2
    kubectl(args.kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.jobs or [20]:
        nodes = args.gpu_nodes or default_gpu_nodes(n)
        print(f"operator bench: {n} jobs on {nodes} simulated GPU nodes ...", flush=True)
        result = run_size(n, nodes, args.kubeconfig, args.timeout or max(900.0, 3.0 * n), args.max_running)
        (args.out / result_name(n, args.max_running)).write_text(json.dumps(result, indent=2) + "\n")
        rows.append(result)
        print(json.dumps(result, indent=2), flush=True)
    md = args.out / ("operator-queue.md" if args.max_running else "operator.md")
    md.write_text("# Operator control loop (test stage workload, stages end at once)\n\n" + table(rows))
    print(table(rows))
    return 0 if all(r["succeeded"] == r["jobs"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
