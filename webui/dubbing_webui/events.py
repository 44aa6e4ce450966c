"""One watch on DubbingJobs, fanned out to every server-sent-events connection.

The watch runs in one thread per app process.  Each change becomes an event
whose id is the object's resourceVersion, kept in a small ring buffer; a client
reconnecting with ``Last-Event-ID`` gets what it missed from the buffer, or a
full snapshot when its id is no longer there.  Because the ids come from the
API server, they mean the same thing in every replica, so a client may
reconnect to any of them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from dubbing.api import v1alpha1 as api

from .jobs import summary
from .store import User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobEvent:
    id: str
    owner: str | None
    data: dict[str, Any]


@dataclass(eq=False)
class _Subscriber:
    user: User
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[JobEvent] = field(default_factory=lambda: asyncio.Queue(maxsize=1000))


class JobEventHub:
    def __init__(self, kube: Any, namespace: str, buffer_size: int = 256) -> None:
        self.kube = kube
        self.namespace = namespace
        self._buffer: deque[JobEvent] = deque(maxlen=buffer_size)
        self._subs: set[_Subscriber] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watch: watch.Watch | None = None
        self.connected = False
        self.events_seen = 0

    # ------------------------------------------------------------- the watch
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="job-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()

    def _run(self) -> None:
        rv: str | None = None
        while not self._stop.is_set():
            try:
                if rv is None:
                    listing = self.kube.custom.list_namespaced_custom_object(
                        api.GROUP, api.VERSION, self.namespace, api.PLURAL
                    )
                    rv = listing["metadata"]["resourceVersion"]
                    self.connected = True
                    for obj in listing["items"]:
                        self.publish("MODIFIED", obj)
                self._watch = watch.Watch()
                for ev in self._watch.stream(
                    self.kube.custom.list_namespaced_custom_object,
                    api.GROUP,
                    api.VERSION,
                    self.namespace,
                    api.PLURAL,
                    resource_version=rv,
                    timeout_seconds=60,
                    allow_watch_bookmarks=True,
                ):
                    if self._stop.is_set():
                        return
                    self.connected = True
                    obj = ev["object"]
                    rv = obj.get("metadata", {}).get("resourceVersion", rv)
                    if ev["type"] in ("ADDED", "MODIFIED", "DELETED"):
                        self.publish(ev["type"], obj)
                    elif ev["type"] == "ERROR":
                        rv = None
            except ApiException as exc:
                self.connected = False
                if exc.status == 410:
                    rv = None
                    continue
                log.warning("job watch failed: %s", exc.reason)
                self._stop.wait(2)
            except Exception as exc:  # noqa: BLE001 - keep watching whatever happens
                self.connected = False
                log.warning("job watch failed: %s", exc)
                self._stop.wait(2)

    # -------------------------------------------------------------- fan-out
    def publish(self, kind: str, obj: dict[str, Any]) -> None:
        data = summary(obj)
        data["deleted"] = kind == "DELETED"
        event = JobEvent(id=str(obj["metadata"].get("resourceVersion")), owner=data["owner"], data=data)
        with self._lock:
            self.events_seen += 1
            self._buffer.append(event)
            subs = list(self._subs)
        for sub in subs:
            if _visible(sub.user, event):
                sub.loop.call_soon_threadsafe(_offer, sub.queue, event)

    def since(self, last_id: str | None, user: User) -> list[JobEvent] | None:
        """Events after ``last_id`` visible to the user, or None if the id is not in the buffer."""
        if not last_id:
            return None
        with self._lock:
            events = list(self._buffer)
        for i, ev in enumerate(events):
            if ev.id == last_id:
                return [e for e in events[i + 1 :] if _visible(user, e)]
        return None

    def latest_id(self) -> str | None:
        with self._lock:
            return self._buffer[-1].id if self._buffer else None

    async def stream(
        self, user: User, last_id: str | None, snapshot: Callable[[], Any], keepalive_s: float = 15.0
    ) -> AsyncIterator[str]:
        """The SSE byte stream for one connection."""
        sub = _Subscriber(user, asyncio.get_running_loop())
        with self._lock:
            self._subs.add(sub)
        try:
            yield "retry: 3000\n\n"
            missed = self.since(last_id, user)
            if missed is None:
                jobs = await asyncio.to_thread(snapshot)
                yield _sse("snapshot", {"jobs": jobs}, self.latest_id())
            else:
                for ev in missed:
                    yield _sse("job", ev.data, ev.id)
            while True:
                try:
                    ev = await asyncio.wait_for(sub.queue.get(), timeout=keepalive_s)
                except TimeoutError:
                    yield f": keep-alive {int(time.time())}\n\n"
                    continue
                yield _sse("job", ev.data, ev.id)
        finally:
            with self._lock:
                self._subs.discard(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subs)


def _visible(user: User, event: JobEvent) -> bool:
    return user.is_admin or event.owner == user.name


def _offer(queue: asyncio.Queue[JobEvent], event: JobEvent) -> None:
    try:
        queue.put_nowait(event)
    except asyncio.QueueFull:
        pass


def _sse(event: str, data: Any, event_id: str | None) -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
