"""Pinning the moment: the query is aligned to the best keyframe, and only correlated with the others."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from solutions.video_analysis.rerank import FrameMatcher


class CountingMatcher(FrameMatcher):
    """Counts the pictures SIFT runs on."""

    def __init__(self) -> None:
        super().__init__(match_side=320)
        self.sifted = 0

    def _detector(self) -> Any:
        detector = super()._detector()
        matcher = self

        class Counting:
            def detectAndCompute(self, image: np.ndarray, mask: Any) -> Any:
                matcher.sifted += 1
                return detector.detectAndCompute(image, mask)

        return Counting()


def street(frames: int, tmp_path: Path) -> list[Path]:
    """Thumbnails of a fixed camera: the same textured scene, a dark box walking across it."""
    rng = np.random.default_rng(7)
    scene = cv2.GaussianBlur(rng.integers(0, 256, (180, 320), dtype=np.uint8), (0, 0), 2.0)
    scene = cv2.normalize(scene, None, 0, 255, cv2.NORM_MINMAX)
    paths = []
    for k in range(frames):
        frame = cv2.cvtColor(scene, cv2.COLOR_GRAY2BGR)
        x = 10 + 24 * k
        cv2.rectangle(frame, (x, 60), (x + 40, 150), (20, 20, 20), thickness=-1)
        paths.append(tmp_path / f"{k * 1000}.jpg")
        cv2.imwrite(str(paths[-1]), frame, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return paths


def test_the_moment_is_found_and_only_the_best_keyframe_is_sifted(tmp_path):
    frames = street(12, tmp_path)
    shown = 7
    picture = cv2.cvtColor(cv2.imread(str(frames[shown])), cv2.COLOR_BGR2RGB)[8:-8, 10:-10]  # a crop of it
    matcher = CountingMatcher()
    query = matcher.prepare_query(picture)
    assert matcher.sifted == 1
    candidates = [(1.0 - k / 100, path) for k, path in enumerate(frames)]  # the CNN barely tells them apart
    assert matcher.best(query, candidates) == shown
    assert matcher.sifted == 2  # the query and the best keyframe: the eleven others are only correlated
    assert matcher.best(query, candidates) == shown and matcher.sifted == 2  # all cached
    # a keyframe that was only correlated is aligned (and sifted) once it is the best candidate
    assert matcher.best(query, candidates[shown:] + candidates[:shown]) == 0
    assert matcher.sifted == 3
