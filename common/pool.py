"""The bounded worker pool every blocking call goes through.

Model inference, Milvus and SQL calls block; routes never run them on the event loop but
``await run_in_pool(pool, fn, *args)``. The pool has ``WORKERS`` threads (so a burst of requests does not
oversubscribe the cores the models already use) and room for ``QUEUE_LIMIT`` calls waiting for a thread.
Beyond that a call is refused at once with :class:`~common.errors.Overloaded` (503 + ``Retry-After``) instead
of waiting without bound. A route that reads a large request body first asks ``pool.check_room()`` (503 at
once when full, before a byte is read), then, with the body in, holds a place for its calls with
``async with pool.slot() as slot:``: a client that sends its body slowly holds no place meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import ParamSpec, TypeVar

from .errors import Overloaded

P = ParamSpec("P")
T = TypeVar("T")
Item = TypeVar("Item")


class WorkerPool:
    """``workers`` threads with at most ``queue_limit`` calls waiting; refuses more with 503."""

    def __init__(self, workers: int, queue_limit: int, name: str, retry_after_s: int = 2) -> None:
        self.workers = max(1, workers)
        self.capacity = self.workers + max(0, queue_limit)
        self.retry_after_s = retry_after_s
        self.executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=f"{name}-pool")
        self._in_flight = 0
        self._lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def _acquire(self) -> None:
        with self._lock:
            self._refuse_when_full()
            self._in_flight += 1

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    async def _call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` in a worker thread; :class:`Overloaded` when the pool and its queue are full."""
        self._acquire()
        try:
            return await self._call(fn, *args, **kwargs)
        finally:
            self._release()

    def check_room(self) -> None:
        """:class:`Overloaded` now when the pool and its queue are full; nothing is held (a route calls it before
        it reads a large request body, and takes its place once the body has arrived)."""
        with self._lock:
            self._refuse_when_full()

    def _refuse_when_full(self) -> None:  # with self._lock held
        if self._in_flight >= self.capacity:
            raise Overloaded(f"the server is busy ({self._in_flight} requests in progress or waiting); retry shortly",
                             retry_after_s=self.retry_after_s)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        """Hold one place in the pool for a sequence of calls (refused at once when full)."""
        self._acquire()
        try:
            yield Slot(self)
        finally:
            self._release()

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


class Slot:
    """A place held in a :class:`WorkerPool`; its calls do not count again against the limit."""

    def __init__(self, pool: WorkerPool) -> None:
        self._pool = pool

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._pool._call(fn, *args, **kwargs)

    async def each(self, fn: Callable[[Item], T], items: Iterable[Item]) -> list[T]:
        """``[fn(item) for item in items]``, one pool call per item: the calls of other requests waiting for a
        thread take their turn between two items, instead of waiting for a long batch to end."""
        return [await self._pool._call(fn, item) for item in items]


async def run_in_pool(pool: WorkerPool, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``fn(*args, **kwargs)`` in ``pool`` and await its result (the one way routes call blocking code)."""
    return await pool.run(fn, *args, **kwargs)


def cpu_threads() -> int:
    """Threads a model may use for one call (onnxruntime / torch intra-op)."""
    return max(1, len(os.sched_getaffinity(0)))
