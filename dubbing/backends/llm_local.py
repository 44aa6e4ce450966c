"""A local OpenAI-compatible server for the ``llm`` translate backend: llama.cpp's (``xllamacpp``).

For a machine without vLLM or Ollama (the tests, the demo): the packaged GGUF
(:mod:`.llm_weights`) served on a loopback port, in a process of its own so that its
threads and memory go when it is stopped.

    python -m dubbing.backends.llm_local [--port 0] [--threads N]

prints one JSON line ``{"endpoint": "http://127.0.0.1:<port>/v1", "model": ...}`` once the
model is loaded, then serves until stdin closes or it is signalled.  :func:`local_server` runs
that process and yields the line's values.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .base import BackendContext, module_available
from .llm_weights import MODEL_NAME, model_path

#: Context per request slot: a batch of segments with its context and the reply fit well inside.
CONTEXT_TOKENS = 4096
START_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class LocalEndpoint:
    endpoint: str  # the OpenAI base URL, ending in /v1
    model: str
    pid: int


#: One thread by default: llama.cpp's threads wait for each other at every step, so on a machine whose
#: cores are busy with other work more threads can be many times slower (measured here: a request that
#: took 30 s with one thread did not finish in 10 min with two). ``--threads`` for a dedicated machine.
DEFAULT_THREADS = 1


def default_threads() -> int:
    return int(os.environ.get("DUBBING_LLM_LOCAL_THREADS") or DEFAULT_THREADS)


def serve(model: Path, port: int, threads: int, alias: str, slots: int) -> object:
    """Start llama.cpp's server in this process; it serves until the returned object is dropped."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.model_alias = [alias]
    params.n_ctx = CONTEXT_TOKENS * slots
    params.n_parallel = slots
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.use_jinja = True
    params.verbosity = -1
    return xllamacpp.Server(params)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dubbing.backends.llm_local", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="loopback port (0: any free one)")
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--slots", type=int, default=1, help="requests served at once")
    parser.add_argument("--model", type=Path, default=None, help="a GGUF file (default: the packaged model)")
    parser.add_argument("--alias", default=MODEL_NAME, help="the model name the server answers to")
    args = parser.parse_args(argv)
    if not module_available("xllamacpp"):
        print("llm server: module xllamacpp not installed (pip install 'dubbing[llm-local]')", file=sys.stderr)
        return 1
    try:
        model = args.model or model_path(BackendContext.from_env().model_cache)
    except (OSError, ValueError) as error:
        print(f"llm server: {error}", file=sys.stderr)
        return 1
    server = serve(model, args.port, args.threads, args.alias, args.slots)
    address = str(server.listening_address).rstrip("/")  # type: ignore[attr-defined]
    print(json.dumps({"endpoint": f"{address}/v1", "model": args.alias}), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def stop_at_end_of_input() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=stop_at_end_of_input, daemon=True).start()
    stop.wait()
    del server
    return 0


@contextlib.contextmanager
def local_server(
    *, threads: int | None = None, slots: int = 1, model: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[LocalEndpoint]:
    """Run :func:`main` in a child process; yields its endpoint once the model is loaded, stops it after."""
    command = [sys.executable, "-m", "dubbing.backends.llm_local", "--slots", str(slots)]
    if threads:
        command += ["--threads", str(threads)]
    if model is not None:
        command += ["--model", str(model)]
    # The server's log goes to a temporary file (a pipe nobody reads would fill and stall it).
    log = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        line = _first_line(process, START_TIMEOUT_SECONDS)
        if not line:
            process.kill()
            process.wait(timeout=10)
            log.seek(0)
            tail = log.read().strip().splitlines()[-5:]
            raise RuntimeError(f"local llm server did not start (exit {process.returncode}): {' | '.join(tail)}")
        started = json.loads(line)
        yield LocalEndpoint(started["endpoint"], started["model"], process.pid)
    finally:
        if process.poll() is None:
            with contextlib.suppress(OSError):
                process.stdin.close()  # type: ignore[union-attr]
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
        if process.stdout is not None:
            process.stdout.close()
        log.close()


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The child's first stdout line, or "" if it exits or the time runs out first."""
    found: list[str] = []

    def read() -> None:
        found.append(process.stdout.readline() if process.stdout else "")

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return found[0].strip() if found else ""


if __name__ == "__main__":
    raise SystemExit(main())
