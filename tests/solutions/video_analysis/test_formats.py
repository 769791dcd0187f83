"""Containers other than AVI, uploads, and the browser-playable copy (Milvus Lite + SQLite)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Backend
from tests.support import wait_task

from .helpers import make_app


def write_clip(path, fourcc: str, seconds: float = 3.0, fps: float = 10.0):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (160, 120))
    assert writer.isOpened(), fourcc
    rng = np.random.default_rng(len(fourcc) + len(path.name))
    for i in range(int(seconds * fps)):
        frame = np.full((120, 160, 3), (i * 7) % 255, np.uint8)
        frame[20:60, 20 + i : 60 + i] = rng.integers(0, 255, 3)
        writer.write(frame)
    writer.release()
    return path


@pytest.mark.filterwarnings("ignore")
def test_upload_mp4_webm_mkv_and_playable_copies(tmp_path, unique, models):
    files = tmp_path / "files"
    files.mkdir()
    write_clip(files / "clip.mp4", "mp4v")
    write_clip(files / "clip.webm", "VP80")
    write_clip(files / "clip.mkv", "MJPG")
    app = make_app(Backend("lite", "", ""), tmp_path, unique, tmp_path, models, playable_proxy=True)
    with TestClient(app) as client:
        upload = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in sorted(files.iterdir())]
        response = client.post("/upload", files=upload)
        assert response.status_code == 202, response.text
        task = wait_task(client, response.json()["task_id"])
        assert (task["done"], task["failed"]) == (3, 0), task
        app.state.pipeline.wait_proxies()
        videos = {v["name"]: v for v in client.get("/videos").json()["videos"]}
        assert {n: v["container"] for n, v in videos.items()} == {"clip.mp4": "mp4", "clip.webm": "webm",
                                                                   "clip.mkv": "mkv"}
        for name, v in videos.items():
            assert v["playable"] and abs(v["duration_s"] - 3.0) < 0.2, (name, v)
            stream = client.get(v["stream_url"], headers={"Range": "bytes=0-31"})
            assert stream.status_code == 206
            assert stream.headers["content-type"] == "video/webm"  # VP8 as uploaded, or the WebM copy
            assert stream.content.startswith(b"\x1a\x45\xdf\xa3")
        # the upload staging is gone; the service kept its own copies
        assert not any((tmp_path / "data" / "uploads").glob("*/*"))
        assert client.get(videos["clip.mp4"]["stream_url"]).status_code == 200
        # nothing loadable in an upload → 415, and nothing changes
        bad = client.post("/upload", files=[("files", ("notes.txt", b"just text", "text/plain"))])
        assert bad.status_code == 415
        assert client.get("/count").json() == {"count": 3}
