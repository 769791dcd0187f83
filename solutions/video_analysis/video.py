"""Video decoding with OpenCV: keyframe sampling, thumbnails and a browser-playable copy.

One pass over the file decodes every frame (codecs need it) but only looks at ``analysis_fps``
frames per second: a frame becomes a *keyframe* when its small grey thumbnail differs from the last
keyframe's by more than ``scene_threshold`` (a scene change), or when ``max_interval_s`` passed
since the last keyframe. File names never reach a shell: OpenCV opens the path directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

#: codecs Chromium/Firefox play inside the containers we serve as-is
PLAYABLE = {
    "mp4": {"avc1", "h264", "H264", "AVC1", "hev1", "hvc1", "av01", "vp09"},
    "webm": {"VP80", "VP90", "vp08", "vp09", "AV01", "av01"},
}
MEDIA_TYPES = {"mp4": "video/mp4", "webm": "video/webm", "mkv": "video/x-matroska", "avi": "video/x-msvideo"}


class VideoError(Exception):
    """The file is not a video OpenCV can decode, or it is truncated."""


@dataclass
class Keyframe:
    index: int
    t: float
    rgb: np.ndarray


@dataclass
class DecodedVideo:
    fps: float
    width: int
    height: int
    declared_frames: int
    decoded_frames: int
    fourcc: str
    keyframes: list[Keyframe] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.decoded_frames / self.fps if self.fps else 0.0


def container_of(head: bytes) -> str:
    """``mp4``, ``webm``, ``mkv``, ``avi`` or ``other`` from the first bytes of a file."""
    if head[4:8] == b"ftyp" or head[4:8] in (b"moov", b"mdat", b"free"):
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm" if b"webm" in head[:64] else "mkv"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    return "other"


def _signature(bgr: np.ndarray) -> np.ndarray:
    small = cv2.resize(bgr, (32, 24), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0
    return grey - grey.mean() * 0.5  # keep some brightness, but a fade is not every frame a new scene


def decode_keyframes(
    path: Path,
    *,
    max_interval_s: float = 1.0,
    analysis_fps: float = 5.0,
    scene_threshold: float = 0.12,
    min_decoded_fraction: float = 0.5,
    on_frame: Callable[[np.ndarray, int], None] | None = None,
    on_keyframe: Callable[[Keyframe], None] | None = None,
) -> DecodedVideo:
    """Decode ``path`` and pick keyframes; ``on_frame(bgr, index)`` sees every decoded frame.

    With ``on_keyframe`` each keyframe is handed over as it is found and not kept (its entry in
    ``keyframes`` has an empty image), so a long video does not pile up in memory.
    """
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise VideoError("not a video OpenCV can open (unknown container, or truncated)")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not np.isfinite(fps) or fps <= 0 or fps > 1000:
            fps = 25.0
        declared = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        fourcc = int(cap.get(cv2.CAP_PROP_FOURCC) or 0).to_bytes(4, "little").decode("latin-1").strip("\x00")
        step = max(1, round(fps / analysis_fps))
        video = DecodedVideo(fps=fps, width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                             height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), declared_frames=declared,
                             decoded_frames=0, fourcc=fourcc)
        last_sig: np.ndarray | None = None
        last_t = -1e9
        index = 0
        misses = 0
        while True:
            need = on_frame is not None or index % step == 0
            if need:
                ok, bgr = cap.read()
            else:
                ok, bgr = cap.grab(), None
            if not ok:
                # a damaged packet mid-file: skip a few before concluding the stream ended
                misses += 1
                if misses > 5 or (declared and index >= declared):
                    break
                continue
            misses = 0
            if on_frame is not None:
                on_frame(bgr, index)
            if index % step == 0:
                t = index / fps
                sig = _signature(bgr)
                changed = last_sig is None or float(np.abs(sig - last_sig).mean()) > scene_threshold
                if changed or t - last_t >= max_interval_s - 1e-6:
                    keyframe = Keyframe(index, round(t, 3), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                    if on_keyframe is not None:
                        on_keyframe(keyframe)
                        keyframe = Keyframe(index, keyframe.t, np.empty((0, 0, 3), np.uint8))
                    video.keyframes.append(keyframe)
                    last_sig, last_t = sig, t
            index += 1
        video.decoded_frames = index
    finally:
        cap.release()
    if video.decoded_frames == 0 or not video.keyframes:
        raise VideoError("no frame could be decoded (corrupt or not a video)")
    if declared > 0 and video.decoded_frames < declared * min_decoded_fraction:
        raise VideoError(
            f"truncated or corrupt: decoded {video.decoded_frames} of {declared} frames "
            f"({video.duration_s:.1f} s of {declared / fps:.1f} s)"
        )
    return video


def needs_proxy(container: str, fourcc: str) -> bool:
    """Whether browsers cannot play the original (AVI, MKV, MPEG-4 part 2 in MP4 ...)."""
    return fourcc not in PLAYABLE.get(container, set())


class ProxyWriter:
    """Writes a small VP8 WebM copy of a video as its frames are decoded (for the page's player)."""

    def __init__(self, path: Path, fps: float, width: int, height: int, max_side: int) -> None:
        scale = min(1.0, max_side / max(width, height, 1))
        self.size = (max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2))
        self.path = path
        self.writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"VP80"), min(fps, 30.0), self.size)
        if not self.writer.isOpened():
            raise VideoError("this OpenCV build cannot write WebM (VP8)")
        self.every = max(1, round(fps / 30.0))

    def __call__(self, bgr: np.ndarray, index: int) -> None:
        if index % self.every:
            return
        if (bgr.shape[1], bgr.shape[0]) != self.size:
            bgr = cv2.resize(bgr, self.size, interpolation=cv2.INTER_AREA)
        self.writer.write(bgr)

    def close(self) -> None:
        self.writer.release()


def thumbnail_jpeg(rgb: np.ndarray, max_side: int, quality: int) -> bytes:
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        rgb = cv2.resize(rgb, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise VideoError("cannot encode a thumbnail")
    return buf.tobytes()
