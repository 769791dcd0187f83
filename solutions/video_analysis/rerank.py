"""Pin down *when* inside a video: re-rank a video's keyframes against the query image.

A pooled CNN feature tells which video a picture comes from, but in a shot where little changes
(a fixed camera watching pedestrians) every keyframe gets nearly the same score. So for each of
the best videos, the query is aligned once (SIFT features + RANSAC homography) to the thumbnail of
its best keyframe, and that same warp is compared with the thumbnails of the video's other
candidate keyframes by normalised cross-correlation of blurred grey images, averaged over a 4×4
grid of cells so that what moved in one part of the picture (people, cars) weighs as much as the
static background. Normalised correlation ignores brightness and contrast;
the homography absorbs crop, scale and small rotations. No alignment found → the CNN order stays.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

MIN_INLIERS = 8
GRID = 4

#: a picture ready for matching: grey image at the match size, SIFT keypoints and descriptors (None for a frame
#: that was only correlated, never aligned)
Prepared = tuple[np.ndarray, tuple[Any, ...] | None, np.ndarray | None]


class FrameMatcher:
    def __init__(self, match_side: int = 320, cache_size: int = 2000, features: int = 500) -> None:
        self.match_side = match_side
        self.features = features
        self._cache: OrderedDict[Path, Prepared] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _detector(self) -> Any:
        return cv2.SIFT.create(self.features)

    def _grey(self, image: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
        scale = self.match_side / max(grey.shape)
        if abs(scale - 1.0) > 0.02:
            grey = cv2.resize(grey, (max(1, int(grey.shape[1] * scale)), max(1, int(grey.shape[0] * scale))),
                              interpolation=cv2.INTER_AREA)
        return grey

    def prepare_query(self, rgb: np.ndarray) -> Prepared:
        grey = self._grey(rgb)
        keypoints, descriptors = self._detector().detectAndCompute(grey, None)
        return grey, keypoints, descriptors

    def _frame(self, path: Path, features: bool = False) -> Prepared | None:
        """The thumbnail at ``path`` ready for matching (cached), with its SIFT features when ``features``: only
        the best keyframe is aligned, the others are only correlated, and SIFT costs ~30 ms a thumbnail."""
        with self._lock:
            entry = self._cache.get(path)
            if entry is not None:
                self._cache.move_to_end(path)
                if entry[1] is not None or not features:
                    return entry
        if entry is None:
            grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if grey is None:
                return None
            entry = (self._grey(grey), None, None)
        if features:
            keypoints, descriptors = self._detector().detectAndCompute(entry[0], None)
            entry = (entry[0], keypoints, descriptors)
        with self._lock:
            self._cache[path] = entry
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return entry

    def _homography(self, query: Prepared, frame: Prepared) -> np.ndarray | None:
        _, qkp, qdesc = query
        _, fkp, fdesc = frame
        if qkp is None or fkp is None or qdesc is None or fdesc is None or min(len(qkp), len(fkp)) < MIN_INLIERS:
            return None
        pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(qdesc, fdesc, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
        if len(good) < MIN_INLIERS:
            return None
        src = np.array([qkp[m.queryIdx].pt for m in good], dtype=np.float32)
        dst = np.array([fkp[m.trainIdx].pt for m in good], dtype=np.float32)
        h, mask = cv2.findHomography(src, dst, cv2.RANSAC, 4.0)
        if h is None or mask is None or int(mask.sum()) < MIN_INLIERS:
            return None
        return h

    @staticmethod
    def _ncc(query_grey: np.ndarray, frame_grey: np.ndarray, h: np.ndarray) -> float:
        """Mean normalised cross-correlation over a grid of cells of the warped query and a frame."""
        height, width = frame_grey.shape
        warped = cv2.GaussianBlur(cv2.warpPerspective(query_grey, h, (width, height)), (5, 5), 1.2)
        valid = cv2.warpPerspective(np.full_like(query_grey, 255), h, (width, height)) > 0
        valid = cv2.erode(valid.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        if valid.sum() < 0.2 * width * height:
            return -1.0
        warped = warped.astype(np.float32)
        frame = cv2.GaussianBlur(frame_grey, (5, 5), 1.2).astype(np.float32)
        scores = []
        for gy in range(GRID):
            rows = slice(gy * height // GRID, (gy + 1) * height // GRID)
            for gx in range(GRID):
                cols = slice(gx * width // GRID, (gx + 1) * width // GRID)
                mask = valid[rows, cols]
                if mask.mean() < 0.5:
                    continue
                a = warped[rows, cols][mask]
                b = frame[rows, cols][mask]
                a = a - a.mean()
                b = b - b.mean()
                norm = float(np.sqrt((a * a).sum() * (b * b).sum()))
                if norm > 1e-3:
                    scores.append(float((a * b).sum()) / norm)
        return float(np.mean(scores)) if scores else -1.0

    def best(self, query: Prepared, candidates: list[tuple[float, Path]],
             path_ok: Callable[[Path], bool] = Path.is_file) -> int:
        """Index in ``candidates`` (ordered by CNN score, best first) of the keyframe the query shows."""
        if len(candidates) < 2:
            return 0
        anchor = self._frame(candidates[0][1], features=True) if path_ok(candidates[0][1]) else None
        if anchor is None:
            return 0
        h = self._homography(query, anchor)
        if h is None:
            return 0
        best_index, best_score = 0, -2.0
        for index, (_, path) in enumerate(candidates):
            frame = self._frame(path) if path_ok(path) else None
            if frame is None:
                continue
            score = self._ncc(query[0], frame[0], h)
            if score > best_score:
                best_index, best_score = index, score
        return best_index
