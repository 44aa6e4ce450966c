"""A work queue of keys for asyncio workers, after client-go's ``workqueue``.

The guarantees the reconcile loop relies on:

- a key is handed to at most one worker at a time (``get`` ... ``done``);
- adding a key that already waits does nothing (triggers coalesce);
- adding a key while a worker holds it marks it to be handed out again once that
  worker calls ``done`` (the change is not lost, and not processed twice at once);
- keys are handed out in the order they were added (a key re-added while held
  joins the end of the line at ``done``);
- ``add_after`` adds a key later; of several delays for one key the earliest stands;
- ``shut_down`` refuses new keys and cancels the delayed ones; the keys already
  waiting are still handed out, after which ``get`` answers None.

All methods are called on one event loop (``add_after`` and ``get`` need it running).
``Workers`` runs a number of tasks that take the keys and process them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable


class WorkQueue:
    def __init__(self) -> None:
        self._queue: deque[str] = deque()  # keys ready to be handed out, in order
        self._dirty: set[str] = set()  # keys that want processing (waiting, or held and re-added)
        self._processing: set[str] = set()  # keys a worker holds
        self._timers: dict[str, tuple[float, asyncio.TimerHandle]] = {}  # key -> (due, its timer)
        self._getters: deque[asyncio.Future[None]] = deque()
        self._shutting_down = False

    # --- adding
    def add(self, key: str) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return  # handed out again at done()
        self._queue.append(key)
        self._wake_next()

    def add_after(self, key: str, delay: float) -> None:
        """Add the key in ``delay`` seconds, unless it is already due to be added no later than that."""
        if self._shutting_down:
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        old = self._timers.get(key)
        if old is not None and old[0] <= due:
            return
        if old is not None:
            old[1].cancel()
        self._timers[key] = (due, loop.call_at(due, self._fire, key))

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self.add(key)

    # --- processing
    async def get(self) -> str | None:
        """The next key, held until ``done(key)``; None once shut down and nothing waits."""
        while not self._queue:
            if self._shutting_down:
                return None
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except asyncio.CancelledError:
                if getter in self._getters:
                    self._getters.remove(getter)
                elif self._queue:
                    self._wake_next()  # it was woken for a key it will not take: pass it on
                raise
        key = self._queue.popleft()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: str) -> None:
        """The worker is finished with the key; if it was added meanwhile, it waits again."""
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wake_next()

    def _wake_next(self) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return

    # --- looking
    def busy(self, key: str) -> bool:
        """True while the key waits or a worker holds it (delayed adds not counted)."""
        return key in self._dirty or key in self._processing

    def __len__(self) -> int:
        return len(self._queue)

    # --- stopping
    def shut_down(self) -> None:
        self._shutting_down = True
        for _, timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down


class Workers:
    """``count`` tasks on the running event loop that hand a ``WorkQueue``'s keys to ``process``;
    started by the first add. ``idle(key)`` is called after a key's processing when nobody
    wants it again (it is neither waiting nor held)."""

    def __init__(
        self,
        count: int,
        process: Callable[[str], Awaitable[None]],
        idle: Callable[[str], None] | None = None,
    ) -> None:
        self.queue = WorkQueue()
        self._count = count
        self._process = process
        self._idle = idle
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, key: str) -> None:
        self.queue.add(key)
        self._start()

    def add_after(self, key: str, delay: float) -> None:
        self.queue.add_after(key, delay)
        self._start()

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._tasks = [loop.create_task(self._work()) for _ in range(self._count)]

    async def stop(self) -> None:
        """Take no more keys; return once the keys already waiting have been processed."""
        self.queue.shut_down()
        await asyncio.gather(*self._tasks)

    async def _work(self) -> None:
        while (key := await self.queue.get()) is not None:
            try:
                await self._process(key)
            finally:
                self.queue.done(key)
            if self._idle is not None and not self.queue.busy(key):
                self._idle(key)
