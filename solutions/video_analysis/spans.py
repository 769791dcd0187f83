"""Merge per-keyframe detections (a label, a person) into ``{start_s, end_s}`` spans."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

G = TypeVar("G", bound=Hashable)


@dataclass
class Span:
    """Detections of one thing, none further than the gap from the next; ``best_t``: where it scored best."""

    name: str
    start_s: float
    end_s: float
    score: float
    best_t: float

    def public(self, key: str) -> dict[str, Any]:
        return {key: self.name, "start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3),
                "score": round(self.score, 4)}


def _merge_sorted(name: str, points: Iterable[tuple[float, float]], gap_s: float) -> Iterator[Span]:
    span: Span | None = None
    for t, score in points:
        if span is not None and t - span.end_s <= gap_s:
            span.end_s = t
            if score > span.score:
                span.score, span.best_t = score, t
            continue
        if span is not None:
            yield span
        span = Span(name, t, t, score, t)
    if span is not None:
        yield span


def spans_of(detections: Iterable[tuple[str, float, float]], gap_s: float) -> list[Span]:
    """``(name, t, score)`` detections in any order → spans per name, sorted by start, then name."""
    by_name: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for name, t, score in detections:
        by_name[name].append((float(t), float(score)))
    spans = [s for name, points in by_name.items() for s in _merge_sorted(name, sorted(points), gap_s)]
    spans.sort(key=lambda s: (s.start_s, s.name))
    return spans


def merge_spans(detections: Iterable[tuple[str, float, float]], gap_s: float, key: str) -> list[dict[str, Any]]:
    """``(name, t, score)`` detections → ``[{key: name, start_s, end_s, score}]``, split where detections are more
    than ``gap_s`` apart. A span's score is the best score of its detections; sorted by start, then name."""
    return [s.public(key) for s in spans_of(detections, gap_s)]


def stream_spans(rows: Iterable[tuple[G, str, float, float]], gap_s: float) -> Iterator[tuple[G, Span]]:
    """``(group, name, t, score)`` rows sorted by group, name and t (as a SQL ``ORDER BY`` gives them) →
    ``(group, span)``, holding one span at a time (the rows may come from a long query, streamed)."""
    current: tuple[G, str] | None = None
    span: Span | None = None
    for group, name, t, score in rows:
        t, score = float(t), float(score)
        if span is not None and current == (group, name) and t - span.end_s <= gap_s:
            span.end_s = t
            if score > span.score:
                span.score, span.best_t = score, t
            continue
        if span is not None and current is not None:
            yield current[0], span
        current, span = (group, name), Span(name, t, t, score, t)
    if span is not None and current is not None:
        yield current[0], span
