"""What the QA demo stores, and where.

Items (what ``/items`` lists, ``/count`` counts and ``DELETE /items/{id}`` removes) are of two kinds:

* a **FAQ entry** (``kind = "faq"``): one question and its answer; its id is a hash of the normalised question,
  so the same question loaded again is the same entry (the last answer loaded wins);
* a **document** (``kind = "document"``): one loaded file; its id is a hash of its bytes. Its passages live in
  the ``<prefix>_passages`` table and go with it: deleting a document deletes its passages, their vectors and
  its stored copy. A changed document loaded under the same name replaces the older version.

SQL: ``<prefix>_items`` (the base columns + :func:`item_columns`) and ``<prefix>_passages``.
Milvus (:func:`collection_specs`), all COSINE on 384-d all-MiniLM-L6-v2 vectors:

==================  ==================================================================  ===============
collection          one row per                                                         deleted with
==================  ==================================================================  ===============
``<prefix>_q``      FAQ entry: its question                                             ``id``
``<prefix>_qa``     FAQ entry: its question and the first words of its answer           ``id``
``<prefix>_passage``  passage: its text (``document_id`` beside it)                     ``document_id``
``<prefix>_sentence``  sentence of a passage: its text (``passage_id``, span in the passage)  ``document_id``
==================  ==================================================================  ===============

plus, where the backend has full-text search, ``<prefix>_faq_text`` and ``<prefix>_passage_text`` (BM25;
otherwise :mod:`.lexical` keeps an in-process index).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymilvus import DataType
from sqlalchemy import BigInteger, Boolean, Column, Integer, MetaData, String, Table, Text

from common.sql import SQLStore
from common.text import TextEncoder
from common.vectors import CollectionSpec, ScalarField, VectorStore

from .bm25 import K1, B
from .config import QASettings

FAQ = "faq"
DOCUMENT = "document"
#: longest text sent to Milvus' BM25 analyzer (a VARCHAR of at most 65535 bytes)
BM25_TEXT_CHARS = 16000
HNSW = {"M": 16, "efConstruction": 128}
#: Milvus' BM25 parameters, set rather than left to the backend (Milvus Lite 3.2 defaults k1 to 1.5, servers to 1.2):
#: the same as the in-process index (bm25.BM25Index) and the tuning (bench/qa_chatbot_tune.py)
BM25_PARAMS = {"bm25_k1": K1, "bm25_b": B}


@dataclass(eq=False)
class Stores:
    """What the document writer and the searcher share (they extend it with their own parts)."""

    settings: QASettings
    encoder: TextEncoder
    vectors: VectorStore
    sql: SQLStore
    items: Table
    passages: Table


def item_columns() -> list[Column[Any]]:
    """The QA columns of the items table (beside ``id``, ``name``, ``source``, ``added_at``)."""
    return [
        Column("kind", String(16), nullable=False),
        # FAQ entries
        Column("question", Text, nullable=True),
        Column("answer", Text, nullable=True),
        Column("metadata", Text, nullable=True),
        # documents
        Column("title", String(1024), nullable=True),
        Column("doc_key", BigInteger, nullable=True, index=True),
        Column("passages", Integer, nullable=True),
        Column("truncated", Boolean, nullable=True),
        Column("file", String(256), nullable=True),
        # both: what the stored content hashes to (a changed answer or file is written again)
        Column("sha256", String(64), nullable=False),
    ]


def passages_table(metadata: MetaData, name: str) -> Table:
    return Table(
        name, metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("document_id", BigInteger, nullable=False, index=True),
        Column("position", Integer, nullable=False),
        Column("heading", Text, nullable=False),
        Column("anchor", String(512), nullable=True),
        Column("text", Text, nullable=False),
        extend_existing=True,
    )


def collection_specs(name: Any, dim: int, bm25: bool) -> list[CollectionSpec]:
    """The collections, named by ``name(suffix)``; BM25 ones only where the backend has full-text search."""
    doc = ScalarField("document_id", DataType.INT64)
    sentence = (doc, *(ScalarField(f, DataType.INT64) for f in ("passage_id", "span_start", "span_end")))
    specs = [
        CollectionSpec(name("q"), dim=dim, index_params=HNSW),
        CollectionSpec(name("qa"), dim=dim, index_params=HNSW),
        CollectionSpec(name("passage"), dim=dim, index_params=HNSW, scalars=(doc,), item_field="document_id"),
        CollectionSpec(name("sentence"), dim=dim, index_params=HNSW, item_field="document_id", scalars=sentence),
    ]
    if bm25:
        specs += [CollectionSpec(name("faq_text"), kind="bm25", vector_field="sparse", index_params=BM25_PARAMS),
                  CollectionSpec(name("passage_text"), kind="bm25", vector_field="sparse", scalars=(doc,),
                                 index_params=BM25_PARAMS,
                                 item_field="document_id")]
    return specs
