"""In-process evaluation of the QA retrieval method (solutions/qa_chatbot/retrieval.py) and its baselines, used
to choose settings on the tuning sets (bench/qa_chatbot_tune.py); the reported figures come from the service
itself (bench/qa_chatbot.py).

The corpora are embedded once; every query is answered the way the service's first round of candidates answers
it (solutions/qa_chatbot/candidates.py): the top ``CANDIDATES`` of each retriever (dense cosine, BM25 with the
in-process BM25Index, the same formula as Milvus' BM25, and for passages the best sentences), their union scored
with every feature computed exactly by :class:`Ranker`. Baselines run on the same vectors in the same run.
"""

from __future__ import annotations

import itertools
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from solutions.qa_chatbot.bm25 import Analyzer, BM25Index
from solutions.qa_chatbot.documents import DocumentBudget, parse_document
from solutions.qa_chatbot.retrieval import KindModel, Ranker, answer_units, fit_calibration, highlight, rrf

CANDIDATES = 30


def norm(text: str) -> str:
    return " ".join(text.split())


class CachedEncoder:
    """Memoises embeddings by text, so variants that share texts (the same sentences cut into passages of
    another size) are encoded once in a tuning run; with ``path``, kept on disk for the next run (the key
    includes the model file, so another model or precision does not reuse them)."""

    def __init__(self, encoder, path: Path | None = None) -> None:
        self.encoder = encoder
        self.cache: dict[str, np.ndarray] = {}
        self.path = path
        self.key = str(getattr(encoder, "onnx_path", ""))
        if path is not None and path.exists():
            data = np.load(path, allow_pickle=False)
            if str(data["key"]) == self.key:
                self.cache = dict(zip(data["texts"].tolist(), data["vecs"], strict=True))
        self._saved = len(self.cache)

    def save(self) -> None:
        if self.path is None or len(self.cache) == self._saved:
            return
        texts = list(self.cache)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, key=np.asarray(self.key), texts=np.asarray(texts), vecs=np.stack([self.cache[t] for t in texts]))
        tmp.replace(self.path)
        self._saved = len(texts)

    def encode(self, texts: list[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if todo:
            for t, v in zip(todo, self.encoder.encode(todo), strict=True):
                self.cache[t] = v
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)


# -- documents -------------------------------------------------------------------------------------------
@dataclass
class DocCorpus:
    texts: list[str]  # passage text (what `answer` shows)
    headings: list[str]
    vecs: np.ndarray  # embedding of (heading +) text
    bm25: BM25Index
    sent_spans: list[list[tuple[int, int]]] = field(default_factory=list)
    sent_vecs: list[np.ndarray] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    features: dict[str, list[tuple[int, dict]]] = field(default_factory=dict)  # by query (weights change, not these)


def build_docs(paths, encoder, max_chars: int, heading_context: bool = True, sentences: bool = True,
               naive: bool = False, bm25_heading: bool | None = None, analyzer: Analyzer = "standard") -> DocCorpus:
    t0 = time.perf_counter()
    texts, headings = [], []
    budget = DocumentBudget(max_chars=max_chars)
    for path in paths:
        parsed = parse_document(path, budget=budget)
        if naive:  # the document's text, cut every max_chars characters whatever it contains
            full = "\n\n".join(p.text for p in parsed.passages)
            for start in range(0, len(full), max_chars):
                texts.append(full[start:start + max_chars])
                headings.append(parsed.title)
        else:
            for p in parsed.passages:
                texts.append(p.text)
                headings.append(p.heading)
    t1 = time.perf_counter()
    emb_texts = [f"{h}\n{t}" if heading_context and not naive else t for h, t in zip(headings, texts, strict=True)]
    vecs = encoder.encode(emb_texts)
    t2 = time.perf_counter()
    bm25_heading = heading_context if bm25_heading is None else bm25_heading
    bm25_texts = [f"{h}\n{t}" if bm25_heading and not naive else t for h, t in zip(headings, texts, strict=True)]
    bm = BM25Index(analyzer_name=analyzer).build(list(enumerate(bm25_texts)))
    corpus = DocCorpus(texts, headings, vecs, bm)
    if sentences and not naive:
        spans = [answer_units(t) for t in texts]
        flat = [t[s:e] for t, sp in zip(texts, spans, strict=True) for s, e in sp]
        flat_vecs = encoder.encode(flat)
        k = 0
        for sp in spans:
            corpus.sent_spans.append(sp)
            corpus.sent_vecs.append(flat_vecs[k:k + len(sp)])
            k += len(sp)
    t3 = time.perf_counter()
    corpus.seconds = {"parse": t1 - t0, "encode_passages": t2 - t1, "encode_sentences": t3 - t2,
                      "passages": len(texts)}
    return corpus


def doc_features(corpus: DocCorpus, query: str, qvec: np.ndarray, ranker: Ranker) -> list[tuple[int, dict]]:
    key = f"{ranker.bm25_saturation}:{ranker.passage.bm25_reference}:{query}"
    if key not in corpus.features:
        corpus.features[key] = _doc_features(corpus, query, qvec, ranker)
    return corpus.features[key]


def _doc_features(corpus: DocCorpus, query: str, qvec: np.ndarray, ranker: Ranker) -> list[tuple[int, dict]]:
    dense = corpus.vecs @ qvec
    cand = set(map(int, np.argsort(-dense)[:CANDIDATES])) | {i for i, _ in corpus.bm25.search(query, CANDIDATES)}
    best = None
    if corpus.sent_vecs:
        best = np.asarray([float((sv @ qvec).max()) if len(sv) else 0.0 for sv in corpus.sent_vecs])
        cand |= set(map(int, np.argsort(-best)[:CANDIDATES]))  # the passages of the best sentences
    bm = corpus.bm25.score(query, cand)  # exact for every candidate, as the service computes it
    scale = ranker.bm25_scale("passage", len(corpus.texts))
    out = []
    for i in sorted(cand):
        feats = {"passage": float(dense[i])}
        if best is not None:
            feats["sentence"] = float(best[i])
        out.append((i, ranker.features(feats, scale * bm[i])))
    return out


def contains(passage: str, sentence: str) -> bool:
    return norm(sentence) in norm(passage)


@dataclass
class DocQueries:
    items: list[dict]
    vecs: np.ndarray


def eval_docs(corpus: DocCorpus, queries: DocQueries, ranker: Ranker | None, *, lexical_weight: float = 0.2,
              dense_only: bool = False, use_rrf: bool = False) -> dict:
    top1 = top3 = hl = hl_n = 0
    raw_best: list[tuple[float, bool]] = []
    for item, qvec in zip(queries.items, queries.vecs, strict=True):
        if dense_only or ranker is None:
            dense = corpus.vecs @ qvec
            order = [int(i) for i in np.argsort(-dense)[:10]]
            best_raw = float(dense[order[0]])
        elif use_rrf:
            dense = corpus.vecs @ qvec
            d_rank = [int(i) for i in np.argsort(-dense)[:CANDIDATES]]
            b_rank = [i for i, _ in corpus.bm25.search(item["query"], CANDIDATES)]
            fused = rrf([d_rank, b_rank])
            order = sorted(fused, key=lambda i: (-fused[i], i))[:10]
            best_raw = fused[order[0]]
        else:
            feats = doc_features(corpus, item["query"], qvec, ranker)
            model = ranker.passage
            scored = sorted(((model.raw(f), i) for i, f in feats), key=lambda r: (-r[0], r[1]))
            order = [i for _, i in scored[:10]]
            best_raw = scored[0][0]
        hits = [contains(corpus.texts[i], item["answer_sentence"]) for i in order[:3]]
        top1 += hits[0]
        top3 += any(hits)
        raw_best.append((best_raw, hits[0]))
        if hits[0] and corpus.sent_vecs:
            i = order[0]
            text = corpus.texts[i]
            spans = highlight(item["query"], qvec, text, corpus.sent_spans[i], corpus.sent_vecs[i],
                              lexical_weight=lexical_weight, max_spans=1)
            s, e = spans[0]
            at = norm(text).find(norm(item["answer_sentence"]))
            # compare on the original text: find the sentence's span there
            sent_start = _find(text, item["answer_sentence"])
            if sent_start is not None:
                sent_end = sent_start[1]
                hl += s < sent_end and e > sent_start[0]
            else:
                hl += at >= 0 and norm(item["answer_sentence"])[:40] in norm(text[s:e])
            hl_n += 1
    n = len(queries.items)
    return {"n": n, "top1": round(top1 / n, 4), "top3": round(top3 / n, 4),
            "highlight": round(hl / hl_n, 4) if hl_n else None, "_raw": raw_best}


def _find(text: str, sentence: str) -> tuple[int, int] | None:
    pattern = r"\s+".join(re.escape(w) for w in sentence.split())
    m = re.search(pattern, text)
    return (m.start(), m.end()) if m else None


def offtopic_raw_docs(corpus: DocCorpus, queries: list[str], vecs: np.ndarray, ranker: Ranker) -> list[float]:
    out = []
    for q, v in zip(queries, vecs, strict=True):
        feats = doc_features(corpus, q, v, ranker)
        out.append(max(ranker.passage.raw(f) for _, f in feats))
    return out


# -- FAQ ------------------------------------------------------------------------------------------------
@dataclass
class FaqCorpus:
    sections: list[str]
    q_vecs: np.ndarray
    qa_vecs: np.ndarray
    bm25: BM25Index
    sent_vecs: list[np.ndarray] = field(default_factory=list)  # the answer's sentences
    features: dict[str, list[tuple[int, dict]]] = field(default_factory=dict)


def qa_text(question: str, answer: str, answer_words: int | None = None) -> str:
    """The text of the ``qa`` vector: the question and its answer (its first ``answer_words`` words)."""
    if answer_words:
        answer = " ".join(answer.split()[:answer_words])
    return f"{question}\n{answer}"


def build_faq(pairs: list[dict], encoder, answer_words: int | None = None, analyzer: Analyzer = "standard"
              ) -> FaqCorpus:
    q_vecs = encoder.encode([p["question"] for p in pairs])
    qa_vecs = encoder.encode([qa_text(p["question"], p["answer"], answer_words) for p in pairs])
    bm = BM25Index(analyzer_name=analyzer).build([(i, f"{p['question']}\n{p['answer']}") for i, p in enumerate(pairs)])
    spans = [answer_units(p["answer"]) for p in pairs]
    flat = [p["answer"][s:e] for p, sp in zip(pairs, spans, strict=True) for s, e in sp]
    flat_vecs = encoder.encode(flat) if flat else np.zeros((0, 384), np.float32)
    sent_vecs, k = [], 0
    for sp in spans:
        sent_vecs.append(flat_vecs[k:k + len(sp)])
        k += len(sp)
    return FaqCorpus([p["section"] for p in pairs], q_vecs, qa_vecs, bm, sent_vecs)


def faq_features(corpus: FaqCorpus, query: str, qvec: np.ndarray, ranker: Ranker) -> list[tuple[int, dict]]:
    key = f"{ranker.bm25_saturation}:{ranker.faq.bm25_reference}:{query}"
    if key not in corpus.features:
        scale = ranker.bm25_scale("faq", len(corpus.sections))
        cq = corpus.q_vecs @ qvec
        cqa = corpus.qa_vecs @ qvec
        best = [float((sv @ qvec).max()) if len(sv) else 0.0 for sv in corpus.sent_vecs]
        cand = set(map(int, np.argsort(-cq)[:CANDIDATES])) | set(map(int, np.argsort(-cqa)[:CANDIDATES]))
        cand |= set(map(int, np.argsort(-np.asarray(best))[:CANDIDATES]))
        cand |= {i for i, _ in corpus.bm25.search(query, CANDIDATES)}
        bm = corpus.bm25.score(query, cand)  # exact for every candidate, as the service computes it
        corpus.features[key] = [
            (i, ranker.features({"question": float(cq[i]), "qa": float(cqa[i]), "sentence": best[i]}, scale * bm[i]))
            for i in sorted(cand)]
    return corpus.features[key]


def eval_faq(corpus: FaqCorpus, paraphrases: list[dict], vecs: np.ndarray, ranker: Ranker | None) -> dict:
    top1 = top3 = 0
    rr = 0.0
    raw_best = []
    for p, v in zip(paraphrases, vecs, strict=True):
        if ranker is None:
            s = corpus.q_vecs @ v
            order = [int(i) for i in np.argsort(-s)[:10]]
            best = float(s[order[0]])
        else:
            feats = faq_features(corpus, p["query"], v, ranker)
            scored = sorted(((ranker.faq.raw(f), i) for i, f in feats), key=lambda r: (-r[0], r[1]))
            order = [i for _, i in scored[:10]]
            best = scored[0][0]
        target = p["section"]
        hits = [corpus.sections[i] == target for i in order]
        top1 += hits[0]
        top3 += any(hits[:3])
        rr += 1 / (hits.index(True) + 1) if any(hits) else 0.0
        raw_best.append((best, hits[0]))
    n = len(paraphrases)
    return {"n": n, "top1": round(top1 / n, 4), "top3": round(top3 / n, 4), "mrr@10": round(rr / n, 4),
            "_raw": raw_best}


def offtopic_raw_faq(corpus: FaqCorpus, queries: list[str], vecs: np.ndarray, ranker: Ranker | None) -> list[float]:
    out = []
    for q, v in zip(queries, vecs, strict=True):
        if ranker is None:
            out.append(float((corpus.q_vecs @ v).max()))
        else:
            out.append(max(ranker.faq.raw(f) for _, f in faq_features(corpus, q, v, ranker)))
    return out


# -- grids and calibration ---------------------------------------------------------------------------------
def weight_grid(names: list[str], steps: list[float]):
    """Weight dicts over ``names`` whose values come from ``steps`` (the first name takes the rest of 1)."""
    for combo in itertools.product(steps, repeat=len(names) - 1):
        rest = 1 - sum(combo)
        if rest < -1e-9:
            continue
        yield {names[0]: round(rest, 3), **{n: w for n, w in zip(names[1:], combo, strict=True)}}


def calibrate(raw_pos: list[tuple[float, bool]], raw_neg: list[float]) -> tuple[float, float]:
    """Platt fit of one kind's raw fused scores: positives are right top-1s; negatives are wrong top-1s and
    off-topic queries' best candidates (classes weighted equally)."""
    pos = [r for r, ok in raw_pos if ok]
    neg = [r for r, ok in raw_pos if not ok] + list(raw_neg)
    return fit_calibration(pos, neg)


def choose_threshold(on_topic: list[tuple[float, bool]], off_topic: list[float]) -> float:
    """The probability threshold with the best balanced accuracy: the mean of the share of right decisions on
    on-topic queries (answer a right top-1, refuse a wrong one) and the share of off-topic queries refused;
    midway between neighbouring scores, ties to the higher threshold."""
    cands = sorted({p for p, _ in on_topic} | set(off_topic))
    best, best_t = -1.0, 0.5
    for i, t in enumerate(cands):
        thr = (t + cands[i - 1]) / 2 if i else t
        right = sum((ok and p >= thr) or (not ok and p < thr) for p, ok in on_topic) / len(on_topic)
        refused = sum(p < thr for p in off_topic) / len(off_topic)
        if (right + refused) / 2 >= best:
            best, best_t = (right + refused) / 2, thr
    return round(float(best_t), 4)


def refusal(model: KindModel, raw_pos: list[tuple[float, bool]], raw_neg: list[float], thr: float) -> dict:
    pos = [(model.probability(r), ok) for r, ok in raw_pos]
    neg = [model.probability(r) for r in raw_neg]
    return {
        "threshold": thr,
        "offtopic_refused": round(sum(p < thr for p in neg) / len(neg), 4),
        "ontopic_answered_correct": round(sum(ok and p >= thr for p, ok in pos) / len(pos), 4),
        "ontopic_answered_wrong": round(sum((not ok) and p >= thr for p, ok in pos) / len(pos), 4),
    }


def sample(items: list, n: int, seed: int = 0) -> list:
    return items if len(items) <= n else random.Random(seed).sample(items, n)
