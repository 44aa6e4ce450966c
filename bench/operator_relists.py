"""The operator's memory over many full lists of finished jobs: flat, or a step at each list.

Creates ``--jobs`` DubbingJobs whose status says all nine stages finished (as a busy cluster keeps
them until retention deletes them), starts the operator on their namespace with a full LIST every
``--period`` seconds, and samples its RSS until it has listed ``--lists`` times.  The operator has
nothing to do but its safety net, so what the RSS does is what the lists do to it.

    python -m devcluster up
    python -m bench.operator_relists --jobs 5000 --lists 20 --out bench-results

Writes ``relists.json`` (the RSS at each list), ``relists.md`` and ``relists.svg``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.operator_loop import kubectl, proc_sample, wait_operator_synced
from devcluster.ports import free_port

REPO = Path(__file__).resolve().parents[1]
STAGES = ("extract", "separate", "diarize", "asr", "translate", "tts", "mix", "mux", "score")
JOBS_PATH = "/apis/dubbing.dev/v1alpha1/namespaces/{ns}/dubbingjobs"


def finished_status(name: str) -> dict[str, Any]:
    """The status of a job whose nine stages all succeeded, as the operator writes it."""
    stages = [
        {
            "name": s,
            "phase": "Succeeded",
            "backend": "hollow",
            "attempts": 1,
            "podName": f"{name}-{s}-1",
            "nodeName": "dev-0",
            "startedAt": "2026-12-03T05:00:00Z",
            "finishedAt": "2026-12-03T05:01:00Z",
            "durationSeconds": 60.0,
            "message": f"stage {s} finished in 60.0s with backend hollow",
        }  # fmt: skip
        for s in STAGES
    ]
    return {"phase": "Succeeded", "progress": 100.0, "startedAt": "2026-12-03T05:00:00Z",
            "finishedAt": "2026-12-03T05:09:00Z", "stages": stages}  # fmt: skip


def lists_done(metrics_text: str) -> int:
    """The operator's ``dubbing_job_lists_total`` from its /metrics text (0 before the first)."""
    for line in metrics_text.splitlines():
        if line.startswith("dubbing_job_lists_total "):
            return int(float(line.split()[1]))
    return 0


def step_per_list(samples: list[dict[str, float]], skip: int = 2) -> float:
    """Least-squares slope of RSS (MiB) over the list count, after the first ``skip`` lists (start-up)."""
    pts = [(s["lists"], s["rss_mib"]) for s in samples if s["lists"] > skip]
    if len(pts) < 2:
        return 0.0
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    den = sum((x - mx) ** 2 for x, _ in pts)
    return 0.0 if den == 0 else sum((x - mx) * (y - my) for x, y in pts) / den


def table(r: dict[str, Any]) -> str:
    head = (
        f"# Operator RSS over full lists ({r['jobs']} finished jobs, a list every {r['period_seconds']:g} s)\n\n"
        "| lists | RSS (MiB) |\n|---|---|\n"
    )
    body = "".join(f"| {s['lists']} | {s['rss_mib']:.1f} |\n" for s in r["per_list"])
    tail = (
        f"\nRSS after the first list {r['rss_first_list_mib']:.1f} MiB, after the last "
        f"{r['rss_last_list_mib']:.1f} MiB, highest {r['rss_peak_mib']:.1f} MiB; "
        f"slope after the second list {r['mib_per_list']:+.2f} MiB per list.\n"
    )
    return head + body + tail


def svg(r: dict[str, Any]) -> str:
    w, h, pad = 520, 300, 50
    pts = r["per_list"]
    xmax = max((p["lists"] for p in pts), default=1) or 1
    ymax = max((p["rss_mib"] for p in pts), default=1.0) * 1.1 or 1.0
    coords = " ".join(
        f"{pad + (w - pad - 10) * p['lists'] / xmax:.1f},{30 + (h - 80) * (1 - p['rss_mib'] / ymax):.1f}" for p in pts
    )
    ticks = "".join(
        f'<text x="{pad - 4}" y="{30 + (h - 80) * (1 - f) + 4:.0f}" text-anchor="end">{ymax * f:.0f}</text>'
        f'<text x="{pad + (w - pad - 10) * f:.0f}" y="{h - 36}" text-anchor="middle">{xmax * f:.0f}</text>'
        for f in (0, 0.5, 1)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">'
        '<rect width="100%" height="100%" fill="white"/>'
        f'<text x="{pad}" y="20" font-weight="bold">operator RSS (MiB), {r["jobs"]} finished jobs</text>'
        f'<rect x="{pad}" y="30" width="{w - pad - 10}" height="{h - 80}" fill="none" stroke="#999"/>{ticks}'
        f'<text x="{w // 2}" y="{h - 20}" text-anchor="middle">full lists done</text>'
        f'<polyline fill="none" stroke="#f58518" stroke-width="1.5" points="{coords}"/></svg>\n'
    )


def create_jobs(kubeconfig: Path, namespace: str, n: int) -> float:
    from devcluster.kubelet_api import KubeApi

    api = KubeApi(str(kubeconfig))
    path = JOBS_PATH.format(ns=namespace)

    def one(i: int) -> None:
        name = f"r{i:05d}"
        api.create(path, {
            "apiVersion": "dubbing.dev/v1alpha1", "kind": "DubbingJob",
            "metadata": {"name": name, "namespace": namespace, "labels": {"dubbing.dev/owner": "bench"}},
            "spec": {"input": {"bucket": "media", "key": "in.mp4"}, "targetLanguages": ["es"]},
        })  # fmt: skip
        api.merge_patch(f"{path}/{name}/status", {"status": finished_status(name)})

    t = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(n)))
    api.close()
    return time.monotonic() - t


def run(kubeconfig: Path, n: int, lists: int, period: float, timeout: float) -> dict[str, Any]:
    namespace = f"relists-{secrets.token_hex(3)}"
    kubectl(kubeconfig, "create", "namespace", namespace)
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-{namespace}"
    workdir.mkdir(parents=True)
    proc: subprocess.Popen[bytes] | None = None
    try:
        created_s = create_jobs(kubeconfig, namespace, n)
        print(f"  {n} finished jobs created in {created_s:.1f} s", flush=True)
        port = free_port()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "DUBBING_METRICS_PORT": str(port),
               "DUBBING_RESYNC_SECONDS": str(period), "DUBBING_RELIST_SECONDS": str(period)}  # fmt: skip
        with open(workdir / "operator.log", "w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "dubbing_operator", "--kubeconfig", str(kubeconfig), "--namespace", namespace],
                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
            )  # fmt: skip
        ready_s = wait_operator_synced(port, proc)
        per_list: dict[int, float] = {}
        peak = 0.0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rss, _ = proc_sample(proc.pid)
            peak = max(peak, rss)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                done = lists_done(resp.read().decode())
            per_list[done] = rss  # the last sample before the next list
            if done > lists:
                break
            time.sleep(0.25)
        samples = [{"lists": k, "rss_mib": round(v, 1)} for k, v in sorted(per_list.items()) if 1 <= k <= lists]
        return {
            "jobs": n, "period_seconds": period, "lists": lists, "ready_seconds": round(ready_s, 2),
            "per_list": samples, "rss_peak_mib": round(peak, 1),
            "rss_first_list_mib": samples[0]["rss_mib"] if samples else None,
            "rss_last_list_mib": samples[-1]["rss_mib"] if samples else None,
            "mib_per_list": round(step_per_list(samples), 2),
        }  # fmt: skip
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        from kubernetes import client, config

        from devcluster.namespaces import clear_job_finalizers_quietly

        custom = client.CustomObjectsApi(config.new_client_from_config(config_file=str(kubeconfig)))
        clear_job_finalizers_quietly(custom, namespace)
        kubectl(kubeconfig, "delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5000, help="finished jobs to list (default 5,000)")
    parser.add_argument("--lists", type=int, default=20, help="full lists to watch (default 20)")
    parser.add_argument("--period", type=float, default=5.0, help="seconds between full lists (default 5)")
    parser.add_argument("--kubeconfig", type=Path, default=REPO / ".devcluster" / "kubeconfig")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the lists")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results")
    parser.add_argument("--label", default="", help="suffix of the result files (relists-LABEL.json, ...)")
    args = parser.parse_args(argv)
    from devcluster import cluster

    if not cluster.is_healthy(kubelets=False):
        print("the development cluster is not up: run `python -m devcluster up` first", file=sys.stderr)
        return 2
    kubectl(args.kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"operator relists bench: {args.jobs} finished jobs, {args.lists} lists ...", flush=True)
    result = run(args.kubeconfig, args.jobs, args.lists, args.period, args.timeout)
    name = f"relists-{args.label}" if args.label else "relists"
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / f"{name}.md").write_text(table(result))
    (args.out / f"{name}.svg").write_text(svg(result))
    print(table(result))
    return 0 if len(result["per_list"]) == args.lists else 1


if __name__ == "__main__":
    raise SystemExit(main())
