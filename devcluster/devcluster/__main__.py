"""Command line: ``python -m devcluster {build,up,down,product-up,product-down,status,env,kubectl}``."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence

from . import build, cluster, controlplane, paths, product, sessions
from .config import ClusterConfig, default_nodes, parse_node_spec
from .paths import StatePaths


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="devcluster", description="Local Kubernetes for development and tests.")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build the pinned Kubernetes binaries into the cache (no-op when current)")
    b.add_argument("--force", action="store_true", help="rebuild even if the cache is current")

    u = sub.add_parser("up", help="start etcd, the control plane and the development kubelets")
    u.add_argument("--no-kubelets", action="store_true", help="start the control plane only")
    u.add_argument("--no-build", action="store_true", help="fail instead of building missing binaries")
    u.add_argument("--gpus", type=int, help="GPUs advertised by dev-gpu-0 (default $DUBBING_DEVCLUSTER_GPUS or 2)")
    u.add_argument(
        "--node",
        action="append",
        metavar="SPEC",
        help="replace the default nodes; SPEC is name=N,port=P[,gpus=G][,cpu=C][,memory=M]"
        "[,label=k:v][,taint=k=v:Effect] (repeatable)",
    )
    u.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for each component")

    d = sub.add_parser("down", help="stop every process of the development cluster")
    d.add_argument("--purge", action="store_true", help="also delete etcd data and node state (keeps pki/)")

    pu = sub.add_parser("product-up", help="the whole product: cluster, CRD, MinIO, Redis, operator and web UI")
    pu.add_argument("--port", type=int, default=product.DEFAULT_WEB_PORT, help="the web UI's port on 127.0.0.1")
    pd = sub.add_parser("product-down", help="stop what product-up started, and the cluster")
    pd.add_argument("--purge", action="store_true", help="also delete the product's data and credentials")

    sub.add_parser("status", help="show each process and whether it is healthy (exit 1 if any is not)")
    sub.add_parser("env", help="print `export KUBECONFIG=...` for a shell")
    k = sub.add_parser("kubectl", help="run the pinned kubectl against the development cluster")
    k.add_argument("args", nargs=argparse.REMAINDER)
    return p


def _config_from_args(args: argparse.Namespace) -> ClusterConfig:
    cfg = ClusterConfig.from_env()
    if getattr(args, "node", None):
        nodes = tuple(parse_node_spec(s) for s in args.node)
        cfg = dataclasses.replace(cfg, nodes=nodes)
    elif getattr(args, "gpus", None) is not None:
        env = dict(os.environ, DUBBING_DEVCLUSTER_GPUS=str(args.gpus))
        cfg = dataclasses.replace(cfg, nodes=default_nodes(env))
    return cfg


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    state = StatePaths.default()
    try:
        if args.command == "build":
            print(build.ensure_k8s_binaries(force=args.force))
        elif args.command == "up":
            cfg = _config_from_args(args)
            report = cluster.up(
                cfg, state, build_binaries=not args.no_build, kubelets=not args.no_kubelets, timeout=args.timeout
            )
            sessions.started_by_hand(state)
            timings = ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items())
            print(f"devcluster up: {cfg.server} nodes={report.nodes or '-'} ({timings})")
            print(f"export KUBECONFIG={report.kubeconfig}")
        elif args.command == "down":
            stopped = cluster.down(state, purge=args.purge)
            print(f"devcluster down: stopped {', '.join(stopped) or 'nothing (not running)'}")
        elif args.command == "product-up":
            base, creds = product.up(state, web_port=args.port)
            print(f"dubbing is up: open {base} and sign in as {product.ADMIN_USER} / {creds.admin_password}")
            print(
                f"  jobs run in namespace {product.NAMESPACE}: python -m devcluster kubectl get dj -n {product.NAMESPACE}"
            )
            print(f"  logs: {product.product_layout(state).root / 'logs'}; stop with `make down`")
        elif args.command == "product-down":
            stopped = product.down(state, purge=args.purge)
            print(f"devcluster product-down: stopped {', '.join(stopped) or 'nothing (not running)'}")
        elif args.command == "status":
            rows = cluster.status(state=state)
            for row in rows:
                health = "healthy" if row.healthy else ("running, unhealthy" if row.pid else "stopped")
                print(f"{row.name:32} {str(row.pid or '-'):>8}  {health}")
            print(f"state: {state.root}\nbinaries: {paths.bin_dir()}")
            return 0 if rows and all(r.healthy for r in rows) else 1
        elif args.command == "env":
            print(f"export KUBECONFIG={state.kubeconfig}")
        elif args.command == "kubectl":
            kubectl = build.kubectl_binary()
            if kubectl is None:
                print("devcluster: no kubectl (run `python -m devcluster build`)", file=sys.stderr)
                return 2
            rest = args.args[1:] if args.args[:1] == ["--"] else args.args
            os.execv(str(kubectl), [str(kubectl), f"--kubeconfig={state.kubeconfig}", *rest])
    except (
        build.BuildError,
        cluster.ClusterError,
        controlplane.ControlPlaneError,
        product.ProductError,
        ValueError,
    ) as err:
        print(f"devcluster {args.command}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
