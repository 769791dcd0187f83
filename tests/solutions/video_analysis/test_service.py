"""The video service over HTTP on both backends: load, search by image, labels, stream.

They read the service ``loaded`` once per backend for the package (conftest.py) and change nothing in it.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from tests.support import load

from .helpers import OPENCV_DATA, frame_at, jpeg, perturbed_frame, search


def test_load_reports_every_file(loaded):
    _, _, task, videos = loaded
    assert task["state"] == "succeeded"
    assert (task["total"], task["done"], task["failed"], task["warnings"]) == (6, 4, 2, 1)
    errors = {e["item"]: (e["level"], e["error"]) for e in task["errors"]}
    assert set(errors) == {"tree.avi", "notes.txt", "fake.mp4"}
    assert errors["tree.avi"][0] == "warning" and "decoded 68 of 444 frames" in errors["tree.avi"][1]
    assert errors["notes.txt"][0] == "error" and "content looks like text" in errors["notes.txt"][1]
    assert errors["fake.mp4"][0] == "error"
    assert set(videos) == {"vtest.avi", "Megamind.avi", "face.avi", "tree.avi"}


def test_truncated_video_is_indexed_for_its_readable_part(loaded):
    client, _, _, videos = loaded
    tree = client.get(f"/videos/{videos['tree.avi']['id']}").json()
    assert tree["truncated"] is True
    assert tree["duration_s"] == pytest.approx(68 / 15.0, abs=0.01)
    assert tree["declared_duration_s"] == pytest.approx(444 / 15.0, abs=0.01)
    assert tree["keyframes"] >= 4 and len(tree["frames"]) == tree["keyframes"]
    assert tree["frames"][-1]["timestamp_s"] < tree["duration_s"]
    vtest = client.get(f"/videos/{videos['vtest.avi']['id']}").json()
    assert vtest["truncated"] is False and vtest["declared_duration_s"] == vtest["duration_s"]


def test_stored_videos_describe_what_was_decoded(loaded):
    client, _, _, videos = loaded
    vtest = videos["vtest.avi"]
    assert abs(vtest["duration_s"] - 79.5) < 0.05 and vtest["keyframes"] >= 80  # at least one per second
    assert (vtest["width"], vtest["height"], vtest["container"], vtest["codec"]) == (768, 576, "avi", "MP43")
    assert vtest["size"] == (OPENCV_DATA / "vtest.avi").stat().st_size and len(vtest["sha256"]) == 64
    assert client.get("/count").json() == {"count": 4}
    page = client.get("/items", params={"limit": 2}).json()
    assert page["total"] == 4 and len(page["items"]) == 2
    assert client.get(f"/items/{vtest['id']}").json()["name"] == "vtest.avi"


def test_loading_again_stores_nothing_twice(loaded):
    client, root, _, _ = loaded
    again = load(client, root / "clips")
    assert (again["new"], again["duplicates"], again["failed"]) == (0, 4, 2)
    assert client.get("/count").json() == {"count": 4}


@pytest.mark.parametrize("clip,t", [("vtest.avi", 12.3), ("vtest.avi", 55.0), ("Megamind.avi", 6.0),
                                    ("Megamind.avi", 9.5)])
def test_perturbed_frame_finds_its_video_and_moment(loaded, clip, t):
    _, _, _, videos = loaded
    body = search(loaded[0], perturbed_frame(clip, t, seed=int(t * 10)), top_k=5)
    assert body["took_ms"] >= 0
    results = body["results"]
    ids = [r["video_id"] for r in results]
    assert len(ids) == len(set(ids)) == len(videos)  # every video once, no repeats
    best = results[0]
    assert best["video_name"] == clip and best["video_id"] == videos[clip]["id"]
    assert abs(best["timestamp_s"] - t) <= 2.0
    assert 0.0 <= results[-1]["score"] <= best["score"] <= 1.0


def test_result_thumbnail_is_the_keyframe(loaded):
    client = loaded[0]
    best = search(client, jpeg(frame_at(OPENCV_DATA / "Megamind.avi", 3.0)), top_k=1)["results"][0]
    thumb = client.get(best["frame_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert cv2.imdecode(np.frombuffer(thumb.content, np.uint8), cv2.IMREAD_COLOR).shape[1] == 320


def test_top_k_bounds_the_results(loaded):
    client = loaded[0]
    assert len(search(client, jpeg(frame_at(OPENCV_DATA / "Megamind.avi", 3.0)), top_k=1)["results"]) == 1


@pytest.mark.parametrize("files,data", [  # a file that is no image at all is 415 (test_search.py)
    ({"file": ("q.jpg", b"\xff\xd8\xff\xe0" + bytes(100), "image/jpeg")}, {}),
    ({"file": ("q.jpg", b"", "image/jpeg")}, {}),
    ("good", {"top_k": "0"}),
    ("good", {"top_k": "5000"}),
    (None, {"top_k": "3"}),
])
def test_bad_queries_are_422(loaded, files, data):
    client = loaded[0]
    if files == "good":
        files = {"file": ("q.jpg", jpeg(frame_at(OPENCV_DATA / "Megamind.avi", 3.0)), "image/jpeg")}
    response = client.post("/search", files=files, data=data)
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], str)


def test_labels_make_a_timeline(loaded):
    client, _, _, videos = loaded
    detail = client.get(f"/videos/{videos['vtest.avi']['id']}").json()
    assert detail["name"] == "vtest.avi" and detail["faces"] == []
    assert detail["labels"], "ImageNet labels expected on a street scene"
    for span in detail["labels"]:
        assert 0 <= span["start_s"] <= span["end_s"] <= detail["duration_s"]
        assert 0 < span["score"] <= 1
    assert len(detail["frames"]) == detail["keyframes"]
    assert client.get(detail["frames"][-1]["frame_url"]).status_code == 200


def test_unknown_videos_and_frames_are_404(loaded):
    client, _, _, videos = loaded
    assert client.get("/videos/12345").status_code == 404
    assert client.get("/videos/12345/stream").status_code == 404
    assert client.get(f"/videos/{videos['vtest.avi']['id']}/frames/1.jpg").status_code == 404


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/videos/{}"), ("GET", "/videos/{}/stream"), ("DELETE", "/videos/{}"),
    ("GET", "/people/{}"), ("DELETE", "/people/{}"), ("GET", "/videos/1/frames/{}.jpg"), ("GET", "/videos?offset={}"),
])
@pytest.mark.parametrize("number", [2**53, 2**63, -(2**63) - 1, 10**23])
def test_ids_beyond_53_bits_are_422_not_500(loaded, method, path, number):
    """Ids are 53-bit (SQLite raised OverflowError past 64 bits: a 500), and so are times and offsets."""
    client = loaded[0]
    response = client.request(method, path.format(number))
    assert response.status_code == 422, response.text
    assert any(name in response.json()["detail"] for name in ("video_id", "person_id", "ms", "offset"))


def test_stream_serves_the_whole_file(loaded):
    client, root, _, videos = loaded
    full = client.get(f"/videos/{videos['Megamind.avi']['id']}/stream")
    assert full.status_code == 200 and full.content == (root / "clips" / "Megamind.avi").read_bytes()
    assert full.headers["content-type"] == "video/x-msvideo"


def test_stream_serves_ranges(loaded):
    client, root, _, videos = loaded
    url = f"/videos/{videos['Megamind.avi']['id']}/stream"
    original = (root / "clips" / "Megamind.avi").read_bytes()
    part = client.get(url, headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-1099/{len(original)}"
    assert part.content == original[100:1100]
    head = client.head(url)  # what players and download tools ask first: 405 before
    assert head.status_code == 200 and head.headers["content-length"] == str(len(original)) and not head.content
    assert head.headers["accept-ranges"] == "bytes"
    frame = client.get(f"/videos/{videos['Megamind.avi']['id']}").json()["frames"][0]["frame_url"]
    assert client.head(frame).status_code == 200
    tail = client.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == original[-10:]
    for past_the_end in (f"bytes={len(original)}-", "bytes=-0"):
        response = client.get(url, headers={"Range": past_the_end})
        assert response.status_code == 416, past_the_end
        assert response.headers["content-range"] == f"bytes */{len(original)}"
    for not_a_byte_range in ("bytes=500-100", "bytes=abc", "items=0-1"):  # ignored: the whole file
        response = client.get(url, headers={"Range": not_a_byte_range})
        assert response.status_code == 200 and response.content == original, not_a_byte_range


def test_cli_search_takes_an_image_path(loaded, tmp_path):
    client = loaded[0]
    query = tmp_path / "q.jpg"
    query.write_bytes(jpeg(frame_at(OPENCV_DATA / "vtest.avi", 30.0)))
    hits = client.app.state.pipeline.cli_search(str(query), 2)
    assert hits[0]["video_name"] == "vtest.avi" and abs(hits[0]["timestamp_s"] - 30.0) <= 2.0


def test_export_streams_every_video(loaded):
    client, _, _, videos = loaded
    response = client.get("/export")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert sorted(v["name"] for v in lines) == sorted(videos)
    assert {v["name"]: v["truncated"] for v in lines}["tree.avi"] is True
