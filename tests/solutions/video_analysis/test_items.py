"""Deleting videos, other containers and playable copies, sample data (each test with its own service)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from solutions.video_analysis.pipeline import VideoPipeline
from tests.conftest import Backend
from tests.support import load, wait_task

from .helpers import (
    OPENCV_DATA,
    frame_at,
    jpeg,
    make_app,
    media_folders,
    search,
    wait_playable,
    write_clip,
    write_face_video,
)


def test_delete_video_removes_it_everywhere(backend, tmp_path, unique, models, model_cache):
    root = tmp_path / "root"
    root.mkdir()
    write_face_video(root / "face.avi")
    write_clip(root / "square.avi", "MJPG")
    with TestClient(make_app(backend, tmp_path, unique, root, models, model_cache)) as client:
        assert load(client, root)["new"] == 2
        videos = {v["name"]: v["id"] for v in client.get("/videos").json()["videos"]}
        vid = videos["face.avi"]
        assert client.delete(f"/videos/{vid}").status_code == 204
        assert client.get(f"/videos/{vid}").status_code == 404
        assert client.get(f"/videos/{vid}/stream").status_code == 404
        assert client.get("/count").json() == {"count": 1}
        names = [r["video_name"] for r in search(client, jpeg(frame_at(root / "face.avi", 5.0)))["results"]]
        assert names == ["square.avi"]
        pipeline = client.app.state.pipeline
        assert media_folders(pipeline) == {videos["square.avi"]}
        assert pipeline.vectors.count(pipeline.frames_collection, f"video_id == {vid}") == 0
        assert client.delete(f"/items/{vid}").status_code == 404
        assert client.delete("/data").json() == {"dropped": 1}
        assert media_folders(pipeline) == set()


@pytest.mark.filterwarnings("ignore")
def test_upload_mp4_webm_mkv_mpg_wmv_and_playable_copies(tmp_path, unique, models, model_cache):
    files = tmp_path / "files"
    files.mkdir()
    write_clip(files / "clip.mp4", "mp4v")
    write_clip(files / "clip.webm", "VP80")
    write_clip(files / "clip.mkv", "MJPG")
    write_clip(files / "clip.mpg", "PIM1", fps=25.0)
    write_clip(files / "clip.wmv", "WMV2")
    app = make_app(Backend("lite", "", ""), tmp_path, unique, tmp_path, models, model_cache, playable_proxy=True)
    with TestClient(app) as client:
        upload = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in sorted(files.iterdir())]
        response = client.post("/upload", files=upload)
        assert response.status_code == 202, response.text
        task = wait_task(client, response.json()["task_id"])
        assert (task["done"], task["failed"]) == (5, 0), task
        videos = {v["name"]: wait_playable(client, v["id"]) for v in client.get("/videos").json()["videos"]}
        assert {n: v["container"] for n, v in videos.items()} == {"clip.mp4": "mp4", "clip.webm": "webm",
                                                                   "clip.mkv": "mkv", "clip.mpg": "mpeg",
                                                                   "clip.wmv": "asf"}
        for name, v in videos.items():
            assert abs(v["duration_s"] - 3.0) < 0.2 and not v["truncated"], (name, v)
            stream = client.get(v["stream_url"], headers={"Range": "bytes=0-31"})
            assert stream.status_code == 206
            assert stream.headers["content-type"] == "video/webm"  # VP8 as uploaded, or the WebM copy
            assert stream.content.startswith(b"\x1a\x45\xdf\xa3")
        # the upload staging is gone; the service kept its own copies
        assert not any((tmp_path / "data" / "video_analysis" / "uploads").glob("*/*"))
        assert client.get(videos["clip.mp4"]["stream_url"]).status_code == 200


def test_upload_of_nothing_loadable_is_415(tmp_path, unique, models, model_cache):
    app = make_app(Backend("lite", "", ""), tmp_path, unique, tmp_path, models, model_cache)
    with TestClient(app) as client:
        bad = client.post("/upload", files=[("files", ("notes.txt", b"just text", "text/plain"))])
        assert bad.status_code == 415
        assert client.get("/count").json() == {"count": 0}


def test_sample_data_is_real_clips_and_a_query(tmp_path):
    sample = VideoPipeline.sample_data(tmp_path / "samples")
    assert sample.path == tmp_path / "samples" / "videos" and "opencv-doc" in sample.origin
    assert {p.name for p in sample.path.iterdir()} == {"vtest.avi", "Megamind.avi", "tree.avi"}
    assert (sample.path / "vtest.avi").read_bytes() == (OPENCV_DATA / "vtest.avi").read_bytes()
    assert (tmp_path / "samples" / "query.jpg").stat().st_size > 10_000


def test_sample_data_names_the_package_when_it_is_missing(tmp_path):
    from common.errors import NotFound
    from solutions.video_analysis.samples import write_sample_data

    with pytest.raises(NotFound, match="opencv-doc"):
        write_sample_data(tmp_path / "samples", source=tmp_path / "nothing-here")


def test_sample_query_finds_its_moment(loaded, tmp_path):
    client = loaded[0]
    VideoPipeline.sample_data(tmp_path / "samples")
    hits = client.app.state.pipeline.cli_search(str(tmp_path / "samples" / "query.jpg"), 2)
    assert hits[0]["video_name"] == "vtest.avi" and abs(hits[0]["timestamp_s"] - 30.0) <= 2.0


@pytest.mark.filterwarnings("ignore")
def test_every_format_the_page_offers_loads_and_a_refusal_names_them(tmp_path, unique, models, model_cache):
    """The refusal said "expected avi, mkv, mp4" while the page's picker offered WebM (and any video/*); now one
    list (GET /formats) gives the picker's accept, the refusal's names, and each of its suffixes loads."""
    files = tmp_path / "files"
    files.mkdir()
    fourccs = {".avi": "MJPG", ".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".mkv": "MJPG", ".webm": "VP80",
               ".mpg": "PIM1", ".mpeg": "PIM1", ".wmv": "WMV2", ".asf": "WMV2", ".flv": "FLV1"}
    app = make_app(Backend("lite", "", ""), tmp_path, unique, tmp_path, models, model_cache, playable_proxy=False)
    with TestClient(app) as client:
        answer = client.get("/formats")
        assert answer.status_code == 200, answer.text
        formats = answer.json()
        suffixes = [s for f in formats["formats"] for s in f["suffixes"]]
        assert set(suffixes) == set(fourccs)  # the picker offers exactly what this test loads ...
        assert formats["accept"].split(",") == suffixes + [f["media_type"] for f in formats["formats"]] + [".zip"]
        assert "video/*" not in formats["accept"]  # ... not every video type (Ogg, MPEG-TS are refused)
        for k, (suffix, fourcc) in enumerate(fourccs.items()):  # different lengths: no two files are the same
            mpeg1 = fourcc == "PIM1"  # MPEG-1 has broadcast frame rates only
            write_clip(files / f"clip{suffix}", fourcc, seconds=1.0 + 0.2 * k, fps=25.0 if mpeg1 else 10.0)
        (files / "notes.txt").write_text("not a video")
        upload = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in sorted(files.iterdir())]
        task = wait_task(client, client.post("/upload", files=upload).json()["task_id"])
        assert (task["new"], task["failed"]) == (len(fourccs), 1), task
        assert task["errors"][0]["item"] == "notes.txt"
        assert task["errors"][0]["error"].endswith(f"expected a video: {formats['text']})")
        for name in ("AVI", "MP4", "MOV", "MKV", "WebM", "MPEG", "WMV", "FLV"):
            assert name in formats["text"]
        assert {v["name"] for v in client.get("/videos").json()["videos"]} == {f"clip{s}" for s in fourccs}
