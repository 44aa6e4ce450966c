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


#: Method and path of the routes that take a whole glossary (bounded by what a valid glossary can weigh).
GLOSSARY_IMPORT = re.compile(r"^(POST /settings/glossary/import|PUT /api/settings/glossary)$")
GLOSSARY_BYTES = 4 * 1024 * 1024 + 64 * 1024  # dubbing.glossary.MAX_BYTES and the form around it


def exempt(method: str, path: str) -> bool:
    return bool(UPLOAD_DATA.match(f"{method} {path}"))


def limit_for(method: str, path: str, default: int) -> int:
    """The body cap of one route: the glossary imports get room for the largest valid glossary."""
    return max(default, GLOSSARY_BYTES) if GLOSSARY_IMPORT.match(f"{method} {path}") else default


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self, cap: int) -> HTTPException:
        return HTTPException(413, f"request body is larger than {cap} bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or exempt(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        cap = limit_for(scope["method"], scope["path"], self.max_bytes)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            await _answer_413(send, str(self._too_large(cap).detail))
            return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise self._too_large(cap)
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
