"""Helpers shared by the service tests: drive a load through the HTTP API and wait for its task."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient


def wait_task(client: TestClient, task_id: str, timeout: float = 180, prefix: str = "") -> dict:
    """Poll ``GET {prefix}/tasks/{id}`` until the task ends (succeeded, failed, cancelled); fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    task: dict = {}
    while time.monotonic() < deadline:
        task = client.get(f"{prefix}/tasks/{task_id}").json()
        if task["state"] in ("succeeded", "failed", "cancelled"):
            return task
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} did not finish in {timeout} s: {task}")


def load(client: TestClient, path: Path) -> dict:
    """``POST /load`` a server path (must answer 202) and return the finished task."""
    response = client.post("/load", json={"path": str(path)})
    assert response.status_code == 202, response.text
    return wait_task(client, response.json()["task_id"])


@contextmanager
def loaded(app: FastAPI, path: Path) -> Iterator[tuple[TestClient, FastAPI, dict]]:
    """A running ``app`` with ``path`` loaded: yields (client, app, finished load task); drops the data after."""
    with TestClient(app) as client:
        task = load(client, path)
        yield client, app, task
        client.delete("/data")
