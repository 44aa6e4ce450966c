"""Keep a ``PodCache`` current: LIST every stage Pod once, then WATCH from that list on.

The watch runs in a thread of its own (a long-lived stream would hold one of the
API worker threads); each Pod is parsed there, and the cache is changed and the
owning job triggered on the event loop, so a reconcile reads the cache without
locks.  A watch that ends is resumed from the last resourceVersion seen
(bookmarks keep it recent); one the API server no longer serves (410 Gone) is
replaced by a new LIST, which triggers every job whose Pods it shows changed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from . import metrics
from .kube import Kube
from .observe import view_pod
from .podcache import PodCache, controller_job

log = logging.getLogger("dubbing_operator.podwatch")

#: How long one watch request runs before the API server ends it and it is resumed.
WATCH_SECONDS = 240


class PodWatch:
    def __init__(
        self,
        kube: Kube,
        namespace: str | None,
        cache: PodCache,
        on_change: Callable[[str], None],
        timeout: int = WATCH_SECONDS,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.cache = cache
        self.on_change = on_change
        self.timeout = timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="pod-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    # --- on the event loop
    def _replace(self, listed: list[tuple[str, str, Any]]) -> None:
        first = not self.cache.ready
        changed = self.cache.replace(listed)
        metrics.POD_CACHE_READY.set(1)
        metrics.POD_CACHE_PODS.set(len(self.cache))
        log.info("Pod watch: listed %d stage Pods%s", len(listed), "" if first else f"; {len(changed)} jobs changed")
        if not first:
            for key in changed:
                self.on_change(key)

    def _apply(self, event_type: str, key: str, uid: str, view: Any) -> None:
        self.cache.apply(event_type, key, uid, view)
        metrics.POD_CACHE_PODS.set(len(self.cache))
        self.on_change(key)

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(fn, *args)

    # --- in the watch thread
    def _run(self) -> None:
        version: str | None = None
        pause = 0.5
        while not self._stop.is_set():
            try:
                if version is None:
                    items, version = self.kube.list_stage_pods(self.namespace)
                    listed = []
                    for pod in items:
                        owner = controller_job(pod)
                        if owner is not None:
                            listed.append((owner[0], owner[1], view_pod(pod)))
                    self._call(self._replace, listed)
                version = self._watch(version)
                pause = 0.5
            except Exception as err:  # noqa: BLE001 - a broken stream is resumed, never fatal
                if self._loop is not None and self._loop.is_closed():
                    return  # the operator is stopping
                log.warning("Pod watch interrupted (%s); resuming in %.1fs", err, pause)
                self._stop.wait(pause)
                pause = min(pause * 2, 10.0)

    def _watch(self, version: str) -> str | None:
        """Follow one watch request; the resourceVersion to resume from, or None to list again."""
        for event in self.kube.watch_stage_pods(self.namespace, version, self.timeout):
            if self._stop.is_set():
                return version
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                code = obj.get("code")
                log.info("Pod watch: %s %s; listing again", code, obj.get("message"))
                return None
            version = (obj.get("metadata") or {}).get("resourceVersion") or version
            if kind == "BOOKMARK":
                continue
            owner = controller_job(obj)
            if owner is not None and kind in ("ADDED", "MODIFIED", "DELETED"):
                self._call(self._apply, kind, owner[0], owner[1], view_pod(obj))
        return version
