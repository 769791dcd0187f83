"""Background load tasks with progress persisted in the SQL store.

``TaskRunner.submit`` records a task as ``queued`` and returns its id at once; one worker thread
per service runs tasks in order. A task reports ``total`` once it knows it and ``advance``s after
each batch, so ``GET /tasks/{id}`` reads live progress from the database and keeps answering after
a restart. A running task writes a heartbeat every few seconds: a task whose heartbeat stopped
(the process died or restarted) is marked ``failed`` with the reason "interrupted by a restart",
at start-up and whenever it is read.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    String,
    Table,
    Text,
    and_,
    func,
    insert,
    or_,
    select,
    update,
)

from .errors import NotFound
from .sql import SQLStore

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
#: a queued/running task whose heartbeat is older than this belongs to a dead process
STALE_AFTER = timedelta(seconds=30)
INTERRUPTED = "interrupted by a restart before it finished; load it again (stored items are kept)"
#: errors kept per task; the counters stay exact beyond it
MAX_ERRORS_KEPT = 1000

STATES = ("queued", "running", "succeeded", "failed")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def define_task_tables(store: SQLStore) -> tuple[Table, Table]:
    """The ``tasks`` and ``task_errors`` tables (shared by all services, keyed by service name)."""
    md = store.metadata
    if "tasks" in md.tables:
        return md.tables["tasks"], md.tables["task_errors"]
    tasks = Table(
        "tasks",
        md,
        Column("id", String(32), primary_key=True),
        Column("service", String(64), nullable=False, index=True),
        Column("source", String(1024), nullable=False),
        Column("state", String(16), nullable=False),
        Column("total", Integer, nullable=False, default=0),
        Column("done", Integer, nullable=False, default=0),
        Column("failed", Integer, nullable=False, default=0),
        Column("message", Text, nullable=True),
        Column("created_at", DateTime, nullable=False),
        Column("finished_at", DateTime, nullable=True),
        Column("heartbeat_at", DateTime, nullable=False),
    )
    errors = Table(
        "task_errors",
        md,
        Column("seq", Integer, primary_key=True, autoincrement=True),
        Column("task_id", String(32), nullable=False, index=True),
        Column("item", String(1024), nullable=False),
        Column("error", Text, nullable=False),
    )
    return tasks, errors


class Progress:
    """Handed to a running job: report the total, then advance per batch."""

    def __init__(self, runner: TaskRunner, task_id: str) -> None:
        self._runner = runner
        self.task_id = task_id

    def set_total(self, total: int) -> None:
        self._runner._update(self.task_id, total=total)

    def advance(self, done: int = 0, errors: list[tuple[str, str]] | None = None) -> None:
        """``done`` items succeeded; each ``(item, reason)`` in ``errors`` failed."""
        self._runner._advance(self.task_id, done, errors or [])


Job = Callable[[Progress], None]


class TaskRunner:
    """Runs one service's load jobs one after another in a worker thread."""

    def __init__(self, store: SQLStore, service: str) -> None:
        self.store = store
        self.service = service
        self.tasks, self.errors = define_task_tables(store)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{service}-task")
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name=f"{service}-heartbeat", daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Mark tasks of a previous process as interrupted and start the heartbeat."""
        self.fail_stale()
        self._heartbeat.start()

    def shutdown(self, wait: bool = True) -> None:
        self._stop.set()
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

    def _create(self, source: str) -> str:
        task_id = uuid.uuid4().hex
        now = _now()
        with self.store.begin() as conn:
            conn.execute(
                insert(self.tasks).values(
                    id=task_id, service=self.service, source=source[:1024], state="queued",
                    total=0, done=0, failed=0, created_at=now, heartbeat_at=now,
                )
            )
        with self._lock:
            self._running.add(task_id)
        return task_id

    def get(self, task_id: str, max_errors: int = 100) -> dict[str, Any]:
        with self.store.begin() as conn:
            row = conn.execute(
                select(self.tasks).where(and_(self.tasks.c.id == task_id, self.tasks.c.service == self.service))
            ).mappings().first()
            if row is None:
                raise NotFound(f"no task {task_id!r}")
            if row["state"] in ("queued", "running") and self._is_stale(row["heartbeat_at"]):
                self._mark_interrupted(conn, [task_id])
                row = conn.execute(select(self.tasks).where(self.tasks.c.id == task_id)).mappings().first()
                assert row is not None
            errors = conn.execute(
                select(self.errors.c.item, self.errors.c.error)
                .where(self.errors.c.task_id == task_id)
                .order_by(self.errors.c.seq)
                .limit(max_errors)
            ).mappings().all()
        return {
            "task_id": row["id"],
            "state": row["state"],
            "source": row["source"],
            "total": row["total"],
            "done": row["done"],
            "failed": row["failed"],
            "message": row["message"],
            "errors": [{"item": e["item"], "error": e["error"]} for e in errors],
            "created_at": _iso(row["created_at"]),
            "finished_at": _iso(row["finished_at"]),
        }

    def fail_stale(self) -> int:
        """Mark queued/running tasks with a stopped heartbeat as failed; returns how many."""
        with self.store.begin() as conn:
            stale = conn.execute(
                select(self.tasks.c.id).where(
                    and_(
                        self.tasks.c.service == self.service,
                        self.tasks.c.state.in_(("queued", "running")),
                        self.tasks.c.heartbeat_at < _now() - STALE_AFTER,
                    )
                )
            ).scalars().all()
            with self._lock:
                stale = [t for t in stale if t not in self._running]
            self._mark_interrupted(conn, stale)
        if stale:
            log.warning("%s: %d task(s) were interrupted by a restart", self.service, len(stale))
        return len(stale)

    # -- internals ---------------------------------------------------------------------------
    def _run(self, task_id: str, job: Job) -> None:
        self._update(task_id, state="running")
        try:
            job(Progress(self, task_id))
        except Exception as exc:
            log.exception("task %s failed", task_id)
            self._update(task_id, state="failed", message=f"{type(exc).__name__}: {exc}", finished_at=_now())
        else:
            self._update(task_id, state="succeeded", finished_at=_now())
        finally:
            with self._lock:
                self._running.discard(task_id)

    def _update(self, task_id: str, **values: Any) -> None:
        values["heartbeat_at"] = _now()
        with self.store.begin() as conn:
            conn.execute(update(self.tasks).where(self.tasks.c.id == task_id).values(**values))

    def _advance(self, task_id: str, done: int, errors: list[tuple[str, str]]) -> None:
        with self.store.begin() as conn:
            conn.execute(
                update(self.tasks)
                .where(self.tasks.c.id == task_id)
                .values(
                    done=self.tasks.c.done + done,
                    failed=self.tasks.c.failed + len(errors),
                    heartbeat_at=_now(),
                )
            )
            if errors:
                kept = conn.execute(
                    select(func.count()).select_from(self.errors).where(self.errors.c.task_id == task_id)
                ).scalar_one()
                room = max(MAX_ERRORS_KEPT - int(kept), 0)
                if room:
                    conn.execute(
                        insert(self.errors),
                        [
                            {"task_id": task_id, "item": str(item)[:1024], "error": str(error)[:4000]}
                            for item, error in errors[:room]
                        ],
                    )

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            with self._lock:
                live = list(self._running)
            if not live:
                continue
            try:
                with self.store.begin() as conn:
                    conn.execute(
                        update(self.tasks).where(self.tasks.c.id.in_(live)).values(heartbeat_at=_now())
                    )
            except Exception:
                log.exception("heartbeat update failed")

    def _is_stale(self, heartbeat: datetime) -> bool:
        return heartbeat < _now() - STALE_AFTER

    def _mark_interrupted(self, conn: Any, task_ids: list[str]) -> None:
        if not task_ids:
            return
        conn.execute(
            update(self.tasks)
            .where(and_(self.tasks.c.id.in_(task_ids), or_(self.tasks.c.state == "queued",
                                                           self.tasks.c.state == "running")))
            .values(state="failed", message=INTERRUPTED, finished_at=_now())
        )


def _iso(value: datetime | None) -> str | None:
    return value.replace(tzinfo=UTC).isoformat() if value else None
