"""The reconcile loop's work queue, alone: the guarantees the engine relies on."""

from __future__ import annotations

import asyncio
import random

from dubbing_operator.workqueue import Workers, WorkQueue


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 10))


def test_keys_come_out_in_the_order_they_were_added_and_waiting_adds_coalesce():
    async def main():
        q = WorkQueue()
        for key in ["a", "b", "a", "c", "b", "a"]:
            q.add(key)
        assert len(q) == 3
        return [await q.get() for _ in range(3)], len(q)

    assert run(main()) == (["a", "b", "c"], 0)


def test_a_key_added_while_held_waits_until_done_then_joins_the_end_of_the_line():
    async def main():
        q = WorkQueue()
        q.add("a")
        q.add("b")
        assert await q.get() == "a"
        q.add("a")  # while held: not handed out again yet
        q.add("a")  # coalesced with the one before
        q.add("c")
        assert q.busy("a") and len(q) == 2
        assert await q.get() == "b"
        assert await q.get() == "c"
        getter = asyncio.ensure_future(q.get())
        await asyncio.sleep(0.01)
        assert not getter.done()  # "a" is held: nothing to hand out
        q.done("a")
        assert await getter == "a"
        q.done("a")
        q.done("b")
        q.done("c")
        return [q.busy(k) for k in "abc"], len(q)

    assert run(main()) == ([False, False, False], 0)


def test_done_without_a_new_add_forgets_the_key():
    async def main():
        q = WorkQueue()
        q.add("a")
        assert await q.get() == "a"
        assert q.busy("a")
        q.done("a")
        return q.busy("a"), len(q)

    assert run(main()) == (False, 0)


def test_many_workers_never_hold_one_key_twice_and_lose_no_add():
    """Workers that add keys (their own included) while they work: each key is processed by
    one worker at a time, and every add is followed by a processing that starts after it."""

    async def main():
        q = WorkQueue()
        keys = [f"k{i}" for i in range(8)]
        rng = random.Random(7)
        holding: set[str] = set()
        overlaps: list[str] = []
        last_add: dict[str, int] = {}
        last_start: dict[str, int] = {}
        clock = 0
        adds_left = 400

        def add(key: str) -> None:
            nonlocal clock
            clock += 1
            last_add[key] = clock
            q.add(key)

        async def worker() -> None:
            nonlocal clock, adds_left
            while (key := await q.get()) is not None:
                if key in holding:
                    overlaps.append(key)
                holding.add(key)
                clock += 1
                last_start[key] = clock
                for _ in range(rng.randint(0, 3)):
                    await asyncio.sleep(0)
                    if adds_left > 0:
                        adds_left -= 1
                        add(rng.choice(keys))
                holding.discard(key)
                q.done(key)

        workers = [asyncio.ensure_future(worker()) for _ in range(4)]
        for key in keys:
            add(key)
        while adds_left > 0 or len(q) or any(q.busy(k) for k in keys):
            await asyncio.sleep(0.001)
        q.shut_down()
        await asyncio.gather(*workers)
        missed = [k for k in keys if last_start.get(k, 0) < last_add[k]]
        return overlaps, missed

    assert run(main()) == ([], [])


def test_add_after_keeps_the_earliest_due_time():
    async def main():
        q = WorkQueue()
        loop = asyncio.get_running_loop()
        start = loop.time()
        q.add_after("a", 0.05)
        q.add_after("a", 5.0)  # later: the earlier one stands
        assert await q.get() == "a"
        first = loop.time() - start
        q.done("a")
        start = loop.time()
        q.add_after("b", 5.0)
        q.add_after("b", 0.05)  # earlier: replaces the later one
        assert await q.get() == "b"
        second = loop.time() - start
        q.done("b")
        await asyncio.sleep(0.1)
        return first, second, len(q)

    first, second, waiting = run(main())
    assert 0.04 <= first < 2 and 0.04 <= second < 2 and waiting == 0


def test_a_delayed_add_of_a_waiting_key_coalesces_with_it():
    async def main():
        q = WorkQueue()
        q.add("a")
        q.add_after("a", 0.01)
        await asyncio.sleep(0.05)
        return len(q), await q.get()

    assert run(main()) == (1, "a")


def test_shut_down_hands_out_what_waits_then_answers_none_and_refuses_new_keys():
    async def main():
        q = WorkQueue()
        q.add("a")
        q.add_after("late", 0.01)
        q.shut_down()
        q.add("b")
        await asyncio.sleep(0.05)  # the delayed add was cancelled
        got = [await q.get(), await q.get()]
        return got, q.shutting_down

    assert run(main()) == (["a", None], True)


def test_shut_down_releases_workers_blocked_in_get():
    async def main():
        q = WorkQueue()
        getters = [asyncio.ensure_future(q.get()) for _ in range(3)]
        await asyncio.sleep(0.01)
        q.shut_down()
        return await asyncio.gather(*getters)

    assert run(main()) == [None, None, None]


def test_a_key_re_added_while_held_before_shut_down_is_still_handed_out():
    async def main():
        q = WorkQueue()
        q.add("a")
        assert await q.get() == "a"
        q.add("a")
        q.shut_down()
        q.done("a")
        return await q.get(), await q.get()

    assert run(main()) == ("a", None)


def test_a_cancelled_getter_passes_its_wake_up_on():
    async def main():
        q = WorkQueue()
        first = asyncio.ensure_future(q.get())
        second = asyncio.ensure_future(q.get())
        await asyncio.sleep(0.01)
        q.add("a")  # wakes the first getter ...
        first.cancel()  # ... which is cancelled before it takes the key
        await asyncio.sleep(0.01)
        return first.cancelled(), await asyncio.wait_for(second, 1)

    assert run(main()) == (True, "a")


def test_a_cancelled_getter_is_not_woken_again():
    async def main():
        q = WorkQueue()
        first = asyncio.ensure_future(q.get())
        await asyncio.sleep(0.01)
        first.cancel()
        await asyncio.sleep(0.01)
        second = asyncio.ensure_future(q.get())
        await asyncio.sleep(0.01)
        q.add("a")
        return await asyncio.wait_for(second, 1)

    assert run(main()) == "a"


def test_workers_process_at_most_count_keys_at_once_in_order_and_report_idle_keys():
    async def main():
        started: list[str] = []
        running = 0
        peak = 0
        idle: list[str] = []
        events: list[str] = []
        release = asyncio.Event()

        async def process(key: str) -> None:
            nonlocal running, peak
            started.append(key)
            events.append(f"start {key}")
            running += 1
            peak = max(peak, running)
            await release.wait()
            running -= 1

        def on_idle(key: str) -> None:
            idle.append(key)
            events.append(f"idle {key}")

        workers = Workers(2, process, on_idle)
        for key in "abcd":
            workers.add(key)
        await asyncio.sleep(0.01)
        first = list(started)
        workers.add("a")  # held: processed once more after it is done, and only then idle
        release.set()
        await asyncio.sleep(0.01)
        await workers.stop()
        return first, started, peak, idle, events

    first, started, peak, idle, events = run(main())
    assert first == ["a", "b"] and peak == 2
    assert started == ["a", "b", "c", "d", "a"]
    assert sorted(idle) == ["a", "b", "c", "d"]  # each once: "a" not after its first pass, still wanted then
    assert events.index("idle a") > len(events) - 1 - events[::-1].index("start a")


def test_workers_stop_processes_what_waits_then_returns():
    async def main():
        done: list[str] = []

        async def process(key: str) -> None:
            await asyncio.sleep(0.001)
            done.append(key)

        workers = Workers(1, process)
        for key in "abc":
            workers.add(key)
        await workers.stop()
        workers.add("late")  # refused after stop
        await asyncio.sleep(0.01)
        return done

    assert run(main()) == ["a", "b", "c"]
