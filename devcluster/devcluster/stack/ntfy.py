"""A tiny ntfy-protocol server for tests and benchmarks: records every ``POST /<topic>``."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast


@dataclass
class Message:
    topic: str
    body: str
    headers: dict[str, str]


@dataclass
class NtfyServer:
    server: ThreadingHTTPServer
    messages: list[Message] = field(default_factory=list)

    @property
    def url(self) -> str:
        host, port = cast("tuple[str, int]", self.server.server_address[:2])
        return f"http://{host}:{port}"

    def wait_for(self, topic: str, timeout: float = 10.0) -> Message:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in self.messages:
                if m.topic == topic:
                    return m
            time.sleep(0.05)
        raise AssertionError(f"no ntfy message on {topic!r}; got {[m.topic for m in self.messages]}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_ntfy(host: str = "127.0.0.1") -> NtfyServer:
    holder: list[NtfyServer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's naming
            topic = self.path.strip("/").split("?")[0]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace")
            if not topic or "/" in topic:
                self.send_response(404)
                self.end_headers()
                return
            holder[0].messages.append(Message(topic, body, {k.lower(): v for k, v in self.headers.items()}))
            out = json.dumps({"id": f"m{len(holder[0].messages)}", "topic": topic, "event": "message"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    ntfy = NtfyServer(server)
    holder.append(ntfy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return ntfy
