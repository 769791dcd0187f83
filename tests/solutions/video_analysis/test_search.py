"""Search pages, batches, overload and image budgets on both backends (the shared ``loaded`` service)."""

from __future__ import annotations

import pytest

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
    assert notes["results"] == [] and "not a recognised image" in notes["error"]
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


def test_query_images_over_the_byte_budget_are_413(loaded, monkeypatch):
    client = loaded[0]
    monkeypatch.setattr(client.app.state.pipeline.settings, "max_image_mb", 1)
    big = MEGAMIND + bytes(1024 * 1024)
    response = client.post("/search", files={"file": ("q.jpg", big, "image/jpeg")})
    assert response.status_code == 413 and "larger than 1 MB" in response.json()["detail"]
