"""The bounded worker pool every blocking call goes through.

Model inference, Milvus and SQL calls block; routes never run them on the event loop but
``await run_in_pool(pool, fn, *args)``. The pool is bounded (``WORKERS`` threads) so a burst of
requests queues instead of oversubscribing the two cores the models already use.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


def make_pool(workers: int, name: str) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=f"{name}-pool")


async def run_in_pool(pool: ThreadPoolExecutor, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``fn(*args, **kwargs)`` in ``pool`` and await its result."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool, functools.partial(fn, *args, **kwargs))


def cpu_threads() -> int:
    """Threads a model may use for one call (onnxruntime / torch intra-op)."""
    return max(1, len(os.sched_getaffinity(0)))
