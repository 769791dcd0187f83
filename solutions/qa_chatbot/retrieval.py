"""Ranking of FAQ pairs and document passages, independent of the vector store.

The service fetches candidates (dense hits from Milvus, BM25 hits from Milvus full-text search on
servers >= 2.5 or from the in-process :class:`~.bm25.BM25Index`), completes each candidate's features
(the exact cosine of a candidate found by one retriever only, fetched by id), and calls
:meth:`Ranker.rank`. The same ranking therefore runs on every backend.

A candidate's features are cosines in [0, 1] (negatives clipped) and BM25 scores, saturated to
``s / (s + K)``. BM25's IDF, and so its scores, grow with the number of texts searched (a word found in one of
N texts weighs about ln N), while the calibration below was fitted on collections of hundreds to thousands of
texts: in a collection of fewer than a kind's ``bm25_reference`` texts, BM25 scores are first multiplied by
:meth:`Ranker.bm25_scale` (that word's weight at ``bm25_reference`` texts over its weight at N), so that a few
documents loaded on their own are not refused for being few.

The ranking score is a weighted sum of the features; the reported score is that sum mapped through a logistic
curve fitted on the tuning set (Platt scaling), so it reads as the probability that the candidate answers the
query: in [0, 1], comparable between FAQ pairs and passages, and one threshold refuses off-topic questions for
both.

Features by kind:
- ``faq``: ``question`` (cosine to the stored question), ``qa`` (cosine to question + answer, when
  indexed), ``bm25`` (question + answer);
- ``passage``: ``passage`` (cosine to heading path + passage text), ``sentence`` (best cosine of one of
  its sentences, when sentence vectors are stored), ``bm25`` (heading path + text).

:func:`highlight` picks the sentences of an answer that best answer the query (character spans).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .bm25 import tokenize
from .documents.sentences import cut_long, sentence_spans

if TYPE_CHECKING:
    from .config import QASettings

FEATURES = ("question", "qa", "passage", "sentence", "bm25")


def clip01(x: float) -> float:
    return min(1.0, max(0.0, float(x)))


def saturate(bm25: float, k: float) -> float:
    """BM25 score → [0, 1): ``s / (s + k)`` (the same on both backends, whose BM25 formulas agree)."""
    return bm25 / (bm25 + k) if bm25 > 0 else 0.0


def rrf(rankings: Iterable[Sequence[int]], k: int = 60) -> dict[int, float]:
    """Reciprocal rank fusion ``Σ 1 / (k + rank)`` (a baseline: rank-only, so not a confidence)."""
    out: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            out[item] = out.get(item, 0.0) + 1.0 / (k + rank)
    return out


@dataclass(frozen=True)
class KindModel:
    """Weights of one kind's features and the logistic calibration of their weighted sum."""

    weights: Mapping[str, float]
    slope: float = 10.0
    intercept: float = -5.0
    #: BM25 scores of a collection of fewer texts than this are scaled up (:meth:`Ranker.bm25_scale`); 0 = never
    bm25_reference: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(FEATURES)
        if unknown or any(w < 0 for w in self.weights.values()):
            raise ValueError(f"weights must be >= 0 and name features of {FEATURES}: {dict(self.weights)}")
        if self.bm25_reference < 0:
            raise ValueError(f"bm25_reference must be >= 0: {self.bm25_reference}")

    def raw(self, features: Mapping[str, float]) -> float:
        total = sum(self.weights.values()) or 1.0
        return sum(w * features.get(name, 0.0) for name, w in self.weights.items()) / total

    def probability(self, raw: float) -> float:
        z = self.slope * raw + self.intercept
        return 1.0 / (1.0 + math.exp(-z)) if z > -60 else 0.0


@dataclass(frozen=True)
class Ranker:
    """Fuses a candidate's features into one score in [0, 1]; see the module docstring."""

    faq: KindModel = field(default_factory=lambda: KindModel({"question": 0.8, "bm25": 0.2}))
    passage: KindModel = field(default_factory=lambda: KindModel({"passage": 0.8, "bm25": 0.2}))
    bm25_saturation: float = 8.0

    def model(self, kind: str) -> KindModel:
        return self.faq if kind == "faq" else self.passage

    def bm25_scale(self, kind: str, texts: int) -> float:
        """The factor of ``kind``'s BM25 scores in a collection of ``texts`` texts: ``ln(1 + R) / ln(1 + N)``
        below the kind's ``bm25_reference`` R, else 1. That is the ratio of the largest IDF, a word found in
        one text (~ln N), at R texts and at N: the scores of a small collection on the scale the calibration
        was fitted on (bench/results/qa_chatbot_small.json)."""
        reference = self.model(kind).bm25_reference
        if texts < 1 or texts >= reference:
            return 1.0
        return math.log1p(reference) / math.log1p(texts)

    def features(self, dense: Mapping[str, float], bm25: float = 0.0) -> dict[str, float]:
        """Feature dict from raw cosines (any of :data:`FEATURES` but ``bm25``) and a raw BM25 score."""
        out = {name: clip01(value) for name, value in dense.items()}
        out["bm25"] = saturate(bm25, self.bm25_saturation)
        return out

    def score(self, kind: str, features: Mapping[str, float]) -> float:
        model = self.model(kind)
        return model.probability(model.raw(features))

    def rank(self, candidates: Iterable[tuple[int, str, Mapping[str, float]]],
             limit: int) -> list[tuple[int, str, float]]:
        """``[(id, kind, score)]`` best first (ties by id) from ``(id, kind, features)``."""
        scored = [(item, kind, self.score(kind, feats)) for item, kind, feats in candidates]
        scored.sort(key=lambda r: (-r[2], r[0]))
        return scored[:limit]


def fit_calibration(raw_positive: Sequence[float], raw_negative: Sequence[float],
                    l2: float = 1e-3, steps: int = 500) -> tuple[float, float]:
    """Platt scaling: ``(slope, intercept)`` of the logistic curve that best separates the raw fused scores
    of right answers (1) from those of off-topic queries' and wrong top candidates (0); plain gradient
    descent on the mean log-loss, classes weighted equally."""
    x = np.asarray(list(raw_positive) + list(raw_negative), np.float64)
    y = np.asarray([1.0] * len(raw_positive) + [0.0] * len(raw_negative))
    if not len(raw_positive) or not len(raw_negative):
        raise ValueError("calibration needs positives and negatives")
    w = np.where(y == 1, 0.5 / len(raw_positive), 0.5 / len(raw_negative))
    mean, std = float(x.mean()), float(x.std()) or 1.0
    z = (x - mean) / std
    a, b = 1.0, 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(a * z + b)))
        g = (p - y) * w
        a -= 4.0 * (float((g * z).sum()) + l2 * a)
        b -= 4.0 * float(g.sum())
    return a / std, b - a * mean / std


# -- highlight -----------------------------------------------------------------------------------------
def answer_units(text: str, max_chars: int = 400) -> list[tuple[int, int]]:
    """Sentence spans of an answer, long ones cut at clause breaks so a highlight stays readable."""
    out: list[tuple[int, int]] = []
    for start, end in sentence_spans(text):
        out.extend(cut_long(text, start, end, max_chars) if end - start > max_chars else [(start, end)])
    return out


def lexical_overlap(query: str, sentence: str) -> float:
    """Share of the query's distinct words found in the sentence (0..1)."""
    terms = set(tokenize(query))
    return len(terms & set(tokenize(sentence))) / len(terms) if terms else 0.0


def highlight(query: str, query_vec: np.ndarray, text: str, spans: Sequence[tuple[int, int]],
              sentence_vecs: np.ndarray, *, lexical_weight: float = 0.2, margin: float = 0.05,
              max_spans: int = 2) -> list[list[int]]:
    """``[[start, end], ...]`` (in text order) of the sentences that best answer ``query``: the best one by
    ``(1 - w)·cosine + w·lexical overlap``, plus up to ``max_spans - 1`` others within ``margin`` of it."""
    if not spans:
        return []
    cos = sentence_vecs @ query_vec if len(sentence_vecs) else np.zeros(len(spans))
    scores = [(1 - lexical_weight) * clip01(c) + lexical_weight * lexical_overlap(query, text[s:e])
              for c, (s, e) in zip(cos, spans, strict=True)]
    order = sorted(range(len(spans)), key=lambda i: -scores[i])
    best = scores[order[0]]
    chosen = [i for i in order[:max_spans] if scores[i] >= best - margin]
    return [[spans[i][0], spans[i][1]] for i in sorted(chosen)]


def best_sentence(query_vec: np.ndarray, sentence_vecs: np.ndarray) -> float:
    """The ``sentence`` feature of a passage: its best sentence cosine (0 for none)."""
    return clip01(float((sentence_vecs @ query_vec).max())) if len(sentence_vecs) else 0.0


def ranker_from_settings(settings: QASettings) -> Ranker:
    """The :class:`Ranker` configured by the service's settings."""
    return Ranker(
        faq=KindModel(dict(settings.faq_weights), *settings.faq_calibration),
        passage=KindModel(dict(settings.passage_weights), *settings.passage_calibration,
                          bm25_reference=settings.passage_bm25_reference),
        bm25_saturation=settings.bm25_saturation,
    )
