"""A small dynamic batcher with continuous batching: concurrent callers `await submit(item)`, one
worker thread runs `run_batch(items)` on up to `max_batch` items at a time. When the worker is idle
it runs what is queued at once (a lone caller never waits for company); while a batch runs, new items
queue and form the next batch, so under load batches fill by themselves without a fixed wait.
`max_wait_ms` (default 0) is an optional extra wait after the first item for a batch to fill, for a
model whose per-call cost is so high that a few milliseconds buy a larger batch.

The queue is bounded: past `max_queue` waiting items `submit` raises `Overloaded` at once (the
service answers 503 with Retry-After) instead of letting memory grow under a burst. `run_batch`
runs in the batcher's own thread, never on the event loop; it returns one result per item (an
Exception instance fails that item only) or raises (every item of the batch fails with it).
`max_batch=1` turns batching off (one item per call, in arrival order).

Each batch costs two thread hand-offs, there and back: the worker thread sets the callers' results
through one `call_soon_threadsafe`. Without `max_wait_ms` no task sits in between: an item that finds
the worker idle is handed over at the end of the event-loop step it arrived in (so the items that
arrive in the same step, a long clip's segments, go together), and a finished batch hands the items
that queued meanwhile straight to the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..errors import SseftError

In = TypeVar("In")
Out = TypeVar("Out")


class Overloaded(SseftError):
    """The batcher's queue is full: try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class BatchStats:
    """What the batcher did so far (for /readyz, logs and the benchmark)."""

    batches: int = 0
    items: int = 0
    rejected: int = 0
    largest: int = 0
    busy_s: float = 0.0
    sizes: dict[int, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        mean = self.items / self.batches if self.batches else 0.0
        return {
            "batches": self.batches, "items": self.items, "rejected": self.rejected,
            "largest_batch": self.largest, "mean_batch": round(mean, 3), "busy_s": round(self.busy_s, 3),
        }  # fmt: skip


class DynamicBatcher(Generic[In, Out]):
    """Batches `submit`ted items for `run_batch` (see the module docstring)."""

    def __init__(
        self,
        run_batch: Callable[[list[In]], Sequence[Out | BaseException]],
        *,
        max_batch: int = 8,
        max_wait_ms: float = 0.0,
        max_queue: int = 64,
        name: str = "batcher",
    ) -> None:
        if max_batch < 1 or max_queue < 1 or max_wait_ms < 0:
            raise ValueError("max_batch and max_queue must be >= 1 and max_wait_ms >= 0")
        self.run_batch = run_batch
        self.max_batch, self.max_wait, self.max_queue = max_batch, max_wait_ms / 1000.0, max_queue
        self.name = name
        self.stats = BatchStats()
        self._pending: deque[tuple[In, asyncio.Future[Out]]] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"sseft-{name}")
        self._closed = False
        self._running = False  # a batch is in the worker thread (set and cleared on the loop's thread)
        self._inflight: list[list[tuple[In, asyncio.Future[Out]]]] = []
        self._epoch = 0  # bumped by close(): a batch launched before it settles nothing of what follows
        self._launch_soon = False  # a hand-over is scheduled for the end of this loop step

    @property
    def waiting(self) -> int:
        """Items queued and not yet handed to `run_batch`."""
        return len(self._pending)

    async def submit(self, item: In) -> Out:
        """The result of `item` once its batch has run; `Overloaded` when the queue is full."""
        self._start()
        if len(self._pending) >= self.max_queue:
            self.stats.rejected += 1
            raise Overloaded(
                f"{self.name}: {len(self._pending)} requests already waiting (queue limit {self.max_queue}); "
                "try again shortly",
                retry_after=max(1, round(self.stats.busy_s / max(self.stats.batches, 1) * 2)),
            )
        assert self._loop is not None and self._wake is not None
        fut: asyncio.Future[Out] = self._loop.create_future()
        self._pending.append((item, fut))
        if self.max_wait > 0:
            self._wake.set()  # the batching task waits for company, then hands over
        elif not self._running and not self._launch_soon:
            self._launch_soon = True  # idle: hand over what arrived in this step, at its end
            self._loop.call_soon(self._launch_waiting)
        return await fut

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop and not self._closed:
            return
        # A new event loop (a test client per test, a restarted server) or after close(): start over.
        if self._closed:
            self._pool, self._closed = (
                ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"sseft-{self.name}"),
                False,
            )
        self._loop, self._wake = loop, asyncio.Event()
        self._running, self._launch_soon = False, False
        self._task = loop.create_task(self._run(), name=f"sseft-{self.name}") if self.max_wait > 0 else None

    async def _run(self) -> None:
        """The batching task, for `max_wait_ms` > 0 only (without it, submit and _settle hand over)."""
        assert self._wake is not None
        while True:
            while self._running or not self._pending:  # woken when an item queues or a batch ends
                self._wake.clear()
                await self._wake.wait()
            await self._gather()
            batch = self._take()
            if batch:
                await self._launch(batch)

    def _take(self) -> list[tuple[In, asyncio.Future[Out]]]:
        """The next batch: up to max_batch waiting items whose callers are still there."""
        batch = [self._pending.popleft() for _ in range(min(self.max_batch, len(self._pending)))]
        return [(item, fut) for item, fut in batch if not fut.cancelled()]

    def _launch_waiting(self) -> None:
        self._launch_soon = False
        while not self._running and self._pending:  # past callers that are gone, if any
            batch = self._take()
            if batch:
                self._launch(batch)

    async def _gather(self) -> None:
        """Wait up to max_wait for the batch to fill (not at all when it is full or waiting is off:
        continuous batching, the default)."""
        assert self._wake is not None
        if self.max_wait <= 0:
            return
        deadline = time.monotonic() + self.max_wait
        while len(self._pending) < self.max_batch:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), left)

    def _launch(self, batch: list[tuple[In, asyncio.Future[Out]]]) -> asyncio.Future[None]:
        """Hand `batch` to the worker thread; when `run_batch` returns, one `call_soon_threadsafe`
        settles every caller's future (the returned future is done then too)."""
        loop = self._loop
        assert loop is not None
        items = [item for item, _ in batch]
        done: asyncio.Future[None] = loop.create_future()
        epoch = self._epoch
        self._running = True
        self._inflight.append(batch)

        def work() -> None:
            t0 = time.perf_counter()
            try:
                results: list[Any] = list(self.run_batch(items))
                if len(results) != len(items):
                    raise RuntimeError(
                        f"{self.name}: run_batch gave {len(results)} results for {len(items)} items"
                    )
            except Exception as e:  # the whole batch fails with it; the batcher goes on
                results = [e] * len(items)
            took = time.perf_counter() - t0
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
                loop.call_soon_threadsafe(self._settle, batch, results, took, done, epoch)

        self._pool.submit(work)
        return done

    def _settle(
        self, batch: list[tuple[In, asyncio.Future[Out]]], results: list[Any], took: float,
        done: asyncio.Future[None], epoch: int,
    ) -> None:  # fmt: skip
        """On the loop's thread: each caller gets its result or error; what queued meanwhile goes next."""
        current = epoch == self._epoch
        if current:
            self._running = False
            self._inflight.remove(batch)
        self._account(len(batch), took)
        for (_, fut), res in zip(batch, results, strict=True):
            if fut.done():  # the caller is gone (cancelled)
                continue
            if isinstance(res, BaseException):
                fut.set_exception(res)
            else:
                fut.set_result(res)
        if not done.done():
            done.set_result(None)
        if current and self._pending:  # what queued meanwhile is the next batch
            if self.max_wait > 0:
                assert self._wake is not None
                self._wake.set()
            else:
                self._launch_waiting()

    def _account(self, n: int, seconds: float) -> None:
        s = self.stats
        s.batches += 1
        s.items += n
        s.largest = max(s.largest, n)
        s.busy_s += seconds
        s.sizes[n] = s.sizes.get(n, 0) + 1

    def close(self) -> None:
        """Stop the loop task and the worker thread (waiting and running callers get CancelledError); a later
        `submit` on a new event loop starts both again."""
        if self._task is not None:
            self._task.cancel()
        for _, fut in [*self._pending, *(job for batch in self._inflight for job in batch)]:
            if not fut.done():
                with contextlib.suppress(RuntimeError):  # its event loop is already closed
                    fut.cancel()
        self._pending.clear()
        self._inflight.clear()
        self._running, self._launch_soon, self._epoch = False, False, self._epoch + 1
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._closed = True
