"""``python -m dubbing_operator`` / ``dubbing-operator``: run the operator against a cluster."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor

from .settings import Settings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="dubbing-operator", description="Run the DubbingJob operator.")
    p.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"), help="kubeconfig (default: in-cluster)")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--all-namespaces", "-A", action="store_true", default=True, help="watch every namespace (default)")
    scope.add_argument("--namespace", "-n", help="watch one namespace only")
    p.add_argument("--metrics-port", type=int, default=None, help="override DUBBING_METRICS_PORT (0: no metrics server)")
    p.add_argument("--verbose", "-v", action="store_true")
    return p.parse_args(argv)


async def _run(args: argparse.Namespace, settings: Settings) -> None:
    import kopf

    from . import handlers  # registers the handlers

    # Every API call runs in a worker thread; the default pool (cores + 4) is too small
    # for hundreds of jobs reconciling at once on a small machine.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=settings.api_workers, thread_name_prefix="api")
    )
    handlers.STATE.settings = settings
    handlers.STATE.kubeconfig = args.kubeconfig
    handlers.STATE.namespace = args.namespace
    ready = asyncio.Event()
    stop = asyncio.Event()
    operator = kopf.operator(
        standalone=True,
        clusterwide=args.namespace is None,
        namespaces=[args.namespace] if args.namespace else [],
        ready_flag=ready,
        stop_flag=stop,
    )
    loop_task = asyncio.create_task(handlers.resync_loop(settings.resync_seconds))
    try:
        await operator
    finally:
        loop_task.cancel()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("kopf.objects", "kopf.activities.startup", "kopf._core.engines.peering"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig
    settings = Settings.from_env()
    port = settings.metrics_port if args.metrics_port is None else args.metrics_port
    if port:
        from . import metrics

        metrics.serve(port)
    asyncio.run(_run(args, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
