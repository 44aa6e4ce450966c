"""A cap on request bodies (forms, JSON), so no request can make the server spool megabytes.

Upload data (chunk PUTs, tus PATCHes) is exempt: those routes bound what they read themselves.
A declared ``Content-Length`` over the cap is refused before reading; a body that grows past it
while read is cut off with the same 413.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Method and path of the routes that stream upload data.
UPLOAD_DATA = re.compile(r"^(PUT /api/uploads/[^/]+/chunks/[^/]+|PATCH /api/tus/[^/]+)$")


def exempt(method: str, path: str) -> bool:
    return bool(UPLOAD_DATA.match(f"{method} {path}"))


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> HTTPException:
        return HTTPException(413, f"request body is larger than {self.max_bytes} bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or exempt(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _answer_413(send, str(self._too_large().detail))
            return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise self._too_large()
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, watch)
        except HTTPException as exc:
            if exc.status_code != 413 or started:
                raise
            await _answer_413(send, str(exc.detail))


async def _answer_413(send: Send, detail: str) -> None:
    import json

    body = json.dumps({"detail": detail}).encode()
    headers: list[Any] = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
