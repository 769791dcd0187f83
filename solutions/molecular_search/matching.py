"""RDKit matching with a real time limit: killable worker processes.

``HasSubstructMatch`` cannot be interrupted from Python, and on a pathological pair (an 8×8 carbon
grid against a long ring SMARTS) one call runs for minutes. So matching and highlighting run in
worker processes: the caller waits on the pipe until its deadline, then kills the worker (SIGKILL),
starts a replacement at once (it warms up while the caller answers) and reports ``complete=False``.

:class:`MatchPool` holds ``workers`` processes (spawned, so no locks or threads are inherited);
each request borrows one, so requests run in parallel up to that number and wait beyond it (the
wait counts against the request's time budget).
Workers cache parsed molecules by id (``mol_cache`` per worker). Call :meth:`MatchPool.close`
(or use it as a context manager) to stop them. They also die with their parent, even one killed by
SIGKILL in the middle of a match (:func:`die_with_parent`): each is started by the pool's own spawner
thread, which lives as long as the pool, because Linux sends the parent-death signal when the thread
that started a process ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Literal

log = logging.getLogger(__name__)

Mode = Literal["substructure", "superstructure"]

#: candidates per request to a worker: small first (top-10 answers come back fast), then larger
FIRST_CHUNK, MAX_CHUNK = 16, 512
#: how long a worker may take to start (importing RDKit) before it is considered broken
START_TIMEOUT_S = 60.0


@dataclass
class MatchOutcome:
    matched: list[int]  # candidate indices that matched, in candidate order
    scanned: int  # candidates verified
    complete: bool  # False when the deadline stopped the work before the answer was known


#: how often a worker checks that its parent is alive (seconds)
PARENT_CHECK_S = 0.2
_PR_SET_PDEATHSIG = 1


# -- the worker side ---------------------------------------------------------------------------
def die_with_parent(parent: int, death_signal: bool = False) -> None:
    """In a worker process: exit as soon as ``parent`` (the pid that started it) is gone, however it died.

    A watchdog thread compares ``os.getppid()`` with ``parent`` every :data:`PARENT_CHECK_S` (an orphan is
    re-parented); it runs whenever the worker is between RDKit calls. ``death_signal=True`` also asks Linux
    for SIGKILL when the parent goes (``PR_SET_PDEATHSIG``), which stops a worker inside a long RDKit call; it
    is only right when the thread that started the worker lives as long as the worker should, since Linux
    sends it when that thread ends.
    """
    if death_signal and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the watchdog still works
            pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _worker_main(conn: Connection, mol_cache: int, parent: int) -> None:
    die_with_parent(parent, death_signal=True)
    from rdkit import Chem, RDLogger

    from .chem import draw_svg, parse_query, parse_smiles

    RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]
    mols: OrderedDict[int, Any] = OrderedDict()
    last_query: tuple[str, str, Any] | None = None
    conn.send(("ready", None))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        op = msg[0]
        try:
            if op == "match":
                _, mode, text, pairs = msg
                if last_query is None or last_query[:2] != (mode, text):
                    q = parse_query(text)[0] if mode == "substructure" else parse_smiles(text)
                    last_query = (mode, text, q)
                query = last_query[2]
                hits = []
                for i, (item_id, smiles) in enumerate(pairs):
                    mol = mols.get(item_id)
                    if mol is None:
                        mol = Chem.MolFromSmiles(smiles)
                        if mol_cache:
                            mols[item_id] = mol
                            if len(mols) > mol_cache:
                                mols.popitem(last=False)
                    if mol is None:
                        continue
                    ok = mol.HasSubstructMatch(query) if mode == "substructure" else query.HasSubstructMatch(mol)
                    if ok:
                        hits.append(i)
                conn.send(("ok", hits))
            elif op == "svg":
                _, smiles, highlight, width, height = msg
                hl = parse_query(highlight)[0] if highlight else None
                conn.send(("ok", draw_svg(Chem.MolFromSmiles(smiles), width, height, highlight=hl)))
            elif op == "stop":
                return
            else:
                conn.send(("error", f"unknown op {op!r}"))
        except Exception as exc:  # report, keep serving
            conn.send(("error", str(exc)))


# -- the parent side ---------------------------------------------------------------------------
class _Worker:
    def __init__(self, ctx: Any, mol_cache: int) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, mol_cache, os.getpid()), daemon=True,
                                name="molecule-matcher")
        self.proc.start()
        child.close()
        self.ready = False
        self.dead = False
        self.started = time.monotonic()

    def wait_ready(self, timeout: float) -> bool:
        try:
            if not self.ready and self.conn.poll(timeout):
                self.ready = self.conn.recv()[0] == "ready"
        except (EOFError, OSError):  # the process died while starting
            self.ready = False
        return self.ready

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join(timeout=5)
        self.conn.close()


class MatchPool:
    """Killable RDKit workers; see the module docstring."""

    def __init__(self, workers: int = 2, mol_cache: int = 100_000) -> None:
        self._ctx = mp.get_context("spawn")
        self._mol_cache = mol_cache
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        self.kills = 0
        #: starts every worker: the parent-death signal is tied to the thread that started a process, and a
        #: request's thread or a respawn thread may end while its worker should live on
        self._spawner = ThreadPoolExecutor(1, thread_name_prefix="molecule-matcher-spawn")
        for _ in range(workers):
            self._spawn()

    def _spawn(self) -> None:
        try:
            w = self._spawner.submit(_Worker, self._ctx, self._mol_cache).result()
        except RuntimeError:  # close() shut the spawner down
            return
        with self._lock:
            closed = self._closed
            if not closed:
                self._all.append(w)
        if closed:  # close() ran while this replacement was starting
            w.kill()
            return
        self._idle.put(w)

    def _borrow(self, timeout: float | None = None) -> _Worker | None:
        """An idle worker, or ``None`` when none became free within ``timeout`` seconds."""
        if self._closed:
            raise RuntimeError("MatchPool is closed")
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            w = self._idle.get(timeout=timeout)
        except queue.Empty:
            return None
        if w.ready:
            return w
        # a replacement still importing RDKit: its start-up counts against the budget too
        wait = START_TIMEOUT_S if deadline is None else min(START_TIMEOUT_S, max(0.0, deadline - time.monotonic()))
        if w.wait_ready(wait):
            return w
        if w.proc.is_alive() and (time.monotonic() - w.started) < START_TIMEOUT_S:
            self._idle.put(w)  # not ready yet: leave it for the next request
            return None
        self._discard(w)
        raise RuntimeError("a matching worker did not start")

    def _discard(self, w: _Worker) -> None:
        """SIGKILL the worker now; reap it and start its replacement on a thread (the caller answers at once)."""
        w.dead = True
        w.proc.kill()
        with self._lock:
            if w in self._all:
                self._all.remove(w)

        def replace() -> None:
            w.kill()  # join and close its pipe
            if not self._closed:
                self._spawn()

        threading.Thread(target=replace, name="molecule-matcher-respawn", daemon=True).start()

    def _call(self, w: _Worker, msg: tuple, deadline: float) -> tuple[bool, Any]:
        """Send one request; ``(False, None)`` when the deadline passed (the worker is then killed)."""
        try:
            w.conn.send(msg)
            if not w.conn.poll(max(0.0, deadline - time.monotonic())):
                self.kills += 1
                log.info("RDKit worker killed at its deadline")
                self._discard(w)
                return False, None
            status, value = w.conn.recv()
        except (EOFError, OSError) as exc:  # the worker died (e.g. out of memory): replace it
            self._discard(w)
            raise RuntimeError("the RDKit worker died") from exc
        if status == "error":
            raise ValueError(value)
        return True, value

    def match(self, mode: Mode, query: str, chunks: Callable[[int, int], list[tuple[int, str]]],
              need: int | None = None, timeout_s: float = 5.0) -> MatchOutcome:
        """Verify candidates in order until ``need`` matched, all were verified, or time ran out.

        ``chunks(start, stop)`` returns ``[(id, smiles), ...]`` of candidates ``start..stop-1``
        (fewer at the end); ``mode`` ``substructure`` tests stored ⊇ query (query SMILES or SMARTS),
        ``superstructure`` stored ⊆ query (query SMILES).
        """
        deadline = time.monotonic() + timeout_s
        w = self._borrow(timeout_s)  # waiting for a busy pool counts against the budget
        if w is None:
            return MatchOutcome([], 0, False)
        matched: list[int] = []
        scanned = 0
        size = FIRST_CHUNK
        try:
            while need is None or len(matched) < need:
                pairs = chunks(scanned, scanned + size)
                if not pairs:
                    return MatchOutcome(matched, scanned, True)
                if time.monotonic() >= deadline:
                    return MatchOutcome(matched, scanned, False)
                ok, hits = self._call(w, ("match", mode, query, pairs), deadline)
                if not ok:
                    return MatchOutcome(matched, scanned, False)
                matched.extend(scanned + i for i in hits)
                scanned += len(pairs)
                size = min(MAX_CHUNK, size * 2)
            return MatchOutcome(matched[:need] if need is not None else matched, scanned, True)
        finally:
            if not w.dead:
                self._idle.put(w)

    def svg(self, smiles: str, highlight: str | None, width: int, height: int,
            timeout_s: float) -> str | None:
        """An SVG drawn in a worker, or ``None`` when it did not finish in time."""
        deadline = time.monotonic() + timeout_s
        w = self._borrow(timeout_s)
        if w is None:
            return None
        try:
            ok, value = self._call(w, ("svg", smiles, highlight, width, height), deadline)
            return value if ok else None
        finally:
            if not w.dead:
                self._idle.put(w)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
        for w in workers:
            with contextlib.suppress(OSError):
                w.conn.send(("stop",))
            w.proc.join(timeout=2)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(timeout=2)
            w.conn.close()
        self._spawner.shutdown(wait=False)

    def __enter__(self) -> MatchPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
