"""A small in-process BM25 index (the fallback where the Milvus backend has no full-text search).

Same formula as Milvus' BM25 function (k1=1.2, b=0.75, idf = log(1 + (N - n + 0.5) / (n + 0.5))) over
lower-cased word tokens, so scores are comparable across backends.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

TOKEN = re.compile(r"\w+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


class BM25Index:
    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.lengths: dict[int, int] = {}
        self.avg_len = 0.0

    def build(self, docs: Iterable[tuple[int, str]]) -> BM25Index:
        for doc_id, text in docs:
            tokens = tokenize(text)
            self.lengths[doc_id] = len(tokens)
            for term, tf in Counter(tokens).items():
                self.postings[term].append((doc_id, tf))
        self.avg_len = (sum(self.lengths.values()) / len(self.lengths)) if self.lengths else 0.0
        return self

    def search(self, query: str, limit: int) -> list[tuple[int, float]]:
        """The ``limit`` best documents with a score > 0, best first (ties by id)."""
        ranked = sorted(self._scores(query).items(), key=lambda kv: (-kv[1], kv[0]))
        return ranked[:limit]

    def score(self, query: str, ids: Iterable[int]) -> dict[int, float]:
        """The scores of these documents (0 for a document without any query word)."""
        scores = self._scores(query)
        return {i: scores.get(i, 0.0) for i in ids}

    def _scores(self, query: str) -> dict[int, float]:
        n_docs = len(self.lengths)
        scores: dict[int, float] = defaultdict(float)
        if not n_docs:
            return scores
        for term in set(tokenize(query)):
            posting = self.postings.get(term)
            if not posting:
                continue
            idf = math.log(1 + (n_docs - len(posting) + 0.5) / (len(posting) + 0.5))
            for doc_id, tf in posting:
                norm = self.k1 * (1 - self.b + self.b * self.lengths[doc_id] / (self.avg_len or 1))
                scores[doc_id] += idf * tf * (self.k1 + 1) / (tf + norm)
        return scores
