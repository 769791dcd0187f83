"""Loading molecules: files → records → chemistry on worker processes → index, then SQL rows.

A batch's records go to the :class:`~.ingest.Preparer` in chunks; while the worker processes compute the
next chunks, this thread stores the finished one: content ids (the canonical isomeric SMILES), duplicates
skipped (an id is stored when it has both its SQL row and its index entry), index entries first, SQL rows
and the version bump last, in one transaction per chunk (:meth:`~.keeper.IndexKeeper.writing`). A chunk
whose SQL write fails is taken out of the index again, so a listed molecule is always searchable and a
searchable one always listed (search results without a row are left out meanwhile).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.files import content_id, iter_files, sniff_file
from common.pipeline import DUPLICATE, NEW, Monitor, Outcome, WorkItem, failed
from common.sql import SQLStore

from .catalog import Catalog, item_row
from .ingest import PreparedBatch, Preparer
from .keeper import IndexKeeper
from .records import Record, estimate_molecules, read_molecules

NOT_TEXT = "not a molecule file (.smi, .csv, .tsv, .jsonl or .sdf text expected)"


def expand_records(files: Iterable[WorkItem]) -> Iterator[WorkItem]:
    """Each text file of ``files`` (sniffed work items) as one work item per record, labelled ``file:line``."""
    for item in files:
        if item.error or item.path is None:
            yield item
            continue
        for line, record in read_molecules(item.path):
            label = f"{item.label}:{line}" if line else item.label
            if isinstance(record, str):
                yield WorkItem(label, item.path, error=record)
            else:
                yield WorkItem(label, item.path, data=record)


def estimate_records(path: Path) -> int:
    """About how many records :func:`list_records` yields (for the progress bar)."""
    total = 0
    for file in iter_files(path):
        try:
            total += estimate_molecules(file) if sniff_file(file) == "text" else 1
        except OSError:
            total += 1
    return total


@dataclass(eq=False)
class MoleculeLoader:
    """``process_batch`` of the molecule pipeline (see the module docstring)."""

    sql: SQLStore
    catalog: Catalog
    keeper: IndexKeeper
    preparer: Preparer

    def process(self, items: list[WorkItem], monitor: Monitor) -> list[Outcome]:
        self.keeper.begin_load(monitor.cancelled)
        outcomes: list[Outcome | None] = [None] * len(items)
        claimed: set[int] = set()  # ids stored by an earlier chunk of this batch
        records: list[Record] = [item.data for item in items]
        offset = 0
        for chunk in self.preparer.prepare_chunks(records):
            for j, error in enumerate(chunk.errors):
                if error is not None:
                    outcomes[offset + j] = failed(records[offset + j].named(error))
            if len(chunk):
                self._store(items, offset, chunk, outcomes, claimed)
            offset += len(chunk.errors)
            monitor.partial(offset)
        return [o if o is not None else failed("not processed") for o in outcomes]

    def _store(self, items: list[WorkItem], offset: int, chunk: PreparedBatch, outcomes: list[Outcome | None],
               claimed: set[int]) -> None:
        ids = np.fromiter((content_id(s) for s in chunk.smiles), dtype=np.int64, count=len(chunk))
        positions = (chunk.rows + offset).tolist()
        stored = self._stored(ids)
        new: list[int] = []  # rows of the chunk to store
        for r, (pos, item_id) in enumerate(zip(positions, ids.tolist(), strict=True)):
            if item_id in stored or item_id in claimed:
                outcomes[pos] = DUPLICATE
            else:
                claimed.add(item_id)
                new.append(r)
        if not new:
            return
        sel = np.asarray(new, dtype=np.int64)
        rows = []
        for r in new:
            item = items[positions[r]]
            record: Record = item.data
            rows.append(item_row(int(ids[r]), chunk.smiles[r], record.name, item.label, record.fields,
                                 chunk.properties[r]))
        with self.keeper.writing() as index:
            fresh = ids[sel][~index.contains(ids[sel])]  # entries this write adds (others are repairs of a row)
            index.add_rows(ids[sel], [chunk.smiles[r] for r in new], chunk.fps[sel], chunk.pattern_fps[sel],
                           chunk.properties[sel])
            try:
                with self.sql.begin() as conn:
                    before = self.catalog.bump(conn)
                    self.catalog.insert(conn, rows)  # last: listed once searchable
            except BaseException:
                index.delete(fresh.tolist())
                raise
            self.keeper.committed(before, added=len(new))
        for r in new:
            outcomes[positions[r]] = NEW

    def _stored(self, ids: np.ndarray) -> set[int]:
        """Of ``ids``, those fully stored: an SQL row and an index entry."""
        in_index = ids[self.keeper.index.contains(ids)]
        return self.catalog.present(in_index.tolist()) if in_index.size else set()
