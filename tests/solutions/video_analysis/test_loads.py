"""Long loads on both backends: progress inside a video, cancel inside a video, DELETE /data during a load.

Whatever stops a load, what stays is consistent: ``/count`` = videos listed = media folders = videos with
keyframe vectors = videos with keyframe rows. ``vtest.avi`` (80 s) is analysed in chunks of 8 keyframes.
"""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.support import load

from .helpers import copy_clips, make_app, media_folders


@pytest.fixture
def service(backend, tmp_path, unique, models, model_cache):
    root = tmp_path / "root"
    copy_clips(root / "clips", ("Megamind.avi", "vtest.avi"))  # loaded in this order
    app = make_app(backend, tmp_path, unique, root, models, model_cache, chunk_keyframes=8)
    with TestClient(app) as client:
        yield client, root / "clips"
        client.delete("/data")


def follow(client: TestClient, task_id: str, until, timeout: float = 180) -> list[dict]:
    """Every state of a task read until ``until(task)`` is true (or it ended)."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = client.get(f"/tasks/{task_id}").json()
        seen.append(task)
        if until(task) or task["state"] in ("succeeded", "failed", "cancelled"):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"task {task_id}: condition not met in {timeout} s: {seen[-1]}")


def inside_vtest(task: dict) -> bool:
    """Megamind.avi stored, vtest.avi partly analysed."""
    return task["state"] == "running" and task["new"] == 1 and task["partial"] >= 0.15


def stored_everywhere(client: TestClient) -> set[int]:
    """The video ids of the service, checked to agree in every place a video is stored."""
    pipeline = client.app.state.pipeline
    listed = {v["id"] for v in client.get("/videos").json()["videos"]}
    vectors = {int(r["video_id"]) for rows in pipeline.vectors.iterate(pipeline.frames_collection,
                                                                       output_fields=["video_id"]) for r in rows}
    with pipeline.sql.begin() as conn:
        rows = {int(v) for v in conn.execute(select(pipeline.tables.frames.c.video_id).distinct()).scalars()}
    assert client.get("/count").json()["count"] == len(listed)
    assert listed == media_folders(pipeline) == vectors == rows
    return listed


def test_progress_advances_inside_a_video(service):
    client, clips = service
    task_id = client.post("/load", json={"path": str(clips / "vtest.avi")}).json()["task_id"]
    seen = follow(client, task_id, lambda t: False)
    assert seen[-1]["state"] == "succeeded" and seen[-1]["new"] == 1
    partials = [t["partial"] for t in seen if t["state"] == "running" and t["done"] == 0]
    inside = [p for p in partials if 0 < p < 1]
    assert len(set(inside)) >= 2, partials  # several points inside the one file, not 0 then done
    assert inside == sorted(inside)


def test_cancel_stops_inside_a_video_and_keeps_what_is_complete(service):
    client, clips = service
    task_id = client.post("/load", json={"path": str(clips)}).json()["task_id"]
    assert inside_vtest(follow(client, task_id, inside_vtest)[-1])
    assert client.post(f"/tasks/{task_id}/cancel").status_code == 202
    task = follow(client, task_id, lambda t: False)[-1]
    assert task["state"] == "cancelled" and task["new"] == 1
    assert [v["name"] for v in client.get("/videos").json()["videos"]] == ["Megamind.avi"]
    assert len(stored_everywhere(client)) == 1
    again = load(client, clips)  # the cancelled video is loaded whole by the next load
    assert (again["new"], again["duplicates"]) == (1, 1)
    assert len(stored_everywhere(client)) == 2


def test_drop_during_a_load_leaves_nothing_half_written(service):
    client, clips = service
    task_id = client.post("/load", json={"path": str(clips)}).json()["task_id"]
    assert inside_vtest(follow(client, task_id, inside_vtest)[-1])
    assert client.delete("/data").json() == {"dropped": 1}
    assert client.get(f"/tasks/{task_id}").json()["state"] == "cancelled"
    assert stored_everywhere(client) == set()
    assert client.get("/items").json()["total"] == 0


def write_slides(path, seconds_each: float = 20.0, fps: float = 5.0):
    """Three still pictures shown one after the other, twice (like slides or a still camera): 120 s of frames
    in which every keyframe repeats one of three pictures exactly."""
    import cv2

    from .helpers import OPENCV_DATA

    pictures = [cv2.resize(cv2.imread(str(OPENCV_DATA / name)), (160, 120), interpolation=cv2.INTER_AREA)
                for name in ("fruits.jpg", "building.jpg", "baboon.jpg")]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (160, 120))
    for i in range(int(2 * len(pictures) * seconds_each * fps)):
        writer.write(pictures[int(i / fps / seconds_each) % len(pictures)])
    writer.release()
    return pictures


def test_a_picture_shown_again_is_one_vector_and_the_timeline_keeps_every_keyframe(backend, tmp_path, unique, models,
                                                                                  model_cache):
    """HNSW cannot reach every copy of a vector stored many times: with a still video's identical keyframes in the
    collection, whole other videos went missing from POST /search. Each distinct picture of a video is one vector."""
    import cv2

    from .helpers import jpeg, search

    clips = tmp_path / "root" / "clips"
    clips.mkdir(parents=True)
    pictures = write_slides(clips / "slides.avi")
    app = make_app(backend, tmp_path, unique, tmp_path / "root", models, model_cache)
    with TestClient(app) as client:
        load(client, clips)
        slides = client.get("/videos").json()["videos"][0]
        assert slides["name"] == "slides.avi" and slides["keyframes"] >= 100
        pipeline = client.app.state.pipeline
        assert pipeline.vectors.count(pipeline.frames_collection, f"video_id == {slides['id']}") == 3
        detail = client.get(f"/videos/{slides['id']}").json()
        assert len(detail["frames"]) == slides["keyframes"]  # thumbnails, labels and timeline: every keyframe
        building = search(client, jpeg(cv2.cvtColor(pictures[1], cv2.COLOR_BGR2RGB)), top_k=1)["results"][0]
        assert building["video_name"] == "slides.avi" and building["timestamp_s"] == 20.0  # where it first shows
        assert client.get(building["frame_url"]).status_code == 200
        client.delete("/data")
