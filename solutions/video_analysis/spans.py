"""Merge per-keyframe detections into ``{start_s, end_s}`` spans."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable


def merge_spans(detections: Iterable[tuple[str, float, float]], gap_s: float, key: str) -> list[dict]:
    """``(name, t, score)`` detections → spans per name, split where detections are > ``gap_s`` apart.

    A span's score is the best score of its detections; spans are sorted by start, then name.
    """
    by_name: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for name, t, score in detections:
        by_name[name].append((float(t), float(score)))
    spans: list[dict] = []
    for name, points in by_name.items():
        points.sort()
        start, end, best = points[0][0], points[0][0], points[0][1]
        for t, score in points[1:]:
            if t - end > gap_s:
                spans.append({key: name, "start_s": round(start, 3), "end_s": round(end, 3), "score": round(best, 4)})
                start, best = t, score
            else:
                best = max(best, score)
            end = t
        spans.append({key: name, "start_s": round(start, 3), "end_s": round(end, 3), "score": round(best, 4)})
    spans.sort(key=lambda s: (s["start_s"], s[key]))
    return spans
