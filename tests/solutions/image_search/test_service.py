"""The image service end to end on both backends: load, dedupe, bad input, search, items, drop."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.support import load, wait_task

from .helpers import DATA, PHOTOS, make_app, query

N = len(PHOTOS)


def test_load_reports_each_bad_file_and_stores_duplicates_once(service):
    client, _, task = service
    assert task["state"] == "succeeded", task
    errors = {e["item"]: e["error"] for e in task["errors"]}
    assert set(errors) == {"notes.txt", "truncated.jpg", "fake.png"}, errors
    assert "not an image" in errors["notes.txt"] and errors["truncated.jpg"]
    assert (task["done"], task["new"], task["duplicates"], task["failed"]) == (N + 1, N, 1, 3)
    assert client.get("/count").json() == {"count": N}


def test_reload_stores_nothing_twice(service, root):
    client, _, _ = service
    task = load(client, root / "photos")
    assert (task["new"], task["duplicates"], task["failed"]) == (0, N + 1, 0)
    assert client.get("/count").json() == {"count": N}


@pytest.mark.parametrize("seed,name", list(enumerate(["baboon.jpg", "fruits.jpg", "building.jpg", "sudoku.png",
                                                   "graf1.png"])))
def test_perturbed_copy_finds_its_original_first(service, seed, name):
    client, _, _ = service
    body = query(client, name, seed, top_k=5)
    assert body["took_ms"] > 0 and len(body["results"]) == 5
    top = body["results"][0]
    assert top["name"] == f"photos/{name}", (name, body["results"][:2])
    assert top["match"] == "copy"
    scores = [h["score"] for h in body["results"]]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)


def test_exact_copy_scores_one_and_serves_its_files(service):
    client, _, _ = service
    hits = query(client, "baboon.jpg")["results"]
    assert len(hits) == 10
    first = hits[0]
    assert first["score"] == pytest.approx(1.0, abs=1e-3)
    item = client.get(f"/items/{first['id']}").json()
    assert item["name"] == "photos/baboon.jpg" and item["width"] == 512 and item["format"] == "jpeg"
    assert "baboon" in str(item["labels"])
    img = client.get(f"/{first['image_url']}")
    assert img.status_code == 200 and img.content == (DATA / "baboon.jpg").read_bytes()
    thumb = client.get(f"/{first['thumbnail_url']}")
    assert thumb.headers["content-type"] == "image/jpeg"
    for url, size in ((first["image_url"], len(img.content)), (first["thumbnail_url"], len(thumb.content))):
        head = client.head(f"/{url}")  # headers only (405 before)
        assert head.status_code == 200 and head.headers["content-length"] == str(size) and not head.content
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 256


@pytest.mark.parametrize("kind", ["heic", "avif"])
def test_an_iphone_heic_or_an_avif_photo_is_loaded_searched_and_served(service, kind):
    """Both are ISO base-media files ("ftyp"): they sniffed as mp4 and were refused ("content looks like mp4").
    The HEIC file was made from fruits.jpg by pillow-heif's x265 encoder; the service only decodes (pi-heif)."""
    client, _, _ = service
    if kind == "heic":
        data = (Path(__file__).parent / "data" / "fruits.heic").read_bytes()
    else:
        buf = io.BytesIO()
        Image.open(DATA / "fruits.jpg").save(buf, format="AVIF", quality=90)
        data = buf.getvalue()
    response = client.post("/upload", files={"files": (f"fruits.{kind}", data)})
    assert response.status_code == 202, response.text
    task = wait_task(client, response.json()["task_id"])
    assert (task["state"], task["new"]) == ("succeeded", 1), task
    item = client.get("/items", params={"limit": 1}).json()["items"][0]
    try:
        assert (item["name"], item["format"], item["width"], item["height"]) == (f"fruits.{kind}", kind, 512, 480)
        hits = query(client, "fruits.jpg", top_k=2)["results"]  # the JPEG original and this copy of it
        assert {h["name"] for h in hits} == {"photos/fruits.jpg", f"fruits.{kind}"}, hits
        mine = next(h for h in hits if h["id"] == item["id"])
        assert mine["cosine"] >= 0.95 and mine["match"] == "copy", mine
        served = client.get(f"/{mine['image_url']}")
        assert served.headers["content-type"] == f"image/{kind}" and served.content == data
        assert client.get(f"/{mine['thumbnail_url']}").headers["content-type"] == "image/jpeg"
        again = client.post("/search", files={"file": (f"q.{kind}", data)}, data={"top_k": "1"}).json()
        assert again["results"][0]["id"] == item["id"]  # and it is a query too
    finally:
        assert client.delete(f"/items/{item['id']}").status_code == 204


def test_every_stored_file_finds_itself_first_at_cosine_one(service):
    """The query is decoded for the encoder as a load decodes a file: a stored JPEG searched for scored cosine
    0.966 (apple.jpg) when the query was decoded at another reduced scale, below an edited copy of itself."""
    client, _, _ = service
    names = {i["id"]: i["name"] for i in client.get("/items", params={"limit": 100}).json()["items"]}
    for name in PHOTOS:
        first = query(client, name, top_k=1)["results"][0]
        assert names[first["id"]] == f"photos/{name}" and first["cosine"] >= 0.999, (name, first)


def test_bad_queries_are_4xx_and_lose_nothing(service):
    client, _, _ = service
    r = client.post("/search", files={"file": ("q.txt", b"just some text")})
    assert r.status_code == 415 and "not an image" in r.json()["detail"]
    r = client.post("/search", files={"file": ("q.jpg", b"\xff\xd8\xff\xe0 broken jpeg")})
    assert r.status_code == 422
    for bad in ("0", "101", "x", "-1"):
        assert client.post("/search", files={"file": ("q.jpg", b"x")}, data={"top_k": bad}).status_code == 422
    assert client.post("/search", files={"file": ("q.jpg", b"x")}, data={"offset": "-1"}).status_code == 422
    assert client.post("/search").status_code == 422
    assert client.post("/search", data={"top_k": "3"}).status_code == 422  # no file
    for route in ("image", "thumbnail"):  # ids are 53-bit: a larger one is refused before it reaches SQL
        assert client.get(f"/items/{2**64}/{route}").status_code == 422
    assert client.get("/count").json() == {"count": N}


def test_delete_one_then_everything(service):
    client, _, _ = service
    first = query(client, "baboon.jpg")["results"][0]
    assert client.delete(f"/items/{first['id']}").status_code == 204
    assert client.get(f"/items/{first['id']}").status_code == 404
    assert client.get(f"/items/{first['id']}/image").status_code == 404
    assert client.delete(f"/items/{first['id']}").status_code == 404
    assert all(h["id"] != first["id"] for h in query(client, "baboon.jpg")["results"])
    assert client.delete("/data").json() == {"dropped": N - 1}
    assert client.get("/count").json() == {"count": 0}
    assert query(client, "baboon.jpg")["results"] == []


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
        assert not any((tmp_path / "data" / "image_search" / "uploads").glob("*/*"))
        hit = query(client, "apple.jpg", 3)["results"][0]
        assert hit["name"].endswith("apple.jpg")
        assert client.get(f"/{hit['image_url']}").content == (DATA / "apple.jpg").read_bytes()
        # only non-images → 415; oversized → 413; outside the data roots → 403
        assert client.post("/upload", files={"files": ("a.txt", b"text")}).status_code == 415
        big = b"\xff\xd8\xff" + b"\x00" * (2 * 1024 * 1024)
        assert client.post("/upload", files={"files": ("big.jpg", big)}).status_code == 413
        assert client.post("/load", json={"path": "/etc"}).status_code == 403
        assert client.get("/count").json() == {"count": 3}
