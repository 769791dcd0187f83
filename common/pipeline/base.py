"""The pipeline base class every demo subclasses (no web imports: the CLI and benchmarks use it as is).

A demo declares its storage and fills in two steps; the base does the rest:

* storage: ``item_columns()`` (its columns of the ``<prefix>_items`` table, beside ``id``, ``name``,
  ``source`` and ``added_at``) and ``collection_specs()`` (its Milvus collections). The base creates them.
* loading: ``list_items`` expands a path into :class:`WorkItem` s (default: one per file of an accepted
  kind), ``process_batch`` decodes, embeds and stores a batch and returns one :class:`Outcome` per item.
  It writes the items row **last**: an item is listed only once everything it needs is stored.
* items: ``count``, ``get_item``, ``page``, ``export``, ``delete_item``, ``drop``, owned here; a demo with media
  files or child tables adds to them through ``delete_extra`` / ``drop_extra``.
* searching: each demo has its own ``search``; ``check_page`` validates ``top_k``/``offset`` for all of them.
* hooks for the CLI: ``cli_search`` (``bootcamp search``) and ``sample_data`` (``bootcamp sample-data``).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import BigInteger, Column, DateTime, String, Table, delete, func, select
from sqlalchemy.engine import Connection

from ..errors import InvalidInput, NotFound
from ..files import EMPTY_FILE, count_files
from ..resources import Resources
from ..settings import ServiceSettings
from ..vectors import CollectionSpec, int_list
from .work import Monitor, Outcome, WorkItem, sniffed_items

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ServiceSettings)
#: what a refusal of a gzip file adds (ChEMBL and PubChem ship .sdf.gz)
GZIP_HINT = " (gzip-compressed: decompress it first, or load it in a .zip)"
#: ids per SQL ``IN (...)`` / Milvus ``in [...]`` clause
ID_CHUNK = 500
EXPORT_CHUNK = 500


@dataclass(frozen=True)
class SampleData:
    """What ``sample_data`` wrote: the path to load, and where its content comes from (said to the user)."""

    path: Path
    origin: str


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Pipeline(ABC, Generic[S]):
    """decode → embed → store, and the items it stored. See the module docstring for what a demo fills in."""

    #: sniffed kinds (:func:`common.files.sniff`) this demo loads; zips are expanded before
    accepted_kinds: ClassVar[frozenset[str]]
    #: what one item is called in messages ("image", "FAQ entry or document"), and more than one
    noun: ClassVar[str] = "item"
    nouns: ClassVar[str] = "items"

    def __init__(self, res: Resources, settings: S) -> None:
        self.res = res
        self.settings = settings
        self.vectors = res.vectors
        self.sql = res.sql
        self.data_dir = res.data_dir
        self.batch_size = settings.batch_size
        self.items = Table(
            self.table_name("items"), res.sql.metadata,
            Column("id", BigInteger, primary_key=True, autoincrement=False),
            Column("name", String(1024), nullable=False),
            Column("source", String(2048), nullable=False, default=""),
            Column("added_at", DateTime, nullable=False, index=True),
            *self.item_columns(),
            extend_existing=True,
        )
        self.collections = self.collection_specs()
        for spec in self.collections:
            self.vectors.ensure(spec)

    # -- what a demo declares ------------------------------------------------------------------
    def item_columns(self) -> list[Column[Any]]:
        """This demo's columns of the items table."""
        return []

    @abstractmethod
    def collection_specs(self) -> list[CollectionSpec]:
        """This demo's Milvus collections (named with :meth:`collection_name`); none: Milvus is not used (and
        never connected to)."""

    @property
    def uses_vectors(self) -> bool:
        """Whether this demo keeps vectors in Milvus (it declares collections)."""
        return bool(self.collections)

    def table_name(self, suffix: str) -> str:
        return f"{self.settings.store_prefix}_{suffix}"

    def collection_name(self, suffix: str) -> str:
        return f"{self.settings.store_prefix}_{suffix}"

    # -- loading ------------------------------------------------------------------------------
    def list_items(self, path: Path, root: Path) -> Iterator[WorkItem]:
        """Work items under ``path`` labelled relative to ``root``, streamed: :meth:`file_items` of each file."""
        return sniffed_items(path, root, self.file_items)

    def file_items(self, file: Path, label: str, kind: str) -> Iterator[WorkItem]:
        """The work items of one file whose content sniffed as ``kind``. Default: the file itself when
        ``kind`` is accepted, else one refusal. A demo whose files hold many items (records) overrides this."""
        if kind in self.accepted_kinds:
            yield WorkItem(label, file, data=kind)
        else:
            yield WorkItem(label, file, error=self.refused(kind))

    def may_load(self, name: str, kind: str) -> bool:
        """Whether an uploaded file called ``name`` whose content sniffed as ``kind`` may hold something to load:
        the quick check that refuses an upload of nothing loadable at once (415), before any load starts. The
        load still decides item by item (:meth:`file_items`). Default: ``kind`` is accepted."""
        return kind in self.accepted_kinds

    def refused(self, kind: str) -> str:
        """Why a file that sniffed as ``kind`` is not loaded: empty, else :meth:`refusal` (with a gzip hint)."""
        return EMPTY_FILE if kind == "empty" else self.refusal(kind) + (GZIP_HINT if kind == "gzip" else "")

    def refusal(self, kind: str) -> str:
        """Why a file of ``kind`` (not empty) is not loaded."""
        return f"not a supported file (content looks like {kind}; expected {', '.join(sorted(self.accepted_kinds))})"

    def estimate_items(self, path: Path) -> int:
        """About how many items ``list_items`` will yield (progress bars); counted without holding them."""
        return count_files(path)

    @abstractmethod
    def process_batch(self, items: list[WorkItem], monitor: Monitor) -> list[Outcome]:
        """Decode, embed and store a batch; one outcome per item, in order. The items row is written last.

        A batch that sees ``monitor.cancelled()`` may stop between two items: the items it did not reach get
        :data:`~.work.NOT_REACHED`, which the load does not record (they were neither stored nor failed)."""

    def finish_load(self) -> None:
        """After the last batch of a load (also a cancelled one): make what was written searchable."""
        for spec in self.collections:
            self.vectors.flush(spec.name)

    def stored_ids(self, ids: Iterable[int]) -> set[int]:
        """Of ``ids``, those fully stored: an items row, a row in the first collection and the media present.

        Loads skip these as duplicates; an id with a row but a missing part is stored again (repaired).
        """
        wanted = sorted(set(ids))
        found: set[int] = set()
        for start in range(0, len(wanted), ID_CHUNK):
            chunk = wanted[start:start + ID_CHUNK]
            with self.sql.begin() as conn:
                found.update(int(r[0]) for r in conn.execute(select(self.items.c.id).where(self.items.c.id.in_(chunk))))
        if found and self.collections:
            spec = self.collections[0]
            in_vectors: set[int] = set()
            ordered = sorted(found)
            for start in range(0, len(ordered), ID_CHUNK):
                chunk = ordered[start:start + ID_CHUNK]
                rows = self.vectors.query(spec.name, filter=f"{spec.item_field} in {int_list(chunk)}",
                                          output_fields=[spec.item_field])
                in_vectors.update(int(r[spec.item_field]) for r in rows)
            found &= in_vectors
        return self.media_present(found) if found else found

    def media_present(self, ids: set[int]) -> set[int]:
        """Of ``ids``, those whose files (copies, thumbnails) exist; demos without files keep the default."""
        return ids

    def write_items(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or replace items rows (``added_at`` set now when absent): the last write of a batch."""
        now = utcnow()
        self.sql.upsert(conn, self.items, [{"added_at": now, **r} for r in rows])

    # -- items --------------------------------------------------------------------------------
    def count(self) -> int:
        with self.sql.begin() as conn:
            return int(conn.execute(select(func.count()).select_from(self.items)).scalar_one())

    def count_kinds(self) -> dict[str, int] | None:
        """Stored items by kind (``/count``'s ``kinds``) for a demo that stores items of several kinds; else None."""
        return None

    def describe(self, row: dict[str, Any]) -> dict[str, Any]:
        """The public form of an items row (``GET /items/{id}``, ``/items``, ``/export``)."""
        out = dict(row)
        if isinstance(out.get("added_at"), datetime):
            out["added_at"] = out["added_at"].replace(tzinfo=UTC).isoformat()
        return out

    def rows(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Items rows by id (absent ids are left out)."""
        out: dict[int, dict[str, Any]] = {}
        wanted = list(dict.fromkeys(int(i) for i in ids))
        for start in range(0, len(wanted), ID_CHUNK):
            with self.sql.begin() as conn:
                result = conn.execute(select(self.items).where(self.items.c.id.in_(wanted[start:start + ID_CHUNK])))
                out.update({int(r["id"]): dict(r) for r in result.mappings()})
        return out

    def get_item(self, item_id: int) -> dict[str, Any]:
        row = self.rows([item_id]).get(int(item_id))
        if row is None:
            raise NotFound(f"no {self.noun} with id {item_id}")
        return self.describe(row)

    def page(self, offset: int, limit: int) -> dict[str, Any]:
        """Items newest first: ``{"items", "total", "offset", "limit"}``."""
        if offset < 0 or not 1 <= limit <= 500:
            raise InvalidInput("offset must be >= 0 and limit between 1 and 500")
        c = self.items.c
        with self.sql.begin() as conn:
            total = int(conn.execute(select(func.count()).select_from(self.items)).scalar_one())
            rows = conn.execute(select(self.items).order_by(c.added_at.desc(), c.id.desc())
                                .offset(offset).limit(limit)).mappings().all()
        return {"items": [self.describe(dict(r)) for r in rows], "total": total, "offset": offset, "limit": limit}

    def export(self) -> Iterator[dict[str, Any]]:
        """Every item's public metadata, oldest first, read in chunks (keyset pagination)."""
        c = self.items.c
        last: tuple[datetime, int] | None = None
        while True:
            query = select(self.items).order_by(c.added_at, c.id).limit(EXPORT_CHUNK)
            if last is not None:
                query = query.where((c.added_at > last[0]) | ((c.added_at == last[0]) & (c.id > last[1])))
            with self.sql.begin() as conn:
                rows = [dict(r) for r in conn.execute(query).mappings()]
            yield from (self.describe(r) for r in rows)
            if len(rows) < EXPORT_CHUNK:
                return
            last = (rows[-1]["added_at"], int(rows[-1]["id"]))

    def delete_item(self, item_id: int) -> None:
        """Delete one item: its row first (no longer listed), then its vectors and files."""
        self.get_item(item_id)
        self.delete_items([int(item_id)])

    def delete_items(self, ids: list[int]) -> None:
        """Vectors first, then rows, then files: a delete cut short (Milvus or the database gone) leaves the
        items listed, so asking again finishes it; rows deleted first left vectors and files nothing reached."""
        for spec in self.collections:
            self.vectors.delete(spec.name, filter=f"{spec.item_field} in {int_list(ids)}")
        with self.sql.begin() as conn:
            conn.execute(delete(self.items).where(self.items.c.id.in_(ids)))
            self.delete_extra_rows(conn, ids)
        self.delete_files(ids)

    def delete_extra_rows(self, conn: Connection, ids: list[int]) -> None:
        """Delete rows of this demo's other tables that belong to these items (same transaction)."""

    def delete_files(self, ids: list[int]) -> None:
        """Delete the files (copies, thumbnails, caches) of these items."""

    def drop(self) -> int:
        """Delete everything of this service; returns how many items there were."""
        with self.sql.begin() as conn:
            n = int(conn.execute(select(func.count()).select_from(self.items)).scalar_one())
            conn.execute(delete(self.items))
            self.drop_extra_rows(conn)
        for spec in self.collections:
            self.vectors.drop(spec.name)
            self.vectors.ensure(spec)
        self.drop_files()
        return n

    def drop_extra_rows(self, conn: Connection) -> None:
        """Empty this demo's other tables (same transaction as the items)."""

    def drop_files(self) -> None:
        """Remove every file this demo stored."""

    def warm_up(self) -> None:
        """Prepare what the first request would otherwise wait for (a model loaded on first use). A service
        calls it once in its worker pool after start-up, while it already answers; a command-line search does
        not. It must not raise: what it could not prepare is prepared again by the request that needs it."""

    def close(self) -> None:
        """Release what the pipeline opened itself (thread pools, worker processes)."""

    # -- searching ----------------------------------------------------------------------------
    def check_page(self, top_k: int, offset: int = 0) -> None:
        """The one check of a search's ``top_k`` and ``offset`` (422 when out of range)."""
        s = self.settings
        if not 1 <= top_k <= s.max_top_k:
            raise InvalidInput(f"top_k must be between 1 and {s.max_top_k}")
        if offset < 0:
            raise InvalidInput("offset must be >= 0")
        if offset + top_k > s.max_results:
            raise InvalidInput(f"offset + top_k must be at most {s.max_results}")

    @abstractmethod
    def cli_search(self, query: str, top_k: int) -> Any:
        """``bootcamp search <demo> QUERY``: the query as typed on the command line (a path, a question...)."""

    @classmethod
    @abstractmethod
    def sample_data(cls, dest: Path) -> SampleData:
        """Write a small data set to try into ``dest``; say where it comes from. Never invents noise."""
