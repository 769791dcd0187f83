"""Real images nobody here made (Debian opencv-doc: photos, tutorial screenshots, diagrams) and the
SPEC perturbation (crop 80-92 %, rotate +-5 deg, resize 60 %, brightness +-20 %, JPEG q40-60, combined)."""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

from PIL import Image, ImageEnhance

SOURCES = [Path("/usr/share/doc/opencv-doc"), Path("/usr/share/icons/Adwaita"), Path("/usr/share/doc")]
EXTS = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp"}


def phash(img: Image.Image) -> int:
    """64-bit DCT perceptual hash (independent of the search's own descriptors)."""
    import cv2
    import numpy as np

    grey = np.asarray(img.convert("L").resize((32, 32), Image.BILINEAR), dtype=np.float32)
    low = cv2.dct(grey)[:8, :8].flatten()
    bits = low > np.median(low[1:])
    return int("".join("1" if b else "0" for b in bits), 2)


def collect_images(limit: int = 600, min_side: int = 96, min_bytes: int = 8000,
                   near_dup_bits: int = 8) -> list[Path]:
    """Distinct decodable images of at least ``min_side`` px, in a stable order.

    Exact duplicates (same bytes) are skipped, and so are near-duplicates: an image whose perceptual
    hash is within ``near_dup_bits`` of one already taken (opencv-doc ships the same picture as several
    super-resolution outputs, or re-encoded in two folders). Such twins would make the ground truth of a
    copy-detection query ambiguous. ``near_dup_bits=-1`` keeps them all.
    """
    seen: set[str] = set()
    hashes: list[int] = []
    out: list[Path] = []
    for root in SOURCES:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.suffix.lower() not in EXTS or not path.is_file() or path.stat().st_size < min_bytes:
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


def perturb(data: bytes, rng: random.Random) -> bytes:
    """All SPEC perturbations combined, with random parameters from ``rng``."""
    img = Image.open(io.BytesIO(data))
    img.seek(0)
    img = img.convert("RGB")
    img = img.rotate(rng.uniform(-5, 5), resample=Image.BILINEAR, expand=False, fillcolor=(0, 0, 0))
    w, h = img.size
    frac = rng.uniform(0.80, 0.92)
    cw, ch = int(w * frac), int(h * frac)
    x0, y0 = rng.randint(0, w - cw), rng.randint(0, h - ch)
    img = img.crop((x0, y0, x0 + cw, y0 + ch))
    img = img.resize((max(1, int(cw * 0.6)), max(1, int(ch * 0.6))), Image.BILINEAR)
    img = ImageEnhance.Brightness(img).enhance(1 + rng.uniform(-0.2, 0.2))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=rng.randint(40, 60))
    return buf.getvalue()
