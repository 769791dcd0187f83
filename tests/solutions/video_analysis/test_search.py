"""Search pages, batches, overload and image budgets on both backends (the shared ``loaded`` service)."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pytest

from solutions.video_analysis import search as search_module
from solutions.video_analysis.config import VideoSettings
from solutions.video_analysis.search import FrameSearch

from .helpers import OPENCV_DATA, frame_at, jpeg, perturbed_frame, search

MEGAMIND = jpeg(frame_at(OPENCV_DATA / "Megamind.avi", 3.0))


def test_two_pages_equal_one_longer_query(loaded):
    client, _, _, videos = loaded
    query = perturbed_frame("vtest.avi", 20.0, seed=3)
    whole = search(client, query, top_k=4)["results"]
    pages = search(client, query, top_k=2)["results"] + search(client, query, top_k=2, offset=2)["results"]
    assert [r["video_id"] for r in whole] == [r["video_id"] for r in pages]
    assert len(whole) == len(videos) == 4
    assert pages == whole  # same scores, same re-ranked moments (re-ranking goes by absolute rank)
    assert search(client, query, top_k=3, offset=4)["results"] == []


@pytest.mark.parametrize("form", [{"offset": -1}, {"top_k": 10, "offset": 995}, {"offset": "x"}])
def test_bad_pages_are_422(loaded, form):
    response = loaded[0].post("/search", files={"file": ("q.jpg", MEGAMIND, "image/jpeg")},
                              data={k: str(v) for k, v in form.items()})
    assert response.status_code == 422, response.text


def test_a_query_that_is_no_image_is_415_as_in_the_image_demo(loaded):
    response = loaded[0].post("/search", files={"file": ("notes.jpg", b"meeting notes, not a picture", "image/jpeg")})
    assert response.status_code == 415, response.text
    assert response.json()["detail"] == "not an image (content looks like text)"
    damaged = loaded[0].post("/search", files={"file": ("cut.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image/png")})
    assert damaged.status_code == 422, damaged.text


def test_batch_answers_each_query_and_reports_a_bad_one_alone(loaded):
    client = loaded[0]
    vtest = perturbed_frame("vtest.avi", 40.0, seed=5)
    files = [("files", ("street.jpg", vtest, "image/jpeg")), ("files", ("notes.txt", b"not an image", "text/plain")),
             ("files", ("empty.jpg", b"", "image/jpeg")), ("files", ("film.jpg", MEGAMIND, "image/jpeg"))]
    response = client.post("/search/batch", files=files, data={"top_k": "2"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["took_ms"] >= 0
    assert [r["query"] for r in body["results"]] == ["street.jpg", "notes.txt", "empty.jpg", "film.jpg"]
    street, notes, empty, film = body["results"]
    assert notes["results"] == [] and notes["error"] == "not an image (content looks like text)"
    assert empty["results"] == [] and "empty" in empty["error"]
    assert street["error"] is None and street["results"] == search(client, vtest, top_k=2)["results"]
    assert film["error"] is None and film["results"][0]["video_name"] == "Megamind.avi"
    paged = client.post("/search/batch", files=files[:1], data={"top_k": "2", "offset": "2"}).json()["results"]
    assert paged[0]["results"] == search(client, vtest, top_k=2, offset=2)["results"]


@pytest.mark.parametrize("count,data", [(33, {}), (1, {"top_k": "0"})])
def test_batch_limits_are_422(loaded, count, data):
    files = [("files", (f"q{i}.jpg", MEGAMIND, "image/jpeg")) for i in range(count)]
    response = loaded[0].post("/search/batch", files=files, data=data)
    assert response.status_code == 422, response.text


def test_full_pool_answers_503_with_retry_after(loaded):
    client = loaded[0]
    pool = client.app.state.resources.pool
    taken = 0
    try:
        while pool.in_flight < pool.capacity:
            pool._acquire()
            taken += 1
        for path, files in (("/search", {"file": ("q.jpg", MEGAMIND, "image/jpeg")}),
                            ("/search/batch", [("files", ("q.jpg", MEGAMIND, "image/jpeg"))])):
            response = client.post(path, files=files)
            assert response.status_code == 503, path
            assert response.headers["retry-after"] == str(pool.retry_after_s)
    finally:
        for _ in range(taken):
            pool._release()
    assert search(client, MEGAMIND, top_k=1)["results"]


def test_images_over_the_pixel_budget_are_refused(loaded, monkeypatch):
    client = loaded[0]
    monkeypatch.setattr(client.app.state.pipeline.settings, "max_image_mpx", 0.1)  # MEGAMIND is 0.38 Mpx
    response = client.post("/search", files={"file": ("q.jpg", MEGAMIND, "image/jpeg")})
    assert response.status_code == 413 and "MAX_IMAGE_MPX" in response.json()["detail"]
    batch = client.post("/search/batch", files=[("files", ("q.jpg", MEGAMIND, "image/jpeg"))]).json()
    assert "MAX_IMAGE_MPX" in batch["results"][0]["error"]


def test_a_large_jpeg_counts_at_its_reduced_scale_as_in_the_image_demo(loaded, monkeypatch):
    """A 24 Mpx JPEG under a 10 Mpx budget is decoded at 1/4 and found (it was 413, and the image demo took it);
    a PNG of that size is refused from its header."""
    import cv2

    from bench.image_search_hostile import hostile_png

    client = loaded[0]
    monkeypatch.setattr(client.app.state.pipeline.settings, "max_image_mpx", 10)
    frame = cv2.imdecode(np.frombuffer(MEGAMIND, np.uint8), cv2.IMREAD_COLOR)
    big = cv2.imencode(".jpg", cv2.resize(frame, None, fx=8, fy=8, interpolation=cv2.INTER_LINEAR))[1].tobytes()
    found = search(client, big, top_k=1)["results"]
    assert found[0]["video_name"] == "Megamind.avi", found
    response = client.post("/search", files={"file": ("big.png", hostile_png(5000), "image/png")})
    assert response.status_code == 413 and "MAX_IMAGE_MPX" in response.json()["detail"]


def test_query_images_over_the_byte_budget_are_413(loaded, monkeypatch):
    client = loaded[0]
    monkeypatch.setattr(client.app.state.pipeline.settings, "max_image_mb", 1)
    big = MEGAMIND + bytes(1024 * 1024)
    response = client.post("/search", files={"file": ("q.jpg", big, "image/jpeg")})
    assert response.status_code == 413 and "larger than 1 MB" in response.json()["detail"]


class UnderReturningStore:
    """A vector store whose search, like Milvus Lite's HNSW, returns fewer hits than the limit while more rows exist:
    the exact nearest rows, but at most ``returned(limit)`` of them."""

    def __init__(self, rows: list[dict], returned) -> None:
        self.rows = rows
        self.returned = returned
        self.limits: list[int] = []
        self.scans = 0

    def _cosine(self, query, row) -> float:
        v = np.asarray(row["vector"])
        return float(v @ query / (np.linalg.norm(v) * np.linalg.norm(query)))

    def search(self, _name, vectors, *, limit, **_kwargs):
        self.limits.append(limit)
        query = np.asarray(vectors[0])
        ranked = sorted(self.rows, key=lambda r: -self._cosine(query, r))[:min(limit, self.returned(limit))]
        return [[{"id": r["id"], "distance": self._cosine(query, r), "entity": {"video_id": r["video_id"], "t": r["t"]}}
                 for r in ranked]]

    def count(self, _name, filter=""):
        return len(self.rows)

    def query(self, _name, *, filter, output_fields=(), limit=None):
        """All rows (``limit`` at most), in no particular order, as Milvus Lite's query returns them."""
        self.scans += 1
        rows = [{k: r[k] for k in ("id", *output_fields)} for r in self.rows][:limit]
        return rows[1::2] + rows[::2]

    def get(self, _name, ids, output_fields=()):
        wanted = set(ids)
        return [{k: r[k] for k in ("id", *output_fields)} for r in self.rows if r["id"] in wanted]


class QueryEncoder:
    def __init__(self, query) -> None:
        self.query = query

    def encode(self, _images):
        return [self.query], None


def frame_search(rows: list[dict], returned, query) -> tuple[FrameSearch, UnderReturningStore]:
    store = UnderReturningStore(rows, returned)
    names = {v: f"video{v}.avi" for v in {r["video_id"] for r in rows}}
    settings = VideoSettings(rerank_videos=0, search_candidates=16)
    search = FrameSearch(settings, cast(Any, QueryEncoder(query)), cast(Any, store), "frames", cast(Any, None),
                         lambda ids: {i: names[i] for i in ids if i in names})
    return search, store


def keyframe_rows(rng, query, frames_per_video: list[int]) -> list[dict]:
    """Rows of videos 1, 2, ...: video 1's keyframes nearest the query, each next video's further away."""
    rows = []
    for video, count in enumerate(frames_per_video, start=1):
        for k in range(count):
            vector = query + (0.1 * video + 0.0001 * k) * rng.normal(size=query.size)
            rows.append({"id": len(rows), "video_id": video, "t": float(k), "vector": vector.tolist()})
    return rows


def test_videos_are_found_when_the_index_returns_fewer_hits_than_the_limit():
    rng = np.random.default_rng(0)
    query = rng.normal(size=32)
    rows = keyframe_rows(rng, query, [40, 3, 3, 3, 3])
    search, store = frame_search(rows, lambda limit: 30, query)  # 30 hits whatever the limit: video 1's alone
    results = search.search(np.zeros((8, 8, 3), np.uint8), top_k=4)
    assert [r["video_name"] for r in results] == ["video1.avi", "video2.avi", "video3.avi", "video4.avi"]
    assert store.scans == 1  # 52 rows: ranked by an exact scan
    best = {r["video_id"]: max(store._cosine(query, x) for x in rows if x["video_id"] == r["video_id"])
            for r in results}
    assert [r["score"] for r in results] == [round(min(1.0, best[r["video_id"]]), 4) for r in results]
    assert search.search(np.zeros((8, 8, 3), np.uint8), top_k=4, offset=4)[0]["video_name"] == "video5.avi"


def test_a_large_collection_keeps_asking_for_more_when_the_index_under_returns(monkeypatch):
    monkeypatch.setattr(search_module, "EXACT_SCAN_ROWS", 10, raising=False)  # too many rows to scan
    rng = np.random.default_rng(1)
    query = rng.normal(size=32)
    rows = keyframe_rows(rng, query, [200, 2, 2])
    search, store = frame_search(rows, lambda limit: limit // 2, query)  # 8, 32, 128 of video 1, then all
    results = search.search(np.zeros((8, 8, 3), np.uint8), top_k=3)
    assert [r["video_name"] for r in results] == ["video1.avi", "video2.avi", "video3.avi"]
    assert store.limits == [16, 64, 256, 1024] and store.scans == 0
