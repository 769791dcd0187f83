"""The video service over HTTP on both backends: load, search by image, faces, labels, stream, deletes."""

from __future__ import annotations

import uuid

import cv2
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Backend
from tests.support import load

from .helpers import (
    OPENCV_DATA,
    copy_real_clips,
    frame_at,
    jpeg,
    make_app,
    perturb,
    truncated_copy,
    write_face_video,
)


@pytest.fixture(scope="module", params=["lite", pytest.param("server", marks=pytest.mark.integration)])
def loaded(request, tmp_path_factory, models):
    """One loaded service per backend, shared by the tests of this module (they run in order)."""
    backend = Backend("lite", "", "") if request.param == "lite" else request.getfixturevalue("server_backend")
    tmp_path = tmp_path_factory.mktemp(f"video_{request.param}")
    root = tmp_path / "root"
    copy_real_clips(root / "clips")
    write_face_video(root / "clips" / "face.avi")
    truncated_copy(OPENCV_DATA / "vtest.avi", root / "clips" / "cut.avi", 0.3)
    (root / "clips" / "notes.txt").write_text("not a video")
    (root / "clips" / "fake.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(5000))
    app = make_app(backend, tmp_path, uuid.uuid4().hex[:8], root, models)
    with TestClient(app) as client:
        task = load(client, root / "clips")
        videos = {v["name"]: v for v in client.get("/videos").json()["videos"]}
        yield client, root, task, videos
        client.delete("/data")


def test_load_stores_videos_and_reports_bad_files(loaded):
    client, root, task, videos = loaded
    assert task["state"] == "succeeded"
    assert (task["total"], task["done"], task["failed"]) == (6, 3, 3)
    errors = {e["item"]: e["error"] for e in task["errors"]}
    assert "truncated" in errors["cut.avi"]
    assert "not a video" in errors["notes.txt"]
    assert "fake.mp4" in errors
    assert set(videos) == {"vtest.avi", "Megamind.avi", "face.avi"}
    assert abs(videos["vtest.avi"]["duration_s"] - 79.5) < 0.05
    assert videos["vtest.avi"]["keyframes"] >= 80  # at least one per second
    assert client.get("/count").json() == {"count": 3}
    again = load(client, root / "clips")  # same content: stored once
    assert again["done"] == 3 and client.get("/count").json() == {"count": 3}


@pytest.mark.parametrize("clip,t", [("vtest.avi", 12.3), ("vtest.avi", 55.0), ("Megamind.avi", 6.0),
                                    ("Megamind.avi", 9.5)])
def test_perturbed_frame_finds_its_video_and_moment(loaded, clip, t):
    client, _, _, videos = loaded
    query = perturb(frame_at(OPENCV_DATA / clip, t), seed=int(t * 10))
    response = client.post("/search", files={"file": ("q.jpg", jpeg(query, 60), "image/jpeg")}, data={"top_k": "5"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["took_ms"] >= 0
    results = body["results"]
    ids = [r["video_id"] for r in results]
    assert len(ids) == len(set(ids)) == 3  # every video once, no repeats
    best = results[0]
    assert best["video_name"] == clip and best["video_id"] == videos[clip]["id"]
    assert abs(best["timestamp_s"] - t) <= 2.0
    assert 0.0 <= results[-1]["score"] <= best["score"] <= 1.0
    thumb = client.get(best["frame_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert cv2.imdecode(__import__("numpy").frombuffer(thumb.content, "uint8"), cv2.IMREAD_COLOR) is not None


def test_search_top_k_and_bad_queries(loaded):
    client, _, _, _ = loaded
    query = jpeg(frame_at(OPENCV_DATA / "Megamind.avi", 3.0))
    one = client.post("/search", files={"file": ("q.jpg", query, "image/jpeg")}, data={"top_k": "1"}).json()
    assert len(one["results"]) == 1
    for files, data, status in [
        ({"file": ("q.txt", b"hello, not an image", "text/plain")}, {}, 422),
        ({"file": ("q.jpg", b"\xff\xd8\xff\xe0" + bytes(100), "image/jpeg")}, {}, 422),
        ({"file": ("q.jpg", query, "image/jpeg")}, {"top_k": "0"}, 422),
        ({"file": ("q.jpg", query, "image/jpeg")}, {"top_k": "5000"}, 422),
        ({}, {"top_k": "3"}, 422),
    ]:
        response = client.post("/search", files=files or None, data=data)
        assert response.status_code == status, response.text
        assert "detail" in response.json()


def test_labels_and_timeline(loaded):
    client, _, _, videos = loaded
    detail = client.get(f"/videos/{videos['vtest.avi']['id']}").json()
    assert detail["name"] == "vtest.avi" and detail["faces"] == []
    assert detail["labels"], "ImageNet labels expected on a street scene"
    for span in detail["labels"]:
        assert 0 <= span["start_s"] <= span["end_s"] <= detail["duration_s"]
        assert 0 < span["score"] <= 1
    assert len(detail["frames"]) == detail["keyframes"]
    assert client.get("/videos/12345").status_code == 404
    assert client.get(f"/items/{videos['vtest.avi']['id']}").json()["name"] == "vtest.avi"


def test_person_enrolled_after_loading_is_found(loaded):
    client, _, _, videos = loaded
    face_id = videos["face.avi"]["id"]
    before = client.get(f"/videos/{face_id}").json()
    assert before["faces"] == [] and before["unknown_faces"] >= 3  # faces kept though nobody is enrolled
    photo = (OPENCV_DATA / "messi5.jpg").read_bytes()
    baboon = (OPENCV_DATA / "baboon.jpg").read_bytes()
    response = client.post("/people", data={"name": "Lionel"},
                           files=[("files", ("messi.jpg", photo, "image/jpeg")),
                                  ("files", ("baboon.jpg", baboon, "image/jpeg"))])
    assert response.status_code == 201, response.text
    person = response.json()
    assert person["name"] == "Lionel" and person["photos"] == 1
    assert person["errors"] == [{"item": "baboon.jpg", "error": "no face found"}]
    after = client.get(f"/videos/{face_id}").json()
    assert len(after["faces"]) == 1
    span = after["faces"][0]
    assert span["person"] == "Lionel" and 0.4 < span["score"] <= 1
    assert 3.0 <= span["start_s"] <= 5.0 and 6.5 <= span["end_s"] <= 8.0  # the face is on screen from 4 s to 8 s
    assert after["unknown_faces"] == 0
    assert client.get(f"/videos/{videos['vtest.avi']['id']}").json()["faces"] == []
    people = client.get("/people").json()["people"]
    assert [p["name"] for p in people] == ["Lionel"]
    appearances = client.get(f"/people/{person['id']}").json()["appearances"]
    assert [a["video_name"] for a in appearances] == ["face.avi"]
    # bad enrolments: no face at all, not an image, empty name
    assert client.post("/people", data={"name": "Baboon"},
                       files=[("files", ("b.jpg", baboon, "image/jpeg"))]).status_code == 422
    assert client.post("/people", data={"name": "X"},
                       files=[("files", ("b.txt", b"text", "text/plain"))]).status_code == 422
    assert client.post("/people", data={"name": ""},
                       files=[("files", ("m.jpg", photo, "image/jpeg"))]).status_code == 422
    assert client.delete(f"/people/{person['id']}").status_code == 204
    assert client.get(f"/videos/{face_id}").json()["faces"] == []
    assert client.delete(f"/people/{person['id']}").status_code == 404


def test_stream_supports_ranges(loaded):
    client, root, _, videos = loaded
    vid = videos["Megamind.avi"]["id"]
    original = (root / "clips" / "Megamind.avi").read_bytes()
    full = client.get(f"/videos/{vid}/stream")
    assert full.status_code == 200 and full.content == original
    assert full.headers["content-type"] == "video/x-msvideo"
    part = client.get(f"/videos/{vid}/stream", headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-1099/{len(original)}"
    assert part.content == original[100:1100]
    tail = client.get(f"/videos/{vid}/stream", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == original[-10:]
    for bad in (f"bytes={len(original)}-", "bytes=500-100", "bytes=abc"):
        response = client.get(f"/videos/{vid}/stream", headers={"Range": bad})
        assert response.status_code == 416, bad
        assert response.headers["content-range"] == f"bytes */{len(original)}"
    assert client.get("/videos/1/stream").status_code == 404


def test_delete_video_removes_it_from_search(loaded):
    client, _, _, videos = loaded
    vid = videos["Megamind.avi"]["id"]
    assert client.delete(f"/videos/{vid}").status_code == 204
    assert client.get(f"/videos/{vid}").status_code == 404
    assert client.get(f"/videos/{vid}/stream").status_code == 404
    assert client.get("/count").json() == {"count": 2}
    query = jpeg(frame_at(OPENCV_DATA / "Megamind.avi", 5.0))
    names = [r["video_name"] for r in client.post("/search", files={"file": ("q.jpg", query, "image/jpeg")},
                                                  data={"top_k": "10"}).json()["results"]]
    assert "Megamind.avi" not in names and len(names) == 2
    assert client.delete(f"/items/{vid}").status_code == 404


def test_cli_search_and_sample_data(loaded, tmp_path):
    from solutions.video_analysis.pipeline import make_sample_data

    client, _, _, _ = loaded
    query = tmp_path / "q.jpg"
    query.write_bytes(jpeg(frame_at(OPENCV_DATA / "vtest.avi", 30.0)))
    hits = client.app.state.pipeline.cli_search(str(query), 2)
    assert hits[0]["video_name"] == "vtest.avi" and abs(hits[0]["timestamp_s"] - 30.0) <= 2.0
    samples = make_sample_data(tmp_path / "samples")
    assert {p.name for p in (samples / "videos").iterdir()} == {"vtest.avi", "Megamind.avi"}
    hits = client.app.state.pipeline.cli_search(str(samples / "query.jpg"), 2)
    assert hits[0]["video_name"] == "vtest.avi" and abs(hits[0]["timestamp_s"] - 30.0) <= 2.0
