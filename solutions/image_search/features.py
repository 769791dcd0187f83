"""Descriptors of the image search: a regional global vector and ORB local features with RANSAC.

Global: the last EfficientNet-Lite0 feature map (1280 x 7 x 7) is pooled over the whole image and
over overlapping regions (R-MAC style: max-pooled, L2-normalised, summed), then L2-normalised. Regional
pooling keeps the descriptor stable when a copy is cropped or slightly rotated, where a plain average
of the map drifts.

Local: up to ``n_features`` ORB keypoints (binary 32-byte descriptors) on the image scaled to at most
``max_side`` pixels. Re-ranking matches the query against each candidate (Hamming, ratio test) and fits
a similarity transform with RANSAC; the inlier count says whether the candidate is a copy.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from common.images import l2_normalize

#: ORB's border (edgeThreshold = patchSize, OpenCV's default): no keypoint lies closer to an edge, so an image
#: with a side under ORB_MIN_SIDE has none (and a side of one pixel makes OpenCV's pyramid raise)
ORB_BORDER = 31
ORB_MIN_SIDE = 2 * ORB_BORDER


def _regions(size: int) -> list[tuple[int, int, int, int]]:
    """(y0, y1, x0, x1) windows on a ``size`` x ``size`` grid: whole map, 2x2 and 3x3 overlapping."""
    out = [(0, size, 0, size)]
    for level in (2, 3):
        w = int(np.ceil(2 * size / (level + 1)))
        starts = np.unique(np.linspace(0, size - w, level).round().astype(int))
        out += [(y, y + w, x, x + w) for y in starts for x in starts]
    return out


def global_descriptor(maps: np.ndarray) -> np.ndarray:
    """(n, C, H, W) feature maps → (n, C) L2-normalised regional descriptors."""
    h = maps.shape[2]
    hwc = np.ascontiguousarray(maps.transpose(0, 2, 3, 1))  # channels last: each region max is contiguous
    regions = np.stack([hwc[:, y0:y1, x0:x1].max(axis=(1, 2)) for y0, y1, x0, x1 in _regions(h)], axis=1)
    acc = l2_normalize(regions).sum(axis=1)
    acc += l2_normalize(hwc.mean(axis=(1, 2)))  # the average-pooled view too
    return l2_normalize(acc)


@dataclass
class LocalFeatures:
    points: np.ndarray  # (k, 2) float32, coordinates in the ORB-scaled image
    descriptors: np.ndarray  # (k, 32) uint8 ORB
    small: np.ndarray  # small grey copy (uint8) for the photometric check after alignment
    small_scale: float  # small-image pixels per ORB-image pixel

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez_compressed(buf, p=self.points.astype(np.float32), d=self.descriptors, g=self.small,
                            s=np.float32(self.small_scale))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> LocalFeatures:
        with np.load(io.BytesIO(data)) as z:
            return cls(z["p"], z["d"], z["g"], float(z["s"]))

    def __len__(self) -> int:
        return int(self.points.shape[0])


class LocalMatcher:
    """ORB extraction and RANSAC verification (stateless apart from settings; thread-safe)."""

    def __init__(self, n_features: int = 500, max_side: int = 640, ratio: float = 0.8,
                 ransac_px: float = 6.0, small_side: int = 160) -> None:
        self.small_side = small_side
        self.n_features = n_features
        self.max_side = max_side
        self.ratio = ratio
        self.ransac_px = ransac_px

    def extract(self, rgb: np.ndarray) -> LocalFeatures:
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        h, w = grey.shape
        scale = min(4.0, self.max_side / max(h, w))  # small images are enlarged: ORB needs ~30 px borders
        if scale != 1:
            grey = cv2.resize(grey, (max(1, round(w * scale)), max(1, round(h * scale))),
                              interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        gh, gw = grey.shape
        kps: Sequence[cv2.KeyPoint] = ()
        desc: np.ndarray | None = None
        if min(gh, gw) >= ORB_MIN_SIDE:  # thinner: no keypoint fits, and OpenCV's pyramid may fail on it
            orb = cv2.ORB.create(nfeatures=self.n_features, scaleFactor=1.2, nlevels=8, fastThreshold=12,
                                 edgeThreshold=ORB_BORDER, patchSize=ORB_BORDER)
            kps, desc = orb.detectAndCompute(grey, None)
        s = min(1.0, self.small_side / max(gh, gw))
        small = cv2.resize(grey, (max(1, round(gw * s)), max(1, round(gh * s))), interpolation=cv2.INTER_AREA)
        if desc is None or not kps:
            return LocalFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), small, s)
        pts = np.array([k.pt for k in kps], dtype=np.float32)
        return LocalFeatures(pts, desc, small, s)

    def verify(self, query: LocalFeatures, cand: LocalFeatures) -> tuple[int, float]:
        """(inliers of a RANSAC similarity transform, NCC of the aligned images); (0, 0.0) when none fits.

        The NCC compares the query warped onto the candidate with the candidate itself over their
        overlap: an edited copy of the same picture correlates near 1, a different picture of a similar
        scene (another chessboard, the other camera of a stereo pair) much lower.
        """
        if len(query) < 5 or len(cand) < 5:
            return 0, 0.0
        matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
        pairs = matcher.knnMatch(query.descriptors, cand.descriptors, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < self.ratio * p[1].distance]
        if len(good) < 5:
            return 0, 0.0
        src = query.points[[m.queryIdx for m in good]]
        dst = cand.points[[m.trainIdx for m in good]]
        matrix, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC,
                                              ransacReprojThreshold=self.ransac_px, maxIters=1000,
                                              confidence=0.99)
        if matrix is None or mask is None:
            return 0, 0.0
        n_in = int(mask.sum())
        return n_in, self._ncc(query, cand, matrix)

    @staticmethod
    def _ncc(query: LocalFeatures, cand: LocalFeatures, matrix: np.ndarray) -> float:
        # ORB coordinates -> small-image coordinates on both sides
        m = matrix.astype(np.float64).copy()
        m = np.vstack([m, [0, 0, 1]])
        to_small_c = np.diag([cand.small_scale, cand.small_scale, 1.0])
        from_small_q = np.diag([1 / query.small_scale, 1 / query.small_scale, 1.0])
        m_small = (to_small_c @ m @ from_small_q)[:2]
        h, w = cand.small.shape
        warped = cv2.warpAffine(query.small, m_small, (w, h), flags=cv2.INTER_LINEAR)
        valid = cv2.warpAffine(np.full(query.small.shape, 255, np.uint8), m_small, (w, h),
                               flags=cv2.INTER_NEAREST) > 0
        valid = cv2.erode(valid.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        if valid.sum() < 0.2 * h * w or valid.sum() < 100:
            return 0.0
        a = cv2.GaussianBlur(warped, (3, 3), 0)[valid].astype(np.float32)
        b = cv2.GaussianBlur(cand.small, (3, 3), 0)[valid].astype(np.float32)
        a -= a.mean()
        b -= b.mean()
        denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
        return max(0.0, float((a * b).sum()) / denom) if denom > 1e-6 else 0.0
