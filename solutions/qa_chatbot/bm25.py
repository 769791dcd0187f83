"""A small in-process BM25 index (the fallback where the Milvus backend has no full-text search), and the
analyzers that turn a text into BM25 terms on both engines.

Same formula as Milvus' BM25 function (k1=1.2, b=0.75, idf = log(1 + (N - n + 0.5) / (n + 0.5))), so scores
are comparable across backends. Analyzers:

- ``standard``: lower-cased ``\\w+`` tokens (what Milvus' standard analyzer makes of a text);
- ``english``: the same tokens without English function words, each reduced to its Snowball (Porter 2) stem,
  so "installing", "installed" and "installation" match "install".

Milvus Lite's analyzer has no stemmer, so the service gives Milvus the *analysed* text (:func:`analyzed_text`:
the terms joined by spaces, which the standard analyzer splits back into the same terms) for both the stored
texts and the query; the in-process index analyses the same way: both engines see the same terms.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Literal

import snowballstemmer

TOKEN = re.compile(r"\w+", re.UNICODE)
#: BM25 term-frequency saturation and length normalisation: this index's, and set on Milvus' index too
#: (store.BM25_PARAMS), so both engines score alike
K1, B = 1.2, 0.75
Analyzer = Literal["standard", "english"]
ANALYZERS: tuple[Analyzer, ...] = ("standard", "english")
#: English function words left out by the ``english`` analyzer (articles, pronouns, auxiliaries, prepositions,
#: conjunctions and question words: they say how a question is asked, not what it is about)
_STOP_WORDS = """
a an the and or but nor if then else so than that this these those there here
i me my we our you your he him his she her it its they them their what which who whom whose when where why how
is am are was were be been being do does did doing have has had having can could will would shall should may
might must of in on at by for with about into onto from to as up down out off over under again further once
all any both each few more most other some such no not only own same too very s t just don
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())

_STEMMER = snowballstemmer.stemmer("english")


def tokenize(text: str) -> list[str]:
    """The ``standard`` analyzer: lower-cased word tokens."""
    return TOKEN.findall(text.lower())


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


def english_terms(text: str) -> list[str]:
    """The ``english`` analyzer: word tokens without stop words, stemmed."""
    return [stem(t) for t in tokenize(text) if t not in STOP_WORDS]


def analyzer(name: Analyzer) -> Callable[[str], list[str]]:
    if name == "standard":
        return tokenize
    if name == "english":
        return english_terms
    raise ValueError(f"unknown BM25 analyzer {name!r} (one of {ANALYZERS})")


def analyzed_text(text: str, name: Analyzer) -> str:
    """What Milvus' BM25 function is given: the text itself for ``standard``, else its terms joined by spaces
    (the standard analyzer splits that back into exactly these terms)."""
    return text if name == "standard" else " ".join(analyzer(name)(text))


class BM25Index:
    def __init__(self, k1: float = K1, b: float = B, analyzer_name: Analyzer = "standard") -> None:
        self.k1, self.b = k1, b
        self.terms = analyzer(analyzer_name)
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.lengths: dict[int, int] = {}
        self.avg_len = 0.0

    def build(self, docs: Iterable[tuple[int, str]]) -> BM25Index:
        for doc_id, text in docs:
            tokens = self.terms(text)
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
        for term in set(self.terms(query)):
            posting = self.postings.get(term)
            if not posting:
                continue
            idf = math.log(1 + (n_docs - len(posting) + 0.5) / (len(posting) + 0.5))
            for doc_id, tf in posting:
                norm = self.k1 * (1 - self.b + self.b * self.lengths[doc_id] / (self.avg_len or 1))
                scores[doc_id] += idf * tf * (self.k1 + 1) / (tf + norm)
        return scores
