"""The bounded worker pool (common/pool.py)."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from common.errors import Overloaded
from common.pool import WorkerPool, run_in_pool


def run(scenario):
    """``asyncio.run(scenario())`` in a thread of its own: a browser test of the same session (Playwright's sync
    API) keeps an event loop running in the main thread."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, scenario()).result()


def test_a_full_pool_refuses_at_once():
    pool = WorkerPool(workers=1, queue_limit=0, name="test")
    release = threading.Event()

    async def scenario() -> None:
        busy = asyncio.ensure_future(run_in_pool(pool, release.wait, 5))
        await asyncio.sleep(0.05)
        with pytest.raises(Overloaded):
            await run_in_pool(pool, time.sleep, 0)
        release.set()
        assert await busy

    try:
        run(scenario)
    finally:
        pool.shutdown()


def test_another_request_takes_its_turn_between_the_items_of_a_batch():
    pool = WorkerPool(workers=1, queue_limit=4, name="test")
    done: list[str] = []

    def item(k: int) -> int:
        time.sleep(0.1)
        done.append(f"item {k}")
        return k * k

    async def scenario() -> list[int]:
        async with pool.slot() as slot:
            batch = asyncio.ensure_future(slot.each(item, range(5)))
            await asyncio.sleep(0.05)  # the batch's first item is running
            await run_in_pool(pool, done.append, "plain search")
            return await batch

    try:
        assert run(scenario) == [0, 1, 4, 9, 16]
    finally:
        pool.shutdown()
    # the plain call waited for one item of the batch, not for the five
    assert done.index("plain search") <= 2, done
