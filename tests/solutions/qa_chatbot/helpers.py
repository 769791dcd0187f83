"""Shared helpers of the QA tests."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from solutions.qa_chatbot.app import create_app
from solutions.qa_chatbot.config import QASettings


def make_app(backend, tmp_path: Path, unique: str, root: Path, **extra):
    return create_app(QASettings(**backend.settings(tmp_path / "data", data_roots=[root], collection=f"qa_{unique}",
                                                    table_prefix=f"qa_{unique}", **extra)))


def wait_task(client: TestClient, task_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = client.get(f"/tasks/{task_id}").json()
        if task["state"] in ("succeeded", "failed"):
            return task
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} did not finish")


def load(client: TestClient, path: Path) -> dict:
    response = client.post("/load", json={"path": str(path)})
    assert response.status_code == 202, response.text
    return wait_task(client, response.json()["task_id"])
