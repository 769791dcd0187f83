"""A load killed with SIGKILL at random points, several times, then retried: nothing half-written, no duplicates."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import urllib.request

import grpc
from fastapi.testclient import TestClient
from pymilvus.exceptions import MilvusException

from tests.common.toy.app import create_app
from tests.common.toy.pipeline import ToySettings
from tests.conftest import _free_port
from tests.support import wait_task

from .conftest import LITE, assert_consistent

N = 3000
ROOT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def serve(data_dir, root, prefix: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "DATA_DIR": str(data_dir), "DATA_ROOTS": str(root), "TOY_STORE_PREFIX": prefix,
           "TOY_BATCH_SIZE": "8"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "tests.common.toy.app:create_app",
                             "--port", str(port), "--log-level", "warning"], env=env, cwd=ROOT_DIR,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/health", timeout=2)
            return proc, base
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the toy server did not start") from None
            time.sleep(0.2)


def post_json(url: str, body: bytes) -> dict:
    import json

    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_kill_during_loads_then_retry_leaves_consistent_stores(tmp_path, unique):
    root = tmp_path / "root"
    (root / "notes").mkdir(parents=True)
    for i in range(N):
        (root / "notes" / f"{i:04d}.txt").write_text(f"note {i}: {'lorem ipsum ' * (i % 5)}topic {i % 11}")
    prefix = f"toy_{unique}"
    rng = random.Random(7)
    body = ('{"path": "%s"}' % (root / "notes")).encode()
    for _ in range(4):
        proc, base = serve(tmp_path / "data", root, prefix)
        post_json(base + "/load", body)
        time.sleep(rng.uniform(0.1, 1.0))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    settings = ToySettings(**LITE.settings(tmp_path / "data", data_roots=[root], store_prefix=prefix))
    app = create_app(settings)
    with TestClient(app) as client:
        partial = assert_consistent(client, app)
        assert partial < N  # the kills did interrupt the loads
        tasks = client.get("/tasks").json()["tasks"]
        assert len(tasks) == 4 and {t["state"] for t in tasks} <= {"failed", "succeeded"}
        task_id = client.post("/load", json={"path": str(root / "notes")}).json()["task_id"]
        from tests.support import wait_task

        task = wait_task(client, task_id)
        assert (task["new"] + task["duplicates"], task["failed"]) == (N, 0)
        assert task["duplicates"] == partial
        assert assert_consistent(client, app) == N


def test_a_delete_cut_short_by_milvus_can_be_asked_again(toy, monkeypatch):
    """The rows went first: with Milvus down the DELETE failed, a retry said 404, and the item's vectors and files
    stayed where no call reached them."""
    client, app, root = toy
    for i in range(3):
        (root / f"n{i}.txt").write_text(f"note number {i}", encoding="utf-8")
    wait_task(client, client.post("/load", json={"path": str(root)}).json()["task_id"])
    victim = client.get("/items").json()["items"][0]["id"]
    vectors = app.state.pipeline.vectors
    working = vectors.delete

    def unreachable(*_args, **_kwargs):
        raise MilvusException(code=grpc.StatusCode.UNAVAILABLE, message="Milvus is restarting")

    monkeypatch.setattr(vectors, "delete", unreachable)
    failed = client.delete(f"/items/{victim}")
    assert failed.status_code == 503 and failed.headers["retry-after"]
    assert client.get(f"/items/{victim}").status_code == 200  # still listed: nothing removed
    assert assert_consistent(client, app) == 3
    monkeypatch.setattr(vectors, "delete", working)
    assert client.delete(f"/items/{victim}").status_code == 204
    assert client.get(f"/items/{victim}").status_code == 404
    assert assert_consistent(client, app) == 2
