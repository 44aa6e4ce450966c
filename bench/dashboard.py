"""Benchmark: dashboard event latency, from a DubbingJob status change to the SSE stream, with 100 dashboards open.

The web UI runs against the local cluster; ``--clients`` (default 100) async httpx
streams hold ``GET /api/events`` open, spread over ``--users`` users (API tokens).
Each user owns two DubbingJobs (created through the API server, as the web UI labels
them).  The benchmark then patches one job's ``status.progress`` through the API server
(status subresource) every ``--interval`` seconds, round robin over the jobs, and each
stream of that job's owner records when the event carrying that progress value arrives.
Latency = arrival − the moment before the patch was sent (same clock).  Reported:
p50/p95/max over every (event, stream) pair, events lost, and the app's CPU and RSS
while it runs (the clients run in this process, on the same cores).

    python -m bench.dashboard [--clients 100] [--users 4] [--events 40] [--out bench-results]

Results: ``<out>/dashboard.json`` and ``<out>/dashboard.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from devcluster.stack.kube import apply_job, connect, install_crd, job_manifest, namespace
from devcluster.stack.procstat import ProcSampler, proc_cpu_seconds, proc_rss_kib
from devcluster.stack.redis import redis
from devcluster.stack.s3 import minio
from devcluster.stack.webui import PASSWORD, WebUI, token_for, webui
from devcluster.workloads import plan_dir
from dubbing.api import v1alpha1 as api

REPO = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


class Stream:
    """One dashboard: records (job, progress) → arrival time of each ``job`` event."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.ready = asyncio.Event()
        self.seen: dict[tuple[str, float], float] = {}

    async def run(self, client: httpx.AsyncClient) -> None:
        async with client.stream("GET", "/api/events", timeout=httpx.Timeout(10, read=None)) as resp:
            event, buf = "", ""
            async for chunk in resp.aiter_text():
                buf += chunk
                while "\n\n" in buf:
                    block, buf = buf.split("\n\n", 1)
                    now = time.time()
                    event, data = "", None
                    for line in block.splitlines():
                        if line.startswith("event:"):
                            event = line[6:].strip()
                        elif line.startswith("data:"):
                            data = json.loads(line[5:])
                    if event == "snapshot":
                        self.ready.set()
                    elif event == "job" and isinstance(data, dict) and data.get("progress") is not None:
                        self.seen.setdefault((data["name"], float(data["progress"])), now)


async def drive(
    ui: WebUI, kube: Any, ns: str, users: list[str], jobs: dict[str, str], clients: int, events: int, interval: float
) -> dict[str, Any]:
    custom = kube.custom()
    streams = [Stream(users[i % len(users)]) for i in range(clients)]
    http = {
        u: httpx.AsyncClient(
            base_url=ui.base,
            headers={"Authorization": f"Bearer {ui.tokens[u]}"},
            limits=httpx.Limits(max_connections=clients),
        )
        for u in users
    }
    tasks = [asyncio.create_task(s.run(http[s.user])) for s in streams]
    await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in streams)), 120)
    await asyncio.sleep(1)
    pid = ui.proc.pid
    cpu0, t0 = proc_cpu_seconds(pid), time.monotonic()
    sent: list[tuple[str, float, float]] = []  # (job, progress, time sent)
    names = list(jobs)
    with ProcSampler(pid, every=0.1) as sampler:
        for i in range(events):
            name = names[i % len(names)]
            progress = float(i + 1)
            t = time.time()
            await asyncio.to_thread(
                custom.patch_namespaced_custom_object_status,
                api.GROUP,
                api.VERSION,
                ns,
                api.PLURAL,
                name,
                {"status": {"progress": progress, "phase": "Running"}},
            )
            sent.append((name, progress, t))
            await asyncio.sleep(interval)
        await asyncio.sleep(3)
    cpu_s, wall = proc_cpu_seconds(pid) - cpu0, time.monotonic() - t0
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for h in http.values():
        await h.aclose()
    lat, lost = [], 0
    for name, progress, t in sent:
        owner = jobs[name]
        for s in streams:
            if s.user != owner:
                continue
            got = s.seen.get((name, progress))
            if got is None:
                lost += 1
            else:
                lat.append((got - t) * 1000)
    leaked = sum(1 for s in streams for (name, _p) in s.seen if jobs.get(name) != s.user)
    return {
        "deliveries": len(lat),
        "lost": lost,
        "leaked_to_other_users": leaked,
        "latency_ms_p50": round(percentile(lat, 0.50), 1) if lat else None,
        "latency_ms_p95": round(percentile(lat, 0.95), 1) if lat else None,
        "latency_ms_max": round(max(lat), 1) if lat else None,
        "latency_ms_mean": round(statistics.fmean(lat), 1) if lat else None,
        "webui_cpu_percent": round(100 * cpu_s / wall, 1),
        "webui_rss_peak_mib": round(sampler.peak_kib() / 1024, 1),
        "window_s": round(wall, 1),
    }


def run(clients: int, n_users: int, events: int, interval: float, kubeconfig: str | None) -> dict[str, Any]:
    work = plan_dir("bench-dash-")
    with minio() as s3, connect(kubeconfig) as kube:
        install_crd(kube)
        with namespace(kube, "bench-dash") as ns, redis(work) as rds, webui(kube, ns, s3, rds, work / "webui") as ui:
            users = ["alice", "bob"] + [f"user{i}" for i in range(max(0, n_users - 2))]
            with ui.client("admin") as admin:
                for u in users[2:]:
                    r = admin.post("/api/users", json={"name": u, "password": PASSWORD})
                    assert r.status_code == 201, r.text
                    ui.tokens[u] = token_for(ui.base, u)
            jobs: dict[str, str] = {}
            for u in users[:n_users]:
                for k in range(2):
                    name = f"dash-{u}-{k}"
                    apply_job(kube, job_manifest(name, ns, owner=u))
                    jobs[name] = u
            rss_idle = proc_rss_kib(ui.proc.pid)
            result = asyncio.run(drive(ui, kube, ns, users[:n_users], jobs, clients, events, interval))
    return {
        "benchmark": "dashboard",
        "clients": clients,
        "users": n_users,
        "jobs": len(jobs),
        "events": events,
        "interval_s": interval,
        "webui_rss_before_clients_mib": round(rss_idle / 1024, 1),
        **result,
    }


def markdown(r: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"# Dashboard: status change → SSE event ({r['clients']} streams, {r['users']} users, {r['events']} changes)",
            "",
            "| p50 ms | p95 ms | max ms | deliveries | lost | leaked | web UI CPU % | web UI RSS peak MiB |",
            "|---|---|---|---|---|---|---|---|",
            f"| {r['latency_ms_p50']} | {r['latency_ms_p95']} | {r['latency_ms_max']} | {r['deliveries']} | {r['lost']} "
            f"| {r['leaked_to_other_users']} | {r['webui_cpu_percent']} | {r['webui_rss_peak_mib']} |",
            "",
            "Latency is from just before the status patch is sent to the API server until the event is parsed by a",
            "stream client; the clients share the machine's cores with the app, the API server and etcd.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--kubeconfig")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results")
    args = parser.parse_args(argv)
    result = run(args.clients, args.users, args.events, args.interval, args.kubeconfig)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dashboard.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (args.out / "dashboard.md").write_text(markdown(result))
    print(json.dumps(result), flush=True)
    return 0 if result["lost"] == 0 and result["leaked_to_other_users"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
