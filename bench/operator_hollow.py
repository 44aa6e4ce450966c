"""The operator's own limit, apart from the machine: N concurrent jobs on hollow nodes.

Hollow development kubelets (``devcluster.kubelet_hollow``) run no process: each stage Pod
goes Running, then Succeeded after ``--stage-seconds`` with a stage's JSON summary, so the
real API server and the real operator carry thousands of jobs while the stages cost nothing.
The nodes advertise GPUs, CPU, memory and Pod slots enough for every job at once, so no
stage waits for room.  Measured per size:

* stage gap: a stage Pod seen Succeeded -> the job's next stage Pod seen created (p50/p95/max;
  both from one watch of the Pods, so its delay cancels out);
* job created -> its first stage Pod created;
* transitions per second (stage Pods that succeeded / wall time from the first job created
  to the last stage ended);
* the operator's API calls per transition, by call (its ``dubbing_api_calls_total`` from the
  moment it is ready to the end, over the transitions);
* the operator's resident memory (peak, sampled from /proc every 0.25 s) and CPU seconds.

    python -m bench.operator_hollow --jobs 1000 --jobs 5000 [--stage-seconds 2] [--nodes 4] [--out bench-results]

Results: ``<out>/hollow-<N>.json`` per size, ``<out>/hollow.md`` (a table) and ``<out>/hollow.svg``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.operator_loop import (
    Sampler,
    cpu_seconds,
    kubectl,
    operator_counts,
    proc_sample,
    start_nodes_and_namespace,
    summarize,
    wait_operator_synced,
)
from devcluster.ports import free_port

REPO = Path(__file__).resolve().parents[1]
POOL_LABEL = "dubbing.dev/pool"
STAGE_LABEL = "dubbing.dev/stage"
JOB_LABEL = "dubbing.dev/job"


# ----------------------------------------------------------------------------- pure helpers


def stage_gaps(stages: list[str], created: dict[str, float], succeeded: dict[str, float]) -> list[float]:
    """Seconds from each stage's Pod seen Succeeded to the next stage's Pod seen created (by stage name)."""
    out = []
    for a, b in zip(stages, stages[1:], strict=False):
        if a in succeeded and b in created:
            out.append(created[b] - succeeded[a])
    return out


def calls_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """API calls made between two readings of the operator's counters, by call (calls never made left out)."""
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in sorted(set(before) | set(after))}
    return {k: v for k, v in delta.items() if v}


def per_transition(calls: dict[str, int], transitions: int) -> dict[str, float]:
    return {k: round(v / transitions, 3) for k, v in calls.items()} if transitions else {}


#: The processes the machine's CPU goes to during a run, by what their command line names.
COMPONENTS = (
    ("kube-apiserver", "kube-apiserver"),
    ("etcd", "etcd"),
    ("kube-scheduler", "kube-scheduler"),
    ("kube-controller-manager", "kube-controller-manager"),
    ("operator", "dubbing_operator"),
    ("hollow kubelets", "devcluster.kubelet"),
)


def component_of(cmdline: str) -> str | None:
    for label, needle in COMPONENTS:
        if needle in cmdline:
            return label
    return None


def component_cpu(own_pid: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each component's processes, read from /proc;
    the benchmark itself (this process: the job creation and the Pod watch that times the stages)
    counts as "benchmark"."""
    out: dict[str, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace")
            label = "benchmark" if int(entry) == own_pid else component_of(cmdline)
            if label is not None:
                out[label] = out.get(label, 0.0) + cpu_seconds(entry)
        except OSError:  # gone meanwhile
            continue
    return out


def cpu_per_transition(before: dict[str, float], after: dict[str, float], transitions: int) -> dict[str, float]:
    """Milliseconds of CPU per transition by component, between two readings (a component that
    started or ended between them is left out: its reading would be partial)."""
    if not transitions:
        return {}
    return {k: round(1000 * (after[k] - before[k]) / transitions, 2) for k in after if k in before}


def _f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| jobs | hollow nodes | stage (s) | stage gap p50 / p95 / max (s) | create->1st Pod p50 / p95 (s) | "
            "transitions/s | API calls per transition | operator RSS peak (MiB) | operator CPU (s) | "
            "CPU per transition (ms) | succeeded |")  # fmt: skip
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        g, f, o = r["stage_gap_seconds"], r["create_to_first_pod_seconds"], r["operator"]
        cpu_per = o.get("cpu_seconds_per_transition")
        lines.append(
            f"| {r['jobs']} | {r['nodes']} | {r['stage_seconds']} | {_f(g['p50'])} / {_f(g['p95'])} / {_f(g['max'])} "
            f"| {_f(f['p50'], 1)} / {_f(f['p95'], 1)} | {r['transitions_per_second']} | "
            f"{r['api_calls_per_transition']} | {o['rss_peak_mib']} | {o['cpu_seconds']} | "
            f"{_f(cpu_per * 1000 if cpu_per is not None else None, 1)} | {r['succeeded']} / {r['jobs']} |"
        )
    lines += ["", "API calls per transition, by call:", "", "| jobs | " + " | ".join(_calls(rows)) + " |",
              "|---|" + "---|" * len(_calls(rows))]  # fmt: skip
    for r in rows:
        by = r["api_calls_per_transition_by_call"]
        lines.append(f"| {r['jobs']} | " + " | ".join(str(by.get(c, 0)) for c in _calls(rows)) + " |")
    parts = [label for label, _ in COMPONENTS] + ["benchmark"]
    lines += ["", "The machine's CPU per transition, by process (ms; the whole run, all cores):", "",
              "| jobs | " + " | ".join(parts) + " | all |", "|---|" + "---|" * (len(parts) + 1)]  # fmt: skip
    for r in rows:
        by = r.get("cpu_ms_per_transition_by_component") or {}
        total = round(sum(by.values()), 1) if by else None
        lines.append(f"| {r['jobs']} | " + " | ".join(_f(by.get(c), 1) for c in parts) + f" | {_f(total, 1)} |")
    return "\n".join(lines) + "\n"


def _calls(rows: list[dict[str, Any]]) -> list[str]:
    return sorted({c for r in rows for c in r["api_calls_per_transition_by_call"]})


COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#b279a2")


def svg(rows: list[dict[str, Any]]) -> str:
    """Two panels: stages finished over time, and the stage gaps' distribution (CDF), one line per size."""
    w, h, pad = 440, 300, 50
    parts = []

    def panel(x0: int, title: str, xlabel: str, series: list[tuple[str, list[tuple[float, float]]]], ymax: float):
        xmax = max((x for _, pts in series for x, _ in pts), default=1.0) or 1.0
        parts.append(f'<text x="{x0 + pad}" y="20" font-weight="bold">{title}</text>')
        parts.append(
            f'<rect x="{x0 + pad}" y="30" width="{w - pad - 10}" height="{h - 80}" fill="none" stroke="#999"/>'
        )
        parts.append(f'<text x="{x0 + w // 2}" y="{h - 20}" text-anchor="middle">{xlabel}</text>')
        for frac in (0, 0.5, 1):
            parts.append(f'<text x="{x0 + pad - 4}" y="{30 + (h - 80) * (1 - frac) + 4:.0f}" text-anchor="end">'
                         f"{ymax * frac:g}</text>")  # fmt: skip
            parts.append(f'<text x="{x0 + pad + (w - pad - 10) * frac:.0f}" y="{h - 36}" text-anchor="middle">'
                         f"{xmax * frac:.3g}</text>")  # fmt: skip
        for i, (label, pts) in enumerate(series):
            coords = " ".join(
                f"{x0 + pad + (w - pad - 10) * x / xmax:.1f},{30 + (h - 80) * (1 - y / ymax):.1f}" for x, y in pts
            )
            colour = COLOURS[i % len(COLOURS)]
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{coords}"/>')
            parts.append(f'<text x="{x0 + pad + 8}" y="{48 + 14 * i}" fill="{colour}">{label}</text>')

    done = [
        (
            f"{r['jobs']} jobs",
            [(p["t"], p["stages_done"] / max(1, r["jobs"] * r["stages_per_job"])) for p in r["timeline"]],
        )
        for r in rows
    ]
    panel(0, "share of stages finished", "seconds since the first job was created", done, 1.0)
    cdf = [(f"{r['jobs']} jobs", [(x, q / 100) for q, x in r["stage_gap_cdf"]]) for r in rows]
    panel(w, "stage gap distribution (CDF)", "stage gap (s)", cdf, 1.0)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * w}" height="{h}" font-family="sans-serif" '
        f'font-size="11"><rect width="100%" height="100%" fill="white"/>' + "".join(parts) + "</svg>\n"
    )


def cdf_points(values: list[float]) -> list[tuple[int, float]]:
    """(percentile, value) at every 5th percentile and the 99th, for the plot."""
    if not values:
        return []
    ordered = sorted(values)
    out = []
    for q in [*range(0, 100, 5), 99, 100]:
        rank = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
        out.append((q, round(ordered[rank], 4)))
    return out


# ----------------------------------------------------------------------------- the watch


class PodTimes:
    """One raw watch of the namespace's stage Pods: when each was first seen, and first seen Succeeded."""

    def __init__(self, kubeconfig: Path, namespace: str) -> None:
        from devcluster.kubelet_api import KubeApi

        self.api = KubeApi(str(kubeconfig))
        self.namespace = namespace
        self.created: dict[str, float] = {}
        self.succeeded: dict[str, float] = {}
        self.failed: set[str] = set()
        self._stop = threading.Event()
        self._ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        self._ready.wait(30)

    def _run(self) -> None:
        path = f"/api/v1/namespaces/{self.namespace}/pods"
        version = ""
        while not self._stop.is_set():
            try:
                if not version:
                    listed = self.api.get(path, {"labelSelector": JOB_LABEL})
                    for pod in listed.get("items") or []:
                        self._see(pod)
                    version = listed["metadata"]["resourceVersion"]
                    self._ready.set()
                for ev in self.api.watch(path, {"labelSelector": JOB_LABEL, "resourceVersion": version}, 60):
                    obj = ev.get("object") or {}
                    if ev.get("type") == "ERROR":
                        version = ""
                        break
                    version = obj.get("metadata", {}).get("resourceVersion", version)
                    if ev.get("type") in ("ADDED", "MODIFIED"):
                        self._see(obj)
                    if self._stop.is_set():
                        return
            except Exception:  # noqa: BLE001 - a dropped stream: list again
                version = ""
                time.sleep(0.2)

    def _see(self, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        now = time.time()
        self.created.setdefault(name, now)
        phase = (pod.get("status") or {}).get("phase")
        if phase == "Succeeded":
            self.succeeded.setdefault(name, now)
        elif phase == "Failed":
            self.failed.add(name)

    def stop(self) -> None:
        self._stop.set()


# ----------------------------------------------------------------------------- one size


def run_size(
    n_jobs: int,
    nodes_n: int,
    stage_seconds: float,
    kubeconfig: Path,
    timeout: float,
    out: Path,
    create_over: float = 0.0,
    label: str = "",
) -> dict[str, Any]:
    """Run one size; its result is written to ``out/hollow-N.json`` before the (long) clean-up."""
    from devcluster.config import GPU_LABEL, ClusterConfig, NodeSpec
    from devcluster.kubelet_api import KubeApi
    from dubbing.api.v1alpha1 import STAGES

    api = KubeApi(str(kubeconfig))
    cfg = ClusterConfig.from_env()
    pool = f"hollow-{secrets.token_hex(3)}"
    namespace = pool
    per_node = math.ceil(n_jobs / nodes_n) + 10
    nodes = [
        NodeSpec(
            f"dev-{pool}-{i}",
            free_port(),
            per_node,
            cpu="100000",
            memory="100Ti",
            labels=(GPU_LABEL, (POOL_LABEL, pool)),
            taints=(f"{POOL_LABEL}={pool}:NoSchedule",),
            pods=per_node * len(STAGES),
            hollow=stage_seconds,
        )  # fmt: skip
        for i in range(nodes_n)
    ]
    op_proc: subprocess.Popen | None = None
    pods: PodTimes | None = None
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-{pool}"
    workdir.mkdir(parents=True)
    try:
        start_nodes_and_namespace(kubeconfig, namespace, nodes, cfg)
        metrics_port = free_port()
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "DUBBING_NODE_SELECTOR": json.dumps({POOL_LABEL: pool}),
            # the hollow nodes are tainted: no other Pod (another test's, say) lands there and "runs" hollow
            "DUBBING_TOLERATIONS": json.dumps(
                [{"key": POOL_LABEL, "operator": "Equal", "value": pool, "effect": "NoSchedule"}]
            ),
            "DUBBING_MAX_RUNNING_GPU_JOBS": str(n_jobs),
            "DUBBING_MAX_RUNNING_JOBS_PER_USER": str(n_jobs),
            "DUBBING_METRICS_PORT": str(metrics_port),
            "DUBBING_RESYNC_SECONDS": "10",
        }
        log = open(workdir / "operator.log", "w")
        op_proc = subprocess.Popen(
            [sys.executable, "-m", "dubbing_operator", "--kubeconfig", str(kubeconfig), "--namespace", namespace],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip
        sampler = Sampler(op_proc.pid)
        sampler.start()
        ready_s = wait_operator_synced(metrics_port, op_proc)
        rss_ready, cpu_ready = proc_sample(op_proc.pid)
        counts_ready = operator_counts(metrics_port)
        components_ready = component_cpu(os.getpid())
        pods = PodTimes(kubeconfig, namespace)
        names = [f"h{i:05d}" for i in range(n_jobs)]
        created: dict[str, float] = {}
        path = f"/apis/dubbing.dev/v1alpha1/namespaces/{namespace}/dubbingjobs"

        start_at = time.time()

        def create(index: int, name: str) -> None:
            # spread over ``create_over`` seconds at an even pace (0: all at once)
            time.sleep(max(0.0, start_at + index * create_over / n_jobs - time.time()))
            body = {
                "apiVersion": "dubbing.dev/v1alpha1", "kind": "DubbingJob",
                "metadata": {"name": name, "namespace": namespace, "labels": {"dubbing.dev/owner": "bench"}},
                "spec": {"input": {"bucket": "media", "key": "in.mp4"}, "targetLanguages": ["es"]},
            }  # fmt: skip
            created[name] = time.time()
            api.create(path, body)

        with ThreadPoolExecutor(8) as pool_exec:
            list(pool_exec.map(create, range(n_jobs), names))
        t0 = min(created.values())
        print(f"  {n_jobs} jobs created in {time.time() - t0:.1f} s", flush=True)
        expected = n_jobs * len(STAGES)
        timeline: list[dict[str, float]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = len(pods.succeeded)
            rss, cpu_now = sampler.last
            timeline.append({"t": round(time.time() - t0, 1), "stages_done": done, "rss_mib": round(rss, 1),
                             "cpu_s": round(cpu_now, 2)})  # fmt: skip
            if done >= expected or pods.failed:
                break
            time.sleep(1.0)
        components_end = component_cpu(os.getpid())
        # the jobs' own status (Succeeded) follows their last Pod's end: wait for it (within the time left)
        while time.monotonic() < deadline:
            pending = [p for p in _job_phases(api, path).values() if p not in ("Succeeded", "Failed", "Cancelled")]
            if not pending:
                break
            time.sleep(3.0)
        counts_end = operator_counts(metrics_port)
        peak, rss_end, cpu = sampler.stop()
        pods.stop()
        phases = _job_phases(api, path)
        gaps: list[float] = []
        first_pod: list[float] = []
        ends: list[float] = []
        for name in names:
            by_stage_created: dict[str, float] = {
                s: pods.created[f"{name}-{s}-1"] for s in STAGES if f"{name}-{s}-1" in pods.created
            }
            by_stage_done: dict[str, float] = {
                s: pods.succeeded[f"{name}-{s}-1"] for s in STAGES if f"{name}-{s}-1" in pods.succeeded
            }
            gaps += stage_gaps(list(STAGES), by_stage_created, by_stage_done)
            if "extract" in by_stage_created:
                first_pod.append(by_stage_created["extract"] - created[name])
            ends += by_stage_done.values()
        transitions = len(pods.succeeded)
        last_end = max(ends) if ends else time.time()
        calls = calls_delta(counts_ready.get("api_calls", {}), counts_end.get("api_calls", {}))
        op_cpu = cpu - cpu_ready
        result = {
            "jobs": n_jobs,
            "nodes": nodes_n,
            "stage_seconds": stage_seconds,
            "created_over_seconds": create_over,
            "stages_per_job": len(STAGES),
            "succeeded": sum(1 for n in names if phases.get(n) == "Succeeded"),
            "failed_pods": sorted(pods.failed)[:20],
            "stage_gap_seconds": summarize(gaps),
            "stage_gap_cdf": cdf_points(gaps),
            "create_to_first_pod_seconds": summarize(first_pod),
            "transitions": transitions,
            "wall_seconds": round(last_end - t0, 2),
            "transitions_per_second": round(transitions / (last_end - t0), 1) if last_end > t0 else None,
            "api_calls": calls,
            "api_calls_per_transition": round(sum(calls.values()) / transitions, 2) if transitions else None,
            "api_calls_per_transition_by_call": per_transition(calls, transitions),
            "reconciles_per_transition": round(
                (counts_end.get("reconciles", 0) - counts_ready.get("reconciles", 0)) / transitions, 2
            )
            if transitions
            else None,
            "cpu_ms_per_transition_by_component": cpu_per_transition(components_ready, components_end, transitions),
            "operator": {
                "ready_seconds": round(ready_s, 2),
                "rss_ready_mib": round(rss_ready, 1),
                "rss_peak_mib": round(peak, 1),
                "rss_end_mib": round(rss_end, 1),
                "cpu_seconds": round(op_cpu, 2),
                "cpu_seconds_per_transition": round(op_cpu / transitions, 5) if transitions else None,
            },
            "timeline": timeline[:: max(1, len(timeline) // 80)],
            "host": {"cpus": os.cpu_count(), "load_avg_1m_at_end": round(os.getloadavg()[0], 2)},
        }
        (out / f"hollow-{n_jobs}{'-' + label if label else ''}.json").write_text(json.dumps(result, indent=2) + "\n")
        return result
    finally:
        if pods is not None:
            pods.stop()
        if op_proc is not None and op_proc.poll() is None:
            op_proc.send_signal(signal.SIGTERM)
            try:
                op_proc.wait(20)
            except subprocess.TimeoutExpired:
                op_proc.kill()
        _clean_up(kubeconfig, namespace, nodes, cfg)
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


def _job_phases(api: Any, path: str) -> dict[str, str]:
    """Each job's phase; empty when the API server does not answer in time (the result is written anyway)."""
    try:
        items = api.get(path).get("items") or []
    except Exception as err:  # noqa: BLE001 - a slow list must not lose the run's figures
        print(f"  could not list the jobs: {err}", flush=True)
        return {}
    return {o["metadata"]["name"]: (o.get("status") or {}).get("phase") or "" for o in items}


def _clean_up(kubeconfig: Path, namespace: str, nodes: list[Any], cfg: Any) -> None:
    """The operator is gone: clear the jobs' finalizers, delete the namespace (the hollow nodes confirm the
    Pods' deletion), then stop the nodes."""
    from kubernetes import client, config

    from devcluster import cluster
    from devcluster.namespaces import clear_job_finalizers_quietly

    custom = client.CustomObjectsApi(config.new_client_from_config(config_file=str(kubeconfig)))
    clear_job_finalizers_quietly(custom, namespace)
    kubectl(kubeconfig, "delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)
    gone_by = time.monotonic() + 600
    while (
        time.monotonic() < gone_by
        and kubectl(kubeconfig, "get", "namespace", namespace, "--ignore-not-found", "-o", "name", check=False).strip()
    ):
        time.sleep(2)
    for node in nodes:
        cluster.stop_kubelet(node.name, delete_node=True, cfg=cfg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, action="append", help="concurrent jobs (repeat for several sizes)")
    parser.add_argument("--stage-seconds", type=float, default=2.0, help="how long each stage Pod runs (default 2)")
    parser.add_argument("--nodes", type=int, default=4, help="hollow nodes (default 4)")
    parser.add_argument("--kubeconfig", type=Path, default=REPO / ".devcluster" / "kubeconfig")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for one size's jobs")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results")
    parser.add_argument(
        "--create-over", type=float, default=0.0,
        help="create the jobs at an even pace over this many seconds (default 0: all at once)",
    )  # fmt: skip
    parser.add_argument("--label", default="", help="suffix of the result files (hollow-N-LABEL.json, hollow-LABEL.md)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from devcluster import cluster

    if not cluster.is_healthy(kubelets=False):
        print("the development cluster is not up: run `python -m devcluster up` first", file=sys.stderr)
        return 2
    kubectl(args.kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.jobs or [1000]:
        print(f"hollow operator bench: {n} jobs on {args.nodes} hollow nodes ...", flush=True)
        result = run_size(
            n, args.nodes, args.stage_seconds, args.kubeconfig, args.timeout, args.out, args.create_over, args.label
        )
        rows.append(result)
        print(json.dumps({k: v for k, v in result.items() if k not in ("timeline", "stage_gap_cdf")}, indent=2),
              flush=True)  # fmt: skip
    suffix = f"-{args.label}" if args.label else ""
    (args.out / f"hollow{suffix}.md").write_text(
        f"# Operator on hollow nodes ({args.stage_seconds:g} s stages)\n\n" + table(rows)
    )
    (args.out / f"hollow{suffix}.svg").write_text(svg(rows))
    print(table(rows))
    return 0 if all(r["succeeded"] == r["jobs"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
