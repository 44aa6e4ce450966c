"""Container log files and the kubelet's HTTPS log endpoint.

Each line a container writes is stored as `<RFC3339Nano> <stream> F <text>`
(the CRI log layout), so the server can honour timestamps, sinceSeconds and
sinceTime. The server answers `GET /containerLogs/{namespace}/{pod}/{container}`
the way the apiserver's Pod log API expects, following new lines until the
container has ended when `follow=true`.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO
from urllib.parse import parse_qs, unquote, urlparse

log = logging.getLogger("devkubelet.logs")


def now_nano() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}000Z"


def format_line(stream: str, text: str, stamp: str | None = None) -> str:
    return f"{stamp or now_nano()} {stream} F {text.rstrip(chr(10))}\n"


def parse_line(raw: str) -> tuple[str, str, str]:
    """-> (timestamp, stream, text without newline)."""
    stamp, _, rest = raw.partition(" ")
    stream, _, rest = rest.partition(" ")
    _tag, _, text = rest.partition(" ")
    return stamp, stream, text.rstrip("\n")


def parse_stamp(stamp: str) -> datetime:
    head, _, frac = stamp.rstrip("Z").partition(".")
    moment = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return moment.replace(microsecond=int((frac + "000000")[:6]))


class LogWriter:
    """Serialises lines from a container's stdout and stderr into one file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fh: IO[str] = open(path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, stream: str, text: str) -> None:
        with self._lock:
            self._fh.write(format_line(stream, text))
            self._fh.flush()

    def pump(self, stream: str, pipe: IO[bytes]) -> None:
        for raw in iter(pipe.readline, b""):
            self.write(stream, raw.decode("utf-8", errors="replace"))
        pipe.close()

    def close(self) -> None:
        with self._lock:
            self._fh.close()


def tail_text(path: Path, lines: int) -> list[str]:
    """The last `lines` lines of a container log, text only."""
    try:
        raw = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [parse_line(r)[2] for r in raw[-lines:]]


@dataclass(frozen=True)
class LogQuery:
    follow: bool = False
    tail_lines: int | None = None
    timestamps: bool = False
    limit_bytes: int | None = None
    since: datetime | None = None
    previous: bool = False


def parse_query(query: str, now: datetime) -> LogQuery:
    params = {k: v[-1] for k, v in parse_qs(query).items()}

    def as_int(key: str) -> int | None:
        return int(params[key]) if key in params and params[key] != "" else None

    since = None
    if as_int("sinceSeconds") is not None:
        since = datetime.fromtimestamp(now.timestamp() - int(params["sinceSeconds"]), UTC)
    elif params.get("sinceTime"):
        since = datetime.fromisoformat(params["sinceTime"].replace("Z", "+00:00"))
    truthy = ("true", "1")
    return LogQuery(
        follow=params.get("follow", "").lower() in truthy,
        tail_lines=as_int("tailLines"),
        timestamps=params.get("timestamps", "").lower() in truthy,
        limit_bytes=as_int("limitBytes"),
        since=since,
        previous=params.get("previous", "").lower() in truthy,
    )


def render(raw: str, query: LogQuery) -> str | None:
    """One stored line -> what the client sees, or None when filtered out."""
    stamp, _stream, text = parse_line(raw)
    if query.since is not None and parse_stamp(stamp) < query.since:
        return None
    return f"{stamp} {text}\n" if query.timestamps else f"{text}\n"


def read_log(path: Path, query: LogQuery, running: Callable[[], bool], poll: float = 0.2) -> Iterator[bytes]:
    """Yield the log as the client should see it; with follow, keep going while `running()`."""
    sent = 0

    def limited(chunk: str) -> tuple[bytes, bool]:
        nonlocal sent
        data = chunk.encode("utf-8")
        if query.limit_bytes is not None and sent + len(data) >= query.limit_bytes:
            return data[: query.limit_bytes - sent], True
        sent += len(data)
        return data, False

    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = fh.readlines()
        partial = ""
        if lines and not lines[-1].endswith("\n"):
            partial = lines.pop()
        if query.tail_lines is not None:
            lines = lines[-query.tail_lines :] if query.tail_lines > 0 else []
        for raw in lines:
            out = render(raw, query)
            if out is not None:
                data, done = limited(out)
                yield data
                if done:
                    return
        if not query.follow:
            return
        while True:
            alive = running()
            chunk = fh.readline()
            if chunk:
                partial += chunk
                if not partial.endswith("\n"):
                    continue
                out = render(partial, query)
                partial = ""
                if out is not None:
                    data, done = limited(out)
                    yield data
                    if done:
                        return
                continue
            if not alive:
                return
            time.sleep(poll)


LogResolver = Callable[[str, str, str, bool], "tuple[Path, Callable[[], bool]] | None"]
"""(namespace, pod, container, previous) -> (log file, is-the-container-running) or None."""


class _Handler(BaseHTTPRequestHandler):
    server_version = "devkubelet"
    resolver: LogResolver

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _plain(self, code: int, text: str) -> None:
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        if parts == ["healthz"]:
            self._plain(200, "ok")
            return
        if len(parts) != 4 or parts[0] != "containerLogs":
            self._plain(404, f"not found: {url.path}")
            return
        _, namespace, pod, container = parts
        try:
            query = parse_query(url.query, datetime.now(UTC))
        except ValueError as exc:
            self._plain(400, f"bad query: {exc}")
            return
        found = self.resolver(namespace, pod, container, query.previous)
        if found is None:
            what = "previous terminated container" if query.previous else "container"
            self._plain(404 if not query.previous else 400, f'{what} "{container}" in pod "{pod}" not found')
            return
        path, running = found
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            if path.exists():
                for data in read_log(path, query, running):
                    if data:
                        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                        self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass


class LogServer:
    """HTTPS server for container logs, on the port the Node advertises."""

    def __init__(self, port: int, cert: str, key: str, resolver: LogResolver, host: str = "127.0.0.1") -> None:
        handler = type("Handler", (_Handler,), {"resolver": staticmethod(resolver), "protocol_version": "HTTP/1.1"})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.verify_mode = ssl.CERT_NONE  # the apiserver's client certificate is accepted unchecked
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="log-server", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
