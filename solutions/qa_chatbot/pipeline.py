"""The QA pipeline: what the QA demo declares to the common base, and the parts it delegates to.

Items are FAQ entries and documents (:mod:`.store` says what is stored where). A load lists FAQ records and
document files as a stream (:mod:`.loader`); a batch stores its FAQ entries together (:mod:`.faq`: one encoder
call for the batch) and its documents one after the other (:mod:`.passages`: parsed in a bounded child process,
a stored copy kept for source links). Searching: :mod:`.candidates` (retrievers, exact features, rounds) and
:mod:`.search` (results, highlight, ``/answer``); the fused, calibrated score is :mod:`.retrieval`'s.

==================  =========================================================================================
:mod:`.store`       the items' QA columns, the passages table, the Milvus collections
:mod:`.loader`      FAQ records (streamed) and documents under a path
:mod:`.faq`         FAQ entries: validation, identity, storage
:mod:`.passages`    documents: parsing, passages and sentences, storage, stored copies, new versions
:mod:`.lexical`     BM25 on Milvus or in process
:mod:`.candidates`  the candidates of a query and their features
:mod:`.search`      results, highlight, answer, batches
:mod:`.samples`     sample data (the Debian FAQ; the base-files and procps FAQs as CSV)
==================  =========================================================================================
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Column, delete, func, select
from sqlalchemy.engine import Connection

from common.errors import BackendUnavailable, NotFound
from common.models import load_model
from common.pipeline import NOT_REACHED, Monitor, Outcome, Pipeline, SampleData, WorkItem, failed
from common.resources import Resources
from common.text import TextEncoder
from common.vectors import CollectionSpec

from .candidates import PASSAGE, CandidateFinder
from .config import QASettings
from .documents import document_kind, expected_content, media_type
from .faq import FaqEntry, FaqWriter, bm25_text
from .lexical import LexicalIndex
from .loader import DocumentFile, estimate_items, file_items
from .passages import DocumentWriter, Originals
from .retrieval import ranker_from_settings
from .samples import write_sample_data
from .search import Searcher, metadata_of
from .store import DOCUMENT, FAQ, collection_specs, item_columns, passages_table

log = logging.getLogger(__name__)


class QAPipeline(Pipeline[QASettings]):
    accepted_kinds = frozenset({"text", "pdf"})
    noun, nouns = "FAQ entry or document", "FAQ entries and documents"

    def __init__(self, res: Resources, settings: QASettings, encoder: TextEncoder | None = None) -> None:
        self.encoder = encoder or _shared_encoder(settings)
        engine = settings.bm25_engine
        if engine == "auto":  # Milvus Lite keeps BM25 statistics per sealed segment (each load seals one): a
            # document uploaded alone after the first load had its terms' idf from itself, scored a tenth of what
            # it scored loaded with the rest, and its answers were refused. The in-process index has one corpus.
            engine = "milvus" if res.vectors.capabilities.bm25 and not res.vectors.is_lite else "local"
        if engine == "milvus" and not res.vectors.capabilities.bm25:
            raise BackendUnavailable("QA_BM25_ENGINE=milvus, but this Milvus backend has no BM25 function (< 2.5)")
        self.bm25_engine = engine
        self.passages = passages_table(res.sql.metadata, f"{settings.store_prefix}_passages")
        super().__init__(res, settings)
        names = {spec.name.removeprefix(f"{settings.store_prefix}_"): spec.name for spec in self.collections}
        self.names = names
        self.lexical = LexicalIndex(engine, res.vectors, {FAQ: names.get("faq_text", ""),
                                                          PASSAGE: names.get("passage_text", "")}, self._texts,
                                      {FAQ: settings.faq_bm25_analyzer, PASSAGE: settings.passage_bm25_analyzer})
        self.originals = Originals(res.data_dir / "documents")
        self.faq = FaqWriter(settings, self.encoder, res.vectors, res.sql, self.items, names, self.lexical,
                             self.write_items)
        self.documents = DocumentWriter(settings, self.encoder, res.vectors, res.sql, self.items, self.passages,
                                        names, self.lexical, self.originals, self.write_items, self.delete_items,
                                        res.staging_root)
        self.ranker = ranker_from_settings(settings)
        self.searcher = Searcher(settings, self.encoder, res.vectors, res.sql, self.items, self.passages,
                                 names["sentence"], CandidateFinder(self.ranker, res.vectors, names, self.lexical,
                                                                    self._listed, self._sentences,
                                                                    settings.candidates,
                                                                    settings.max_results))

    def _listed(self, kind: str, ids: list[int]) -> set[int]:
        return self.searcher.listed(kind, ids)

    def _sentences(self, passage_ids: list[int], fields: list[str]) -> list[dict[str, Any]]:
        return self.searcher.sentences(passage_ids, fields)

    # -- storage --------------------------------------------------------------------------------
    def item_columns(self) -> list[Column[Any]]:
        return item_columns()

    def collection_specs(self) -> list[CollectionSpec]:
        return collection_specs(self.collection_name, self.encoder.dim, self.bm25_engine == "milvus")

    def _texts(self, kind: str) -> Iterator[tuple[int, str]]:
        """Every listed text of a kind, for the in-process BM25 index (read in pages)."""
        i, p = self.items.c, self.passages.c
        if kind == FAQ:
            query = select(i.id, i.question, i.answer).where(i.kind == FAQ).order_by(i.id)
        else:
            query = (select(p.id, p.heading, p.text).join(self.items, i.id == p.document_id)
                     .where(i.kind == DOCUMENT).order_by(p.id))
        with self.sql.begin() as conn:
            for row in conn.execute(query.execution_options(yield_per=1000)):
                if kind == FAQ:
                    yield int(row.id), bm25_text(FaqEntry(row.question, row.answer))
                else:
                    yield int(row.id), row.text if not self.settings.passage_bm25_heading \
                        else f"{row.heading}\n{row.text}"

    # -- loading --------------------------------------------------------------------------------
    def file_items(self, file: Path, label: str, kind: str) -> Iterator[WorkItem]:
        return file_items(file, label, kind, self.settings)

    def may_load(self, name: str, kind: str) -> bool:
        """Text, or a document whose content is what its name says (a ``.pdf`` a PDF, a ``.docx`` a zip)."""
        document = document_kind(name)
        return super().may_load(name, kind) or (document is not None and expected_content(document) == kind)

    def estimate_items(self, path: Path) -> int:
        return estimate_items(path)

    def process_batch(self, items: list[WorkItem], monitor: Monitor) -> list[Outcome]:
        """FAQ entries of the batch together, then its documents one by one (a cancel stops between two)."""
        outcomes: list[Outcome | None] = [None] * len(items)
        entries = [(k, item) for k, item in enumerate(items) if isinstance(item.data, FaqEntry)]
        if entries:
            results = self.faq.store([(item, cast(FaqEntry, item.data)) for _, item in entries])
            for (k, _), outcome in zip(entries, results, strict=True):
                outcomes[k] = outcome
        done = len(entries)
        monitor.partial(done)
        for k, item in enumerate(items):
            if outcomes[k] is not None:
                continue
            if not isinstance(item.data, DocumentFile):
                outcomes[k] = failed("not a FAQ record or a document")
                continue
            if monitor.cancelled():
                break
            outcomes[k] = self.documents.store(item)
            done += 1
            monitor.partial(done)
        return [o if o is not None else NOT_REACHED for o in outcomes]

    def media_present(self, ids: set[int]) -> set[int]:
        """Documents need their stored copy; FAQ entries have no files."""
        rows = self.rows(list(ids))
        files = {i: str(r["file"]) for i, r in rows.items() if r["kind"] == DOCUMENT}
        return {i for i in ids if i not in files} | self.originals.present(files)

    # -- items ----------------------------------------------------------------------------------
    def count_kinds(self) -> dict[str, int]:
        """FAQ entries and documents stored: ``{"faq": n, "document": m}``."""
        kind = self.items.c.kind
        with self.sql.begin() as conn:
            counts: dict[str, int] = {k: int(n) for k, n in conn.execute(select(kind, func.count()).group_by(kind))}
        return {FAQ: counts.get(FAQ, 0), DOCUMENT: counts.get(DOCUMENT, 0)}

    def describe(self, row: dict[str, Any]) -> dict[str, Any]:
        """A FAQ entry: its question, answer and metadata; a document: its title, passages and copy."""
        base = super().describe(row)
        common = {k: base[k] for k in ("id", "kind", "name", "source", "added_at")}
        if row["kind"] == FAQ:
            return {**common, "question": row["question"], "answer": row["answer"],
                    "metadata": metadata_of(row["metadata"])}
        return {**common, "title": row["title"], "passages": row["passages"], "truncated": bool(row["truncated"]),
                "sha256": row["sha256"], "file_url": f"items/{row['id']}/file"}

    def document_passages(self, document_id: int, offset: int = 0, limit: int = 100) -> dict[str, Any]:
        """A document's passages in order (``{"document", "passages", "total"}``)."""
        doc = self.get_item(document_id)
        if doc["kind"] != DOCUMENT:
            raise NotFound(f"item {document_id} is a FAQ entry, not a document")
        p = self.passages.c
        with self.sql.begin() as conn:
            rows = conn.execute(select(p.id, p.position, p.heading, p.anchor, p.text)
                                .where(p.document_id == document_id).order_by(p.position)
                                .offset(offset).limit(limit)).mappings().all()
        return {"document": doc, "passages": [dict(r) for r in rows], "total": doc["passages"]}

    def document_file(self, document_id: int) -> tuple[Path, str]:
        """The stored copy of a document and its media type (text and HTML copies are UTF-8)."""
        doc = self.rows([document_id]).get(int(document_id))
        if doc is None or doc["kind"] != DOCUMENT:
            raise NotFound(f"no document with id {document_id}")
        path = self.originals.path(str(doc["file"]))
        if not path.is_file():
            raise NotFound(f"the stored copy of document {document_id} is missing")
        return path, media_type(str(document_kind(path.name)))

    def delete_items(self, ids: list[int]) -> None:
        files = [str(r["file"]) for r in self.rows(ids).values() if r["file"]]
        super().delete_items(ids)
        self.originals.remove(files)
        self.lexical.changed()

    def delete_extra_rows(self, conn: Connection, ids: list[int]) -> None:
        conn.execute(delete(self.passages).where(self.passages.c.document_id.in_(ids)))

    def drop_extra_rows(self, conn: Connection) -> None:
        conn.execute(delete(self.passages))

    def drop(self) -> int:
        n = super().drop()
        self.lexical.changed()
        return n

    def drop_files(self) -> None:
        self.originals.clear()

    # -- searching ------------------------------------------------------------------------------
    def search(self, query: str, top_k: int, offset: int = 0) -> list[dict[str, Any]]:
        """The page ``offset .. offset + top_k - 1`` of the FAQ entries and passages ranked for ``query``."""
        self.check_page(top_k, offset)
        return self.searcher.search(query, top_k, offset)

    def search_batch(self, queries: list[str], top_k: int, offset: int = 0) -> list[dict[str, Any]]:
        self.check_page(top_k, offset)
        return self.searcher.search_batch(queries, top_k, offset)

    def answer(self, query: str) -> dict[str, Any]:
        return self.searcher.answer(query)

    def cli_search(self, query: str, top_k: int) -> list[dict[str, Any]]:
        """``bootcamp search qa_chatbot "question"``."""
        return self.search(query, top_k)

    @classmethod
    def sample_data(cls, dest: Path) -> SampleData:
        return write_sample_data(dest)


def _shared_encoder(settings: QASettings) -> TextEncoder:
    options: dict[str, Any] = {"precision": settings.encoder_precision}
    if settings.model:
        options["model_dir"] = settings.model
    model = load_model("all-MiniLM-L6-v2", settings.models_dir(), providers=settings.onnx_providers,
                       threads=settings.encoder_threads, **options)
    assert isinstance(model, TextEncoder)
    return model
