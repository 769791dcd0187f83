"""Background load tasks with progress persisted in the SQL store.

``TaskRunner.submit`` records a task as ``queued`` and returns its id at once; one worker thread per service
runs tasks in order. A running job reports through its :class:`Progress`: an estimated ``total`` first, then
the outcome of every item (``new``, ``duplicate``, ``failed``, warnings), so ``GET /tasks/{id}`` reads live
progress from the database, and keeps answering after a restart.

States: ``queued`` → ``running`` → ``succeeded`` | ``failed`` | ``cancelled``. :meth:`TaskRunner.cancel` stops
a task at its next batch boundary (a queued one at once: its job is still called, and ends at its first check,
so it removes what it was given, such as a staged upload). Each task records the process that owns it; at
start-up the tasks a dead process of this host owned are marked failed at once ("interrupted by a restart"),
and a task whose heartbeat stopped for :data:`STALE_AFTER` (another host died) is marked failed when read.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, DateTime, Float, Integer, String, Table, Text, and_, func, insert, select, update
from sqlalchemy.engine import Connection

from .errors import BootcampError, NotFound
from .sql import SQLStore

if TYPE_CHECKING:  # the pipeline package builds on this module, not the other way round
    from .pipeline.work import Outcome

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """Raised inside a load job when its task was cancelled; the task ends in state ``cancelled``."""


HEARTBEAT_SECONDS = 5.0
#: a queued/running task whose heartbeat is older than this belongs to a dead process
STALE_AFTER = timedelta(seconds=30)
INTERRUPTED = "interrupted by a restart before it finished; load it again (stored items are kept)"
#: errors and warnings kept per task; the counters stay exact beyond it
MAX_ERRORS_KEPT = 1000
#: partial progress inside a batch is written at most this often
PARTIAL_EVERY_SECONDS = 0.5

STATES = ("queued", "running", "succeeded", "failed", "cancelled")
LIVE = ("queued", "running")
#: this process, as recorded on the tasks it runs: host, pid and a boot id (pid numbers are reused)
BOOT_ID = uuid.uuid4().hex[:8]
OWNER = f"{socket.gethostname()[:100]}:{os.getpid()}:{BOOT_ID}"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def define_task_tables(store: SQLStore) -> tuple[Table, Table]:
    """The ``tasks`` and ``task_errors`` tables (shared by all services, keyed by service name)."""
    md = store.metadata
    if "tasks" in md.tables:
        return md.tables["tasks"], md.tables["task_errors"]
    tasks = Table(
        "tasks", md,
        Column("id", String(32), primary_key=True),
        Column("service", String(64), nullable=False, index=True),
        Column("source", String(1024), nullable=False),
        Column("state", String(16), nullable=False),
        Column("total", Integer, nullable=False, default=0),
        Column("new_items", Integer, nullable=False, default=0),
        Column("duplicates", Integer, nullable=False, default=0),
        Column("failed", Integer, nullable=False, default=0),
        Column("warnings", Integer, nullable=False, default=0),
        Column("partial", Float, nullable=False, default=0.0),
        Column("message", Text, nullable=True),
        Column("owner", String(160), nullable=False, default=""),
        Column("created_at", DateTime, nullable=False),
        Column("finished_at", DateTime, nullable=True),
        Column("heartbeat_at", DateTime, nullable=False),
    )
    errors = Table(
        "task_errors", md,
        Column("seq", Integer, primary_key=True, autoincrement=True),
        Column("task_id", String(32), nullable=False, index=True),
        Column("item", String(1024), nullable=False),
        Column("error", Text, nullable=False),
        Column("level", String(8), nullable=False, default="error"),
    )
    return tasks, errors


class Progress:
    """Handed to a running job: the estimated total, the outcome of each item, partial progress, cancel."""

    def __init__(self, runner: TaskRunner, task_id: str, cancel: threading.Event) -> None:
        self._runner = runner
        self.task_id = task_id
        self._cancel = cancel
        self._last_partial = 0.0
        #: outcomes recorded so far by status (``new``, ``duplicate``, ``failed``)
        self.tally: dict[str, int] = {"new": 0, "duplicate": 0, "failed": 0}

    def set_total(self, total: int) -> None:
        self._runner._update(self.task_id, total=int(total))

    def record(self, outcomes: Sequence[tuple[str, Outcome]]) -> None:
        """``(item label, outcome)`` for each item just finished."""
        for status, n in self._runner._record(self.task_id, outcomes).items():
            self.tally[status] += n
        self._last_partial = 0.0

    def partial(self, items_done: float) -> None:
        now = time.monotonic()
        if now - self._last_partial >= PARTIAL_EVERY_SECONDS:
            self._last_partial = now
            self._runner._update(self.task_id, partial=float(items_done))

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise Cancelled


Job = Callable[[Progress], None]


class TaskRunner:
    """Runs one service's load jobs one after another in a worker thread."""

    def __init__(self, store: SQLStore, service: str) -> None:
        self.store = store
        self.service = service
        self.tasks, self.errors = define_task_tables(store)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{service}-task")
        self._live: dict[str, threading.Event] = {}  # cancel flags of this process's queued/running tasks
        self._finished: dict[str, threading.Event] = {}
        self._unrecorded: dict[str, tuple[str, str | None]] = {}  # ends the database did not take (see _end)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name=f"{service}-heartbeat", daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Mark the tasks of dead processes as interrupted and start the heartbeat."""
        self.fail_interrupted()
        self._heartbeat.start()

    def shutdown(self, wait: bool = True) -> None:
        self._stop.set()
        with self._lock:
            for flag in self._live.values():
                flag.set()
        self._executor.shutdown(wait=wait, cancel_futures=True)
        if self._heartbeat.is_alive():
            self._heartbeat.join(timeout=HEARTBEAT_SECONDS * 2)

    # -- public API --------------------------------------------------------------------------
    def submit(self, source: str, job: Job) -> str:
        """Record a queued task and run ``job`` in the worker thread; returns the task id at once."""
        task_id = self._create(source)
        self._executor.submit(self._run, task_id, job)
        return task_id

    def run_now(self, source: str, job: Job) -> dict[str, Any]:
        """Run a job in the calling thread (CLI); returns the final task record."""
        task_id = self._create(source)
        self._run(task_id, job)
        return self.get(task_id)

    def cancel(self, task_id: str) -> dict[str, Any]:
        """Ask a task to stop; a queued one ends at once, a running one at its next batch. Returns the task."""
        task = self.get(task_id)
        with self._lock:
            flag = self._live.get(task_id)
        if flag is not None:
            flag.set()
            if task["state"] == "queued":
                self._finish(task_id, "cancelled", "cancelled before it started")
        return self.get(task_id)

    def cancel_all(self, timeout: float = 120.0) -> int:
        """Cancel every queued and running task of this process and wait until none runs; returns how many."""
        with self._lock:
            live = list(self._live.items())
            done = [self._finished[t] for t, _ in live if t in self._finished]
        for _, flag in live:
            flag.set()
        deadline = time.monotonic() + timeout
        for event in done:
            event.wait(max(0.0, deadline - time.monotonic()))
        return len(live)

    def get(self, task_id: str, max_errors: int = 100) -> dict[str, Any]:
        with self.store.begin() as conn:
            row = self._row(conn, task_id)
            if row["state"] in LIVE and row["owner"] != OWNER and self._is_stale(row["heartbeat_at"]):
                self._mark_interrupted(conn, [task_id])
                row = self._row(conn, task_id)
            errors = conn.execute(
                select(self.errors.c.item, self.errors.c.error, self.errors.c.level)
                .where(self.errors.c.task_id == task_id).order_by(self.errors.c.seq).limit(max_errors)
            ).mappings().all()
        return _public(row, [{"item": e["item"], "error": e["error"], "level": e["level"]} for e in errors])

    def recent(self, limit: int = 10) -> list[dict[str, Any]]:
        """This service's latest tasks, newest first; without their errors (``failed`` and ``warnings`` count
        them; :meth:`get` lists them)."""
        with self.store.begin() as conn:
            rows = conn.execute(
                select(self.tasks).where(self.tasks.c.service == self.service)
                .order_by(self.tasks.c.created_at.desc(), self.tasks.c.id).limit(limit)
            ).mappings().all()
        return [_public(r) for r in rows]

    def fail_interrupted(self) -> int:
        """Mark as failed the live tasks whose process is gone: at once for this host, by heartbeat otherwise."""
        host = OWNER.split(":", 1)[0]
        with self.store.begin() as conn:
            rows = conn.execute(
                select(self.tasks.c.id, self.tasks.c.owner, self.tasks.c.heartbeat_at).where(
                    and_(self.tasks.c.service == self.service, self.tasks.c.state.in_(LIVE))
                )
            ).all()
            dead = [r.id for r in rows if not self._is_mine(r.id) and (
                _owner_dead(r.owner, host) or self._is_stale(r.heartbeat_at))]
            self._mark_interrupted(conn, dead)
        if dead:
            log.warning("%s: %d load task(s) were interrupted by a restart", self.service, len(dead))
        return len(dead)

    # -- internals ---------------------------------------------------------------------------
    def _create(self, source: str) -> str:
        task_id = uuid.uuid4().hex
        now = _now()
        with self.store.begin() as conn:
            conn.execute(insert(self.tasks).values(
                id=task_id, service=self.service, source=source[:1024], state="queued", total=0, new_items=0,
                duplicates=0, failed=0, warnings=0, partial=0.0, owner=OWNER, created_at=now, heartbeat_at=now,
            ))
        with self._lock:
            self._live[task_id] = threading.Event()
            self._finished[task_id] = threading.Event()
        return task_id

    def _row(self, conn: Connection, task_id: str) -> Any:
        row = conn.execute(select(self.tasks).where(
            and_(self.tasks.c.id == task_id, self.tasks.c.service == self.service))).mappings().first()
        if row is None:
            raise NotFound(f"no task {task_id!r}")
        return row

    def _is_mine(self, task_id: str) -> bool:
        with self._lock:
            return task_id in self._live

    def _run(self, task_id: str, job: Job) -> None:
        with self._lock:
            cancel = self._live.get(task_id, threading.Event())
        try:
            if cancel.is_set():  # cancelled while queued (already recorded): the job ends at its first check,
                with contextlib.suppress(Cancelled):  # where it removes what it was given (a staged upload)
                    job(Progress(self, task_id, cancel))
                return
            end: tuple[str, str | None] = ("succeeded", None)
            try:
                self._update(task_id, state="running")
                job(Progress(self, task_id, cancel))
            except Cancelled:
                end = ("cancelled", "cancelled; every item listed as stored is complete")
            except BootcampError as exc:  # a deliberate refusal: its message is the task's, no traceback
                log.warning("task %s failed: %s", task_id, exc.detail)
                end = ("failed", exc.detail)
            except Exception as exc:
                log.exception("task %s failed", task_id)
                end = ("failed", f"{type(exc).__name__}: {exc}")
            self._end(task_id, *end)
        finally:
            with self._lock:
                self._live.pop(task_id, None)
                finished = self._finished.pop(task_id, None)
            if finished is not None:
                finished.set()

    def _end(self, task_id: str, state: str, message: str | None) -> None:
        """Record how a task ended, whatever the database does: a message it refuses is recorded escaped to ASCII;
        if it does not answer, the heartbeat thread records the end once it does (a task never stays running)."""
        for text in dict.fromkeys([message, _ascii(message)]):
            try:
                self._finish(task_id, state, text)
                return
            except Exception:
                log.exception("task %s: could not record that it %s", task_id, state)
        with self._lock:
            self._unrecorded[task_id] = (state, _ascii(message))

    def _record_ends(self) -> None:
        """Record the task ends the database did not take when they happened (see :meth:`_end`)."""
        with self._lock:
            waiting = list(self._unrecorded.items())
        for task_id, (state, message) in waiting:
            try:
                self._finish(task_id, state, message)
            except Exception as exc:
                log.warning("task %s: its end is still not recorded (%s); retrying", task_id, type(exc).__name__)
                return
            with self._lock:
                self._unrecorded.pop(task_id, None)

    def _finish(self, task_id: str, state: str, message: str | None) -> None:
        with self.store.begin() as conn:
            conn.execute(update(self.tasks).where(and_(self.tasks.c.id == task_id, self.tasks.c.state.in_(LIVE)))
                         .values(state=state, message=message, finished_at=_now(), partial=0.0, heartbeat_at=_now()))

    def _update(self, task_id: str, **values: Any) -> None:
        values["heartbeat_at"] = _now()
        with self.store.begin() as conn:
            conn.execute(update(self.tasks).where(self.tasks.c.id == task_id).values(**values))

    def _record(self, task_id: str, outcomes: Sequence[tuple[str, Outcome]]) -> dict[str, int]:
        """Add the outcomes to the task's counters and errors; returns how many of each status they held."""
        count = {"new": 0, "duplicate": 0, "failed": 0}
        notes: list[dict[str, str]] = []
        for label, outcome in outcomes:
            count[outcome.status] += 1
            if outcome.message:
                notes.append({"task_id": task_id, "item": str(label)[:1024], "error": str(outcome.message)[:4000],
                              "level": outcome.level})
        t = self.tasks.c
        with self.store.begin() as conn:
            conn.execute(update(self.tasks).where(t.id == task_id).values(
                new_items=t.new_items + count["new"], duplicates=t.duplicates + count["duplicate"],
                failed=t.failed + count["failed"], warnings=t.warnings + sum(n["level"] == "warning" for n in notes),
                partial=0.0, heartbeat_at=_now(),
            ))
            if notes:
                kept = conn.execute(select(func.count()).select_from(self.errors)
                                    .where(self.errors.c.task_id == task_id)).scalar_one()
                room = max(MAX_ERRORS_KEPT - int(kept), 0)
                if room:
                    conn.execute(insert(self.errors), notes[:room])
        return count

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            self._record_ends()
            with self._lock:
                live = list(self._live)
            if not live:
                continue
            try:
                with self.store.begin() as conn:
                    conn.execute(update(self.tasks).where(self.tasks.c.id.in_(live)).values(heartbeat_at=_now()))
            except Exception:
                log.exception("heartbeat update failed")

    @staticmethod
    def _is_stale(heartbeat: datetime) -> bool:
        return heartbeat < _now() - STALE_AFTER

    def _mark_interrupted(self, conn: Connection, task_ids: list[str]) -> None:
        if task_ids:
            conn.execute(update(self.tasks).where(and_(self.tasks.c.id.in_(task_ids), self.tasks.c.state.in_(LIVE)))
                         .values(state="failed", message=INTERRUPTED, finished_at=_now(), partial=0.0))


def _ascii(message: str | None) -> str | None:
    """``message`` with every non-ASCII character escaped (``\\u65e5``): any database column takes it."""
    return None if message is None else message.encode("ascii", "backslashreplace").decode("ascii")


def _owner_dead(owner: str, host: str) -> bool:
    """True when ``owner`` was a process of this host that no longer runs (or whose pid was reused)."""
    parts = owner.split(":")
    if len(parts) != 3 or parts[0] != host:
        return False
    if owner == OWNER:
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return True
    if pid == os.getpid():
        return True  # same pid, other boot id: a restarted container
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _public(row: Any, errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """A task as the API shows it; with its first errors (``GET /tasks/{id}``) or without (a row of the list)."""
    done = int(row["new_items"]) + int(row["duplicates"])
    return {
        "task_id": row["id"], "state": row["state"], "source": row["source"],
        "total": done + int(row["failed"]) if row["state"] == "succeeded"
        else max(int(row["total"]), done + int(row["failed"])),
        "done": done, "new": int(row["new_items"]), "duplicates": int(row["duplicates"]),
        "failed": int(row["failed"]), "warnings": int(row["warnings"]), "partial": float(row["partial"]),
        "message": row["message"], "created_at": _iso(row["created_at"]), "finished_at": _iso(row["finished_at"]),
    } | ({} if errors is None else {"errors": errors})


def _iso(value: datetime | None) -> str | None:
    return value.replace(tzinfo=UTC).isoformat() if value else None
