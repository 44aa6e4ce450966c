"""etcd, kube-apiserver, kube-controller-manager and kube-scheduler as local processes.

The ``*_argv`` functions are pure: they turn the configuration and file layout
into command lines. The rest starts, probes and stops the processes.
"""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import build, procs
from .config import ClusterConfig
from .paths import StatePaths
from .pki import Pki

COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"

# Controllers that need a cloud provider or node CIDR allocation; this cluster has neither.
DISABLED_CONTROLLERS = ("service-lb-controller", "node-route-controller", "cloud-node-lifecycle-controller")


class ControlPlaneError(RuntimeError):
    """A component failed to start or to become healthy."""


def etcd_argv(binary: Path, cfg: ClusterConfig, state: StatePaths) -> list[str]:
    peer = f"http://127.0.0.1:{cfg.etcd_peer_port}"
    return [
        str(binary),
        "--name=devcluster",
        f"--data-dir={state.etcd_data}",
        f"--listen-client-urls={cfg.etcd_url}",
        f"--advertise-client-urls={cfg.etcd_url}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=devcluster={peer}",
        "--initial-cluster-state=new",
        # A throwaway development store: skip fsync, keep it small.
        "--unsafe-no-fsync=true",
        "--quota-backend-bytes=2147483648",
        "--auto-compaction-retention=1h",
        "--log-level=warn",
    ]


def apiserver_argv(binary: Path, cfg: ClusterConfig, state: StatePaths, pki: Pki) -> list[str]:
    return [
        str(binary),
        f"--etcd-servers={cfg.etcd_url}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        # The `kubernetes` Service cannot have a loopback endpoint; local Pods reach the
        # API server directly at 127.0.0.1, so the endpoint reconciler is switched off.
        "--endpoint-reconciler-type=none",
        f"--secure-port={cfg.apiserver_port}",
        f"--cert-dir={state.pki}",
        f"--tls-cert-file={pki.crt('apiserver')}",
        f"--tls-private-key-file={pki.key('apiserver')}",
        f"--client-ca-file={pki.ca_crt}",
        "--authorization-mode=Node,RBAC",
        "--anonymous-auth=false",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-account-key-file={pki.sa_pub}",
        f"--service-account-signing-key-file={pki.sa_key}",
        f"--service-cluster-ip-range={cfg.service_cidr}",
        "--allow-privileged=true",
        # The API server reaches kubelets (logs, exec) with this client identity and
        # checks their serving certificates against the cluster CA.
        f"--kubelet-client-certificate={pki.crt('apiserver-kubelet-client')}",
        f"--kubelet-client-key={pki.key('apiserver-kubelet-client')}",
        f"--kubelet-certificate-authority={pki.ca_crt}",
        "--kubelet-preferred-address-types=InternalIP,Hostname",
        # The 1.31 default admission chain (ServiceAccount, LimitRanger, ResourceQuota,
        # DefaultTolerationSeconds, PodSecurity, webhooks, ...) stays on. NodeRestriction is
        # left off: the development kubelets authenticate as cluster admin.
        "--disable-admission-plugins=NodeRestriction",
        # Aggregation layer.
        f"--requestheader-client-ca-file={pki.crt('front-proxy-ca')}",
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={pki.crt('front-proxy-client')}",
        f"--proxy-client-key-file={pki.key('front-proxy-client')}",
        f"--profiling={'true' if cfg.apiserver_profiling else 'false'}",
        "--v=1",
    ]


def controller_manager_argv(binary: Path, cfg: ClusterConfig, state: StatePaths, pki: Pki) -> list[str]:
    kubeconfig = state.component_kubeconfig("controller-manager")
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={cfg.controller_manager_port}",
        f"--cert-dir={state.pki / 'controller-manager-serving'}",
        "--leader-elect=false",
        "--controllers=*," + ",".join(f"-{c}" for c in DISABLED_CONTROLLERS),
        # Each controller acts as its own service account, as in a real cluster; the
        # token and root-CA publishers need the signing key and the CA.
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki.sa_key}",
        f"--root-ca-file={pki.ca_crt}",
        f"--cluster-signing-cert-file={pki.ca_crt}",
        f"--cluster-signing-key-file={pki.key('ca')}",
        f"--service-cluster-ip-range={cfg.service_cidr}",
        # Node lifecycle: a kubelet silent for this long turns the node NotReady.
        f"--node-monitor-grace-period={cfg.node_monitor_grace_seconds}s",
        "--node-monitor-period=5s",
        f"--profiling={'true' if cfg.apiserver_profiling else 'false'}",
        "--v=1",
    ]


def scheduler_argv(binary: Path, cfg: ClusterConfig, state: StatePaths) -> list[str]:
    kubeconfig = state.component_kubeconfig("scheduler")
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={cfg.scheduler_port}",
        f"--cert-dir={state.pki / 'scheduler-serving'}",
        "--leader-elect=false",
        f"--profiling={'true' if cfg.apiserver_profiling else 'false'}",
        "--v=1",
    ]


# --- probing -----------------------------------------------------------------------------------


def admin_ssl_context(pki: Pki) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.ca_crt))
    ctx.load_cert_chain(str(pki.crt("admin")), str(pki.key("admin")))
    return ctx


def http_ok(url: str, context: ssl.SSLContext | None = None, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url, context=context, timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False


def insecure_context() -> ssl.SSLContext:
    """For the self-signed /healthz of the scheduler and controller manager."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@dataclass(frozen=True)
class Component:
    name: str
    argv: list[str]
    health: Callable[[], bool]


def components(cfg: ClusterConfig, state: StatePaths, pki: Pki) -> list[Component]:
    """The control plane in start order, each with its health probe."""
    bins = build.binary_path
    admin = admin_ssl_context(pki)
    local = insecure_context()
    return [
        Component("etcd", etcd_argv(build.etcd_binary(), cfg, state), lambda: http_ok(f"{cfg.etcd_url}/health")),
        Component(
            "kube-apiserver",
            apiserver_argv(bins("kube-apiserver"), cfg, state, pki),
            lambda: http_ok(f"{cfg.server}/readyz", admin),
        ),
        Component(
            "kube-controller-manager",
            controller_manager_argv(bins("kube-controller-manager"), cfg, state, pki),
            lambda: http_ok(f"https://127.0.0.1:{cfg.controller_manager_port}/healthz", local),
        ),
        Component(
            "kube-scheduler",
            scheduler_argv(bins("kube-scheduler"), cfg, state),
            lambda: http_ok(f"https://127.0.0.1:{cfg.scheduler_port}/healthz", local),
        ),
    ]


def marker(component: Component) -> str:
    return component.name


def wait_healthy(component: Component, state: StatePaths, pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if component.health():
            return
        if procs.exited(pid):
            raise ControlPlaneError(
                f"{component.name} exited during start; last lines of {state.log_file(component.name)}:\n"
                + procs.tail(state.log_file(component.name))
            )
        time.sleep(0.25)
    raise ControlPlaneError(
        f"{component.name} not healthy after {timeout:.0f} s; last lines of {state.log_file(component.name)}:\n"
        + procs.tail(state.log_file(component.name))
    )


def start_all(cfg: ClusterConfig, state: StatePaths, pki: Pki, *, timeout: float = 90.0) -> dict[str, float]:
    """Start (or keep) each component and wait for it to be healthy; return seconds spent on each."""
    spent: dict[str, float] = {}
    for comp in components(cfg, state, pki):
        t0 = time.monotonic()
        pid = procs.start(
            comp.argv,
            pid_file=state.pid_file(comp.name),
            log_file=state.log_file(comp.name),
            marker=marker(comp),
            cwd=state.root,
        )
        wait_healthy(comp, state, pid, timeout)
        spent[comp.name] = time.monotonic() - t0
    return spent


def stop_all(state: StatePaths) -> list[str]:
    """Stop the components in reverse start order; return the names that were running."""
    stopped = []
    for name in reversed(COMPONENTS):
        if procs.stop(state.pid_file(name), name):
            stopped.append(name)
    return stopped


def running(state: StatePaths) -> dict[str, int | None]:
    return {name: procs.running_pid(state.pid_file(name), name) for name in COMPONENTS}
