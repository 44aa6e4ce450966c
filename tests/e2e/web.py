"""Shared harness of the web-side reliability gates and the web benchmarks.

On top of ``e2e_common`` (cluster, namespace, CRD, operator subprocess, gate verdict),
this starts what the web UI needs, the same way tests/webui/conftest.py does: a real
MinIO (``DUBBING_S3_ENDPOINT`` if set, else the binary built by the development
tooling), a ``redis-server`` on a fixed port that a gate may stop and start, a local
ntfy-protocol server, and the app itself (``python -m dubbing_webui``) in a subprocess
with an admin and the users ``alice`` and ``bob`` holding API tokens.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import e2e_common as c  # noqa: E402

from tests.webui import uploadclient  # noqa: E402,F401 - re-exported for the gates
from tests.webui.conftest import PASSWORD, S3, RedisProc, WebUI, browser_login, start_webui, stop_webui  # noqa: E402
from tests.webui.media import file_sha256, make_wav  # noqa: E402,F401
from tests.webui.ntfy_server import start_ntfy  # noqa: E402

__all__ = ["PASSWORD", "S3", "RedisProc", "WebUI", "browser_login", "file_sha256", "make_wav", "uploadclient",
           "minio", "redis", "webui", "ProcSampler", "proc_rss_kib", "proc_cpu_seconds", "metric_value"]


@contextmanager
def minio() -> Iterator[S3]:
    """MinIO: ``DUBBING_S3_ENDPOINT``'s when set, else one started here (its data removed afterwards)."""
    if os.environ.get("DUBBING_S3_ENDPOINT"):
        endpoint = os.environ["DUBBING_S3_ENDPOINT"]
        yield S3(endpoint if "://" in endpoint else f"http://{endpoint}",
                 os.environ.get("DUBBING_S3_ACCESS_KEY", ""), os.environ.get("DUBBING_S3_SECRET_KEY", ""))
        return
    try:
        from devcluster import minio as devminio
    except ImportError as err:
        raise c.GateSkip(f"no DUBBING_S3_ENDPOINT and devcluster.minio is not importable: {err}") from err
    if not devminio.binary_path().is_file() and shutil.which("go") is None:
        raise c.GateSkip(f"no MinIO: no binary at {devminio.binary_path()} and no Go to build it")
    run_dir = Path(tempfile.mkdtemp(prefix="gate-minio-", dir="/var/tmp"))
    port = c.free_port()
    server = devminio.start_minio(port=port, run_dir=run_dir, data_dir=run_dir / "data", user="gateadmin",
                                  password="gate-secret-123")
    try:
        yield S3(server.url, server.access_key, server.secret_key)
    finally:
        devminio.stop_minio(port=port, run_dir=run_dir, remove_data=True, data_dir=run_dir / "data")
        shutil.rmtree(run_dir, ignore_errors=True)


@contextmanager
def redis(workdir: Path, start: bool = True) -> Iterator[RedisProc]:
    """A redis-server on a fixed free port; ``start=False`` leaves it down (the gate starts it)."""
    if shutil.which("redis-server") is None:
        raise c.GateSkip("redis-server is not installed")
    r = RedisProc(c.free_port(), workdir)
    if start:
        r.start()
    try:
        yield r
    finally:
        r.stop()


@contextmanager
def webui(kube: Any, ns: str, s3: S3, redis_proc: RedisProc, workdir: Path,
          extra_env: dict[str, str] | None = None) -> Iterator[WebUI]:
    """The app in a subprocess (uvicorn), with admin, alice and bob and their API tokens."""
    ntfy = start_ntfy()
    workdir.mkdir(parents=True, exist_ok=True)
    bucket = f"gate-{ns}"[:63]
    ui = start_webui(workdir, kube, ns, s3, redis_proc, ntfy, bucket, extra_env)
    try:
        yield ui
    finally:
        stop_webui(ui)
        ntfy.close()


@dataclass
class WebStack:
    """What a web gate runs against: the cluster and its namespace, MinIO, Redis and the app."""

    kube: Any
    ns: str
    s3: S3
    redis: RedisProc
    ui: WebUI


@contextmanager
def web_stack(gate: c.Gate, kubeconfig: str | None, prefix: str, work: Path,
              extra_env: dict[str, str] | None = None) -> Iterator[WebStack]:
    """MinIO, the cluster with the CRD, a fresh namespace, Redis and the app (its log kept with the gate's)."""
    with minio() as s3, c.cluster(kubeconfig) as kube:
        c.install_crd(kube)
        with c.namespace(kube, prefix) as ns, redis(work) as rds, \
                webui(kube, ns, s3, rds, work / "webui", extra_env) as ui:
            gate.logs.append(ui.log)
            yield WebStack(kube, ns, s3, rds, ui)


def proc_rss_kib(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    m = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) if m else 0


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class ProcSampler:
    """Samples a process's RSS (KiB) every ``every`` seconds in a thread: (monotonic time, rss)."""

    pid: int
    every: float = 0.05
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> "ProcSampler":
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), proc_rss_kib(self.pid)))
            except OSError:
                return
            self._stop.wait(self.every)

    def peak_kib(self, since: float = 0.0, until: float = float("inf")) -> int:
        vals = [rss for t, rss in self.samples if since <= t <= until]
        return max(vals) if vals else 0


def metric_value(text: str, name: str, labels: dict[str, str] | None = None) -> float | None:
    """One sample's value from a Prometheus text exposition (labels must match exactly the given ones)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if labels is None or all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None


def dump(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
