"""TaskRunner on SQLite and MariaDB: progress, failures, restarts."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from common.errors import NotFound
from common.sql import open_sql_store
from common.tasks import INTERRUPTED, MAX_ERRORS_KEPT, TaskRunner, _now


@pytest.fixture
def store(backend, tmp_path):
    store = open_sql_store(backend.database_url, tmp_path / "meta.db")
    yield store
    store.dispose()


def runner_for(store, service: str) -> TaskRunner:
    runner = TaskRunner(store, service)
    store.create_all()
    runner.start()
    return runner


def wait(runner: TaskRunner, task_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = runner.get(task_id)
        if task["state"] in ("succeeded", "failed"):
            return task
        time.sleep(0.05)
    raise AssertionError(f"task did not finish: {runner.get(task_id)}")


def test_progress_is_recorded_per_batch(store, unique):
    runner = runner_for(store, f"svc_{unique}")
    seen = []
    release = threading.Event()

    def job(progress):
        progress.set_total(5)
        progress.advance(2)
        seen.append(runner.get(progress.task_id))
        release.wait(10)
        progress.advance(2, [("bad.jpg", "not an image")])

    task_id = runner.submit("/data/photos", job)
    assert runner.get(task_id)["state"] in ("queued", "running")
    while not seen:
        time.sleep(0.01)
    assert (seen[0]["state"], seen[0]["total"], seen[0]["done"], seen[0]["failed"]) == ("running", 5, 2, 0)
    release.set()
    task = wait(runner, task_id)
    assert (task["state"], task["done"], task["failed"]) == ("succeeded", 4, 1)
    assert task["errors"] == [{"item": "bad.jpg", "error": "not an image"}]
    assert task["source"] == "/data/photos" and task["finished_at"] >= task["created_at"]
    runner.shutdown()


def test_job_exception_fails_task_with_reason(store, unique):
    runner = runner_for(store, f"svc_{unique}")

    def job(progress):
        progress.set_total(3)
        progress.advance(1)
        raise OSError("disk full")

    task = wait(runner, runner.submit("x", job))
    assert task["state"] == "failed" and task["message"] == "OSError: disk full" and task["done"] == 1
    runner.shutdown()


def test_errors_are_capped_but_counted(store, unique):
    runner = runner_for(store, f"svc_{unique}")

    def job(progress):
        progress.set_total(MAX_ERRORS_KEPT + 50)
        progress.advance(0, [(f"item{i}", "bad") for i in range(MAX_ERRORS_KEPT + 50)])

    task_id = runner.submit("x", job)
    task = wait(runner, task_id)
    assert task["failed"] == MAX_ERRORS_KEPT + 50
    assert len(runner.get(task_id, max_errors=10_000)["errors"]) == MAX_ERRORS_KEPT
    runner.shutdown()


def test_tasks_are_scoped_to_their_service(store, unique):
    a, b = runner_for(store, f"a_{unique}"), runner_for(store, f"b_{unique}")
    task_id = a.submit("x", lambda progress: None)
    wait(a, task_id)
    with pytest.raises(NotFound):
        b.get(task_id)
    with pytest.raises(NotFound):
        a.get("' OR '1'='1")
    a.shutdown()
    b.shutdown()


def test_task_interrupted_by_restart_is_marked_failed(store, unique):
    service = f"svc_{unique}"
    first = runner_for(store, service)
    started, release = threading.Event(), threading.Event()

    def job(progress):
        progress.set_total(10)
        progress.advance(3)
        started.set()
        release.wait(30)

    running_id = first.submit("big load", job)
    queued_id = first.submit("next load", lambda progress: None)
    assert started.wait(10)
    # a second process starting now must not touch tasks whose owner is alive
    second = runner_for(store, service)
    assert second.get(running_id)["state"] == "running"
    # the first process dies: its heartbeat stops (simulated by ageing it)
    with store.begin() as conn:
        conn.execute(update(first.tasks).where(first.tasks.c.id == running_id)
                     .values(heartbeat_at=_now() - timedelta(minutes=5)))
    task = second.get(running_id)  # read lazily
    assert (task["state"], task["done"], task["total"], task["message"]) == ("failed", 3, 10, INTERRUPTED)
    with store.begin() as conn:
        conn.execute(update(first.tasks).where(first.tasks.c.id == queued_id)
                     .values(state="queued", heartbeat_at=_now() - timedelta(minutes=5)))
    third = TaskRunner(store, service)
    assert third.fail_stale() >= 1  # at start-up
    assert third.get(queued_id)["state"] == "failed"
    release.set()
    first.shutdown()
    second.shutdown()
