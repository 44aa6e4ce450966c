"""Server-sent-event generators that wrap blocking sources (Pod logs)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request

from ..jobs import JobService
from ..limits import Slot

_END = object()


async def log_stream(
    jobs: JobService, job: str, pod: str | None, request: Request, slot: Slot, keepalive_s: float = 15.0
) -> AsyncIterator[str]:
    """The SSE stream of a Pod's log; ``slot`` (the user's stream slot) is given back when it ends,
    and the thread following the log ends with it (its connection is closed)."""
    try:
        yield "retry: 5000\n\n"
        if pod is None:
            yield 'event: end\ndata: {"reason":"no pod yet"}\n\n'
            return
        async for event in _follow(jobs, job, pod, request, keepalive_s):
            yield event
    finally:
        slot.release()


async def _follow(jobs: JobService, job: str, pod: str, request: Request, keepalive_s: float) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=2000)
    stop = threading.Event()
    opened: list[Any] = []

    def pump() -> None:
        try:
            for line in jobs.follow_logs(pod, job, on_open=opened.append):
                if stop.is_set():
                    return
                loop.call_soon_threadsafe(queue.put_nowait, line)
        except Exception as exc:  # noqa: BLE001 - reported to the client
            if not stop.is_set():
                loop.call_soon_threadsafe(queue.put_nowait, RuntimeError(str(exc)[:300]))
        finally:
            if not loop.is_closed():
                loop.call_soon_threadsafe(queue.put_nowait, _END)

    threading.Thread(target=pump, name=f"logs-{pod}", daemon=True).start()
    n = 0
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), timeout=keepalive_s)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield ": keep-alive\n\n"
                continue
            if item is _END:
                yield f"event: end\ndata: {json.dumps({'pod': pod})}\n\n"
                return
            if isinstance(item, RuntimeError):
                yield f"event: error\ndata: {json.dumps({'message': str(item)})}\n\n"
                continue
            n += 1
            yield f"id: {n}\nevent: log\ndata: {json.dumps({'pod': pod, 'line': item})}\n\n"
    finally:
        stop.set()
        for response in opened:
            response.close()  # wakes the thread blocked reading the log
