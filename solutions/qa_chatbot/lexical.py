"""BM25 full-text search over FAQ entries and passages, on whichever engine the backend allows.

``milvus``: a collection per kind with Milvus' BM25 function (Milvus Lite 3.x, Milvus >= 2.5 servers);
``local``: an in-process :class:`~.bm25.BM25Index` per kind (a Milvus 2.3/2.4 server has no full-text search),
built from SQL on the first search and built again, once, at the first search after a write. Both use the
same formula (k1 = 1.2, b = 0.75, set on the Milvus index: ``store.BM25_PARAMS``; Lucene idf) over the same
terms, so the fused ranking is the same on both backends: each kind has its analyzer (:mod:`.bm25`); with
``english`` (stems), Milvus is given the analysed text of each stored text (:func:`~.bm25.analyzed_text`),
which its standard analyzer splits into exactly the terms the in-process index makes of the raw text, and a
query's distinct terms (Milvus weighs a query term by its count, the in-process index once). Milvus Lite keeps
BM25 statistics per sealed segment (each load seals one), the in-process index over all texts: scores agree
exactly on what one load wrote.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence

from common.vectors import VectorStore, int_list

from .bm25 import Analyzer, BM25Index, analyzed_text, analyzer
from .store import BM25_TEXT_CHARS

log = logging.getLogger(__name__)

#: ``kind -> every (id, text) of that kind``, read from SQL to build a local index
TextSource = Callable[[str], Iterable[tuple[int, str]]]


class LexicalIndex:
    """``search(kind, query, limit)`` → ``{id: bm25}``. A load calls ``write`` with the vectors (Milvus engine)
    and ``changed`` once the rows it indexed are committed; a delete calls ``changed``."""

    def __init__(self, engine: str, vectors: VectorStore, collections: dict[str, str], texts: TextSource,
                 analyzers: dict[str, Analyzer] | None = None) -> None:
        if engine not in ("milvus", "local"):
            raise ValueError(f"unknown BM25 engine {engine!r}")
        self.engine = engine
        self.analyzers: dict[str, Analyzer] = {kind: (analyzers or {}).get(kind, "standard") for kind in collections}
        self.vectors = vectors
        self.collections = collections  # kind -> Milvus collection (engine "milvus")
        self._texts = texts
        self._local: dict[str, BM25Index] = {}
        self._stale: set[str] = set(collections) if engine == "local" else set()
        self._lock = threading.Lock()

    def write(self, kind: str, rows: Sequence[dict[str, object]]) -> None:
        """Index rows ``{"id", "text", ...extra scalar fields}`` of one kind (with the vectors, before the item row;
        the in-process index reads committed rows from SQL instead)."""
        if rows and self.engine == "milvus":
            self.vectors.upsert(self.collections[kind], [{**r, "text": self._milvus_text(kind, str(r["text"]))}
                                                         for r in rows])

    def changed(self, kind: str | None = None) -> None:
        """Rows of ``kind`` (or of every kind) were committed or deleted: a local index is rebuilt when next used."""
        if self.engine == "local":
            with self._lock:
                self._stale |= {kind} if kind else set(self.collections)

    def search(self, kind: str, query: str, limit: int) -> dict[int, float]:
        if self.engine == "milvus":
            text = self._milvus_query(kind, query)
            if not text:  # no word, or only stop words: no term to match
                return {}
            hits = self.vectors.search(self.collections[kind], [text], anns_field="sparse", limit=limit,
                                       metric_type="BM25")[0]
            # Milvus Lite reports BM25 relevance as a negative distance; the magnitude is the BM25 score
            return {int(h["id"]): abs(float(h["distance"])) for h in hits}
        return dict(self._index(kind).search(query, limit))

    def size(self, kind: str) -> int:
        """How many texts of ``kind`` BM25 searches (the N of its IDF)."""
        if self.engine == "milvus":
            return self.vectors.count(self.collections[kind])
        return len(self._index(kind).lengths)

    def score(self, kind: str, query: str, ids: Sequence[int]) -> dict[int, float]:
        """The BM25 scores of these ids (0 for one without any query word), for candidates another retriever found."""
        if not ids:
            return {}
        if self.engine == "milvus":
            text = self._milvus_query(kind, query)
            if not text:
                return dict.fromkeys(ids, 0.0)
            hits = self.vectors.search(self.collections[kind], [text], anns_field="sparse", limit=len(ids),
                                       metric_type="BM25", filter=f"id in {int_list(ids)}")[0]
            found = {int(h["id"]): abs(float(h["distance"])) for h in hits}
            return {i: found.get(i, 0.0) for i in ids}
        return self._index(kind).score(query, ids)

    def _index(self, kind: str) -> BM25Index:
        with self._lock:
            if kind in self._stale or kind not in self._local:
                self._stale.discard(kind)
                index = BM25Index(analyzer_name=self.analyzers[kind]).build(
                    (i, t[:BM25_TEXT_CHARS]) for i, t in self._texts(kind))
                self._local[kind] = index
                log.debug("built the in-process BM25 index of %s (%d texts)", kind, len(index.lengths))
            return self._local[kind]

    def _milvus_text(self, kind: str, text: str) -> str:
        """What Milvus' BM25 function is given for a stored text of ``kind`` (its first ``BM25_TEXT_CHARS``
        characters, analysed)."""
        return analyzed_text(text[:BM25_TEXT_CHARS], self.analyzers[kind])

    def _milvus_query(self, kind: str, query: str) -> str:
        """A query's distinct terms (Milvus weighs a query term by its count; the in-process index counts it once)."""
        return " ".join(dict.fromkeys(analyzer(self.analyzers[kind])(query[:BM25_TEXT_CHARS])))
