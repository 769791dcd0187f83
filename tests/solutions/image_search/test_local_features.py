"""Local (ORB) features: none at ingest, computed once by the first search that re-ranks a candidate (in the
decode threads, even for concurrent searches), reused after, removed with their item."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from tests.support import load

from .helpers import DATA, copy_photos, make_app, perturb

NAMES = ["baboon.jpg", "fruits.jpg", "building.jpg", "graf1.png"]
QUERY = perturb((DATA / "graf1.png").read_bytes(), 2)


@pytest.fixture
def small(backend, tmp_path, unique, model_cache, monkeypatch):
    """Four stored images and a record of every ORB extraction (the thread it ran in)."""
    root = tmp_path / "root"
    copy_photos(root, NAMES)
    app = make_app(backend, tmp_path, unique, root, model_cache)
    with TestClient(app) as client:
        assert load(client, root)["failed"] == 0
        pipe = app.state.pipeline
        calls: list[str] = []
        extract = pipe.matcher.extract
        slow = threading.Event()  # slow candidate features: concurrent searches overlap for sure

        def counting(rgb):
            calls.append(threading.current_thread().name)
            if slow.is_set() and calls[-1].startswith("image-decode"):
                time.sleep(0.5)
            return extract(rgb)

        monkeypatch.setattr(pipe.matcher, "extract", counting)
        yield client, pipe, calls, slow


def top(client) -> dict:
    r = client.post("/search", files={"file": ("q.jpg", QUERY)}, data={"top_k": "4"})
    assert r.status_code == 200, r.text
    hit = r.json()["results"][0]
    assert hit["name"] == "graf1.png" and hit["match"] == "copy"
    return hit


def test_first_search_computes_candidates_in_decode_threads(small):
    client, pipe, calls, _ = small
    assert not any(pipe.local.dir.iterdir())
    top(client)  # every stored image is a candidate (4 < rerank_candidates)
    ids = {h["id"] for h in client.get("/items").json()["items"]}
    assert {int(p.stem) for p in pipe.local.dir.glob("*.npz")} == ids
    assert sorted(n.startswith("image-decode") for n in calls[:5]) == [False] + [True] * 4


def test_later_searches_read_memory_then_disk(small):
    client, pipe, calls, _ = small
    first = top(client)
    calls.clear()
    assert top(client) == first and len(calls) == 1  # the query only: candidates come from memory
    pipe.local.forget_memory()
    calls.clear()
    assert top(client) == first and len(calls) == 1  # from local/<id>.npz


def test_concurrent_first_searches_compute_each_candidate_once(small):
    _, pipe, calls, slow = small
    slow.set()
    with ThreadPoolExecutor(4) as ex:
        hits = list(ex.map(lambda _: pipe.search(QUERY, 4)[0]["name"], range(4)))
    assert hits == ["graf1.png"] * 4
    assert sum(n.startswith("image-decode") for n in calls) == 4 and len(calls) == 8


def test_delete_removes_local_features(small):
    client, pipe, _, _ = small
    first = top(client)
    assert client.delete(f"/items/{first['id']}").status_code == 204
    assert not pipe.local.path(first["id"]).exists() and first["id"] not in pipe.local.memory
    assert len(list(pipe.local.dir.glob("*.npz"))) == 3
    assert client.delete("/data").json() == {"dropped": 3}
    assert not any(pipe.local.dir.iterdir()) and not pipe.local.memory


def test_a_stored_banner_image_does_not_break_searches(backend, tmp_path, unique, model_cache):
    """A very thin image (10000 x 3) loads; searches that re-rank it as a candidate answer 200."""
    from PIL import Image

    root = tmp_path / "root"
    copy_photos(root, ["baboon.jpg"])
    Image.new("RGB", (10000, 3), (200, 30, 30)).save(root / "banner.png")
    app = make_app(backend, tmp_path, unique, root, model_cache)
    with TestClient(app) as client:
        assert load(client, root)["new"] == 2
        r = client.post("/search", files={"file": ("q.jpg", QUERY)}, data={"top_k": "2"})
        assert r.status_code == 200, r.text
        assert {h["name"] for h in r.json()["results"]} == {"baboon.jpg", "banner.png"}
        client.delete("/data")
