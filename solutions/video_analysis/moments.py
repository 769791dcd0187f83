"""Moments across all videos (``GET /moments``): by ImageNet label, by words, or by enrolled person.

* ``label``: one of the 1000 class names (case-insensitive). The keyframes that show it are read with one
  query on the label index of ``<prefix>_labels`` joined with the listed videos, already ordered by video and
  time, and merged into spans as they stream in. A span's score is the label's best probability in it.
* ``q``: words matched against the label names with the all-MiniLM-L6-v2 text encoder (the 1000 names are
  embedded once, in the background after start-up: :meth:`LabelWords.prepare`); the names at least
  ``text_min_similarity`` similar (at most ``text_max_labels``) are searched as above, and a moment scores
  ``similarity × probability``.
* ``person_id``: the spans where faces stored at load time match that person, as enrolled now
  (:meth:`.people.PeopleRegistry.spans_of`).

Moments are ranked by score (then video and time) and paged with ``offset``/``limit``; ``total`` counts all.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Table, select

from common.errors import InvalidInput
from common.images import similar_labels
from common.safety import query_text
from common.sql import SQLStore

from .config import VideoSettings
from .media import frame_url
from .people import PeopleRegistry
from .spans import Span, stream_spans
from .store import VideoTables

MAX_QUERY_CHARS = 200

log = logging.getLogger(__name__)


class TextModel(Protocol):
    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray: ...


#: the label names' embeddings per text model (models are shared by the whole process, and so are these)
_NAMES_EMBEDDED: weakref.WeakKeyDictionary[Any, tuple[tuple[str, ...], np.ndarray]] = weakref.WeakKeyDictionary()


class LabelWords:
    """The label names as text embeddings, made once (by :meth:`prepare`, else on first use), and the names
    nearest to some words."""

    def __init__(self, names: list[str], load_encoder: Callable[[], TextModel]) -> None:
        self.names = names
        self._load_encoder = load_encoder
        self._lock = threading.Lock()
        self._encoder: TextModel | None = None
        self._matrix: np.ndarray | None = None

    @property
    def ready(self) -> bool:
        return self._matrix is not None

    def prepare(self) -> None:
        """Load the encoder and embed the names now, so that the first search by words does not wait seconds
        for them (the service does this in the background at start-up). A failure is logged; that search
        tries again and reports it."""
        try:
            self._ready()
        except Exception:
            log.warning("the text model for searches by words could not be prepared", exc_info=True)

    def _ready(self) -> tuple[TextModel, np.ndarray]:
        with self._lock:
            if self._encoder is None or self._matrix is None:
                encoder = self._load_encoder()
                names, matrix = _NAMES_EMBEDDED.get(encoder, ((), None))
                if matrix is None or names != tuple(self.names):
                    matrix = encoder.encode(list(self.names))
                    _NAMES_EMBEDDED[encoder] = (tuple(self.names), matrix)
                self._encoder, self._matrix = encoder, matrix
            return self._encoder, self._matrix

    def nearest(self, words: str, min_similarity: float, limit: int) -> dict[int, float]:
        """``{label index: cosine similarity}`` of the best matching names (at least ``min_similarity``)."""
        encoder, matrix = self._ready()
        sims = matrix @ encoder.encode([words])[0]
        order = np.argsort(-sims, kind="stable")[:limit]
        return {int(i): float(sims[i]) for i in order if sims[i] >= min_similarity}


class Moments:
    def __init__(self, sql: SQLStore, items: Table, tables: VideoTables, people: PeopleRegistry,
                 words: LabelWords, settings: VideoSettings) -> None:
        self.sql = sql
        self.items = items
        self.tables = tables
        self.people = people
        self.words = words
        self.settings = settings
        self.by_name: dict[str, list[int]] = {}
        for index, name in enumerate(words.names):
            self.by_name.setdefault(name.lower(), []).append(index)

    def find(self, *, label: str | None = None, q: str | None = None, person_id: int | None = None,
             offset: int = 0, limit: int = 50) -> dict[str, Any]:
        """``{"moments": [...], "total"}``; exactly one of ``label``, ``q`` and ``person_id`` is given."""
        given = [x for x in (label, q, person_id) if x is not None and x != ""]
        if len(given) != 1:
            raise InvalidInput("give exactly one of label, q (words) and person_id")
        if offset < 0 or not 1 <= limit <= 500:
            raise InvalidInput("offset must be >= 0 and limit between 1 and 500")
        if person_id is not None:
            moments = [self._face_moment(vid, name, span) for vid, name, span in self.people.spans_of(person_id)]
        elif label:
            moments = self._label_moments({i: 1.0 for i in self.label_indices(label)})
        else:
            moments = self._label_moments(self.word_labels(str(q)))
        moments.sort(key=lambda m: (-m["score"], m["video_name"], m["video_id"], m["start_s"]))
        return {"moments": moments[offset:offset + limit], "total": len(moments)}

    def label_indices(self, label: str) -> list[int]:
        key = label.strip().lower()
        indices = self.by_name.get(key)
        if not indices:
            near = similar_labels(label, self.words.names)
            hint = f"; did you mean {', '.join(near)}?" if near else " (see the 1000 ImageNet class names)"
            raise InvalidInput(f"unknown label {label!r}{hint}")
        return indices

    def word_labels(self, q: str) -> dict[int, float]:
        words = query_text(q)
        if not words or len(words) > MAX_QUERY_CHARS:
            raise InvalidInput(f"q must have 1 to {MAX_QUERY_CHARS} characters")
        s = self.settings
        return self.words.nearest(words, s.text_min_similarity, s.text_max_labels)

    def _label_moments(self, weights: dict[int, float]) -> list[dict[str, Any]]:
        if not weights:
            return []
        lab, items, s = self.tables.labels, self.items, self.settings
        query = (select(lab.c.video_id, items.c.name, lab.c.label, lab.c.t, lab.c.score)
                 .join(items, items.c.id == lab.c.video_id)
                 .where(lab.c.label.in_(sorted(weights)), lab.c.rank < s.labels_per_frame,
                        lab.c.score >= s.label_min_prob)
                 .order_by(lab.c.video_id, lab.c.label, lab.c.t))
        with self.sql.begin() as conn:
            rows = [((int(vid), str(name), int(label)), str(label), float(t), float(score))
                    for vid, name, label, t, score in conn.execute(query)]
        out = []
        for (vid, video_name, index), span in stream_spans(rows, s.span_gap_s):
            out.append({"video_id": vid, "video_name": video_name, "start_s": round(span.start_s, 3),
                        "end_s": round(span.end_s, 3), "kind": "label", "label": self.words.names[index],
                        "score": round(span.score * weights[index], 4), "frame_url": frame_url(vid, span.best_t)})
        return out

    @staticmethod
    def _face_moment(video_id: int, video_name: str, span: Span) -> dict[str, Any]:
        return {"video_id": video_id, "video_name": video_name, "start_s": round(span.start_s, 3),
                "end_s": round(span.end_s, 3), "kind": "face", "person": span.name, "score": round(span.score, 4),
                "frame_url": frame_url(video_id, span.best_t)}
