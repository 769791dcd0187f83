"""Answering a question: the ranking of :mod:`.candidates`, turned into results with their source and highlight.

A result (FAQ entry or passage) has the same shape::

    {"id", "kind": "faq"|"passage", "question", "answer", "score", "source": {...}, "highlight": [[start, end]]}

``question`` is the FAQ question or the passage's heading path, ``answer`` the answer or the passage text;
``highlight`` the character spans, in ``answer``, of the sentences that best answer the query (from the stored
sentence vectors of a passage; a FAQ answer's sentences are embedded when it is returned). ``score`` is the
calibrated probability that the result answers the query, on one scale for both kinds, so ``/answer`` refuses
below one threshold (``QA_ANSWER_THRESHOLD``). A highlight says "these sentences answer": a result scoring
under that threshold, which ``/answer`` would not give as an answer, has none (``[]``).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

import numpy as np
from sqlalchemy import select

from common.errors import InvalidInput
from common.pipeline import search_each
from common.safety import query_text

from .candidates import PASSAGE, Candidate, CandidateFinder
from .documents import PATH_SEPARATOR
from .passages import sentence_rows
from .retrieval import answer_units, highlight
from .store import DOCUMENT, FAQ, Stores

ID_CHUNK = 500
#: sentences of one FAQ answer embedded for its highlight (the rest of a long answer is not highlighted)
MAX_ANSWER_UNITS = 8
#: FAQ answers whose sentence vectors are kept in memory
ANSWER_CACHE = 4096
#: /answer ranks this many times its alternatives to find them (results that are no suggestion are skipped)
SUGGESTION_DEPTH = 3


@dataclass(eq=False)
class Searcher(Stores):
    sentence_collection: str
    finder: CandidateFinder

    def __post_init__(self) -> None:
        self._units: OrderedDict[tuple[int, str], tuple[list[tuple[int, int]], np.ndarray]] = OrderedDict()
        self._units_lock = threading.Lock()

    def check_query(self, query: str) -> str:
        text = query_text(query)
        if not text:
            raise InvalidInput("the query is empty")
        if len(text) > self.settings.max_query_chars:
            raise InvalidInput(f"the query is longer than {self.settings.max_query_chars} characters")
        return text

    def encode(self, texts: list[str]) -> np.ndarray:
        """Query vectors, one encoder run per text: the INT8 encoder quantizes activations per batch, so a
        vector depends slightly on the texts batched with it, and a query's results must not depend on what else
        is asked with it (``/search/batch`` gives each query what ``/search`` gives it)."""
        return self.encoder.encode(texts, batch_size=1, max_batch_tokens=self.settings.encoder_max_batch_tokens)

    # -- searching ------------------------------------------------------------------------------------------
    def search(self, query: str, top_k: int, offset: int = 0) -> list[dict[str, Any]]:
        """The page ``offset .. offset + top_k - 1`` of the ranking of FAQ entries and passages for ``query``."""
        text = self.check_query(query)
        return self._page(text, self.encode([text])[0], top_k, offset)

    def search_batch(self, queries: Sequence[str], top_k: int, offset: int = 0) -> list[dict[str, Any]]:
        """``[{"query", "results", "error"}]``: each valid query gets what :meth:`search` gives it; an invalid one
        (empty, too long) gets its own error."""
        texts = [q.strip() for q in queries]
        unique = list(dict.fromkeys(t for t in texts if t and len(t) <= self.settings.max_query_chars))
        vecs = dict(zip(unique, self.encode(unique), strict=True)) if unique else {}

        def one(k: int) -> list[dict[str, Any]]:
            text = self.check_query(queries[k])
            return self._page(text, vecs[text], top_k, offset)

        return search_each(list(range(len(queries))), one, lambda k: queries[k])

    def answer(self, query: str) -> dict[str, Any]:
        """The best result if its score reaches the threshold (else ``answer: null``) and the next ones that are
        questions to ask (:func:`suggestion`)."""
        s = self.settings
        text = self.check_query(query)
        qvec = self.encode([text])[0]
        # deeper than the alternatives shown: a passage without a heading of its own is no suggestion
        results = self._page(text, qvec, 1 + SUGGESTION_DEPTH * s.alternatives, 0, highlighted=0)
        if not results:
            return {"answer": None, "question": None, "id": None, "kind": None, "source": None, "highlight": [],
                    "score": 0.0, "confident": False, "alternatives": []}
        best = results[0]
        confident = best["score"] >= s.answer_threshold
        if confident:  # the highlight of the answer given; none for a refusal
            self.highlight(text, qvec, [best])
        others = [r for r in (results[1:] if confident else results) if suggestion(r)]
        return {
            "answer": best["answer"] if confident else None,
            "question": best["question"], "id": best["id"], "kind": best["kind"], "source": best["source"],
            "highlight": best["highlight"] if confident else [], "score": best["score"], "confident": confident,
            "alternatives": [{"id": r["id"], "kind": r["kind"], "question": r["question"], "score": r["score"]}
                             for r in others[: s.alternatives]],
        }

    def _page(self, text: str, qvec: np.ndarray, top_k: int, offset: int, highlighted: int | None = None
              ) -> list[dict[str, Any]]:
        ranked = self.finder.ranking(text, qvec, offset + top_k)[offset:]
        return self.results(text, qvec, ranked, highlighted)

    # -- listed items ---------------------------------------------------------------------------------------
    def listed(self, kind: str, ids: list[int]) -> set[int]:
        """Of these FAQ entry or passage ids, those whose entry / document is listed (fully stored)."""
        out: set[int] = set()
        i, p = self.items.c, self.passages.c
        for start in range(0, len(ids), ID_CHUNK):
            chunk = ids[start:start + ID_CHUNK]
            if kind == FAQ:
                query = select(i.id).where(i.id.in_(chunk), i.kind == FAQ)
            else:
                query = select(p.id).join(self.items, i.id == p.document_id).where(p.id.in_(chunk))
            with self.sql.begin() as conn:
                out.update(int(r[0]) for r in conn.execute(query))
        return out

    def sentences(self, passage_ids: list[int], fields: Sequence[str]) -> list[dict[str, Any]]:
        """The stored sentences (``passage_id`` and ``fields``) of these passages."""
        p = self.passages.c
        located: dict[int, tuple[int, int]] = {}
        for start in range(0, len(passage_ids), ID_CHUNK):
            query = select(p.id, p.document_id, p.position).where(p.id.in_(passage_ids[start:start + ID_CHUNK]))
            with self.sql.begin() as conn:
                located.update((int(r.id), (int(r.document_id), int(r.position))) for r in conn.execute(query))
        return sentence_rows(self.vectors, self.sentence_collection, located, fields)

    # -- results --------------------------------------------------------------------------------------------
    def results(self, query: str, qvec: np.ndarray, ranked: list[Candidate], highlighted: int | None = None
                ) -> list[dict[str, Any]]:
        """Results in ranked order (a candidate no longer listed is left out); the first ``highlighted`` (all by
        default) with their highlight if they score at least the answer threshold (no sentence of a result that
        is no answer "answers" the query)."""
        faq = self._faq_rows([c.id for c in ranked if c.kind == FAQ])
        passages = self._passage_rows([c.id for c in ranked if c.kind == PASSAGE])
        out: list[dict[str, Any]] = []
        for c in ranked:
            if c.kind == FAQ and c.id in faq:
                out.append(faq_result(c, faq[c.id]))
            elif c.kind == PASSAGE and c.id in passages:
                out.append(passage_result(c, passages[c.id]))
        answers = [r for r in (out[:highlighted] if highlighted is not None else out)
                   if r["score"] >= self.settings.answer_threshold]
        self.highlight(query, qvec, answers)
        return out

    def highlight(self, query: str, qvec: np.ndarray, results: list[dict[str, Any]]) -> None:
        """Set the ``highlight`` of these results."""
        self._highlight_answers(query, qvec, [r for r in results if r["kind"] == FAQ])
        self._highlight_passages(query, qvec, [r for r in results if r["kind"] == PASSAGE])

    def _faq_rows(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        if not ids:
            return {}
        i = self.items.c
        with self.sql.begin() as conn:
            rows = conn.execute(select(i.id, i.name, i.question, i.answer).where(i.id.in_(ids), i.kind == FAQ))
            return {int(r.id): dict(r._mapping) for r in rows}

    def _passage_rows(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        if not ids:
            return {}
        i, p = self.items.c, self.passages.c
        query = (select(p.id, p.document_id, p.position, p.heading, p.anchor, p.text, i.name, i.title)
                 .join(self.items, i.id == p.document_id).where(p.id.in_(ids), i.kind == DOCUMENT))
        with self.sql.begin() as conn:
            return {int(r.id): dict(r._mapping) for r in conn.execute(query)}

    def _highlight_passages(self, query: str, qvec: np.ndarray, results: list[dict[str, Any]]) -> None:
        if not results:
            return
        located = {int(r["id"]): (int(r["source"]["document_id"]), int(r["source"]["position"])) for r in results}
        rows = sentence_rows(self.vectors, self.sentence_collection, located, ["span_start", "span_end", "vector"])
        by_passage: dict[int, list[dict[str, Any]]] = {}
        for row in rows:
            by_passage.setdefault(int(row["passage_id"]), []).append(row)
        for r in results:
            sentences = sorted(by_passage.get(r["id"], []), key=lambda x: int(x["span_start"]))
            spans = [(int(x["span_start"]), int(x["span_end"])) for x in sentences]
            vecs = np.asarray([x["vector"] for x in sentences], np.float32).reshape(len(sentences), -1)
            r["highlight"] = highlight(query, qvec, r["answer"], spans, vecs,
                                       lexical_weight=self.settings.highlight_lexical_weight)

    def _highlight_answers(self, query: str, qvec: np.ndarray, results: list[dict[str, Any]]) -> None:
        """A FAQ answer's sentences are embedded when it is first returned, and kept (LRU) for the next queries."""
        for r, (spans, vecs) in zip(results, self._answer_units([(r["id"], r["answer"]) for r in results]),
                                    strict=True):
            r["highlight"] = highlight(query, qvec, r["answer"], spans, vecs,
                                       lexical_weight=self.settings.highlight_lexical_weight)

    def _answer_units(self, answers: list[tuple[int, str]]) -> list[tuple[list[tuple[int, int]], np.ndarray]]:
        with self._units_lock:
            known = {key: self._units[key] for key in answers if key in self._units}
        todo = [key for key in dict.fromkeys(answers) if key not in known]
        spans = {key: answer_units(key[1])[:MAX_ANSWER_UNITS] for key in todo}
        for key in todo:  # one encoder run per answer: its sentences' vectors depend on that answer alone
            units = spans[key]
            if len(units) > 1:
                vecs = self.encoder.encode([key[1][a:b] for a, b in units], batch_size=64,
                                           max_batch_tokens=self.settings.encoder_max_batch_tokens)
            else:  # a one-sentence answer is highlighted whole: nothing to embed
                vecs = np.ones((len(units), self.encoder.dim), np.float32)
            known[key] = (units, vecs)
        with self._units_lock:
            for key in answers:
                self._units[key] = known[key]
                self._units.move_to_end(key)
            while len(self._units) > ANSWER_CACHE:
                self._units.popitem(last=False)
        return [known[key] for key in answers]


def faq_result(c: Candidate, row: dict[str, Any]) -> dict[str, Any]:
    name = str(row["name"])
    document, _, line = name.rpartition(":")
    return {"id": c.id, "kind": FAQ, "question": row["question"], "answer": row["answer"],
            "score": round(c.score, 6), "highlight": [],
            "source": {"document": document or name, "section": None,
                       "position": int(line) if line.isdigit() else None, "anchor": None}}


def passage_result(c: Candidate, row: dict[str, Any]) -> dict[str, Any]:
    anchor = row["anchor"]
    doc = int(row["document_id"])
    return {"id": c.id, "kind": PASSAGE, "question": row["heading"], "answer": row["text"],
            "score": round(c.score, 6), "highlight": [],
            "source": {"document": row["name"], "title": row["title"], "section": row["heading"],
                       "position": int(row["position"]), "anchor": anchor, "document_id": doc,
                       "url": f"items/{doc}/file" + (f"#{quote(anchor, safe='=')}" if anchor else "")}}


def suggestion(result: dict[str, Any]) -> bool:
    """Whether a result can be offered as a question to ask (an ``/answer`` alternative, whose last heading the
    page asks): a FAQ question, or a passage under a heading; not a passage whose only heading is its file's name
    (a document without a title or headings: plain text, a PDF without an outline...)."""
    if result["kind"] == FAQ:
        return True
    asked = str(result["question"]).split(PATH_SEPARATOR)[-1].strip()
    name = PurePosixPath(str(result["source"]["document"]).replace("\\", "/"))
    return bool(asked) and asked not in (str(name), name.name, name.stem)


def metadata_of(value: object) -> dict[str, Any]:
    try:
        out = json.loads(str(value or "{}"))
    except json.JSONDecodeError:
        return {}
    return out if isinstance(out, dict) else {}
