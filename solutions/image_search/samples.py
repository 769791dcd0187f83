"""Sample images to try the demo: the photos, screenshots and diagrams of Debian's ``opencv-doc``."""

from __future__ import annotations

import shutil
from pathlib import Path

from common.errors import NotFound
from common.pipeline import SampleData

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
PACKAGE = "opencv-doc"
#: fewer files than this means the package is not (fully) installed
MIN_IMAGES = 20


def copy_samples(dest: Path, source: Path = OPENCV_DATA) -> SampleData:
    """Copy the JPEG and PNG files of ``source`` into ``dest/images``; a clear error when they are missing."""
    found = sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in (".jpg", ".jpeg", ".png")) \
        if source.is_dir() else []
    if len(found) < MIN_IMAGES:
        raise NotFound(f"the sample images come from the Debian package {PACKAGE} ({source}), which is not "
                       f"installed: run `make setup` (or `apt-get install {PACKAGE}`)")
    out = dest / "images"
    out.mkdir(parents=True, exist_ok=True)
    for path in found:
        shutil.copy2(path, out / path.name)
    return SampleData(out, f"{len(found)} photos, screenshots and diagrams from Debian {PACKAGE} ({source})")
