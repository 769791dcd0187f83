"""The SQL side of the molecule store: the store of record.

``<prefix>_items`` holds, beside the common ``id``/``name``/``source``/``added_at``, the canonical isomeric
SMILES, the record's extra fields (CSV columns, SD tags; JSON) and the eight properties of
:mod:`.properties` as columns (DOUBLE for the continuous ones, so they read back exactly). Everything the
memory-mapped index holds can be rebuilt from these rows (fingerprints are recomputed from the SMILES).

``<prefix>_state`` is one row: ``version``, bumped in the same transaction as every write of molecules,
and ``store_id``, a random token naming this database. The index saves both in its manifest, so a process
knows whether its index reflects the database it is connected to (and another process's writes).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, Column, Double, Integer, String, Table, Text, bindparam, func, insert, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from common.pipeline import utcnow
from common.sql import SQLStore

from . import properties as props

#: ids per SQL ``IN (...)``
ID_CHUNK = 500


def item_columns() -> list[Column[Any]]:
    """The molecule columns of the items table."""
    return [
        Column("smiles", Text, nullable=False),
        Column("fields", Text, nullable=False, default="{}"),
        *(Column(name, Double if name in props.FLOAT_PROPERTIES else Integer, nullable=False)
          for name in props.PROPERTY_NAMES),
    ]


def item_row(item_id: int, smiles: str, name: str, source: str, fields: dict[str, str],
             values: Sequence[float]) -> dict[str, Any]:
    """An items row (``added_at`` is set when it is written)."""
    return {"id": item_id, "name": name[:1024], "source": source[-2048:], "smiles": smiles,
            "fields": json.dumps(fields, ensure_ascii=False) if fields else "{}", **props.as_dict(values)}


def public(row: dict[str, Any]) -> dict[str, Any]:
    """The molecule part of an item as the API shows it: ``smiles``, ``properties`` (the eight), ``fields``."""
    out = {k: v for k, v in row.items() if k not in props.COLUMN_DTYPES and k != "fields"}
    out["properties"] = props.as_dict([row[name] for name in props.PROPERTY_NAMES])
    out["fields"] = json.loads(row.get("fields") or "{}")
    return out


class Catalog:
    """Version bookkeeping and bulk reads over the items table (the rest is the pipeline base's)."""

    def __init__(self, sql: SQLStore, items: Table, state_name: str) -> None:
        self.sql = sql
        self.items = items
        self.state = Table(
            state_name, sql.metadata,
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("version", BigInteger, nullable=False),
            Column("store_id", String(32), nullable=False),
            extend_existing=True,
        )
        sql.metadata.create_all(sql.engine, tables=[items, self.state])
        with sql.begin() as conn:
            sql.insert_ignore(conn, self.state, [{"id": 1, "version": 0, "store_id": uuid.uuid4().hex}])
            self.store_id = str(conn.execute(select(self.state.c.store_id).where(self.state.c.id == 1)).scalar_one())

        self._insert = self._compile_insert()

    def _compile_insert(self) -> tuple[str, tuple[str, ...] | None]:
        """``INSERT`` that skips existing ids, compiled once for this database: ``(sql, positional order)``.

        Loads write thousands of rows a second; going through the driver's ``executemany`` with this statement
        costs a few µs a row instead of the ~40 µs of building each row's parameters in SQLAlchemy.
        """
        table = self.items
        dialect = self.sql.engine.dialect
        if self.sql.dialect == "sqlite":
            stmt: Any = sqlite_insert(table).on_conflict_do_nothing()
        elif self.sql.dialect in ("mysql", "mariadb"):
            stmt = mysql_insert(table).prefix_with("IGNORE")
        else:
            stmt = insert(table)
        compiled = stmt.values({c.name: bindparam(c.name) for c in table.columns}).compile(dialect=dialect)
        return str(compiled), (tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None)

    def insert(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Insert items rows (``added_at`` now); rows whose id exists are left as they are (same molecule)."""
        if not rows:
            return
        sql, order = self._insert
        added = self.items.c.added_at.type.bind_processor(self.sql.engine.dialect)
        now = utcnow()
        stamp = added(now) if added else now
        if order is None:
            conn.exec_driver_sql(sql, [{**r, "added_at": stamp} for r in rows])
        else:
            conn.exec_driver_sql(sql, [tuple(stamp if k == "added_at" else r[k] for k in order) for r in rows])

    def version(self) -> int:
        with self.sql.begin() as conn:
            return int(conn.execute(select(self.state.c.version).where(self.state.c.id == 1)).scalar_one())

    def bump(self, conn: Connection) -> int:
        """Increment the version inside a write transaction; returns the version before."""
        stmt = select(self.state.c.version).where(self.state.c.id == 1)
        if self.sql.dialect != "sqlite":
            stmt = stmt.with_for_update()
        before = int(conn.execute(stmt).scalar_one())
        conn.execute(update(self.state).where(self.state.c.id == 1).values(version=before + 1))
        return before

    def count(self, conn: Connection | None = None) -> int:
        stmt = select(func.count()).select_from(self.items)
        if conn is not None:
            return int(conn.execute(stmt).scalar_one())
        with self.sql.begin() as c:
            return int(c.execute(stmt).scalar_one())

    def present(self, ids: Iterable[int]) -> set[int]:
        """Of ``ids``, those with an items row."""
        wanted = sorted({int(i) for i in ids})
        found: set[int] = set()
        with self.sql.begin() as conn:
            for start in range(0, len(wanted), ID_CHUNK):
                chunk = wanted[start:start + ID_CHUNK]
                found.update(int(r[0]) for r in conn.execute(select(self.items.c.id).where(self.items.c.id.in_(chunk))))
        return found

    def stream(self, size: int = 20_000) -> Iterator[tuple[np.ndarray, list[str], np.ndarray]]:
        """Every molecule as ``(ids, smiles, properties float64 [n, 8])`` chunks, in id order (keyset pages)."""
        c = self.items.c
        columns = [c.id, c.smiles, *(c[name] for name in props.PROPERTY_NAMES)]
        last: int | None = None
        while True:
            query = select(*columns).order_by(c.id).limit(size)
            if last is not None:
                query = query.where(c.id > last)
            with self.sql.begin() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            values = np.asarray([r[2:] for r in rows], dtype=np.float64)
            yield ids, [str(r[1]) for r in rows], values
            if len(rows) < size:
                return
            last = int(ids[-1])
