"""Video decoding with OpenCV: keyframe sampling, thumbnails and a browser-playable copy.

One pass over the file decodes every frame (codecs need it) but only looks at ``analysis_fps``
frames per second: a frame becomes a *keyframe* when its small grey thumbnail differs from the last
keyframe's by more than ``scene_threshold`` (a scene change), or when ``max_interval_s`` passed
since the last keyframe. File names never reach a shell: OpenCV opens the path directly.

A file that stops decoding before its declared end (a truncated download, a damaged tail) is decoded
for its readable part: :attr:`DecodedVideo.truncated` says so. Only a file with no decodable frame is
a :class:`VideoError`.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from common.files import SNIFF_BYTES, sniff

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class VideoFormat:
    """A kind of video file a load accepts: ``kind`` is what :func:`common.files.sniff` calls its content."""

    name: str
    kind: str
    suffixes: tuple[str, ...]
    media_type: str


#: the video files a load accepts, one list for the server's check, its refusals and the page's file picker
#: (``GET /formats``); each is loaded by a test (MOV and M4V are ISO base-media files, WebM is Matroska)
FORMATS = (
    VideoFormat("AVI", "avi", (".avi",), "video/x-msvideo"),
    VideoFormat("MP4", "mp4", (".mp4", ".m4v"), "video/mp4"),
    VideoFormat("MOV", "mp4", (".mov",), "video/quicktime"),
    VideoFormat("MKV", "mkv", (".mkv",), "video/x-matroska"),
    VideoFormat("WebM", "mkv", (".webm",), "video/webm"),
    VideoFormat("MPEG", "mpeg", (".mpg", ".mpeg"), "video/mpeg"),
    VideoFormat("WMV", "asf", (".wmv", ".asf"), "video/x-ms-wmv"),
    VideoFormat("FLV", "flv", (".flv",), "video/x-flv"),
)
#: what the content of an accepted file sniffs as
ACCEPTED_KINDS = frozenset(f.kind for f in FORMATS)


def formats_text() -> str:
    """``AVI, MP4, MOV, MKV, WebM, MPEG, WMV or FLV``."""
    names = [f.name for f in FORMATS]
    return f"{', '.join(names[:-1])} or {names[-1]}"


def accept_attribute() -> str:
    """The page's file-input ``accept``: every suffix and media type of :data:`FORMATS`, and ``.zip``."""
    return ",".join([s for f in FORMATS for s in f.suffixes] + [f.media_type for f in FORMATS] + [".zip"])


#: codecs Chromium/Firefox play inside the containers we serve as-is
PLAYABLE = {
    "mp4": {"avc1", "h264", "H264", "AVC1", "hev1", "hvc1", "av01", "vp09"},
    "webm": {"VP80", "VP90", "vp08", "vp09", "AV01", "av01"},
}
MEDIA_TYPES = {"mp4": "video/mp4", "webm": "video/webm", "mkv": "video/x-matroska", "avi": "video/x-msvideo",
               "mpeg": "video/mpeg", "asf": "video/x-ms-asf", "flv": "video/x-flv"}
#: file suffix of the stored copy per container
SUFFIXES = {"mp4": ".mp4", "webm": ".webm", "mkv": ".mkv", "avi": ".avi", "mpeg": ".mpg", "asf": ".wmv", "flv": ".flv"}
#: unreadable packets in a row after which the stream is taken to have ended
MAX_MISSES = 5
#: the frame rate assumed when a file gives none
DEFAULT_FPS = 25.0


class VideoError(Exception):
    """The file is not a video OpenCV can decode."""


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
    keyframes: int = 0
    #: decoding stopped at the duration budget, not at the end of the file
    cut_at_limit: bool = False

    @property
    def duration_s(self) -> float:
        return self.decoded_frames / self.fps if self.fps else 0.0

    @property
    def declared_duration_s(self) -> float:
        return max(self.declared_frames, self.decoded_frames) / self.fps if self.fps else 0.0

    @property
    def truncated(self) -> bool:
        """Fewer frames decoded than the container declares (beyond the slack of estimated frame counts)."""
        missing = self.declared_frames - self.decoded_frames
        return self.cut_at_limit or missing > max(2, 0.02 * self.declared_frames)


def container_of(kind: str, head: bytes) -> str:
    """The container of a file :func:`common.files.sniff` called ``kind``: WebM is told apart from Matroska."""
    if kind == "mkv":
        return "webm" if b"webm" in head[:64] else "mkv"
    return kind


def _signature(bgr: np.ndarray) -> np.ndarray:
    small = cv2.resize(bgr, (32, 24), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0
    return np.asarray(grey - grey.mean() * 0.5)  # keep some brightness, but a fade is not every frame a new scene


#: top-level boxes looked at, at most, to find an MP4's index
_MAX_BOXES = 10_000


def lacks_mp4_index(path: Path) -> bool:
    """Whether ``path`` is an ISO base-media file (MP4, MOV, M4V) whose top-level boxes hold no ``moov``: the
    index of its samples, which many encoders write last, so a cut file has none (and nothing decodes)."""
    try:
        with path.open("rb") as fh:
            size = path.stat().st_size
            pos, seen_ftyp = 0, False
            for _ in range(_MAX_BOXES):
                if pos + 8 > size:
                    return seen_ftyp
                fh.seek(pos)
                head = fh.read(16)
                box_size, box_type = int.from_bytes(head[:4], "big"), head[4:8]
                if box_type == b"moov":
                    return False
                seen_ftyp = seen_ftyp or box_type == b"ftyp"
                if not seen_ftyp:
                    return False  # not an ISO base-media file
                if box_size == 1 and len(head) == 16:  # a 64-bit size follows the type
                    box_size = int.from_bytes(head[8:16], "big")
                if box_size < 8:  # 0: "to the end of the file"; smaller: damaged
                    return True
                pos += box_size
    except OSError:
        return False
    return False


#: the File Properties object of an ASF (WMV) header, as stored (the GUID's first three fields little-endian)
_ASF_FILE_PROPERTIES = bytes.fromhex("a1dcab8c47a9cf118ee400c00c205365")
#: how far into an ASF file its header objects are looked for
_ASF_HEADER_BYTES = 65536


def asf_duration_s(path: Path) -> float | None:
    """The play time an ASF (WMV) file's header declares, in seconds; None when ``path`` is not ASF or says none.

    OpenCV gives a cut WMV a nonsensical frame count (about -2.3e17), so without this a cut download read as a
    complete, shorter video. The header's play duration (100 ns units) counts the preroll (ms), which is taken off.
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(_ASF_HEADER_BYTES)
    except OSError:
        return None
    at = head.find(_ASF_FILE_PROPERTIES) if sniff(head[:SNIFF_BYTES]) == "asf" else -1
    if at < 0 or at + 88 > len(head):
        return None
    play, _send, preroll_ms = struct.unpack_from("<QQQ", head, at + 64)
    seconds = play / 1e7 - preroll_ms / 1000.0
    return seconds if 0 < seconds < 1e7 else None


def _fourcc(cap: cv2.VideoCapture) -> str:
    return int(cap.get(cv2.CAP_PROP_FOURCC) or 0).to_bytes(4, "little").decode("latin-1").strip("\x00")


def _downscaled(bgr: np.ndarray, max_side: int) -> np.ndarray:
    h, w = bgr.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return bgr
    return cv2.resize(bgr, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)


class VideoReader:
    """An open video: its properties, then its frames or keyframes streamed in one pass (memory stays flat).

    ``with VideoReader(path) as reader: for keyframe in reader.keyframes(...): ...``; afterwards
    :meth:`summary` tells what was decoded. A consumer may stop early (a cancelled load): the capture is
    released when the ``with`` block ends.
    """

    def __init__(self, path: Path, max_pixels: int = 40_000_000) -> None:
        self.cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        if not self.cap.isOpened():
            self.cap.release()
            if lacks_mp4_index(path):
                raise VideoError("an MP4/MOV without its index (the 'moov' box): the file was cut off before its "
                                 "end (an interrupted download or copy?). A camera or encoder that writes the "
                                 "index last leaves nothing readable without it: copy the whole file again")
            raise VideoError("not a video OpenCV can open (unknown container, or no readable stream)")
        fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 0.0)
        count = float(self.cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0)
        # 1000 is a millisecond time base, not a frame rate (a one-frame WMV): its "frame count" is milliseconds
        self.fps = fps if np.isfinite(fps) and 0 < fps < 1000 else DEFAULT_FPS
        per_frame = self.fps / fps if np.isfinite(fps) and fps > 0 else 1.0
        self.declared_frames = round(count * per_frame) if np.isfinite(count) and 0 < count < 1e9 else 0
        if (declared_s := asf_duration_s(path)) is not None:  # the header's length, cut file or not
            self.declared_frames = max(1, round(declared_s * self.fps))
        self.width = int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.fourcc = _fourcc(self.cap)
        self.decoded_frames = 0
        self.keyframe_count = 0
        self.cut_at_limit = False
        if self.width * self.height > max_pixels:
            self.cap.release()
            raise VideoError(f"frames of {self.width} x {self.height} pixels are over the limit of "
                             f"{max_pixels / 1e6:.0f} Mpx")

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.cap.release()

    def progress(self, index: int) -> float:
        """How far into the declared length frame ``index`` is (0..1; 0 when the length is unknown)."""
        return min(1.0, index / self.declared_frames) if self.declared_frames else 0.0

    def frames(self, every: int = 1, max_duration_s: float = float("inf")) -> Iterator[tuple[int, np.ndarray]]:
        """``(index, bgr)`` of every ``every``-th frame (the others are only grabbed); all frames are counted."""
        index = misses = 0
        try:
            while True:
                if index / self.fps >= max_duration_s:
                    self.cut_at_limit = True
                    return
                wanted = index % every == 0
                ok, bgr = self.cap.read() if wanted else (self.cap.grab(), None)
                if not ok:
                    # a damaged packet mid-file: skip a few before concluding the stream ended
                    misses += 1
                    if misses > MAX_MISSES or (self.declared_frames and index >= self.declared_frames):
                        return
                    continue
                misses = 0
                index += 1
                self.decoded_frames = index
                if wanted and bgr is not None:
                    yield index - 1, bgr
        finally:
            self.decoded_frames = index

    def keyframes(self, *, max_interval_s: float = 1.0, analysis_fps: float = 5.0, scene_threshold: float = 0.12,
                  max_side: int = 1280, max_duration_s: float = float("inf")) -> Iterator[Keyframe]:
        """Keyframes (RGB, at most ``max_side`` pixels on their longer side) as they are found."""
        step = max(1, round(self.fps / analysis_fps))
        last_sig: np.ndarray | None = None
        last_t = -1e9
        for index, bgr in self.frames(step, max_duration_s):
            t = index / self.fps
            sig = _signature(bgr)
            changed = last_sig is None or float(np.abs(sig - last_sig).mean()) > scene_threshold
            if changed or t - last_t >= max_interval_s - 1e-6:
                self.keyframe_count += 1
                last_sig, last_t = sig, t
                yield Keyframe(index, round(t, 3), cv2.cvtColor(_downscaled(bgr, max_side), cv2.COLOR_BGR2RGB))

    def summary(self) -> DecodedVideo:
        """What was decoded; :class:`VideoError` when not a single frame was."""
        if self.decoded_frames == 0:
            raise VideoError("no frame could be decoded (corrupt, truncated before its first frame, or not a video)")
        return DecodedVideo(fps=self.fps, width=self.width, height=self.height, declared_frames=self.declared_frames,
                            decoded_frames=self.decoded_frames, fourcc=self.fourcc, keyframes=self.keyframe_count,
                            cut_at_limit=self.cut_at_limit)


def needs_proxy(container: str, fourcc: str) -> bool:
    """Whether browsers cannot play the original (AVI, MKV, MPEG, WMV, FLV, MPEG-4 part 2 in MP4 ...)."""
    return fourcc not in PLAYABLE.get(container, set())


class ProxyWriter:
    """Writes a downscaled VP8 WebM copy of a video as its frames are decoded (for the page's player)."""

    def __init__(self, path: Path, fps: float, width: int, height: int, max_side: int) -> None:
        scale = min(1.0, max_side / max(width, height, 1))
        self.size = (max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2))
        self.path = path
        self.writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"VP80"), min(fps, 30.0), self.size)
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
    return bytes(buf.tobytes())
