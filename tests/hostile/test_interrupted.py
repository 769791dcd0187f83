"""Issue: DELETE /data during a running load; no load can be cancelled; a killed load reads 'running' for 30 s."""

from __future__ import annotations

import subprocess
import sys
import time

from fastapi.testclient import TestClient
from sqlalchemy import update

from common.tasks import INTERRUPTED, OWNER
from tests.common.toy.app import create_app
from tests.common.toy.pipeline import ToySettings
from tests.support import wait_task

from .conftest import LITE, assert_consistent, staging_leftovers


def slow_down(app, seconds: float) -> None:
    pipeline = app.state.pipeline
    original = pipeline.process_batch

    def slow(items, monitor):
        time.sleep(seconds)
        return original(items, monitor)

    pipeline.process_batch = slow


def write_notes(root, n: int) -> None:
    (root / "notes").mkdir()
    for i in range(n):
        (root / "notes" / f"{i:04d}.txt").write_text(f"note number {i} about topic {i % 7}")


def wait_state(client, task_id: str, states: tuple[str, ...], timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = client.get(f"/tasks/{task_id}").json()
        if task["state"] in states:
            return task
        time.sleep(0.02)
    raise AssertionError(f"task never reached {states}: {task}")


def start_load(client, app, path, batch_seconds: float, running_for: float) -> str:
    """A load of ``path``, slowed down to ``batch_seconds`` a batch, that has been running for ``running_for``
    seconds; returns its task id."""
    slow_down(app, batch_seconds)
    task_id = client.post("/load", json={"path": str(path)}).json()["task_id"]
    wait_state(client, task_id, ("running",))
    time.sleep(running_for)
    return task_id


def start_slow_load(client, app, root, notes: int = 200) -> str:
    """A load of ``notes`` files, 50 ms a batch, that has been running for a while; returns its task id."""
    write_notes(root, notes)
    return start_load(client, app, root / "notes", batch_seconds=0.05, running_for=0.3)


def cancel(client, task_id: str) -> dict:
    """Cancel a running task (202 Accepted) and wait for it to end; returns the ended task."""
    assert client.post(f"/tasks/{task_id}/cancel").status_code == 202
    return wait_task(client, task_id)


def test_a_running_load_can_be_cancelled(toy):
    client, app, root = toy
    task = cancel(client, start_slow_load(client, app, root))
    assert task["state"] == "cancelled" and 0 < task["done"] < 200
    assert assert_consistent(client, app) == task["new"]


def test_delete_data_during_a_load_cancels_it_first(toy):
    client, app, root = toy
    task_id = start_slow_load(client, app, root)
    dropped = client.delete("/data").json()["dropped"]
    assert dropped > 0
    assert client.get(f"/tasks/{task_id}").json()["state"] == "cancelled"
    assert assert_consistent(client, app) == 0  # nothing written after the drop
    task = wait_task(client, client.post("/load", json={"path": str(root / "notes")}).json()["task_id"])
    assert (task["new"], task["duplicates"]) == (200, 0)
    assert assert_consistent(client, app) == 200


def test_a_restart_fails_a_dead_process_task_at_once_and_sweeps_its_staging(tmp_path, unique):
    settings = ToySettings(**LITE.settings(tmp_path / "data", store_prefix=f"toy_{unique}"))
    app = create_app(settings)
    with TestClient(app) as client:
        task_id = client.post("/upload", files=[("files", ("n.txt", b"a note", "text/plain"))]).json()["task_id"]
        wait_task(client, task_id)
        tasks = app.state.resources.tasks
        dead_pid = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                                      capture_output=True, text=True).stdout)
        with app.state.resources.sql.begin() as conn:  # as a process killed mid-load leaves it
            conn.execute(update(tasks.tasks).where(tasks.tasks.c.id == task_id).values(
                state="running", owner=f"{OWNER.split(':')[0]}:{dead_pid}:0badf00d", finished_at=None))
        leftover = app.state.resources.data_dir / "uploads" / f"{dead_pid}-0badf00d-{unique}"
        (leftover / "half").mkdir(parents=True)
        (leftover / "half" / "upload.zip").write_bytes(b"x" * 1000)
    started = time.monotonic()
    with TestClient(create_app(settings)) as client:
        task = client.get(f"/tasks/{task_id}").json()
        assert (task["state"], task["message"]) == ("failed", INTERRUPTED)
        assert time.monotonic() - started < 20  # at start-up, not after a 30 s heartbeat timeout
        assert not leftover.exists() and staging_leftovers(client.app) == []  # type: ignore[arg-type]
