"""TaskRunner on SQLite and MariaDB: progress, failures, restarts."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from common.errors import NotFound
from common.pipeline import DUPLICATE, NEW, failed, load_job, warned
from common.sql import open_sql_store
from common.tasks import INTERRUPTED, MAX_ERRORS_KEPT, OWNER, TaskRunner, _now


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
        if task["state"] in ("succeeded", "failed", "cancelled"):
            return task
        time.sleep(0.05)
    raise AssertionError(f"task did not finish: {runner.get(task_id)}")


def test_progress_is_recorded_per_batch(store, unique):
    runner = runner_for(store, f"svc_{unique}")
    seen = []
    release = threading.Event()

    def job(progress):
        progress.set_total(5)
        progress.record([("a.jpg", NEW), ("b.jpg", DUPLICATE)])
        seen.append(runner.get(progress.task_id))
        release.wait(10)
        progress.record([("c.jpg", NEW), ("bad.jpg", failed("not an image")), ("cut.avi", warned("truncated"))])

    task_id = runner.submit("/data/photos", job)
    assert runner.get(task_id)["state"] in ("queued", "running")
    while not seen:
        time.sleep(0.01)
    assert (seen[0]["state"], seen[0]["total"], seen[0]["done"], seen[0]["failed"]) == ("running", 5, 2, 0)
    release.set()
    task = wait(runner, task_id)
    assert (task["state"], task["done"], task["new"], task["duplicates"], task["failed"], task["warnings"]) == (
        "succeeded", 4, 3, 1, 1, 1)
    assert task["errors"] == [{"item": "bad.jpg", "error": "not an image", "level": "error"},
                              {"item": "cut.avi", "error": "truncated", "level": "warning"}]
    assert task["source"] == "/data/photos" and task["finished_at"] >= task["created_at"]
    assert task["total"] == 5  # exact at the end: done + failed
    # the list counts the errors and does not pretend there are none: GET /tasks/{id} lists them
    listed = runner.recent()[0]
    assert listed == {k: v for k, v in task.items() if k != "errors"}
    runner.shutdown()


def test_job_exception_fails_task_with_reason(store, unique):
    runner = runner_for(store, f"svc_{unique}")

    def job(progress):
        progress.set_total(3)
        progress.record([("a", NEW)])
        raise OSError("disk full")

    task = wait(runner, runner.submit("x", job))
    assert task["state"] == "failed" and task["message"] == "OSError: disk full" and task["done"] == 1
    runner.shutdown()


def test_a_message_the_database_refuses_is_recorded_escaped(store, unique, monkeypatch):
    runner = runner_for(store, f"svc_{unique}")
    finish = runner._finish

    def latin1_column(task_id, state, message):  # a column that takes no Japanese
        if message and not message.isascii():
            raise UnicodeEncodeError("latin-1", message, 0, 1, "cannot encode")
        finish(task_id, state, message)

    monkeypatch.setattr(runner, "_finish", latin1_column)

    def job(progress):
        raise OSError("cannot read 日本.txt")

    task = wait(runner, runner.submit("x", job))
    assert task["state"] == "failed" and task["message"] == "OSError: cannot read \\u65e5\\u672c.txt"
    runner.shutdown()


def test_an_end_the_database_does_not_take_is_recorded_once_it_answers(store, unique, monkeypatch):
    runner = runner_for(store, f"svc_{unique}")
    finish = runner._finish
    down = threading.Event()
    down.set()

    def flaky(task_id, state, message):
        if down.is_set():
            raise ConnectionError("database gone")
        finish(task_id, state, message)

    monkeypatch.setattr(runner, "_finish", flaky)
    ran = threading.Event()

    def job(progress):
        progress.set_total(1)
        progress.record([("a", NEW)])
        ran.set()

    task_id = runner.submit("x", job)
    assert ran.wait(10)
    time.sleep(0.3)
    assert runner.get(task_id)["state"] == "running"  # the end is not recorded yet
    down.clear()  # the database answers again: the heartbeat records it
    task = wait(runner, task_id, timeout=30)
    assert task["state"] == "succeeded" and task["new"] == 1
    runner.shutdown()


def test_a_load_cancelled_while_queued_removes_its_staged_files(store, unique, tmp_path):
    """An upload queued behind another load and cancelled kept its staged copy (gigabytes, for a zip) on disk
    until the next restart: the job that removes it was never called."""
    runner = runner_for(store, f"svc_{unique}")
    release = threading.Event()
    first = runner.submit("slow", lambda progress: release.wait(30))
    staged = tmp_path / "staging"
    (staged / "photos").mkdir(parents=True)
    (staged / "photos" / "a.jpg").write_bytes(b"x" * 1000)
    # load_job reads nothing of its pipeline before its first check: a cancelled job touches no store
    queued = runner.submit("upload", load_job(object(), staged, staged, cleanup=staged))  # type: ignore[arg-type]
    assert runner.cancel(queued)["state"] == "cancelled"
    release.set()
    wait(runner, first)
    deadline = time.monotonic() + 30
    while staged.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not staged.exists()
    task = runner.get(queued)
    assert task["state"] == "cancelled" and task["message"] == "cancelled before it started"
    runner.shutdown()


def test_errors_are_capped_but_counted(store, unique):
    runner = runner_for(store, f"svc_{unique}")

    def job(progress):
        progress.set_total(MAX_ERRORS_KEPT + 50)
        progress.record([(f"item{i}", failed("bad")) for i in range(MAX_ERRORS_KEPT + 50)])

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
    assert [t["task_id"] for t in a.recent()] == [task_id] and b.recent() == []
    a.shutdown()
    b.shutdown()


def test_cancel_stops_a_running_task_at_its_next_check(store, unique):
    runner = runner_for(store, f"svc_{unique}")
    started = threading.Event()

    def job(progress):
        progress.set_total(100)
        for i in range(100):
            progress.check_cancelled()
            progress.record([(f"item{i}", NEW)])
            started.set()
            time.sleep(0.02)

    task_id = runner.submit("slow load", job)
    queued_id = runner.submit("next load", lambda progress: None)
    assert started.wait(10)
    assert runner.cancel(queued_id)["state"] == "cancelled"  # a queued task ends at once
    runner.cancel(task_id)
    task = wait(runner, task_id)
    assert task["state"] == "cancelled" and 0 < task["done"] < 100 and task["total"] == 100
    assert runner.get(queued_id)["state"] == "cancelled"
    runner.shutdown()


def test_cancel_all_waits_until_nothing_runs(store, unique):
    runner = runner_for(store, f"svc_{unique}")
    started, finished = threading.Event(), threading.Event()

    def job(progress):
        started.set()
        while not progress.cancelled():
            time.sleep(0.01)
        time.sleep(0.2)  # a batch finishing its writes
        finished.set()
        progress.check_cancelled()

    task_id = runner.submit("x", job)
    assert started.wait(10)
    assert runner.cancel_all() == 1
    assert finished.is_set() and runner.get(task_id)["state"] == "cancelled"
    runner.shutdown()


def test_a_restart_fails_the_tasks_of_a_dead_process_at_once(store, unique):
    import subprocess
    import sys

    service = f"svc_{unique}"
    first = runner_for(store, service)
    release = threading.Event()
    running_id = first.submit("big load", lambda progress: release.wait(30))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_owner = f"{OWNER.split(':')[0]}:{int(dead.stdout)}:deadbeef"
    orphan_id = first.submit("orphan", lambda progress: None)
    first.cancel(orphan_id)
    with store.begin() as conn:  # as if a process that has exited had left it running
        conn.execute(update(first.tasks).where(first.tasks.c.id == orphan_id)
                     .values(state="running", owner=dead_owner, heartbeat_at=_now(), finished_at=None))
    second = runner_for(store, service)  # starts: the dead process's task fails now, not after 30 s
    assert (second.get(orphan_id)["state"], second.get(orphan_id)["message"]) == ("failed", INTERRUPTED)
    assert second.get(running_id)["state"] == "running"  # its owner is alive
    # a process on another host stops beating: its task is failed when read
    with store.begin() as conn:
        conn.execute(update(first.tasks).where(first.tasks.c.id == running_id)
                     .values(owner="elsewhere:1:x", heartbeat_at=_now() - timedelta(minutes=5)))
    assert second.get(running_id)["state"] == "failed"
    release.set()
    first.shutdown()
    second.shutdown()
