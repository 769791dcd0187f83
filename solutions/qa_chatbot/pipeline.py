"""Load FAQ pairs (CSV/JSONL), embed them with all-MiniLM-L6-v2 and answer questions.

Each pair is stored once, keyed by ``content_id`` of its normalised question:
- SQL ``<prefix>_pairs``: question, answer, extra fields as JSON metadata, source label;
- Milvus ``<collection>_q`` (vector of the question) and, with ``index_answers``, ``<collection>_qa``
  (vector of question + answer);
- BM25 over question + answer: a Milvus BM25 function (``<collection>_text``) where the backend has full-text
  search, else the in-process :class:`BM25Index` rebuilt from SQL after writes.

A query is scored by fusing the three: ``wq·cos(question) + wqa·cos(question+answer) + wb·s/(s+K)`` with s the
BM25 score; every term is in [0, 1] and the weights sum to 1 (normalised), so the score is in [0, 1].
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import threading
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
from pymilvus import DataType
from sqlalchemy import BigInteger, Column, String, Table, Text, delete, func, select

from common.errors import InvalidInput, NotFound
from common.safety import sniff_file
from common.service import Resources, WorkItem, content_id, iter_files, label_for
from common.vectors import int_list

from .bm25 import BM25Index
from .config import QASettings
from .encoder import TextEncoder, default_model_dir

log = logging.getLogger(__name__)
DIM = 384
BM25_TEXT_CHARS = 16000
SUFFIXES = {".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".txt"}


def normalise_question(text: str) -> str:
    """Identity of a question: NFKC, case-folded, whitespace collapsed, trailing punctuation dropped."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"\s+", " ", text).strip().rstrip("?!.。 ").strip()


# -- file parsing ------------------------------------------------------------------------------
def parse_file(path: Path, label: str) -> list[WorkItem]:
    """One WorkItem per record; unreadable records carry an error naming their line."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [WorkItem(label, path, error=f"not UTF-8 text: {exc}")]
    stripped = text.lstrip()
    if path.suffix.lower() in {".jsonl", ".ndjson", ".json"} or stripped.startswith(("{", "[")):
        return _parse_jsonl(text, path, label)
    return _parse_csv(text, path, label)


def _parse_jsonl(text: str, path: Path, label: str) -> list[WorkItem]:
    if text.lstrip().startswith("["):  # a JSON array of objects is accepted too
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            return [WorkItem(label, path, error=f"invalid JSON: {exc}")]
        return [_record(r, path, f"{label}:{i + 1}") for i, r in enumerate(records)]
    items = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{label}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            items.append(WorkItem(where, path, error=f"invalid JSON: {exc.msg}"))
            continue
        items.append(_record(record, path, where))
    return items


def _parse_csv(text: str, path: Path, label: str) -> list[WorkItem]:
    sample = text[:4096]
    delimiter = "\t" if path.suffix.lower() == ".tsv" or ("\t" in sample.split("\n", 1)[0]
                                                         and "," not in sample.split("\n", 1)[0]) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return [WorkItem(label, path, error="empty file")]
    except csv.Error as exc:
        return [WorkItem(label, path, error=f"unreadable CSV header: {exc}")]
    columns = [h.strip().lower() for h in header]
    missing = [c for c in ("question", "answer") if c not in columns]
    if missing:
        return [WorkItem(f"{label}:1", path, error=f"missing column(s) {', '.join(missing)}; header is {header!r}")]
    items = []
    line = reader.line_num
    while True:
        start = line + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            items.append(WorkItem(f"{label}:{start}", path, error=f"unreadable CSV: {exc}"))
            break
        line = reader.line_num
        if not row or not any(cell.strip() for cell in row):
            if row:  # a row of empty cells; blank lines are skipped silently
                items.append(WorkItem(f"{label}:{start}", path, error="empty row"))
            continue
        if len(row) > len(columns):
            items.append(WorkItem(f"{label}:{start}", path,
                                  error=f"{len(row)} fields but the header has {len(columns)}"))
            continue
        record = {columns[i]: cell for i, cell in enumerate(row)}
        items.append(_record(record, path, f"{label}:{start}"))
    return items


def _record(record: Any, path: Path, where: str) -> WorkItem:
    if not isinstance(record, dict):
        return WorkItem(where, path, error="not an object with question and answer")
    record = {str(k).strip().lower(): v for k, v in record.items()}
    question, answer = record.pop("question", None), record.pop("answer", None)
    for field, value in (("question", question), ("answer", answer)):
        if value is None or (isinstance(value, str) and not value.strip()):
            return WorkItem(where, path, error=f"missing {field}")
        if not isinstance(value, str | int | float):
            return WorkItem(where, path, error=f"{field} is not text")
    return WorkItem(where, path, data={"question": str(question).strip(), "answer": str(answer).strip(),
                                       "metadata": record})


# -- the pipeline --------------------------------------------------------------------------------
class QAPipeline:
    accepted_kinds = frozenset({"text"})

    def __init__(self, res: Resources, settings: QASettings, encoder: TextEncoder | None = None) -> None:
        self.settings = settings
        self.vectors = res.vectors
        self.sql = res.sql
        self.batch_size = settings.batch_size
        cache = settings.model_cache_dir or (res.data_dir / "models")
        self.encoder = encoder or TextEncoder.load(settings.model or default_model_dir(), cache)
        self.col_q = f"{settings.collection}_q"
        self.col_qa = f"{settings.collection}_qa"
        self.col_text = f"{settings.collection}_text"
        engine = settings.bm25_engine
        if engine == "auto":
            engine = "milvus" if res.vectors.capabilities.bm25 else "local"
        if engine == "milvus" and not res.vectors.capabilities.bm25:
            raise RuntimeError("QA_BM25_ENGINE=milvus but this Milvus backend has no BM25 function")
        self.bm25_engine = engine
        self.table = Table(
            f"{settings.table_prefix}_pairs", res.sql.metadata,
            Column("id", BigInteger, primary_key=True, autoincrement=False),
            Column("question", Text, nullable=False),
            Column("answer", Text, nullable=False),
            Column("metadata", Text, nullable=False),
            Column("source", String(1024), nullable=False),
            extend_existing=True,
        )
        self._bm25: BM25Index | None = None
        self._bm25_lock = threading.Lock()
        self._ensure_collections()

    # -- storage ---------------------------------------------------------------------------
    def _ensure_collections(self) -> None:
        for name in ([self.col_q, self.col_qa] if self.settings.index_answers else [self.col_q]):
            schema = self.vectors.new_schema()
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
            index = self.vectors.new_index_params()
            index.add_index("vector", index_type="HNSW", metric_type="COSINE", params={"M": 16, "efConstruction": 128})
            self.vectors.ensure_collection(name, schema, index)
        if self.bm25_engine == "milvus":
            from pymilvus import Function, FunctionType

            schema = self.vectors.new_schema()
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("text", DataType.VARCHAR, max_length=BM25_TEXT_CHARS * 4, enable_analyzer=True)
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(Function(name="qa_bm25", function_type=FunctionType.BM25,
                                         input_field_names=["text"], output_field_names=["sparse"]))
            index = self.vectors.new_index_params()
            index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
            self.vectors.ensure_collection(self.col_text, schema, index)

    def _collections(self) -> list[str]:
        names = [self.col_q] + ([self.col_qa] if self.settings.index_answers else [])
        return names + ([self.col_text] if self.bm25_engine == "milvus" else [])

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.encoder.encode(texts, batch_size=self.settings.batch_size)

    # -- loading ---------------------------------------------------------------------------
    def list_items(self, path: Path, root: Path):
        for file in iter_files(path):
            label = label_for(file, root)
            if file.suffix.lower() not in SUFFIXES:
                yield WorkItem(label, file, error="not a .csv/.tsv/.jsonl file")
            elif sniff_file(file) != "text":
                yield WorkItem(label, file, error="not a UTF-8 text file")
            else:
                yield from parse_file(file, label)

    def process_batch(self, items: list[WorkItem]) -> list[str | None]:
        errors: list[str | None] = []
        pairs: dict[int, dict[str, Any]] = {}
        s = self.settings
        for item in items:
            q, a = item.data["question"], item.data["answer"]
            if len(q) > s.max_question_chars:
                errors.append(f"question longer than {s.max_question_chars} characters")
                continue
            if len(a) > s.max_answer_chars:
                errors.append(f"answer longer than {s.max_answer_chars} characters")
                continue
            key = normalise_question(q)
            if not key:
                errors.append("question has no text")
                continue
            pairs[content_id(key)] = {"question": q, "answer": a, "source": item.label[:1024],
                                      "metadata": json.dumps(item.data["metadata"], ensure_ascii=False, default=str)}
            errors.append(None)
        if not pairs:
            return errors
        ids = list(pairs)
        vecs = self.encode([pairs[i]["question"] for i in ids])
        self.vectors.upsert(self.col_q, [{"id": i, "vector": vecs[k].tolist()} for k, i in enumerate(ids)])
        if self.settings.index_answers:
            qa_vecs = self.encode([f"{pairs[i]['question']}\n{pairs[i]['answer']}" for i in ids])
            self.vectors.upsert(self.col_qa, [{"id": i, "vector": qa_vecs[k].tolist()} for k, i in enumerate(ids)])
        if self.bm25_engine == "milvus":
            self.vectors.upsert(self.col_text, [{"id": i, "text": self._bm25_text(pairs[i])} for i in ids])
        with self.sql.begin() as conn:
            self.sql.upsert(conn, self.table, [{"id": i, **pairs[i]} for i in ids])
        self._bm25 = None
        return errors

    @staticmethod
    def _bm25_text(pair: dict[str, Any]) -> str:
        return f"{pair['question']}\n{pair['answer']}"[:BM25_TEXT_CHARS]

    def finish_load(self) -> None:
        for name in self._collections():
            self.vectors.flush(name)

    # -- retrieval -------------------------------------------------------------------------
    def check_query(self, query: str) -> str:
        text = query.strip()
        if not text:
            raise InvalidInput("the query is empty")
        if len(text) > self.settings.max_query_chars:
            raise InvalidInput(f"the query is longer than {self.settings.max_query_chars} characters")
        return text

    def _dense(self, collection: str, vec: np.ndarray, limit: int) -> dict[int, float]:
        hits = self.vectors.search(collection, [vec.tolist()], anns_field="vector", limit=limit,
                                   metric_type="COSINE", params={"ef": max(64, limit)})[0]
        return {int(h["id"]): float(h["distance"]) for h in hits}

    def _exact_cos(self, collection: str, vec: np.ndarray, ids: list[int]) -> dict[int, float]:
        if not ids:
            return {}
        rows = self.vectors.get(collection, ids, output_fields=["vector"])
        return {int(r["id"]): float(np.dot(np.asarray(r["vector"], dtype=np.float32), vec)) for r in rows}

    def _bm25_search(self, query: str, limit: int) -> dict[int, float]:
        if self.bm25_engine == "milvus":
            hits = self.vectors.search(self.col_text, [query], anns_field="sparse", limit=limit, metric_type="BM25")[0]
            # Milvus Lite reports BM25 relevance as a negative distance; the magnitude is the BM25 score
            return {int(h["id"]): abs(float(h["distance"])) for h in hits}
        return dict(self._local_bm25().search(query, limit))

    def _local_bm25(self) -> BM25Index:
        index = self._bm25
        if index is not None:
            return index
        with self._bm25_lock:
            if self._bm25 is None:
                with self.sql.begin() as conn:
                    rows = conn.execute(select(self.table.c.id, self.table.c.question, self.table.c.answer)).all()
                self._bm25 = BM25Index().build([(r.id, self._bm25_text(r._mapping)) for r in rows])
            return self._bm25

    def rank(self, query: str, limit: int, retrieval: str | None = None) -> list[tuple[int, float]]:
        """``[(id, score)]`` best first; ``retrieval='question'`` is the questions-only baseline."""
        s = self.settings
        retrieval = retrieval or s.retrieval
        vec = self.encode([query])[0]
        n_cand = max(s.candidates, limit)
        by_q = self._dense(self.col_q, vec, n_cand)
        if retrieval == "question":
            ranked = sorted(by_q.items(), key=lambda kv: (-kv[1], kv[0]))
            return [(i, _clip(v)) for i, v in ranked[:limit]]
        use_qa = s.weight_qa > 0 and s.index_answers
        by_qa = self._dense(self.col_qa, vec, n_cand) if use_qa else {}
        by_bm = self._bm25_search(query, n_cand) if s.weight_bm25 > 0 else {}
        ids = set(by_q) | set(by_qa) | set(by_bm)
        by_q.update(self._exact_cos(self.col_q, vec, [i for i in ids if i not in by_q]))
        if use_qa:
            by_qa.update(self._exact_cos(self.col_qa, vec, [i for i in ids if i not in by_qa]))
        total = (s.weight_question + s.weight_qa + s.weight_bm25) or 1.0
        scores = {}
        for i in ids:
            if i not in by_q or (use_qa and i not in by_qa):  # deleted between the searches
                continue
            bm = by_bm.get(i, 0.0)
            fused = (s.weight_question * _clip(by_q[i]) + s.weight_qa * _clip(by_qa.get(i, 0.0))
                     + s.weight_bm25 * bm / (bm + s.bm25_saturation))
            scores[i] = _clip(fused / total)
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]

    def search(self, query: str, top_k: int, retrieval: str | None = None) -> list[dict[str, Any]]:
        query = self.check_query(query)
        ranked = self.rank(query, top_k, retrieval)
        rows = self._rows([i for i, _ in ranked])
        return [{"id": i, "question": rows[i]["question"], "answer": rows[i]["answer"], "score": round(score, 6)}
                for i, score in ranked if i in rows]

    def answer(self, query: str) -> dict[str, Any]:
        s = self.settings
        results = self.search(query, 1 + s.alternatives)
        if not results:
            return {"answer": None, "question": None, "id": None, "score": 0.0, "confident": False,
                    "alternatives": []}
        best = results[0]
        confident = best["score"] >= s.confidence_threshold
        others = results[1:] if confident else results
        return {
            "answer": best["answer"] if confident else None,
            "question": best["question"],
            "id": best["id"],
            "score": best["score"],
            "confident": confident,
            "alternatives": [{"id": r["id"], "question": r["question"], "score": r["score"]}
                             for r in others[: s.alternatives]],
        }

    def cli_search(self, query: str, top_k: int) -> list[dict[str, Any]]:
        return self.search(query, top_k)

    def _rows(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        if not ids:
            return {}
        with self.sql.begin() as conn:
            rows = conn.execute(select(self.table).where(self.table.c.id.in_(ids))).mappings().all()
        return {int(r["id"]): dict(r) for r in rows}

    # -- items -----------------------------------------------------------------------------
    def count(self) -> int:
        with self.sql.begin() as conn:
            return int(conn.execute(select(func.count()).select_from(self.table)).scalar_one())

    def get_item(self, item_id: int) -> dict[str, Any]:
        row = self._rows([item_id]).get(item_id)
        if row is None:
            raise NotFound(f"no FAQ entry {item_id}")
        row["metadata"] = json.loads(row["metadata"] or "{}")
        return row

    def delete_item(self, item_id: int) -> None:
        self.get_item(item_id)
        for name in self._collections():
            self.vectors.delete(name, filter=f"id in {int_list([item_id])}")
        with self.sql.begin() as conn:
            conn.execute(delete(self.table).where(self.table.c.id == item_id))
        self._bm25 = None

    def drop(self) -> int:
        n = self.count()
        with self.sql.begin() as conn:
            conn.execute(delete(self.table))
        for name in self._collections():
            self.vectors.drop(name)
        self._ensure_collections()
        self._bm25 = None
        return n

    def close(self) -> None:
        pass


def _clip(x: float) -> float:
    return min(1.0, max(0.0, float(x)))


# -- sample data -----------------------------------------------------------------------------
SAMPLE = [
    ("How do I reset my password?", "Open Settings → Account → Password, choose “Forgot password” and follow the "
     "link we e-mail you. The link is valid for one hour.", "account"),
    ("How can I change the e-mail address of my account?", "Go to Settings → Account, edit the e-mail field and "
     "confirm the change from the message sent to the new address.", "account"),
    ("Can I delete my account?", "Yes. Settings → Account → Delete account removes your profile and data after a "
     "30-day grace period during which you can log in to cancel.", "account"),
    ("What payment methods do you accept?", "Credit and debit cards (Visa, Mastercard, American Express), PayPal "
     "and SEPA bank transfer for yearly plans.", "billing"),
    ("How do I get a refund?", "Write to support within 14 days of the purchase with your order number; refunds "
     "go back to the original payment method within 5 working days.", "billing"),
    ("Where can I download my invoices?", "Every invoice is listed under Billing → History as a PDF.", "billing"),
    ("How long does shipping take?", "Orders ship within 2 working days; delivery takes 3–5 days in the EU and "
     "7–12 days elsewhere.", "shipping"),
    ("Do you ship internationally?", "We ship to 40 countries. The checkout page lists them and shows the "
     "shipping cost before you pay.", "shipping"),
    ("How can I track my order?", "The shipping confirmation e-mail contains a tracking link; you also find it "
     "under Orders in your account.", "shipping"),
    ("Can I return an item?", "Unused items can be returned within 30 days. Print the return label from Orders → "
     "Return and drop the parcel at any post office.", "returns"),
    ("Is my data encrypted?", "Data is encrypted in transit with TLS 1.3 and at rest with AES-256.", "security"),
    ("How do I enable two-factor authentication?", "Settings → Security → Two-factor authentication: scan the QR "
     "code with an authenticator app and enter the six-digit code.", "security"),
    ("What are your support hours?", "Support answers chat and e-mail Monday to Friday, 8:00–18:00 CET.",
     "support"),
    ("How do I contact customer support?", "Use the chat button at the bottom right of every page or write to "
     "support@example.com.", "support"),
    ("Can I use the app offline?", "Yes: documents you opened recently stay available offline and sync when you "
     "are back online.", "app"),
    ("Which operating systems are supported?", "Windows 10 and later, macOS 12 and later, and the two latest "
     "versions of Android and iOS.", "app"),
]


def make_sample_data(dest: Path) -> Path:
    """A small FAQ written for this demo (CSV, with a multi-line answer and a metadata column)."""
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "faq.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["question", "answer", "category"])
        for q, a, c in SAMPLE:
            writer.writerow([q, a, c])
        writer.writerow(["How do I install the desktop app?",
                         "1. Download the installer from the website.\n2. Run it and follow the steps.\n"
                         "3. Sign in with your account.", "app"])
    return path
