"""The development kubelet: plays one node's kubelet against a real kube-apiserver.

    python -m devcluster.kubelet --kubeconfig K --node-name N --port P \\
        --tls-cert C --tls-key K --gpus 1 --cpu 4 --memory 8Gi --state-dir DIR \\
        [--label k=v ...] [--taint key=value:Effect ...] [--image-map FILE] [--hollow SECONDS]

It registers the Node and keeps its Lease fresh, runs the Pods bound to the node
as local processes (each in its own mount namespace when running as root), reports
their status, and serves their logs over HTTPS for the Pod log API. Containers run
with the repository's virtualenv unless an image map (--image-map or the
DEVKUBELET_IMAGE_MAP environment variable: a JSON/YAML file or inline JSON) says
otherwise. readOnlyRootFilesystem is not enforced. With --hollow the node runs no
process at all (devcluster.kubelet_hollow): for benchmarks of the control loop.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from devcluster.kubelet_api import KubeApi
from devcluster.kubelet_logs import LogServer
from devcluster.kubelet_node import NodeAgent, NodeSpec, disk_quantity, parse_label, parse_taint, resources
from devcluster.kubelet_pods import PodManager
from devcluster.kubelet_runtime import load_image_map

log = logging.getLogger("devkubelet")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="devcluster.kubelet", description=__doc__.split("\n")[0])
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--node-name", required=True)
    p.add_argument("--port", type=int, required=True, help="HTTPS port for container logs")
    p.add_argument("--tls-cert", required=True)
    p.add_argument("--tls-key", required=True)
    p.add_argument("--gpus", type=int, default=0, help="nvidia.com/gpu capacity to advertise")
    p.add_argument("--cpu", default="2")
    p.add_argument("--memory", default="4Gi")
    p.add_argument("--pods", type=int, default=110)
    p.add_argument("--state-dir", required=True)
    p.add_argument("--hollow", type=float, default=None, metavar="SECONDS",
                   help="run no process: each Pod goes Running, then Succeeded after SECONDS")  # fmt: skip
    p.add_argument("--label", action="append", default=[], help="node label k=v (repeatable)")
    p.add_argument("--taint", action="append", default=[], help="node taint key=value:Effect (repeatable)")
    p.add_argument("--image-map", default=os.environ.get("DEVKUBELET_IMAGE_MAP", ""))
    p.add_argument("--log-level", default=os.environ.get("DEVKUBELET_LOG_LEVEL", "INFO"))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format=f"%(asctime)s {args.node_name} %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    state_dir = Path(args.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    spec = NodeSpec(
        name=args.node_name,
        port=args.port,
        cpu=args.cpu,
        memory=args.memory,
        gpus=args.gpus,
        pods=args.pods,
        ephemeral_storage=disk_quantity(str(state_dir)),
        labels=dict(parse_label(x) for x in args.label),
        taints=tuple(parse_taint(x) for x in args.taint),
    )
    api = KubeApi(args.kubeconfig, files_dir=state_dir / "kube-client")
    pods = PodManager(api, spec.name, state_dir, load_image_map(args.image_map), resources(spec), args.hollow)
    ok, why = pods.mounts
    if not ok:
        log.warning("volume mounts disabled (%s): containers see no volumes at their mount paths", why)
    server = LogServer(args.port, args.tls_cert, args.tls_key, pods.resolve_log)
    server.start()
    agent = NodeAgent(api, spec)
    agent.register()
    agent.start()
    pods.start()
    log.info("node %s ready: port %d, gpus %d, pods %d, state %s%s", spec.name, spec.port, spec.gpus, spec.pods,
             state_dir, f", hollow ({args.hollow} s a Pod)" if args.hollow is not None else "")  # fmt: skip

    done = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping local processes and leaving", signum)
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    done.wait()
    agent.stop()
    pods.stop()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
