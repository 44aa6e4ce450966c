"""``dubbing-webui``: serve the web UI with uvicorn (host/port from env or flags)."""

from __future__ import annotations

import argparse
import logging
import signal
from types import FrameType

import uvicorn

from dubbing.config import SettingsError

from .app import create_app
from .config import Settings


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        raise SystemExit(f"dubbing-webui: {error}") from None
    parser = argparse.ArgumentParser(prog="dubbing-webui", description="Serve the dubbing web UI.")
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument("--log-level", default=settings.log_level)
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    # uvicorn shuts down gracefully on SIGTERM and then raises the signal again with the handler it
    # found: with the default one the process is killed on the spot, and nothing registered with
    # atexit runs (the Kubernetes client's temporary certificate and key files stayed in $TMPDIR).
    # With this one the process exits (status 143) and cleans up.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level.lower(),
        proxy_headers=True,
        forwarded_allow_ips=list(settings.trusted_proxies),
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
