"""Shared helpers of the image tests: real images from Debian opencv-doc, the SPEC perturbation, apps."""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.perturb import perturb_bytes
from solutions.image_search.app import create_app
from solutions.image_search.config import ImageSettings
from solutions.image_search.samples import OPENCV_DATA

DATA = OPENCV_DATA
PHOTOS = ["baboon.jpg", "fruits.jpg", "stuff.jpg", "messi5.jpg", "building.jpg", "home.jpg", "butterfly.jpg",
          "orange.jpg", "apple.jpg", "starry_night.jpg", "box_in_scene.png", "graf1.png", "smarties.png",
          "sudoku.png", "pic1.png", "HappyFish.jpg", "squirrel_cls.jpg", "board.jpg", "aero3.jpg", "left01.jpg",
          "right01.jpg", "blox.jpg", "notes.png", "leuvenA.jpg"]


def copy_photos(dest: Path, names: list[str] = PHOTOS) -> list[str]:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy2(DATA / name, dest / name)
    return list(names)


def perturb(data: bytes, seed: int) -> bytes:
    """The SPEC edit (crop 80-92 %, rotate ±5°, resize 60 %, brightness ±20 %, JPEG 40-60), see bench/perturb.py."""
    return perturb_bytes(data, seed)


def settings_for(backend, tmp_path: Path, unique: str, root: Path, model_cache: Path, **extra) -> ImageSettings:
    return ImageSettings(**backend.settings(tmp_path / "data", data_roots=[root], store_prefix=f"img_{unique}",
                                            model_cache_dir=model_cache, **extra))


def make_app(backend, tmp_path: Path, unique: str, root: Path, model_cache: Path, **extra):
    return create_app(settings_for(backend, tmp_path, unique, root, model_cache, **extra))


def query(client, name: str, seed: int | None = None, **form) -> dict:
    """``POST /search`` with a file of opencv-doc (perturbed when ``seed`` is given); asserts 200."""
    data = (DATA / name).read_bytes()
    if seed is not None:
        data = perturb(data, seed)
    r = client.post("/search", files={"file": ("q.jpg", data)}, data={k: str(v) for k, v in form.items()})
    assert r.status_code == 200, r.text
    return r.json()
