"""``dubbing-webui``: serve the web UI with uvicorn (host/port from env or flags)."""

from __future__ import annotations

import argparse
import logging
import os

import uvicorn

from .app import create_app
from .config import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="dubbing-webui", description="Serve the dubbing web UI.")
    parser.add_argument("--host", default=os.environ.get("DUBBING_WEBUI_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("DUBBING_WEBUI_PORT", "8080")))
    parser.add_argument("--log-level", default=os.environ.get("DUBBING_LOG_LEVEL", "info"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(Settings.from_env())
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level.lower(), proxy_headers=True,
                timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
