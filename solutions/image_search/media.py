"""The files an image item owns: its stored copy (``media/<id>.<ext>``, the bytes as loaded) and a JPEG
thumbnail (``thumbs/<id>.jpg``). Loads write both before the item's row; a search serves them."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from common.files import atomic_write

#: file extension of the stored copy, by sniffed kind
EXT = {"jpeg": ".jpg", "png": ".png", "gif": ".gif", "webp": ".webp", "bmp": ".bmp", "tiff": ".tif",
       "avif": ".avif", "heic": ".heic"}
MEDIA_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".gif": "image/gif", ".webp": "image/webp",
               ".bmp": "image/bmp", ".tif": "image/tiff", ".avif": "image/avif", ".heic": "image/heic"}


class MediaStore:
    """Stored copies and thumbnails under a service's data folder."""

    def __init__(self, root: Path, thumbnail_px: int) -> None:
        self.media_dir = root / "media"
        self.thumb_dir = root / "thumbs"
        self.thumbnail_px = thumbnail_px
        for d in (self.media_dir, self.thumb_dir):
            d.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def media_name(item_id: int, kind: str) -> str:
        return f"{item_id}{EXT[kind]}"

    def copy_path(self, media: str) -> Path:
        return self.media_dir / media

    def thumb_path(self, item_id: int) -> Path:
        return self.thumb_dir / f"{item_id}.jpg"

    def write(self, item_id: int, kind: str, data: bytes, rgb: np.ndarray) -> str:
        """Store the copy and the thumbnail of one image; returns the copy's name."""
        media = self.media_name(item_id, kind)
        atomic_write(self.copy_path(media), data)
        atomic_write(self.thumb_path(item_id), thumbnail(rgb, self.thumbnail_px))
        return media

    def present(self, media: dict[int, str]) -> set[int]:
        """Of ``{id: copy name}``, the ids whose copy and thumbnail both exist."""
        return {i for i, name in media.items() if self.copy_path(name).is_file() and self.thumb_path(i).is_file()}

    def delete(self, ids: Iterable[int]) -> None:
        for item_id in ids:
            for ext in EXT.values():
                self.copy_path(f"{item_id}{ext}").unlink(missing_ok=True)
            self.thumb_path(item_id).unlink(missing_ok=True)

    def clear(self) -> None:
        for d in (self.media_dir, self.thumb_dir):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True, exist_ok=True)

    def count(self) -> tuple[int, int]:
        """(stored copies, thumbnails) on disk."""
        return (sum(1 for p in self.media_dir.iterdir() if not p.name.startswith(".")),
                sum(1 for p in self.thumb_dir.iterdir() if not p.name.startswith(".")))


def media_type(path: Path) -> str:
    return MEDIA_TYPES.get(path.suffix, "application/octet-stream")


def thumbnail(rgb: np.ndarray, size: int) -> bytes:
    """A JPEG of at most ``size`` px a side.

    OpenCV's area resize by a whole factor, then bilinear for the rest (less than 2x): about 2.5x faster
    than an area resize straight to the size, and 3x than Pillow's thumbnail().
    """
    scale = min(1.0, size / max(rgb.shape[:2]))
    k = min(int(1 / scale), *rgb.shape[:2])  # keeps at least one pixel a side
    if k >= 2:
        rgb = cv2.resize(rgb, None, fx=1 / k, fy=1 / k, interpolation=cv2.INTER_AREA)
        scale = min(1.0, size / max(rgb.shape[:2]))
    if scale < 1:
        h, w = rgb.shape[:2]
        rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_LINEAR)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=85)
    return buf.getvalue()
