"""A small real pipeline over text files, used to test the common plumbing end to end.

Each line-free text file becomes one item: a 64-d hashed character-trigram vector in Milvus and a
metadata row in SQL. A file containing the word ``POISON`` raises inside ``process_batch`` so tests
can check that one bad item does not lose the rest of its batch.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
from pymilvus import DataType
from sqlalchemy import BigInteger, Column, String, Table, delete, func, select

from common.errors import NotFound
from common.safety import sniff_file
from common.service import Resources, WorkItem, content_id, iter_files, label_for

DIM = 64


def embed(text: str) -> np.ndarray:
    vec = np.zeros(DIM, dtype=np.float32)
    padded = f"  {text.lower()}  "
    for i in range(len(padded) - 2):
        vec[int(hashlib.md5(padded[i : i + 3].encode()).hexdigest(), 16) % DIM] += 1.0
    norm = np.linalg.norm(vec)
    return vec / norm if norm else vec


class ToyPipeline:
    accepted_kinds = frozenset({"text"})
    batch_size = 4

    def __init__(self, res: Resources, collection: str = "toy_items") -> None:
        self.vectors = res.vectors
        self.sql = res.sql
        self.collection = collection
        self.table = Table(
            f"{collection}_meta", res.sql.metadata,
            Column("id", BigInteger, primary_key=True, autoincrement=False),
            Column("name", String(512), nullable=False),
            Column("text", String(4000), nullable=False),
            extend_existing=True,
        )
        self._ensure_collection()

    def _ensure_collection(self) -> None:
        schema = self.vectors.new_schema()
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
        schema.add_field("name", DataType.VARCHAR, max_length=512)
        index = self.vectors.new_index_params()
        index.add_index("vector", index_type="HNSW", metric_type="COSINE", params={"M": 8, "efConstruction": 64})
        self.vectors.ensure_collection(self.collection, schema, index)

    def list_items(self, path: Path, root: Path):
        for file in iter_files(path):
            label = label_for(file, root)
            if sniff_file(file) != "text":
                yield WorkItem(label, file, error="not a text file")
            else:
                yield WorkItem(label, file)

    def process_batch(self, items: list[WorkItem]) -> list[str | None]:
        rows, meta, errors = [], [], []
        for item in items:
            text = item.path.read_text(encoding="utf-8").strip()
            if "POISON" in text:
                raise RuntimeError("poisoned item")
            if not text:
                errors.append("empty file")
                continue
            item_id = content_id(text)
            rows.append({"id": item_id, "vector": embed(text).tolist(), "name": item.label})
            meta.append({"id": item_id, "name": item.label, "text": text})
            errors.append(None)
        self.vectors.upsert(self.collection, rows)
        with self.sql.begin() as conn:
            self.sql.upsert(conn, self.table, meta)
        return errors

    def finish_load(self) -> None:
        self.vectors.flush(self.collection)

    def search(self, text: str, top_k: int) -> list[dict[str, Any]]:
        hits = self.vectors.search(self.collection, [embed(text).tolist()], anns_field="vector", limit=top_k,
                                   metric_type="COSINE", output_fields=["name"])[0]
        return [{"id": h["id"], "name": h["entity"]["name"], "score": h["distance"]} for h in hits]

    def cli_search(self, query: str, top_k: int) -> list[dict[str, Any]]:
        return self.search(query, top_k)

    def count(self) -> int:
        return self.vectors.count(self.collection)

    def get_item(self, item_id: int) -> dict[str, Any]:
        with self.sql.begin() as conn:
            row = conn.execute(select(self.table).where(self.table.c.id == item_id)).mappings().first()
        if row is None:
            raise NotFound(f"no item {item_id}")
        return dict(row)

    def delete_item(self, item_id: int) -> None:
        self.get_item(item_id)
        self.vectors.delete(self.collection, ids=[item_id])
        with self.sql.begin() as conn:
            conn.execute(delete(self.table).where(self.table.c.id == item_id))

    def drop(self) -> int:
        with self.sql.begin() as conn:
            n = conn.execute(select(func.count()).select_from(self.table)).scalar_one()
            conn.execute(delete(self.table))
        self.vectors.drop(self.collection)
        self._ensure_collection()
        return int(n)

    def close(self) -> None:
        pass
