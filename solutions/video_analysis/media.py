"""The media files of the videos: ``<data_dir>/media/<video id>/``.

* ``original.<ext>``: the stored copy of the video (uploads are temporary); a hard link when the load's file is
  on the same file system, else a copy;
* ``frames/<ms>.jpg``: a JPEG thumbnail per keyframe (``frame_url``), also what the search re-ranks against;
* ``playable.webm``: the browser-playable copy of a video browsers cannot play (see :mod:`.proxies`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from common.errors import NotFound

from .video import MEDIA_TYPES, SUFFIXES


def frame_ms(t: float) -> int:
    return round(t * 1000)


def frame_url(video_id: int, t: float) -> str:
    """The URL (relative to the service) of the thumbnail of the keyframe at ``t`` seconds."""
    return f"videos/{int(video_id)}/frames/{frame_ms(t)}.jpg"


class MediaFiles:
    """Paths and file operations of the media folder; every path is built from integer ids only."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def folder(self, video_id: int) -> Path:
        return self.root / str(int(video_id))

    def frames_dir(self, video_id: int) -> Path:
        return self.folder(video_id) / "frames"

    def frame(self, video_id: int, ms: int) -> Path:
        return self.frames_dir(video_id) / f"{int(ms)}.jpg"

    def proxy(self, video_id: int) -> Path:
        return self.folder(video_id) / "playable.webm"

    def write_frame(self, video_id: int, t: float, jpeg: bytes) -> None:
        folder = self.frames_dir(video_id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{frame_ms(t)}.jpg").write_bytes(jpeg)

    def store_original(self, video_id: int, source: Path, container: str) -> tuple[str, int]:
        """Keep the video's file; returns its name in the video's folder and its size."""
        name = "original" + SUFFIXES[container]
        target = self.folder(video_id) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{name}.tmp")
        tmp.unlink(missing_ok=True)
        try:
            os.link(source, tmp)  # same file system: no copy (the staging link is removed, the file stays)
        except OSError:
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
        return name, target.stat().st_size

    def present(self, ids: Iterable[int]) -> set[int]:
        """Of ``ids``, the videos whose stored copy and keyframe thumbnails exist."""
        return {i for i in ids if self.frames_dir(i).is_dir() and any(self.folder(i).glob("original.*"))}

    def stream(self, video_id: int, file: str, container: str, proxy_ready: bool) -> tuple[Path, str]:
        """The file ``/stream`` serves (the playable copy when there is one) and its media type."""
        proxy = self.proxy(video_id)
        if proxy_ready and proxy.is_file():
            return proxy, "video/webm"
        original = self.folder(video_id) / Path(file).name
        if not original.is_file():
            raise NotFound(f"the file of video {video_id} is missing")
        return original, MEDIA_TYPES.get(container, "application/octet-stream")

    def frame_file(self, video_id: int, ms: int) -> Path:
        path = self.frame(video_id, ms)
        if not path.is_file():
            raise NotFound("no such frame")
        return path

    def remove(self, ids: Iterable[int]) -> None:
        for video_id in ids:
            shutil.rmtree(self.folder(video_id), ignore_errors=True)

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)

