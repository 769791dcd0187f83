"""The local features (ORB) of stored images, computed lazily and cached.

A candidate's features are computed the first time a search re-ranks it: its stored copy is decoded and
described in the decode threads (all uncached candidates of a search in parallel, while the search thread
describes the query), then kept in ``local/<id>.npz`` and in an in-memory LRU. Concurrent searches share one
computation per item. Deleting an item removes its features; the cache never writes features of an item
whose stored copy is gone (a delete that ran meanwhile leaves no orphan).
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future
from pathlib import Path

from common.errors import BootcampError
from common.files import atomic_write

from .features import LocalFeatures

log = logging.getLogger(__name__)

#: what a lookup gives per id: the features at once (cached), or a future of them (None: the item is gone)
Pending = LocalFeatures | Future[LocalFeatures | None]


class LocalFeatureCache:
    """Local features by item id: memory (LRU), then ``<dir>/<id>.npz``, then computed from the stored copy."""

    def __init__(self, directory: Path, executor: Executor, describe: Callable[[bytes], LocalFeatures],
                 capacity: int = 2000) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self._executor = executor
        self._describe = describe
        self.capacity = capacity
        self.memory: OrderedDict[int, LocalFeatures] = OrderedDict()
        self._pending: dict[int, Future[LocalFeatures | None]] = {}
        # guards the two dicts above, and the npz files (written only while the stored copy exists)
        self._lock = threading.Lock()

    def path(self, item_id: int) -> Path:
        return self.dir / f"{item_id}.npz"

    def lookup(self, ids: list[int], copies: Callable[[list[int]], dict[int, Path]]) -> dict[int, Pending]:
        """Each id's features, or a future of them; ``copies(ids)`` gives the stored copies of the ids whose
        features were never computed (asked only for those)."""
        out: dict[int, Pending] = {}
        with self._lock:
            for item_id in ids:
                hit = self.memory.get(item_id)
                if hit is not None:
                    self.memory.move_to_end(item_id)
                    out[item_id] = hit
                elif item_id in self._pending:
                    out[item_id] = self._pending[item_id]
        missing = [i for i in ids if i not in out]
        if not missing:
            return out
        new = [i for i in missing if not self.path(i).is_file()]
        sources = copies(new) if new else {}
        with self._lock:
            for item_id in missing:
                fut = self._pending.get(item_id)
                if fut is None:
                    fut = self._executor.submit(self._fetch, item_id, sources.get(item_id))
                    self._pending[item_id] = fut
                out[item_id] = fut
        return out

    def _fetch(self, item_id: int, copy: Path | None) -> LocalFeatures | None:
        """(decode thread) the npz, else the features of the stored copy, saved as npz; None if neither exists."""
        try:
            local: LocalFeatures | None = None
            try:
                local = LocalFeatures.from_bytes(self.path(item_id).read_bytes())
                copy = None
            except (OSError, ValueError, KeyError):
                pass
            if local is None and copy is not None:
                try:
                    local = self._describe(copy.read_bytes())
                except (OSError, BootcampError) as exc:
                    log.warning("no local features for image %d: %s", item_id, exc)
                    return None
            with self._lock:
                if local is None:
                    return None
                if copy is not None:
                    if not copy.is_file():
                        return None  # deleted meanwhile
                    atomic_write(self.path(item_id), local.to_bytes())
                if self.capacity:
                    self.memory[item_id] = local
                    while len(self.memory) > self.capacity:
                        self.memory.popitem(last=False)
            return local
        finally:
            with self._lock:
                self._pending.pop(item_id, None)

    def discard(self, ids: Iterable[int]) -> None:
        with self._lock:
            for item_id in ids:
                self.memory.pop(item_id, None)
                self.path(item_id).unlink(missing_ok=True)

    def clear(self) -> None:
        with self._lock:
            self.memory.clear()
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir.mkdir(parents=True, exist_ok=True)

    def forget_memory(self) -> None:
        """Empty the in-memory LRU only (benchmarks: measure reads from disk)."""
        with self._lock:
            self.memory.clear()


def resolve(found: Pending) -> LocalFeatures | None:
    return found.result() if isinstance(found, Future) else found


__all__ = ["LocalFeatureCache", "Pending", "resolve"]
