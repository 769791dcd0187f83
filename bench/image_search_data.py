"""Real images nobody here made (Debian opencv-doc: photos, tutorial screenshots, diagrams) for the image
benchmark; the SPEC perturbation they are searched with is :mod:`bench.perturb`."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from PIL import Image

SOURCES = [Path("/usr/share/doc/opencv-doc"), Path("/usr/share/icons/Adwaita"), Path("/usr/share/doc")]
EXTS = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp"}


def phash(img: Image.Image) -> int:
    """64-bit DCT perceptual hash (independent of the search's own descriptors)."""
    import cv2
    import numpy as np

    grey = np.asarray(img.convert("L").resize((32, 32), Image.Resampling.BILINEAR), dtype=np.float32)
    low = cv2.dct(grey)[:8, :8].flatten()
    bits = low > np.median(low[1:])
    return int("".join("1" if b else "0" for b in bits), 2)


def collect_images(limit: int = 600, min_side: int = 96, min_bytes: int = 8000,
                   near_dup_bits: int = 8, exclude: tuple[Path, ...] = ()) -> list[Path]:
    """Distinct decodable images of at least ``min_side`` px, in a stable order.

    Exact duplicates (same bytes) are skipped, and so are near-duplicates: an image whose perceptual
    hash is within ``near_dup_bits`` of one already taken (opencv-doc ships the same picture as several
    super-resolution outputs, or re-encoded in two folders). Such twins would make the ground truth of a
    copy-detection query ambiguous. ``near_dup_bits=-1`` keeps them all. Files under a folder of ``exclude``
    are left out (e.g. the photos the INT8 encoder was calibrated on), and so are their near-duplicates.
    """
    seen: set[str] = set()
    hashes: list[int] = []
    out: list[Path] = []
    excluded = [Path(e).resolve() for e in exclude]
    for folder in excluded:  # their near-duplicates elsewhere are left out too
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if path.suffix.lower() in EXTS and path.is_file():
                try:
                    with Image.open(path) as img:
                        hashes.append(phash(img))
                except Exception:
                    continue
    for root in SOURCES:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.suffix.lower() not in EXTS or not path.is_file() or path.stat().st_size < min_bytes:
                continue
            if any(path.resolve().is_relative_to(folder) for folder in excluded):
                continue
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if digest in seen:
                continue
            try:
                with Image.open(io.BytesIO(data)) as img:
                    if min(img.size) < min_side:
                        continue
                    h = phash(img)
            except Exception:
                continue
            if near_dup_bits >= 0 and any(bin(h ^ o).count("1") <= near_dup_bits for o in hashes):
                continue
            hashes.append(h)
            seen.add(digest)
            out.append(path)
            if len(out) >= limit:
                return out
    return out
