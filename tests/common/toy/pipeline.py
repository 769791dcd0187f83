"""A fifth demo in one file: text notes searched by hashed character trigrams (see common/README.md).

It is the smallest complete pipeline: what the demos declare (settings, storage, a batch step, a search, the
CLI hooks) and nothing else. Tests use it to drive the common plumbing end to end; a file containing the word
``POISON`` raises inside ``process_batch``, to check that one bad item does not lose the rest of its batch.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Column, Text

from common.files import content_id
from common.pipeline import DUPLICATE, NEW, Monitor, Outcome, Pipeline, SampleData, WorkItem, failed
from common.settings import ServiceSettings, service_config
from common.vectors import CollectionSpec

DIM = 64


class ToySettings(ServiceSettings):
    model_config = service_config("TOY_")

    store_prefix: str = "toy"
    batch_size: int = 4


def embed(text: str) -> np.ndarray:
    """A unit vector of hashed character trigrams (a stand-in for a real model)."""
    vec = np.zeros(DIM, dtype=np.float32)
    padded = f"  {text.lower()}  "
    for i in range(len(padded) - 2):
        vec[int(hashlib.md5(padded[i : i + 3].encode()).hexdigest(), 16) % DIM] += 1.0
    norm = np.linalg.norm(vec)
    return vec / norm if norm else vec


class ToyPipeline(Pipeline[ToySettings]):
    accepted_kinds = frozenset({"text"})
    noun, nouns = "note", "notes"

    def item_columns(self) -> list[Column[Any]]:
        return [Column("text", Text, nullable=False)]

    def collection_specs(self) -> list[CollectionSpec]:
        return [CollectionSpec(self.collection_name("vectors"), dim=DIM, index_params={"M": 8, "efConstruction": 64})]

    def process_batch(self, items: list[WorkItem], monitor: Monitor) -> list[Outcome]:
        texts = [item.path.read_text(encoding="utf-8").strip() if item.path else "" for item in items]
        if any("POISON" in t for t in texts):
            raise RuntimeError("poisoned item")
        ids = [content_id(t) for t in texts]
        stored = self.stored_ids(ids)
        outcomes: list[Outcome] = []
        rows: dict[int, dict[str, Any]] = {}
        for item, text, item_id in zip(items, texts, ids, strict=True):
            if not text:
                outcomes.append(failed("empty file"))
            elif item_id in stored or item_id in rows:
                outcomes.append(DUPLICATE)
            else:
                rows[item_id] = {"id": item_id, "name": item.label, "source": item.source, "text": text}
                outcomes.append(NEW)
        if rows:
            self.vectors.upsert(self.collections[0].name,
                                [{"id": i, "vector": embed(r["text"]).tolist()} for i, r in rows.items()])
            with self.sql.begin() as conn:
                self.write_items(conn, list(rows.values()))  # last: the notes are listed once fully stored
        return outcomes

    def search(self, text: str, top_k: int, offset: int = 0) -> list[dict[str, Any]]:
        self.check_page(top_k, offset)
        hits = self.vectors.search(self.collections[0].name, [embed(text).tolist()], anns_field="vector",
                                   limit=offset + top_k, metric_type="COSINE")[0][offset:]
        rows = self.rows([int(h["id"]) for h in hits])
        return [{"id": int(h["id"]), "name": rows[int(h["id"])]["name"], "score": float(h["distance"])}
                for h in hits if int(h["id"]) in rows]

    def cli_search(self, query: str, top_k: int) -> list[dict[str, Any]]:
        return self.search(query, top_k)

    @classmethod
    def sample_data(cls, dest: Path) -> SampleData:
        dest.mkdir(parents=True, exist_ok=True)
        for i, text in enumerate(["milvus stores vectors", "fastapi serves the page", "a fox jumps"]):
            (dest / f"note-{i}.txt").write_text(text, encoding="utf-8")
        return SampleData(dest, "three notes written by the toy demo")
