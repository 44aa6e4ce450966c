"""A small HTTP server that speaks ntfy's publish and poll protocol and records what it receives.

* ``POST|PUT /<topic>`` with the body as message and Title/Priority/Tags/Click/Actions headers
* ``POST /`` with a JSON body ``{"topic", "message", "title", "priority", "tags", "click", "actions"}``
* ``GET /<topic>/json?poll=1&since=<unix>|all`` returns the cached messages, one JSON per line
Answers publishes with the ntfy message JSON (id, time, event, topic, ...).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

PRIORITIES = {"min": 1, "low": 2, "default": 3, "high": 4, "max": 5, "urgent": 5}


@dataclass
class Received:
    message: dict[str, Any]
    headers: dict[str, str]


@dataclass
class NtfyServer:
    token: str | None = None
    fail_next: int = 0  # answer this many publishes with 500
    received: list[Received] = field(default_factory=list)
    _httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def messages(self, topic: str | None = None) -> list[dict[str, Any]]:
        return [r.message for r in self.received if topic is None or r.message["topic"] == topic]

    def start(self) -> NtfyServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _auth_ok(self) -> bool:
                if server.token and self.headers.get("Authorization") != f"Bearer {server.token}":
                    self._reply(401, {"code": 40101, "http": 401, "error": "unauthorized"})
                    return False
                return True

            def _reply(self, code: int, body: Any, raw: str | None = None) -> None:
                data = (raw if raw is not None else json.dumps(body) + "\n").encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _publish(self) -> None:
                if not self._auth_ok():
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                path = urlparse(self.path).path.strip("/")
                if path:
                    topic, text = path, body
                    h = self.headers
                    title, prio, tags, click, actions = (
                        h.get("Title"), h.get("Priority"), h.get("Tags"), h.get("Click"), h.get("Actions"))  # fmt: skip
                    tags_l = [t.strip() for t in tags.split(",")] if tags else []
                else:
                    doc = json.loads(body)
                    topic, text = doc["topic"], doc.get("message", "")
                    title, prio, click, actions = (
                        doc.get("title"),
                        doc.get("priority"),
                        doc.get("click"),
                        doc.get("actions"),
                    )
                    tags_l = doc.get("tags") or []
                if server.fail_next > 0:
                    server.fail_next -= 1
                    self._reply(500, {"code": 50001, "http": 500, "error": "planned failure"})
                    return
                msg: dict[str, Any] = {"id": secrets.token_hex(6), "time": int(time.time()), "event": "message",
                                       "topic": topic, "message": text}  # fmt: skip
                if title:
                    msg["title"] = title
                if prio:
                    msg["priority"] = PRIORITIES.get(str(prio), int(prio) if str(prio).isdigit() else 3)
                if tags_l:
                    msg["tags"] = tags_l
                if click:
                    msg["click"] = click
                if actions:
                    msg["actions_raw"] = actions
                server.received.append(Received(msg, dict(self.headers)))
                self._reply(200, msg)

            do_POST = _publish
            do_PUT = _publish

            def do_GET(self) -> None:
                if not self._auth_ok():
                    return
                url = urlparse(self.path)
                parts = url.path.strip("/").split("/")
                if len(parts) != 2 or parts[1] != "json":
                    self._reply(404, {"error": "not found"})
                    return
                since = (parse_qs(url.query).get("since") or ["all"])[0]
                floor = 0 if since == "all" else int(since)
                lines = [json.dumps(m) for m in server.messages(parts[0]) if m["time"] >= floor]
                self._reply(200, None, raw="".join(line + "\n" for line in lines))

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
