"""Candidates of a query and their exact features, deep enough that a page is a slice of one ranking.

Each kind has its retrievers, one per feature with a weight (:class:`~.retrieval.Ranker`):

* FAQ entries: ``question`` (Milvus ``q``), ``qa`` (``qa``), ``bm25`` (:mod:`.lexical`);
* passages: ``passage`` (``passage``), ``sentence`` (``sentence``: the best sentence per passage), ``bm25``.

A round asks every retriever for its top ``depth``; the union of the hits are the candidates, and every
feature a candidate lacks (it was not in that retriever's top) is computed exactly, from its stored vectors or
its BM25 score. Only candidates that are listed (their FAQ entry or document fully stored) are kept.

Why rounds: an item no retriever returned has each feature at most the lowest value that retriever returned,
so its fused score is at most the score of those lowest values (the *bound*; the score is monotone in every
feature). Candidates scoring at or above the bound are in their final order whatever lies deeper (the
threshold algorithm of Fagin et al.). When a request needs more of them than a round gives, the depth doubles:
page ``offset .. offset + top_k - 1`` is therefore the same slice of the same ranking whatever ``top_k`` is,
up to the approximation of the ANN index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from common.vectors import VectorStore

from .lexical import LexicalIndex
from .retrieval import Ranker, clip01
from .store import FAQ

PASSAGE = "passage"
#: sentences fetched per passage wanted from the sentence retriever
SENTENCES_PER_PASSAGE = 4
#: the collection of each dense feature
DENSE = {"question": "q", "qa": "qa", "passage": "passage"}
#: Milvus' largest top-k
MAX_LIMIT = 16384

#: ``kind, ids -> the ids that are listed`` (an entry or a document fully stored)
Listed = Callable[[str, list[int]], set[int]]
#: ``passage ids, fields -> rows {"passage_id", *fields}`` of their stored sentences
Sentences = Callable[[list[int], list[str]], list[dict[str, Any]]]


@dataclass
class Candidate:
    id: int
    kind: str
    features: dict[str, float]
    score: float = 0.0


@dataclass
class Round:
    """What one kind's retrievers gave at one depth."""

    candidates: dict[int, Candidate] = field(default_factory=dict)
    #: the best score an item outside ``candidates`` can have (-1: every item of the kind was seen)
    bound: float = -1.0


class CandidateFinder:
    def __init__(self, ranker: Ranker, vectors: VectorStore, collections: dict[str, str], lexical: LexicalIndex,
                 listed: Listed, sentences: Sentences, first_depth: int, max_depth: int) -> None:
        self.ranker = ranker
        self.vectors = vectors
        self.collections = collections
        self.lexical = lexical
        self.listed = listed
        self.sentences = sentences
        self.first_depth = first_depth
        self.max_depth = min(MAX_LIMIT // SENTENCES_PER_PASSAGE, max(first_depth, max_depth))

    def ranking(self, query: str, qvec: np.ndarray, limit: int, kinds: tuple[str, ...] = (FAQ, PASSAGE)
                ) -> list[Candidate]:
        """The first ``limit`` candidates of the fused ranking, best first (ties by id)."""
        depth = max(self.first_depth, limit)
        scales = {kind: self.bm25_scale(kind) for kind in kinds}
        while True:
            rounds = {kind: self.round(kind, query, qvec, depth, scales[kind]) for kind in kinds}
            ranked = sorted((c for r in rounds.values() for c in r.candidates.values()),
                            key=lambda c: (-c.score, c.id))
            bound = max(r.bound for r in rounds.values())
            exact = sum(1 for c in ranked[:limit] if c.score >= bound)
            if (exact >= min(limit, len(ranked)) and (bound < 0 or len(ranked) >= limit)) or depth >= self.max_depth:
                return ranked[:limit]
            depth = min(self.max_depth, depth * 2)

    def bm25_scale(self, kind: str) -> float:
        """The factor of ``kind``'s BM25 scores (:meth:`Ranker.bm25_scale`), once per search: the collection's size
        is asked only when the kind scales BM25 at all (on the Milvus engine it is a query)."""
        model = self.ranker.model(kind)
        if not model.bm25_reference or not model.weights.get("bm25"):
            return 1.0
        return self.ranker.bm25_scale(kind, self.lexical.size(kind))

    def round(self, kind: str, query: str, qvec: np.ndarray, depth: int, scale: float) -> Round:
        """One kind's candidates at ``depth``; ``scale`` multiplies its BM25 scores (:meth:`bm25_scale`)."""
        model = self.ranker.model(kind)
        features = [f for f, w in model.weights.items() if w > 0]
        found: dict[str, dict[int, float]] = {}
        lowest: dict[str, float] = {}
        everything_seen = False
        for feature in features:
            hits, complete = self._retrieve(kind, feature, query, qvec, depth)
            found[feature] = hits
            lowest[feature] = 0.0 if complete or not hits else min(hits.values())
            everything_seen |= complete and feature != "bm25"
        ids = sorted(set().union(*found.values())) if found else []
        ids = sorted(self.listed(kind, ids)) if ids else []
        for feature in features:
            missing = [i for i in ids if i not in found[feature]]
            if missing:
                found[feature].update(self._exact(kind, feature, query, qvec, missing))
        out = Round()
        for i in ids:
            dense = {f: found[f][i] for f in features if f != "bm25"}
            feats = self.ranker.features(dense, scale * found["bm25"][i] if "bm25" in found else 0.0)
            out.candidates[i] = Candidate(i, kind, feats, self.ranker.score(kind, feats))
        if not everything_seen:
            dense = {f: v for f, v in lowest.items() if f != "bm25"}
            out.bound = self.ranker.score(kind, self.ranker.features(dense, scale * lowest.get("bm25", 0.0)))
        return out

    # -- retrievers -----------------------------------------------------------------------------------------
    def _retrieve(self, kind: str, feature: str, query: str, qvec: np.ndarray, depth: int
                  ) -> tuple[dict[int, float], bool]:
        """``({id: raw feature}, complete)``; complete: the retriever returned everything it has."""
        if feature == "bm25":
            hits = self.lexical.search(kind, query, depth)
            return hits, len(hits) < depth
        if feature == "sentence":
            limit = depth * SENTENCES_PER_PASSAGE
            rows = self._dense(self.collections["sentence"], qvec, limit, ["passage_id"])
            best: dict[int, float] = {}
            for row in rows:  # a passage's best sentence comes first: the hits are sorted
                best.setdefault(int(row["entity"]["passage_id"]), float(row["distance"]))
            return best, len(rows) < limit
        rows = self._dense(self.collections[DENSE[feature]], qvec, depth, [])
        return {int(r["id"]): float(r["distance"]) for r in rows}, len(rows) < depth

    def _dense(self, collection: str, qvec: np.ndarray, limit: int, fields: list[str]) -> list[dict[str, Any]]:
        hits = self.vectors.search(collection, [qvec.tolist()], anns_field="vector", limit=limit, metric_type="COSINE",
                                   params={"ef": max(64, limit)}, output_fields=fields)[0]
        return sorted(hits, key=lambda h: -float(h["distance"]))

    def _exact(self, kind: str, feature: str, query: str, qvec: np.ndarray, ids: list[int]) -> dict[int, float]:
        if feature == "bm25":
            return self.lexical.score(kind, query, ids)
        if feature == "sentence":
            rows = self.sentences(ids, ["vector"])
            best = dict.fromkeys(ids, 0.0)
            for row in rows:
                pid = int(row["passage_id"])
                best[pid] = max(best[pid], float(np.dot(np.asarray(row["vector"], np.float32), qvec)))
            return best
        rows = self.vectors.get(self.collections[DENSE[feature]], ids, output_fields=["vector"])
        out = dict.fromkeys(ids, 0.0)
        out.update({int(r["id"]): clip01(float(np.dot(np.asarray(r["vector"], np.float32), qvec))) for r in rows})
        return out
