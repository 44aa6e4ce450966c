"""``python -m dubbing_operator`` / ``dubbing-operator``: run the operator against a cluster."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import cast

from dubbing.config import SettingsError

from . import heap
from .settings import Settings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="dubbing-operator", description="Run the DubbingJob operator.")
    p.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"), help="kubeconfig (default: in-cluster)")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument(
        "--all-namespaces", "-A", action="store_true", default=True, help="watch every namespace (default)"
    )
    scope.add_argument("--namespace", "-n", help="watch one namespace only")
    p.add_argument(
        "--metrics-port", type=int, default=None, help="override DUBBING_METRICS_PORT (0: no metrics server)"
    )
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
    heap.limit_arenas()  # before any thread starts
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
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        raise SystemExit(f"dubbing-operator: {error}") from None
    from . import metrics

    port = settings.metrics_port if args.metrics_port is None else args.metrics_port
    if port:
        metrics.serve(port)
    if not settings.leader_election_namespace:
        metrics.LEADER.set(1)
        asyncio.run(_run(args, settings))
        return 0
    return _run_as_elected_leader(args, settings)


def _run_as_elected_leader(args: argparse.Namespace, settings: Settings) -> int:
    """Stand by until this replica holds the Lease, reconcile while it does, hand it back on a clean stop."""
    import signal
    import threading

    from . import kube, metrics
    from .leader import LeaseElector

    log = logging.getLogger("dubbing_operator")
    elector = LeaseElector(
        kube.load(args.kubeconfig, pool_size=2),
        cast(str, settings.leader_election_namespace),  # set: main() runs this only when it is
        settings.leader_election_lease,
        lease_duration_seconds=settings.lease_duration_seconds,
        renew_deadline_seconds=settings.lease_renew_deadline_seconds,
        retry_seconds=settings.lease_retry_seconds,
    )
    metrics.LEADER.set(0)
    standby_stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: standby_stop.set())
    if not elector.acquire(standby_stop):
        log.info("stopped while standing by")
        return 0
    signal.signal(signal.SIGTERM, previous)
    metrics.LEADER.set(1)

    def lost() -> None:
        # Another replica may take over from the lease's expiry on: stop reconciling now,
        # without a graceful shutdown that could still write; the Deployment restarts this one.
        metrics.LEADER.set(0)
        logging.shutdown()
        os._exit(3)

    elector.keep(on_lost=lost)
    try:
        asyncio.run(_run(args, settings))
    finally:
        metrics.LEADER.set(0)
        elector.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
