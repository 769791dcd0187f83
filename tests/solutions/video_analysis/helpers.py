"""Shared helpers of the video tests: real clips from opencv-doc, synthetic clips, app construction."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np

from solutions.video_analysis.config import VideoSettings

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
REAL_CLIPS = ("vtest.avi", "Megamind.avi")


def copy_real_clips(root: Path) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for name in REAL_CLIPS:
        shutil.copyfile(OPENCV_DATA / name, root / name)
        out.append(root / name)
    return out


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
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (640, 480))
    for i in range(int(12 * fps)):
        t = i / fps
        frame = face if 4 <= t < 8 else scenery
        shift = int(i % 10)
        frame = np.roll(frame, shift, axis=1)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def truncated_copy(src: Path, dest: Path, fraction: float = 0.3) -> Path:
    data = src.read_bytes()
    dest.write_bytes(data[: int(len(data) * fraction)])
    return dest


def settings_for(backend, tmp_path: Path, unique: str, root: Path, **extra) -> VideoSettings:
    extra.setdefault("playable_proxy", False)
    return VideoSettings(**backend.settings(tmp_path / "data", data_roots=[root], collection=f"video_{unique}",
                                            table_prefix=f"video_{unique}", **extra))


def make_app(backend, tmp_path: Path, unique: str, root: Path, models, **extra):
    from solutions.video_analysis.app import create_app

    encoder, faces = models
    return create_app(settings_for(backend, tmp_path, unique, root, **extra), encoder=encoder, face_model=faces)


def jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def frame_at(path: Path, t: float) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    target = round(t * fps)
    frame = None
    for _ in range(target + 1):  # sequential reads: seeking is not frame-exact in every codec
        ok, frame = cap.read()
        assert ok
    cap.release()
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def perturb(rgb: np.ndarray, seed: int) -> np.ndarray:
    """Crop to ~88 %, rotate ±3°, brightness ±15 %, resize to 70 % (then JPEG when sent)."""
    rng = np.random.default_rng(seed)
    h, w = rgb.shape[:2]
    c = rng.uniform(0.85, 0.92)
    ch, cw = int(h * c), int(w * c)
    y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    out = rgb[y : y + ch, x : x + cw]
    m = cv2.getRotationMatrix2D((cw / 2, ch / 2), rng.uniform(-3, 3), 1.0)
    out = cv2.warpAffine(out, m, (cw, ch), borderMode=cv2.BORDER_REFLECT)
    out = np.clip(out.astype(np.float32) * rng.uniform(0.85, 1.15), 0, 255).astype(np.uint8)
    return cv2.resize(out, (int(cw * 0.7), int(ch * 0.7)), interpolation=cv2.INTER_AREA)
