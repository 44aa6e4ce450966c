"""Bring the whole development cluster up or down, and start or stop single kubelets.

Python API (used by ``__main__`` and the test fixtures):

* :func:`up` / :func:`down` / :func:`status` / :func:`is_healthy`
* :func:`start_kubelet` / :func:`stop_kubelet` for one node at a time
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import importlib.util
import json
import os
import shutil
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import build, controlplane, procs
from .config import ClusterConfig, NodeSpec
from .kubeconfig import write_kubeconfig
from .paths import StatePaths
from .pki import Pki, ensure_pki

KUBELET_MODULE = "devcluster.kubelet"


class ClusterError(RuntimeError):
    """The development cluster could not be brought to the requested state."""


@dataclass
class UpReport:
    state_dir: Path
    kubeconfig: Path
    seconds: dict[str, float] = field(default_factory=dict)
    nodes: list[str] = field(default_factory=list)


def _config(cfg: ClusterConfig | None) -> ClusterConfig:
    return cfg if cfg is not None else ClusterConfig.from_env()


def _state(state: StatePaths | None) -> StatePaths:
    return state if state is not None else StatePaths.default()


@contextlib.contextmanager
def state_lock(state: StatePaths) -> Iterator[None]:
    """Serialise `up` and `down` of one state directory across processes."""
    state.root.mkdir(parents=True, exist_ok=True)
    with open(state.root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def write_kubeconfigs(cfg: ClusterConfig, state: StatePaths, pki: Pki) -> None:
    """The admin kubeconfig (also used by the dev kubelets) and one per control-plane client."""
    ca = pki.ca_crt
    write_kubeconfig(state.kubeconfig, cfg.server, ca, pki.crt("admin"), pki.key("admin"), "kubernetes-admin")
    for component, user in (
        ("controller-manager", "system:kube-controller-manager"),
        ("scheduler", "system:kube-scheduler"),
    ):
        write_kubeconfig(
            state.component_kubeconfig(component), cfg.server, ca, pki.crt(component), pki.key(component), user
        )


def prepare(cfg: ClusterConfig | None = None, state: StatePaths | None = None) -> Pki:
    """Directories, certificates and kubeconfigs; no processes."""
    cfg, state = _config(cfg), _state(state)
    state.make_dirs()
    pki = ensure_pki(state.pki)
    write_kubeconfigs(cfg, state, pki)
    return pki


def up(
    cfg: ClusterConfig | None = None,
    state: StatePaths | None = None,
    *,
    build_binaries: bool = True,
    kubelets: bool = True,
    timeout: float = 90.0,
) -> UpReport:
    """Build binaries if needed, start the control plane and the configured kubelets, wait until ready."""
    cfg, state = _config(cfg), _state(state)
    report = UpReport(state.root, state.kubeconfig)
    t0 = time.monotonic()
    if build_binaries:
        build.ensure_k8s_binaries()
    elif build.missing_binaries():
        raise build.BuildError(f"missing {', '.join(build.missing_binaries())}; run `python -m devcluster build`")
    report.seconds["build"] = time.monotonic() - t0
    if kubelets and cfg.nodes:
        require_kubelet_module()
    with state_lock(state):
        pki = prepare(cfg, state)
        report.seconds.update(controlplane.start_all(cfg, state, pki, timeout=timeout))
        if kubelets and cfg.nodes:
            # Start every kubelet first, then wait for them together.
            t1 = time.monotonic()
            launched = [(node, _launch_kubelet(node, state)) for node in cfg.nodes]
            for node, (pid, started_at) in launched:
                wait_node_ready(node.name, cfg=cfg, state=state, pid=pid, started_at=started_at, timeout=timeout)
                report.nodes.append(node.name)
            report.seconds["kubelets"] = time.monotonic() - t1
    report.seconds["total"] = time.monotonic() - t0
    return report


def down(state: StatePaths | None = None, *, purge: bool = False) -> list[str]:
    """Stop every kubelet and the control plane; with ``purge`` also drop etcd data and node dirs."""
    state = _state(state)
    if not state.root.exists():
        return []
    with state_lock(state):
        stopped = [f"kubelet/{n}" for n in kubelet_names(state) if stop_kubelet(n, state=state)]
        stopped += controlplane.stop_all(state)
        if purge:
            for d in (state.etcd_data, state.nodes):
                shutil.rmtree(d, ignore_errors=True)
    return stopped


# --- kubelets ----------------------------------------------------------------------------------


def require_kubelet_module() -> None:
    if importlib.util.find_spec(KUBELET_MODULE) is None:
        raise ClusterError(
            f"{KUBELET_MODULE} is not importable, so no node can join the cluster; "
            "use `python -m devcluster up --no-kubelets` for the control plane alone"
        )


def kubelet_process(node: str) -> str:
    return f"kubelet-{node}"


def kubelet_argv(node: NodeSpec, state: StatePaths, python: str = sys.executable) -> list[str]:
    argv = [
        python,
        "-m",
        KUBELET_MODULE,
        "--kubeconfig",
        str(state.kubeconfig),
        "--node-name",
        node.name,
        "--port",
        str(node.port),
        "--tls-cert",
        str(state.pki / "kubelet.crt"),
        "--tls-key",
        str(state.pki / "kubelet.key"),
        "--gpus",
        str(node.gpus),
        "--cpu",
        node.cpu,
        "--memory",
        node.memory,
        "--state-dir",
        str(state.node_dir(node.name)),
    ]
    if node.pods != 110:
        argv += ["--pods", str(node.pods)]
    if node.hollow is not None:
        argv += ["--hollow", str(node.hollow)]
    for key, value in node.labels:
        argv += ["--label", f"{key}={value}"]
    for taint in node.taints:
        argv += ["--taint", taint]
    return argv


def kubelet_names(state: StatePaths | None = None) -> list[str]:
    state = _state(state)
    prefix = "kubelet-"
    return sorted(p.stem[len(prefix) :] for p in state.pids.glob(f"{prefix}*.pid"))


def running_kubelets(state: StatePaths | None = None) -> list[str]:
    """The nodes whose development kubelet process runs."""
    state = _state(state)
    return [
        n
        for n in kubelet_names(state)
        if procs.running_pid(state.pid_file(kubelet_process(n)), KUBELET_MODULE) is not None
    ]


def start_kubelet(
    node: NodeSpec,
    *,
    cfg: ClusterConfig | None = None,
    state: StatePaths | None = None,
    wait_ready: bool = True,
    timeout: float = 60.0,
) -> int:
    """Start the development kubelet for ``node`` (no-op if running); wait for its Node to be Ready."""
    cfg, state = _config(cfg), _state(state)
    require_kubelet_module()
    pid, started_at = _launch_kubelet(node, state)
    if wait_ready:
        wait_node_ready(node.name, cfg=cfg, state=state, pid=pid, started_at=started_at, timeout=timeout)
    return pid


def _launch_kubelet(node: NodeSpec, state: StatePaths) -> tuple[int, float | None]:
    """Start the kubelet process unless it runs; return its pid and, if newly started, when."""
    state.node_dir(node.name).mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    name = kubelet_process(node.name)
    already = procs.running_pid(state.pid_file(name), KUBELET_MODULE)
    started_at = None if already is not None else time.time()
    pid = procs.start(
        kubelet_argv(node, state),
        pid_file=state.pid_file(name),
        log_file=state.log_file(name),
        marker=KUBELET_MODULE,
        env=env,
        cwd=state.node_dir(node.name),
    )
    return pid, started_at


def stop_kubelet(
    name: str, *, state: StatePaths | None = None, delete_node: bool = False, cfg: ClusterConfig | None = None
) -> bool:
    """Stop the kubelet of node ``name`` (SIGTERM, then SIGKILL); optionally delete its Node object."""
    state = _state(state)
    was_running = procs.stop(state.pid_file(kubelet_process(name)), KUBELET_MODULE, timeout=30)
    if delete_node:
        _api(_config(cfg), state, f"/api/v1/nodes/{name}", method="DELETE", missing_ok=True)
    return was_running


# --- API helpers (stdlib only, so `up` needs no client library) ---------------------------------


def _api(
    cfg: ClusterConfig, state: StatePaths, path: str, *, method: str = "GET", missing_ok: bool = False
) -> dict | None:
    ctx = controlplane.admin_ssl_context(Pki(state.pki))
    req = urllib.request.Request(f"{cfg.server}{path}", method=method)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        if err.code == 404 and missing_ok:
            return None
        raise


def _epoch(timestamp: str) -> float:
    return datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def node_ready(
    name: str,
    *,
    cfg: ClusterConfig | None = None,
    state: StatePaths | None = None,
    heartbeat_since: float | None = None,
) -> bool:
    """The Node's Ready condition is True (and, if given, was reported at or after ``heartbeat_since``)."""
    try:
        node = _api(_config(cfg), _state(state), f"/api/v1/nodes/{name}", missing_ok=True)
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False
    for cond in (node or {}).get("status", {}).get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") == "True":
            if heartbeat_since is None:
                return True
            beat = cond.get("lastHeartbeatTime")
            # Timestamps have whole seconds; a stale Ready left from an earlier run is older.
            return bool(beat) and _epoch(beat) >= heartbeat_since - 1
    return False


def wait_node_ready(
    name: str,
    *,
    cfg: ClusterConfig | None = None,
    state: StatePaths | None = None,
    pid: int | None = None,
    started_at: float | None = None,
    timeout: float = 60.0,
) -> None:
    """Wait for Ready; with ``started_at`` only a heartbeat from after that time counts."""
    state = _state(state)
    log = state.log_file(kubelet_process(name))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node_ready(name, cfg=cfg, state=state, heartbeat_since=started_at):
            return
        if pid is not None and procs.exited(pid):
            raise ClusterError(f"kubelet for {name} exited; last lines of {log}:\n{procs.tail(log)}")
        time.sleep(0.5)
    raise ClusterError(f"node {name} not Ready after {timeout:.0f} s; last lines of {log}:\n{procs.tail(log)}")


# --- status ------------------------------------------------------------------------------------


@dataclass
class ProcessStatus:
    name: str
    pid: int | None
    healthy: bool


def status(cfg: ClusterConfig | None = None, state: StatePaths | None = None) -> list[ProcessStatus]:
    cfg, state = _config(cfg), _state(state)
    rows: list[ProcessStatus] = []
    pids = controlplane.running(state)
    comps = {c.name: c for c in controlplane.components(cfg, state, Pki(state.pki))} if state.pki.exists() else {}
    for name, pid in pids.items():
        healthy = pid is not None and name in comps and comps[name].health()
        rows.append(ProcessStatus(name, pid, healthy))
    for node in kubelet_names(state):
        pid = procs.running_pid(state.pid_file(kubelet_process(node)), KUBELET_MODULE)
        rows.append(ProcessStatus(f"kubelet/{node}", pid, pid is not None and node_ready(node, cfg=cfg, state=state)))
    return rows


def is_healthy(cfg: ClusterConfig | None = None, state: StatePaths | None = None, *, kubelets: bool = True) -> bool:
    """Every control-plane component (and, with ``kubelets``, every configured node) is up and healthy."""
    cfg, state = _config(cfg), _state(state)
    if not state.kubeconfig.exists() or not state.pki.exists():
        return False
    rows = {r.name: r for r in status(cfg, state)}
    if not all(rows[c].healthy for c in controlplane.COMPONENTS):
        return False
    if kubelets:
        return all(rows.get(f"kubelet/{n.name}") and rows[f"kubelet/{n.name}"].healthy for n in cfg.nodes)
    return True
