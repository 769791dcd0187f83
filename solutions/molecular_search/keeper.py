"""The memory-mapped index kept in step with SQL, and who may write it.

SQL is the store of record; the index (:class:`~.molindex.MoleculeIndex`, files under the service's data
directory) is what searches read. Its manifest saves ``{"version", "store"}``: the SQL version it reflects
and the database it came from (:mod:`.catalog`). So:

* at start-up the saved index is mapped and used when it matches the database; when it is missing, stale
  (another process wrote without saving, a crash before a save, another database, other fingerprint
  settings) it is rebuilt from the SQL rows (fingerprints recomputed from the canonical SMILES, properties
  read from their columns) and saved;
* every write of this process goes index first, SQL row (and version bump) last, under :meth:`writing`,
  so the index stays at the database's version without re-reading it;
* a search checks the database's version at most every ``sync_check_ms``: when another process wrote, it
  re-opens what that process saved, or rebuilds when nothing valid was saved.

**One writer per index directory**: writers hold an ``flock`` on ``<index>.lock`` (a thread lock inside
the process). A load holds it from its first batch to :meth:`end_load` (a ``bootcamp load`` in another
process waits for a running load of the server, and the other way round); single writes (deletes) wait for
it at most ``writer_wait_s`` and then answer 503.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from common.errors import Overloaded
from common.pipeline import Cancelled

from .catalog import Catalog
from .ingest import FingerprintSpec, Preparer
from .molindex import MoleculeIndex

log = logging.getLogger(__name__)

#: molecules read from SQL per step of a rebuild
REBUILD_CHUNK = 20_000


class WriterLock:
    """An exclusive ``flock`` between processes, re-entrant inside this one, plus a thread lock for each write."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        self._mutex = threading.Lock()
        self._holds = 0
        self.thread = threading.RLock()

    def acquire(self, wait_s: float | None, cancelled: Callable[[], bool] = lambda: False) -> bool:
        """Hold the process lock (``wait_s=None``: as long as it takes); False when it stayed busy."""
        deadline = None if wait_s is None else time.monotonic() + wait_s
        while True:
            with self._mutex:
                if self._holds:
                    self._holds += 1
                    return True
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    pass
                else:
                    self._holds = 1
                    return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if cancelled():
                raise Cancelled
            time.sleep(0.1)

    def release(self) -> None:
        with self._mutex:
            self._holds -= 1
            if self._holds == 0:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def held_elsewhere(self) -> bool:
        """True when another process holds the lock now."""
        if self.acquire(0):
            self.release()
            return False
        return True

    def close(self) -> None:
        os.close(self._fd)


class IndexKeeper:
    """The index, the version of the database it reflects, and the writer lock (see the module docstring)."""

    def __init__(self, path: Path, spec: FingerprintSpec, catalog: Catalog, preparer: Preparer, *,
                 writer_wait_s: float = 10.0, sync_check_ms: int = 1000, save_every: int = 250_000) -> None:
        self.path = path
        self.spec = spec
        self.catalog = catalog
        self.preparer = preparer
        self.writer_wait_s = writer_wait_s
        self.sync_check_s = sync_check_ms / 1000.0
        self.save_every = save_every
        self.lock = WriterLock(path.parent / f"{path.name}.lock")
        self.index = self._open_files()
        #: the SQL version the index reflects (None: unknown, must be checked)
        self.synced: int | None = self._saved_version()
        self._checked_at = 0.0
        self._unsaved = 0
        self._load_added = 0
        self._loading = False

    # -- opening ---------------------------------------------------------------------------------
    def _open_files(self) -> MoleculeIndex:
        try:
            index = MoleculeIndex(self.path, self.spec)
            self._unusable = False
            return index
        except (ValueError, KeyError, OSError) as exc:  # other settings, a damaged manifest: rebuilt from SQL
            log.warning("molecule index %s cannot be used (%s); it will be rebuilt from the database", self.path, exc)
            self._unusable = True
            return MoleculeIndex(None, self.spec)

    def _saved_version(self) -> int | None:
        meta = self.index.meta
        if meta.get("store") != self.catalog.store_id or not isinstance(meta.get("version"), int):
            return None
        return int(meta["version"])

    def open(self) -> None:
        """At start-up: use the saved index when it matches the database, else rebuild it (when no other
        process is writing it; then what that process saves is picked up by :meth:`ensure_fresh`)."""
        if not self.lock.acquire(0):
            log.info("another process is writing the molecule index %s; using what it saved", self.path)
            return
        try:
            with self.lock.thread:
                self._catch_up()
        finally:
            self.lock.release()

    # -- writing ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self) -> Iterator[MoleculeIndex]:
        """Hold the writer lock for one write, with the index caught up with the database first."""
        if not self.lock.acquire(self.writer_wait_s):
            raise Overloaded("another process (a `bootcamp load`?) is writing the molecule index; retry when it "
                             "has finished", retry_after_s=5)
        try:
            with self.lock.thread:
                self._catch_up()
                yield self.index
        finally:
            self.lock.release()

    def committed(self, before: int, added: int = 0) -> None:
        """A write transaction moved the database from version ``before`` to ``before + 1``."""
        self.synced = before + 1 if self.synced == before else None
        self._unsaved += added
        self._load_added += added
        if self._unsaved >= self.save_every:
            self.save()

    def save(self, compact: bool | None = None) -> None:
        """Write the index files (caller holds the lock), tagged with the database version they reflect.

        ``compact=None`` leaves it to the index (compacts past 4 segments or 10 % dead rows)."""
        if self.synced is None:
            return  # unknown state: the next writer rebuilds; never tag files with a wrong version
        self.index.save({"version": self.synced, "store": self.catalog.store_id}, compact=compact)
        self._unsaved = 0

    def begin_load(self, cancelled: Callable[[], bool]) -> None:
        """Hold the process lock for a whole load (waits for another process's load; a cancel ends the wait)."""
        if self._loading:
            return
        if not self.lock.acquire(None, cancelled):
            raise RuntimeError("writer lock not acquired")
        self._loading = True
        with self.lock.thread:
            self._catch_up()

    def end_load(self) -> None:
        """After a load: save what it wrote and let other processes write."""
        if not self._loading:
            return
        try:
            with self.lock.thread:
                # a load that wrote a quarter of the index or more leaves one segment (one scan per search)
                big = self._load_added >= max(1, len(self.index) // 4)
                if self.index.dirty or big:
                    self.save(compact=True if big else None)
        finally:
            self._loading = False
            self._load_added = 0
            self.lock.release()

    # -- keeping up ------------------------------------------------------------------------------
    def ensure_fresh(self) -> None:
        """For searches: notice another process's writes (checked at most every ``sync_check_ms``)."""
        now = time.monotonic()
        if now - self._checked_at < self.sync_check_s:
            return
        self._checked_at = now
        version = self.catalog.version()
        if version == self.synced:
            return
        if self.lock.held_elsewhere():  # it saves when its load ends: serve what it saved so far meanwhile
            if not self.index.dirty and self.index.refresh():
                self.synced = self._saved_version()
            return
        with self.writing():
            pass  # catching up is what writing() does first

    def _catch_up(self) -> None:
        """Bring the index to the database's version (caller holds both locks)."""
        version = self.catalog.version()
        if version == self.synced:
            return
        if not self.index.dirty and self.index.refresh():
            self.synced = self._saved_version()
            if version == self.synced:
                return
        self.rebuild(version)

    def rebuild(self, version: int) -> None:
        """Replace the index with the molecules of the database (caller holds both locks)."""
        started = time.perf_counter()
        total = self.catalog.count()
        say = log.info if total else log.debug
        say("rebuilding the molecule index %s from the database: %d molecules", self.path, total)
        if self._unusable:  # files of other settings or damaged: start a new directory
            shutil.rmtree(self.path, ignore_errors=True)
            self.index = MoleculeIndex(self.path, self.spec)
            self._unusable = False
        self.index.clear()
        self.synced = version
        done = 0
        for ids, smiles, values in self.catalog.stream(REBUILD_CHUNK):
            offset = 0
            for batch in self.preparer.prepare_chunks(smiles, with_properties=False):
                rows = batch.rows + offset
                for r, error in enumerate(batch.errors):
                    if error is not None:
                        log.warning("molecule %d (%s) left out of the index: %s", ids[offset + r],
                                    smiles[offset + r], error)
                self.index.add_rows(ids[rows], [smiles[i] for i in rows.tolist()], batch.fps, batch.pattern_fps,
                                    np.asarray(values[rows]))
                offset += len(batch.errors)
            done += len(ids)
            self._unsaved += len(ids)
            if self._unsaved >= self.save_every:
                self.save()
            say("molecule index rebuild: %d / %d", done, total)
        self.save(compact=True)
        say("molecule index rebuilt: %d molecules in %.1f s", len(self.index), time.perf_counter() - started)

    def close(self) -> None:
        with self.lock.thread:
            if self._loading:
                self.end_load()
            if self.index.dirty and self.lock.acquire(0):
                try:
                    self.save()
                finally:
                    self.lock.release()
        self.lock.close()
