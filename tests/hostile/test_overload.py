"""Issue: unbounded waiting in front of the inference workers."""

from __future__ import annotations

import threading
import time

from tests.common.toy.app import create_app
from tests.common.toy.pipeline import ToySettings

from .conftest import LITE


def test_a_full_pool_answers_503_with_retry_after(tmp_path, unique):
    from fastapi.testclient import TestClient

    settings = ToySettings(**LITE.settings(tmp_path / "data", store_prefix=f"toy_{unique}", workers=1, queue_limit=1))
    app = create_app(settings)
    release, entered = threading.Event(), threading.Semaphore(0)
    with TestClient(app) as client:
        pipeline = app.state.pipeline

        def slow_search(text, top_k, offset=0):
            entered.release()
            release.wait(30)
            return []

        pipeline.search = slow_search
        answers: list[int] = []
        workers = [threading.Thread(target=lambda: answers.append(
            client.post("/search", json={"query": "x"}).status_code)) for _ in range(2)]
        for w in workers:  # one runs, one waits in the queue
            w.start()
        assert entered.acquire(timeout=10)
        deadline = time.monotonic() + 10
        while app.state.resources.pool.in_flight < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
        refused = client.post("/search", json={"query": "x"})
        assert refused.status_code == 503 and time.monotonic() - started < 2  # at once, not after a wait
        assert int(refused.headers["retry-after"]) >= 1 and "busy" in refused.json()["detail"]
        release.set()
        for w in workers:
            w.join(30)
        assert answers == [200, 200]
        assert client.post("/search", json={"query": "x"}).status_code == 200
