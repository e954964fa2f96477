"""The dynamic batcher: batches fill under concurrency up to max_batch, continuous batching by
default (a lone caller never waits; items arriving while a batch runs form the next one), one caller
waits at most max_wait, every caller gets its own item's result or error, a full queue refuses at once."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sseft.core.serving.batcher import DynamicBatcher, Overloaded


def _doubler(sizes: list[int], delay: float = 0.0) -> Any:
    def run(items: list[int]) -> list[Any]:
        assert threading.current_thread() is not threading.main_thread()  # never on the event loop's thread
        sizes.append(len(items))
        time.sleep(delay)
        return [ValueError(f"bad {i}") if i < 0 else i * 2 for i in items]

    return run


@settings(max_examples=25, deadline=None)
@given(items=st.lists(st.integers(-3, 50), min_size=1, max_size=40), max_batch=st.integers(1, 9))
def test_every_caller_gets_its_own_result_and_batches_respect_max(items: list[int], max_batch: int) -> None:
    sizes: list[int] = []
    b = DynamicBatcher(_doubler(sizes), max_batch=max_batch, max_wait_ms=2, max_queue=100)

    async def main() -> list[Any]:
        return await asyncio.gather(*(b.submit(i) for i in items), return_exceptions=True)

    out = asyncio.run(main())
    b.close()
    for i, o in zip(items, out, strict=True):
        if i < 0:
            assert isinstance(o, ValueError) and str(o) == f"bad {i}"
        else:
            assert o == i * 2
    assert sum(sizes) == len(items) and max(sizes) <= max_batch


def test_concurrent_callers_share_batches() -> None:
    sizes: list[int] = []
    b = DynamicBatcher(_doubler(sizes, delay=0.02), max_batch=8, max_wait_ms=20, max_queue=100)

    async def main() -> list[Any]:
        return await asyncio.gather(*(b.submit(i) for i in range(32)))

    assert asyncio.run(main()) == [i * 2 for i in range(32)]
    b.close()
    assert max(sizes) == 8 and len(sizes) <= 6  # batched, not one by one


def test_one_caller_waits_at_most_max_wait() -> None:
    sizes: list[int] = []
    b = DynamicBatcher(_doubler(sizes), max_batch=64, max_wait_ms=30, max_queue=100)

    async def main() -> float:
        t0 = time.perf_counter()
        await b.submit(1)
        return time.perf_counter() - t0

    took = asyncio.run(main())
    b.close()
    assert 0.025 <= took < 0.5 and sizes == [1]


def test_by_default_a_lone_item_runs_at_once() -> None:
    """Continuous batching: with the worker idle, an item is handed to run_batch without a wait for
    company (the least delay of 10 lone items, so a busy machine's hiccups do not count)."""
    delays: list[float] = []
    sent: list[float] = []

    def run(items: list[int]) -> list[int]:
        delays.append(time.perf_counter() - sent[-1])
        return items

    b: DynamicBatcher[int, int] = DynamicBatcher(run)

    async def main() -> None:
        for i in range(10):
            sent.append(time.perf_counter())
            assert await b.submit(i) == i

    asyncio.run(main())
    b.close()
    assert len(delays) == 10 and min(delays) < 0.004  # a 5 ms wait for a batch to fill would fail this


def test_items_arriving_while_a_batch_runs_form_the_next_batch() -> None:
    sizes: list[int] = []
    started, release = threading.Event(), threading.Event()

    def run(items: list[int]) -> list[int]:
        sizes.append(len(items))
        started.set()
        release.wait(5)
        return [i * 2 for i in items]

    b: DynamicBatcher[int, int] = DynamicBatcher(run, max_batch=8)

    async def main() -> list[int]:
        first = asyncio.ensure_future(b.submit(0))
        while not started.is_set():
            await asyncio.sleep(0.001)
        rest = [asyncio.ensure_future(b.submit(i)) for i in range(1, 6)]
        await asyncio.sleep(0.01)
        release.set()
        return await asyncio.gather(first, *rest)

    assert asyncio.run(main()) == [i * 2 for i in range(6)]
    b.close()
    assert sizes == [1, 5]  # the first ran alone at once; the five that queued meanwhile ran together


def test_batching_off_runs_items_one_by_one() -> None:
    sizes: list[int] = []
    b = DynamicBatcher(_doubler(sizes, delay=0.005), max_batch=1, max_wait_ms=0, max_queue=100)

    async def main() -> list[Any]:
        return await asyncio.gather(*(b.submit(i) for i in range(10)))

    assert asyncio.run(main()) == [i * 2 for i in range(10)]
    b.close()
    assert sizes == [1] * 10


def test_a_full_queue_refuses_at_once_and_a_failing_batch_fails_only_its_items() -> None:
    calls: list[int] = []

    def run(items: list[int]) -> list[int]:
        calls.append(len(items))
        time.sleep(0.05)
        if 13 in items:
            raise RuntimeError("model broke")
        return items

    b = DynamicBatcher(run, max_batch=1, max_wait_ms=0, max_queue=2)

    async def main() -> list[Any]:
        return await asyncio.gather(*(b.submit(i) for i in (13, 1, 2, 3, 4, 5)), return_exceptions=True)

    out = asyncio.run(main())
    b.close()
    refused = [o for o in out if isinstance(o, Overloaded)]
    assert refused and all(o.retry_after >= 1 and "queue limit 2" in str(o) for o in refused)
    assert isinstance(out[0], RuntimeError) and 1 in out  # the next batch still ran
    assert b.stats.rejected == len(refused) and len(calls) <= 3


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        DynamicBatcher(lambda x: x, max_batch=0)


def test_items_arriving_in_one_step_on_an_idle_worker_go_together() -> None:
    """A long clip's segments (or a burst) submitted together find the worker idle: they form one
    batch, not a lone first item and then the rest."""
    sizes: list[int] = []
    b = DynamicBatcher(_doubler(sizes), max_batch=8)

    async def main() -> list[Any]:
        first = await asyncio.gather(*(b.submit(i) for i in range(5)))
        second = await asyncio.gather(*(b.submit(i) for i in range(11)))  # more than max_batch
        return [first, second]

    assert asyncio.run(main()) == [[i * 2 for i in range(5)], [i * 2 for i in range(11)]]
    b.close()
    assert sizes == [5, 8, 3]


def test_while_an_idle_hand_over_runs_others_queue_up_to_the_limit_and_form_the_next_batch() -> None:
    sizes: list[int] = []
    started, release = threading.Event(), threading.Event()

    def run(items: list[int]) -> list[int]:
        sizes.append(len(items))
        started.set()
        release.wait(5)
        return [i * 10 for i in items]

    b: DynamicBatcher[int, int] = DynamicBatcher(run, max_batch=8, max_queue=3)

    async def main() -> list[Any]:
        first = asyncio.ensure_future(b.submit(0))
        while not started.is_set():
            await asyncio.sleep(0.001)
        rest = [asyncio.ensure_future(b.submit(i)) for i in range(1, 6)]
        await asyncio.sleep(0.01)
        release.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    out = asyncio.run(main())
    b.close()
    assert out[:4] == [0, 10, 20, 30]  # the lone item, then the three that queued
    assert all(isinstance(o, Overloaded) for o in out[4:])  # past the queue limit of 3: refused
    assert sizes == [1, 3] and b.stats.rejected == 2


def test_close_while_a_batch_runs_cancels_its_callers_and_a_new_loop_starts_clean() -> None:
    started, release = threading.Event(), threading.Event()

    def run(items: list[int]) -> list[int]:
        started.set()
        if items == [1]:
            release.wait(5)
        return items

    b: DynamicBatcher[int, int] = DynamicBatcher(run, max_batch=8)

    async def first() -> BaseException | int:
        caller = asyncio.ensure_future(b.submit(1))
        while not started.is_set():
            await asyncio.sleep(0.001)
        b.close()  # a server shutting down mid-batch
        try:
            return await caller
        except asyncio.CancelledError as e:
            return e

    async def second() -> list[int]:
        return await asyncio.wait_for(asyncio.gather(b.submit(2), b.submit(3)), 5)

    try:
        assert isinstance(asyncio.run(first()), asyncio.CancelledError)
        assert sorted(asyncio.run(second())) == [2, 3]  # nothing left marked as running
    finally:
        release.set()
        b.close()


def test_callers_gone_before_their_turn_do_not_strand_the_ones_behind_them() -> None:
    sizes: list[int] = []
    started, release = threading.Event(), threading.Event()

    def run(items: list[int]) -> list[int]:
        sizes.append(len(items))
        started.set()
        release.wait(5)
        return items

    b: DynamicBatcher[int, int] = DynamicBatcher(run, max_batch=2)

    async def main() -> int:
        first = asyncio.ensure_future(b.submit(0))
        while not started.is_set():
            await asyncio.sleep(0.001)
        gone = [asyncio.ensure_future(b.submit(i)) for i in (1, 2, 3)]  # a whole batch and more
        last = asyncio.ensure_future(b.submit(4))
        await asyncio.sleep(0.01)
        for g in gone:
            g.cancel()  # their clients hung up while the first batch ran
        release.set()
        await first
        return await asyncio.wait_for(last, 5)

    assert asyncio.run(main()) == 4
    b.close()
    assert sizes == [1, 1]  # the cancelled ones never ran; the last one did
