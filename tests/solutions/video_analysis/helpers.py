"""Shared helpers of the video tests: real clips from opencv-doc, clips written for a test, apps, queries."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bench.perturb import perturb_array
from solutions.video_analysis.app import create_app
from solutions.video_analysis.config import VideoSettings

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
REAL_CLIPS = ("vtest.avi", "Megamind.avi")
PHOTO = (OPENCV_DATA / "messi5.jpg").read_bytes()  # a face
BABOON = (OPENCV_DATA / "baboon.jpg").read_bytes()  # no face


def copy_clips(root: Path, names: tuple[str, ...] = REAL_CLIPS) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(OPENCV_DATA / name, root / name)
    return [root / name for name in names]


def face_frame() -> np.ndarray:
    """A 640x480 RGB close-up around the face in opencv-doc's messi5.jpg (detectable without upsampling)."""
    rgb = cv2.cvtColor(cv2.imread(str(OPENCV_DATA / "messi5.jpg")), cv2.COLOR_BGR2RGB)
    cx, cy = 243, 112  # centre of the face dlib finds in the full photo
    crop = rgb[cy - 90 : cy + 90, cx - 120 : cx + 120]
    return cv2.resize(crop, (640, 480), interpolation=cv2.INTER_CUBIC)


def write_face_video(path: Path, fps: float = 10.0) -> Path:
    """4 s of a landscape with no face, 4 s of the face close-up (slowly panning), 4 s landscape again."""
    face = face_frame()
    scenery = cv2.resize(cv2.cvtColor(cv2.imread(str(OPENCV_DATA / "building.jpg")), cv2.COLOR_BGR2RGB), (640, 480))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (640, 480))
    for i in range(int(12 * fps)):
        t = i / fps
        frame = face if 4 <= t < 8 else scenery
        frame = np.roll(frame, int(i % 10), axis=1)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_clip(path: Path, fourcc: str, seconds: float = 3.0, fps: float = 10.0) -> Path:
    """A small clip of a moving square on a changing background, in the given codec."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, (160, 120))
    assert writer.isOpened(), fourcc
    rng = np.random.default_rng(len(fourcc) + len(path.name))
    for i in range(int(seconds * fps)):
        frame = np.full((120, 160, 3), (i * 7) % 255, np.uint8)
        frame[20:60, 20 + i : 60 + i] = rng.integers(0, 255, 3)
        writer.write(frame)
    writer.release()
    return path


def truncated_copy(src: Path, dest: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dest.write_bytes(data[: int(len(data) * fraction)])
    return dest


def settings_for(backend, tmp_path: Path, unique: str, root: Path, model_cache: Path, **extra: Any) -> VideoSettings:
    extra.setdefault("playable_proxy", False)
    return VideoSettings(**backend.settings(tmp_path / "data", data_roots=[root], store_prefix=f"video_{unique}",
                                            model_cache_dir=model_cache, **extra))


def make_app(backend, tmp_path: Path, unique: str, root: Path, models, model_cache: Path, **extra: Any) -> FastAPI:
    encoder, faces = models
    return create_app(settings_for(backend, tmp_path, unique, root, model_cache, **extra), encoder=encoder,
                      face_model=faces)


def jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def frame_at(path: Path, t: float) -> np.ndarray:
    """The RGB frame at ``t`` seconds, read sequentially (seeking is not frame-exact in every codec)."""
    cap = cv2.VideoCapture(str(path))
    target = round(t * cap.get(cv2.CAP_PROP_FPS))
    frame = None
    for _ in range(target + 1):
        ok, frame = cap.read()
        assert ok
    cap.release()
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def perturbed_frame(clip: str, t: float, seed: int) -> bytes:
    """The SPEC's edit (bench/perturb.py) of the frame of an opencv-doc clip at ``t`` s, as JPEG bytes."""
    return perturb_array(frame_at(OPENCV_DATA / clip, t), seed)


def search(client: TestClient, image: bytes, **form: Any) -> Any:
    response = client.post("/search", files={"file": ("q.jpg", image, "image/jpeg")},
                           data={k: str(v) for k, v in form.items()})
    assert response.status_code == 200, response.text
    return response.json()


def media_folders(pipeline: Any) -> set[int]:
    """The video ids that have a folder in the service's media folder."""
    return {int(p.name) for p in pipeline.media.root.iterdir() if p.is_dir() and p.name.isdigit()}


def wait_playable(client: TestClient, video_id: int, timeout: float = 120) -> dict:
    """Poll ``GET /videos/{id}`` until its browser-playable copy is written (as the page does)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        video = client.get(f"/videos/{video_id}").json()
        if video["playable"]:
            return video
        time.sleep(0.2)
    raise AssertionError(f"video {video_id} not playable after {timeout} s")
