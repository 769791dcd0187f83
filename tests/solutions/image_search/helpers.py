"""Shared helpers of the image tests: real images from Debian opencv-doc, the SPEC perturbation, apps."""

from __future__ import annotations

import io
import random
import shutil
from pathlib import Path

from PIL import Image, ImageEnhance

from solutions.image_search.app import create_app
from solutions.image_search.config import ImageSettings

DATA = Path("/usr/share/doc/opencv-doc/examples/data")
PHOTOS = ["baboon.jpg", "fruits.jpg", "lena.jpg", "messi5.jpg", "building.jpg", "home.jpg", "butterfly.jpg",
          "orange.jpg", "apple.jpg", "starry_night.jpg", "box_in_scene.png", "graf1.png", "smarties.png",
          "sudoku.png", "pic1.png", "HappyFish.jpg", "squirrel_cls.jpg", "board.jpg", "aero3.jpg", "left01.jpg",
          "right01.jpg", "blox.jpg", "notes.png", "leuvenA.jpg"]


def copy_photos(dest: Path, names=PHOTOS) -> list[str]:
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for name in names:
        if (DATA / name).is_file():
            shutil.copy2(DATA / name, dest / name)
            out.append(name)
    return out


def perturb(data: bytes, seed: int) -> bytes:
    """Crop 80-92 %, rotate +-5 deg, resize to 60 %, brightness +-20 %, JPEG 40-60, all combined."""
    rng = random.Random(seed)
    img = Image.open(io.BytesIO(data)).convert("RGB")
    img = img.rotate(rng.uniform(-5, 5), resample=Image.BILINEAR)
    w, h = img.size
    f = rng.uniform(0.80, 0.92)
    cw, ch = int(w * f), int(h * f)
    x0, y0 = rng.randint(0, w - cw), rng.randint(0, h - ch)
    img = img.crop((x0, y0, x0 + cw, y0 + ch)).resize((int(cw * 0.6), int(ch * 0.6)), Image.BILINEAR)
    img = ImageEnhance.Brightness(img).enhance(1 + rng.uniform(-0.2, 0.2))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=rng.randint(40, 60))
    return buf.getvalue()


def settings_for(backend, tmp_path: Path, unique: str, root: Path, model_cache: Path, **extra) -> ImageSettings:
    return ImageSettings(**backend.settings(tmp_path / "data", data_roots=[root], collection=f"img_{unique}",
                                            table_prefix=f"img_{unique}", model_cache_dir=model_cache, **extra))


def make_app(backend, tmp_path: Path, unique: str, root: Path, model_cache: Path, **extra):
    return create_app(settings_for(backend, tmp_path, unique, root, model_cache, **extra))

