"""Budgets of the image service: pixel cap, query size, a full worker pool, repairs and drops during loads."""

from __future__ import annotations

import logging
import threading
import time

import anyio
import pytest
from fastapi.testclient import TestClient

from bench.image_search_hostile import hostile_png
from tests.conftest import Backend
from tests.support import load, wait_task

from .helpers import DATA, PHOTOS, copy_photos, make_app

LITE = Backend("lite", "", "")


@pytest.fixture
def empty(tmp_path, unique, model_cache):
    """An image service on the embedded backends with nothing stored; settings through ``empty(**extra)``."""
    clients: list[TestClient] = []

    def start(**extra) -> tuple[TestClient, object]:
        app = make_app(LITE, tmp_path, unique, tmp_path, model_cache, **extra)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client, app

    yield start
    for client in clients:
        client.__exit__(None, None, None)


def test_huge_16bit_png_query_is_refused_before_decoding(empty):
    client, _ = empty()
    data = hostile_png(9400)  # 88 Mpx, ~170 KB
    assert len(data) < 200_000
    r = client.post("/search", files={"file": ("q.png", data)})
    assert r.status_code == 413 and "MAX_IMAGE_MPX" in r.json()["detail"]
    r = client.post("/search/batch", files=[("files", ("q.png", data)), ("files", ("ok.jpg", b"x"))])
    assert r.status_code == 200 and "MAX_IMAGE_MPX" in r.json()["results"][0]["error"]


def test_an_image_past_pillows_own_bomb_guard_is_413_as_well(empty, tmp_path):
    """Over ~179 Mpx Pillow refuses at open: the query was 422 "decompression bomb", the load item said the same."""
    client, _ = empty()
    data = hostile_png(14000, bits=1)  # 196 Mpx
    r = client.post("/search", files={"file": ("q.png", data)})
    assert r.status_code == 413 and r.json()["detail"] == ("image of 196 Mpx; the limit is 40 Mpx "
                                                           "(setting MAX_IMAGE_MPX)"), r.text
    (tmp_path / "huge").mkdir()
    (tmp_path / "huge" / "huge.png").write_bytes(data)
    task = wait_task(client, client.post("/load", json={"path": str(tmp_path / "huge")}).json()["task_id"])
    assert [e["error"] for e in task["errors"]] == ["image of 196 Mpx; the limit is 40 Mpx (setting MAX_IMAGE_MPX)"]


def test_image_under_the_pixel_cap_is_decoded_16bit_and_searched(empty):
    client, _ = empty(max_image_mpx=2)
    assert client.post("/search", files={"file": ("q.png", hostile_png(1400))}).status_code == 200  # 1.96 Mpx
    assert client.post("/search", files={"file": ("q.png", hostile_png(1500))}).status_code == 413  # 2.25 Mpx


def test_query_over_max_query_mb_is_413(empty):
    client, _ = empty(max_query_mb=1)
    big = b"\xff\xd8\xff" + b"\x00" * (3 << 20)
    r = client.post("/search", files={"file": ("big.jpg", big)})
    assert r.status_code == 413 and "IMAGE_MAX_QUERY_MB" in r.json()["detail"]
    assert "larger than 1 MB" in r.json()["detail"]  # the setting's value, not it plus the form's framing
    just_over = b"\xff\xd8\xff" + b"\x00" * ((1 << 20) + 1000)  # inside the form's slack for its framing
    r = client.post("/search", files={"file": ("big.jpg", just_over)})
    assert r.status_code == 413 and "larger than 1 MB" in r.json()["detail"]
    r = client.post("/search/batch", files=[("files", ("big.jpg", big)), ("files", ("q.jpg", b"x"))])
    assert r.status_code == 200
    big_entry, small_entry = r.json()["results"]
    assert "IMAGE_MAX_QUERY_MB" in big_entry["error"] and "not an image" in small_entry["error"]


def test_full_pool_answers_503_before_reading_the_body(empty, monkeypatch):
    client, app = empty(workers=1, queue_limit=0)
    pipe = app.state.pipeline
    entered, release = threading.Event(), threading.Event()
    search = pipe.search

    def blocking(*args, **kwargs):
        entered.set()
        release.wait(30)
        return search(*args, **kwargs)

    monkeypatch.setattr(pipe, "search", blocking)
    first: dict = {}
    worker = threading.Thread(target=lambda: first.update(r=client.post(
        "/search", files={"file": ("q.jpg", (DATA / "orange.jpg").read_bytes())})))
    worker.start()
    try:
        assert entered.wait(30)
        # not even a multipart body: had it been read, the answer would be 422
        r = client.post("/search", content=b"not a form", headers={"content-type": "text/plain"})
        assert r.status_code == 503 and int(r.headers["Retry-After"]) > 0
        r = client.post("/search/batch", files=[("files", ("q.jpg", b"x"))])
        assert r.status_code == 503 and "Retry-After" in r.headers
        assert client.post("/search/text", json={"query": "fruit"}).status_code == 503
    finally:
        release.set()
        worker.join(60)
    assert first["r"].status_code == 200
    assert client.post("/search", content=b"not a form", headers={"content-type": "text/plain"}).status_code == 422


def test_a_query_body_arriving_slowly_holds_no_place_in_the_pool(empty):
    """A client sending its query a little at a time kept a worker's place until the last byte: a few of them
    made every demo of the server answer 503."""
    client, app = empty(workers=1, queue_limit=0)
    boundary = "slowclient"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"q.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode() + (DATA / "orange.jpg").read_bytes() + (
        f"\r\n--{boundary}--\r\n").encode()
    rest_may_come, sent_first = threading.Event(), threading.Event()
    answer: list[dict] = []

    async def slow_client() -> None:
        parts = [body[:100], body[100:]]

        async def receive() -> dict:
            if len(parts) == 1:
                sent_first.set()
                while not rest_may_come.is_set():
                    await anyio.sleep(0.01)
            return {"type": "http.request", "body": parts.pop(0), "more_body": bool(parts)}

        async def send(message: dict) -> None:
            answer.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/search", "raw_path": b"/search", "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"testserver"), (b"content-length", str(len(body)).encode()),
                             (b"content-type", f"multipart/form-data; boundary={boundary}".encode())],
                 "client": ("127.0.0.1", 50000), "server": ("testserver", 80), "state": {}}
        await app(scope, receive, send)

    client.portal.start_task_soon(slow_client)
    assert sent_first.wait(30)
    try:  # the slow query is half sent: the one worker is free for others
        assert client.post("/search/text", json={"query": "fruit"}).status_code == 200
        assert client.post("/search", files={"file": ("q.jpg", (DATA / "orange.jpg").read_bytes())}).status_code == 200
    finally:
        rest_may_come.set()
    deadline = time.monotonic() + 60
    while not any(m["type"] == "http.response.start" for m in answer) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert next(m for m in answer if m["type"] == "http.response.start")["status"] == 200


def test_a_client_hanging_up_mid_query_is_one_log_line(empty, caplog):
    """Each dropped upload logged a 7 KB "Exception in ASGI application" traceback: a cheap way to flood the log."""
    client, app = empty()
    caplog.set_level(logging.INFO)
    sent: list[dict] = []
    messages = [{"type": "http.request", "body": b"--XX\r\n", "more_body": True}, {"type": "http.disconnect"}]

    async def hang_up() -> None:
        async def receive() -> dict:
            return messages.pop(0)

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/search", "raw_path": b"/search", "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"testserver"), (b"content-length", b"100000"),
                             (b"content-type", b"multipart/form-data; boundary=XX")],
                 "client": ("127.0.0.1", 50001), "server": ("testserver", 80), "state": {}}
        await app(scope, receive, send)  # raised ClientDisconnect through every middleware

    client.portal.call(hang_up)
    assert "the client disconnected before sending its whole body" in caplog.text
    assert "Traceback" not in caplog.text


def stored_parts(client: TestClient, app) -> dict[str, int]:
    """What each store holds: the items count, the listed items, both collections, the files."""
    pipe = app.state.pipeline
    copies, thumbs = pipe.media.count()
    return {"count": client.get("/count").json()["count"],
            "listed": len(client.get("/items", params={"limit": 500}).json()["items"]),
            "vectors": pipe.vectors.count(pipe.collection), "label_vectors": pipe.vectors.count(pipe.label_collection),
            "copies": copies, "thumbnails": thumbs}


def finished(client: TestClient, task_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = client.get(f"/tasks/{task_id}").json()
        if task["state"] not in ("queued", "running"):
            return task
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} still running after {timeout} s")


def test_vanished_files_are_stored_again_on_reload(backend, tmp_path, unique, model_cache):
    root = tmp_path / "root"
    copy_photos(root)
    app = make_app(backend, tmp_path, unique, root, model_cache)
    with TestClient(app) as client:
        assert load(client, root)["new"] == len(PHOTOS)
        pipe = app.state.pipeline
        a, b = client.get("/items", params={"limit": 2}).json()["items"]
        pipe.media.copy_path(a["media"]).unlink()
        pipe.media.thumb_path(b["id"]).unlink()
        assert client.get(f"/{a['image_url']}").status_code == 404
        task = load(client, root)
        assert (task["new"], task["duplicates"], task["failed"]) == (2, len(PHOTOS) - 2, 0)
        assert client.get(f"/{a['image_url']}").status_code == 200
        assert client.get(f"/{b['thumbnail_url']}").status_code == 200
        assert set(stored_parts(client, app).values()) == {len(PHOTOS)}


def start_slow_load(app, client: TestClient, root, monkeypatch, done: int) -> str:
    """Start a load of ``root`` whose batches take a little longer; returns its task id once ``done`` items
    are stored, so a test can act while it runs."""
    pipe = app.state.pipeline
    process = pipe.process_batch

    def slow(items, monitor):
        time.sleep(0.3)
        return process(items, monitor)

    monkeypatch.setattr(pipe, "process_batch", slow)
    task_id = client.post("/load", json={"path": str(root)}).json()["task_id"]
    while client.get(f"/tasks/{task_id}").json()["done"] < done:
        time.sleep(0.05)
    return task_id


@pytest.fixture
def photos(backend, tmp_path, unique, model_cache):
    """An image service on ``backend`` loading two files per batch, and a folder of the photos."""
    root = tmp_path / "root"
    copy_photos(root)
    app = make_app(backend, tmp_path, unique, root, model_cache, batch_size=2)
    with TestClient(app) as client:
        yield app, client, root


def test_drop_during_a_load_leaves_every_store_consistent(photos, monkeypatch):
    app, client, root = photos
    task_id = start_slow_load(app, client, root, monkeypatch, done=2)
    dropped = client.delete("/data").json()["dropped"]
    task = finished(client, task_id)
    assert task["state"] == "cancelled" and 2 <= dropped < len(PHOTOS)
    assert set(stored_parts(client, app).values()) == {0}
    assert load(client, root)["new"] == len(PHOTOS)  # and a new load stores everything again
    assert set(stored_parts(client, app).values()) == {len(PHOTOS)}


def test_cancelled_load_lists_only_complete_items(photos, monkeypatch):
    app, client, root = photos
    task_id = start_slow_load(app, client, root, monkeypatch, done=4)
    assert client.post(f"/tasks/{task_id}/cancel").status_code == 202
    task = finished(client, task_id)
    assert task["state"] == "cancelled" and 4 <= task["new"] < len(PHOTOS)
    assert set(stored_parts(client, app).values()) == {task["new"]}
    for item in client.get("/items").json()["items"]:
        assert client.get(f"/{item['image_url']}").status_code == 200
