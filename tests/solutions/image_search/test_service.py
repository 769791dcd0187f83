"""The image service end to end on both backends: load, dedupe, bad input, search, items, drop."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.support import load, wait_task

from .helpers import DATA, copy_photos, make_app, perturb


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "root"
    names = copy_photos(root / "photos")
    (root / "photos" / "zz-again.jpg").write_bytes((DATA / names[0]).read_bytes())  # duplicate content
    (root / "notes.txt").write_text("not an image", encoding="utf-8")
    good = (DATA / "baboon.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(good[: len(good) // 5])
    (root / "fake.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    return root


def test_load_search_items_and_drop(backend, tmp_path, unique, root, model_cache):
    app = make_app(backend, tmp_path, unique, root, model_cache)
    n_photos = len(list((root / "photos").iterdir())) - 1
    with TestClient(app) as client:
        task = load(client, root)
        assert task["state"] == "succeeded", task
        errors = {e["item"]: e["error"] for e in task["errors"]}
        assert set(errors) == {"notes.txt", "truncated.jpg", "fake.png"}, errors
        assert "not an image" in errors["notes.txt"] and errors["truncated.jpg"]
        assert task["done"] == n_photos + 1 and task["failed"] == 3
        assert client.get("/count").json() == {"count": n_photos}  # the duplicate is stored once

        # a reload of the same data is safe: nothing new, nothing lost
        assert load(client, root / "photos")["failed"] == 0
        assert client.get("/count").json() == {"count": n_photos}

        # perturbed copies (all SPEC edits combined) find their original first
        for seed, name in enumerate(["baboon.jpg", "fruits.jpg", "building.jpg", "sudoku.png", "graf1.png"]):
            r = client.post("/search", files={"file": ("q.jpg", perturb((DATA / name).read_bytes(), seed))},
                            data={"top_k": "5"})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["took_ms"] > 0 and len(body["results"]) == 5
            top = body["results"][0]
            assert top["name"] == f"photos/{name}", (name, body["results"][:2])
            assert top["match"] == "copy"
            scores = [h["score"] for h in body["results"]]
            assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)

        hit = client.post("/search", files={"file": ("q.jpg", (DATA / "baboon.jpg").read_bytes())}).json()
        assert len(hit["results"]) == min(10, n_photos)
        first = hit["results"][0]
        assert first["score"] == pytest.approx(1.0, abs=1e-3)
        item = client.get(f"/items/{first['id']}").json()
        assert item["name"] == "photos/baboon.jpg" and item["width"] == 512 and item["format"] == "jpeg"
        assert "baboon" in item["labels"]
        img = client.get(f"/{first['image_url']}")
        assert img.status_code == 200 and img.content == (DATA / "baboon.jpg").read_bytes()
        thumb = client.get(f"/{first['thumbnail_url']}")
        assert thumb.headers["content-type"] == "image/jpeg"
        assert max(Image.open(io.BytesIO(thumb.content)).size) <= 256

        # bad queries: 415 for non-images, 422 for corrupt images and bad top_k; nothing stored is lost
        r = client.post("/search", files={"file": ("q.txt", b"just some text")})
        assert r.status_code == 415 and "not an image" in r.json()["detail"]
        r = client.post("/search", files={"file": ("q.jpg", b"\xff\xd8\xff\xe0 broken jpeg")})
        assert r.status_code == 422
        for bad in ("0", "101", "x"):
            assert client.post("/search", files={"file": ("q.jpg", b"x")}, data={"top_k": bad}).status_code == 422
        assert client.post("/search").status_code == 422
        assert client.get("/count").json() == {"count": n_photos}

        # delete one, then everything
        assert client.delete(f"/items/{first['id']}").status_code == 204
        assert client.get(f"/items/{first['id']}").status_code == 404
        assert client.get(f"/items/{first['id']}/image").status_code == 404
        assert client.delete(f"/items/{first['id']}").status_code == 404
        again = client.post("/search", files={"file": ("q.jpg", (DATA / "baboon.jpg").read_bytes())}).json()
        assert all(h["id"] != first["id"] for h in again["results"])
        assert client.delete("/data").json() == {"dropped": n_photos - 1}
        assert client.get("/count").json() == {"count": 0}
        assert client.post("/search", files={"file": ("q.jpg", (DATA / "baboon.jpg").read_bytes())}
                           ).json()["results"] == []


def test_upload_files_and_zip_copied_into_media(tmp_path, unique, root, model_cache):
    from tests.conftest import Backend

    app = make_app(Backend("lite", "", ""), tmp_path, unique, root, model_cache, max_upload_mb=1)
    with TestClient(app) as client:
        files = [("files", (n, (DATA / n).read_bytes())) for n in ("fruits.jpg", "orange.jpg")]
        files.append(("files", ("readme.txt", b"hello")))
        task = wait_task(client, client.post("/upload", files=files).json()["task_id"])
        assert (task["done"], task["failed"]) == (2, 1)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("set/apple.jpg", (DATA / "apple.jpg").read_bytes())
            zf.writestr("set/fruits.jpg", (DATA / "fruits.jpg").read_bytes())  # already stored
        r = client.post("/upload", files={"files": ("set.zip", buf.getvalue(), "application/zip")})
        task = wait_task(client, r.json()["task_id"])
        assert task["state"] == "succeeded" and task["failed"] == 0
        assert client.get("/count").json() == {"count": 3}
        # staging is gone after the load; the stored copy still serves
        assert not any((tmp_path / "data" / "uploads").glob("*/*"))
        hit = client.post("/search", files={"file": ("q.jpg", perturb((DATA / "apple.jpg").read_bytes(), 3))}
                          ).json()["results"][0]
        assert hit["name"].endswith("apple.jpg")
        assert client.get(f"/{hit['image_url']}").content == (DATA / "apple.jpg").read_bytes()
        # only non-images → 415; oversized → 413; outside the data roots → 403
        assert client.post("/upload", files={"files": ("a.txt", b"text")}).status_code == 415
        big = b"\xff\xd8\xff" + b"\x00" * (2 * 1024 * 1024)
        assert client.post("/upload", files={"files": ("big.jpg", big)}).status_code == 413
        assert client.post("/load", json={"path": "/etc"}).status_code == 403
        assert client.get("/count").json() == {"count": 3}


def test_local_features_are_lazy_cached_and_deleted(backend, tmp_path, unique, model_cache, monkeypatch):
    """Ingest computes no ORB features; the first search that re-ranks a candidate does (once, in the decode
    threads, even for concurrent searches), later ones reuse them; a delete removes them."""
    root = tmp_path / "root"
    names = copy_photos(root, ["baboon.jpg", "fruits.jpg", "building.jpg", "graf1.png"])
    app = make_app(backend, tmp_path, unique, root, model_cache)
    with TestClient(app) as client:
        assert load(client, root)["failed"] == 0
        pipe = app.state.pipeline
        assert not any(pipe.local_dir.iterdir())
        calls: list[str] = []
        extract = pipe.matcher.extract
        slow = threading.Event()  # slow candidate features: concurrent searches overlap for sure

        def counting(rgb):
            calls.append(threading.current_thread().name)
            if slow.is_set() and calls[-1].startswith("image-decode"):
                time.sleep(0.5)
            return extract(rgb)

        monkeypatch.setattr(pipe.matcher, "extract", counting)
        query = perturb((DATA / "graf1.png").read_bytes(), 2)

        def top() -> dict:
            r = client.post("/search", files={"file": ("q.jpg", query)}, data={"top_k": "4"})
            assert r.status_code == 200, r.text
            hit = r.json()["results"][0]
            assert hit["name"] == "graf1.png" and hit["match"] == "copy"
            return hit

        first = top()  # every stored image is a candidate (4 < rerank_candidates)
        ids = {h["id"] for h in client.post("/search", files={"file": ("q.jpg", query)}).json()["results"]}
        assert len(ids) == len(names) == 4
        assert {int(p.stem) for p in pipe.local_dir.glob("*.npz")} == ids
        assert sorted(n.startswith("image-decode") for n in calls) == [False, False] + [True] * 4
        calls.clear()
        assert top() == first and len(calls) == 1  # the query only: candidates come from memory
        pipe._local_cache.clear()
        calls.clear()
        assert top() == first and len(calls) == 1  # from local/<id>.npz

        # concurrent first searches compute each candidate once
        for path in pipe.local_dir.glob("*.npz"):
            path.unlink()
        pipe._local_cache.clear()
        calls.clear()
        slow.set()
        with ThreadPoolExecutor(4) as ex:
            hits = list(ex.map(lambda _: pipe.search(query, 4)[0]["id"], range(4)))
        assert hits == [first["id"]] * 4
        assert sum(n.startswith("image-decode") for n in calls) == 4 and len(calls) == 8

        assert client.delete(f"/items/{first['id']}").status_code == 204
        assert not pipe._local_path(first["id"]).exists() and first["id"] not in pipe._local_cache
        assert len(list(pipe.local_dir.glob("*.npz"))) == 3
        assert client.delete("/data").json() == {"dropped": 3}
        assert not any(pipe.local_dir.iterdir()) and not pipe._local_cache
