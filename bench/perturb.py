"""The SPEC's edit of a picture, in one place: the benchmarks measure it and the tests check it.

crop to 80–92 % (at a random position), rotate ±5°, resize to 60 %, brightness ±20 %, JPEG quality 40–60,
all combined. Deterministic for a given seed.
"""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageEnhance

CROP = (0.80, 0.92)
ROTATION_DEG = 5.0
RESIZE = 0.60
BRIGHTNESS = 0.20
JPEG_QUALITY = (40, 60)
DESCRIPTION = "crop 80-92 %, rotate ±5°, resize to 60 %, brightness ±20 %, JPEG quality 40-60, combined"


def perturb_image(img: Image.Image, seed: int) -> bytes:
    """The edited copy of ``img`` as JPEG bytes."""
    rng = random.Random(seed)
    img = img.convert("RGB").rotate(rng.uniform(-ROTATION_DEG, ROTATION_DEG), resample=Image.Resampling.BILINEAR)
    w, h = img.size
    frac = rng.uniform(*CROP)
    cw, ch = max(1, int(w * frac)), max(1, int(h * frac))
    x0, y0 = rng.randint(0, w - cw), rng.randint(0, h - ch)
    img = img.crop((x0, y0, x0 + cw, y0 + ch))
    img = img.resize((max(1, int(cw * RESIZE)), max(1, int(ch * RESIZE))), Image.Resampling.BILINEAR)
    img = ImageEnhance.Brightness(img).enhance(1 + rng.uniform(-BRIGHTNESS, BRIGHTNESS))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=rng.randint(*JPEG_QUALITY))
    return buf.getvalue()


def perturb_bytes(data: bytes, seed: int) -> bytes:
    """The edited copy of an image file's bytes."""
    with Image.open(io.BytesIO(data)) as img:
        return perturb_image(img, seed)


def perturb_array(rgb: np.ndarray, seed: int) -> bytes:
    """The edited copy of an ``HxWx3`` uint8 RGB array (a video frame)."""
    return perturb_image(Image.fromarray(rgb), seed)
