"""Sample data of the video demo: real clips from Debian's ``opencv-doc`` package, and a query picture.

``videos/`` gets ``vtest.avi`` (a street filmed from above, 80 s), ``Megamind.avi`` (an animated trailer, 11 s)
and ``tree.avi`` (a truncated file: OpenCV decodes 68 of its 444 frames, so it is indexed for its readable 4.5 s
with a warning). ``query.jpg`` is the frame 30 s into ``vtest.avi``, to search with.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2

from common.errors import NotFound
from common.pipeline import SampleData

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
CLIPS = ("vtest.avi", "Megamind.avi", "tree.avi")
QUERY_CLIP, QUERY_T = "vtest.avi", 30.0


def write_sample_data(dest: Path, source: Path = OPENCV_DATA) -> SampleData:
    missing = [name for name in CLIPS if not (source / name).is_file()]
    if missing:
        raise NotFound(f"the sample videos come from Debian's opencv-doc package, which is not installed "
                       f"({', '.join(missing)} missing in {source}): run `apt-get install opencv-doc` "
                       f"(`make setup` does it)")
    videos = dest / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    for name in CLIPS:
        shutil.copyfile(source / name, videos / name)
    cap = cv2.VideoCapture(str(videos / QUERY_CLIP))
    try:
        cap.set(cv2.CAP_PROP_POS_MSEC, QUERY_T * 1000)
        ok, frame = cap.read()
    finally:
        cap.release()
    if not ok or not cv2.imwrite(str(dest / "query.jpg"), frame):
        raise RuntimeError(f"cannot take the query frame from {videos / QUERY_CLIP}")
    return SampleData(videos, f"{', '.join(CLIPS)} from Debian opencv-doc ({source}); query.jpg is the frame "
                              f"{QUERY_T:.0f} s into {QUERY_CLIP}, to search with")
