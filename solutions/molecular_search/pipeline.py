"""The molecule pipeline: records → RDKit → canonical SMILES, fingerprints, properties → index + SQL.

Where things are (one concern per module):

* :mod:`.records` reads .smi/.csv/.tsv/.jsonl/.sdf files record by record; :mod:`.loading` turns a batch of
  records into stored molecules (chemistry on worker processes, :mod:`.ingest`).
* :mod:`.catalog`: SQL, the store of record (``<prefix>_items``: canonical SMILES, name, source, fields, the
  eight properties as columns; ``<prefix>_state``: the version every write bumps).
* :mod:`.keeper`: the memory-mapped index under the service's data directory (:mod:`.molindex`), rebuilt
  from SQL only when missing or stale, saved when a load ends; one writer process at a time.
* :mod:`.search`: the four modes, filters, paging, batches and drawings (:mod:`.engine`, RDKit matching in
  killable worker processes, :mod:`.matching`).

Milvus is not used for molecules, on either backend: see ``solutions/molecular_search/README.md``
("Why not Milvus binary vectors") for the measurement behind that choice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Column, delete

from common.pipeline import Monitor, Outcome, Pipeline, SampleData, WorkItem
from common.pool import WorkerPool
from common.resources import Resources
from common.vectors import CollectionSpec

from . import catalog
from .catalog import Catalog
from .config import MoleculeSettings
from .engine import MoleculeEngine
from .ingest import FingerprintSpec, Preparer
from .keeper import IndexKeeper
from .loading import NOT_TEXT, MoleculeLoader, estimate_records, expand_records
from .matching import MatchPool
from .samples import write_samples
from .search import MoleculeSearch

log = logging.getLogger(__name__)


class MoleculePipeline(Pipeline[MoleculeSettings]):
    accepted_kinds = frozenset({"text"})
    noun, nouns = "molecule", "molecules"

    def __init__(self, res: Resources, settings: MoleculeSettings) -> None:
        super().__init__(res, settings)
        s = settings
        self.spec = FingerprintSpec(s.fp_radius, s.fp_bits, s.pattern_bits)
        self.catalog = Catalog(res.sql, self.items, self.table_name("state"))
        self.preparer = Preparer(self.spec, s.ingest_workers, s.max_heavy_atoms, s.ingest_chunk)
        self.keeper = IndexKeeper(res.data_dir / s.index_dir, self.spec, self.catalog, self.preparer,
                                  writer_wait_s=s.writer_wait_s, sync_check_ms=s.sync_check_ms,
                                  save_every=s.save_every)
        self.matcher: MatchPool | None = None
        try:
            self.keeper.open()
            self.preparer.close()  # started only if the index had to be rebuilt
            self.matcher = MatchPool(s.match_workers, s.match_mol_cache)
            self.engine = MoleculeEngine(self.keeper.index, self.matcher, max_query_chars=s.max_query_chars,
                                         max_query_atoms=s.max_query_atoms, max_top_k=s.max_top_k,
                                         max_offset=s.max_results, timeout_ms=s.timeout_ms)
        except BaseException:
            self.close()
            raise
        self.searcher = MoleculeSearch(self.engine, self.keeper, self.rows, s)
        self.loader = MoleculeLoader(res.sql, self.catalog, self.keeper, self.preparer)
        #: structure searches and highlighted drawings wait on the RDKit workers: they run on this lane, so a
        #: slow query never holds the service's pool (``/count`` and similarity searches stay responsive)
        self.match_lane = WorkerPool(s.match_workers, res.settings.queue_limit, "molecule-match")
        log.debug("molecule index %s: %d molecules; every mode runs on it, Milvus is not used (exact Tanimoto "
                  "through Milvus BIN_FLAT measured slower, see the README)", self.keeper.path, len(self.keeper.index))

    @property
    def index_size(self) -> int:
        return len(self.keeper.index)

    # -- storage ------------------------------------------------------------------------------
    def item_columns(self) -> list[Column[Any]]:
        return catalog.item_columns()

    def collection_specs(self) -> list[CollectionSpec]:
        return []  # the memory-mapped index answers every mode, on both backends: Milvus is never opened

    # -- loading ------------------------------------------------------------------------------
    def list_items(self, path: Path, root: Path) -> Iterator[WorkItem]:
        """One work item per record of every molecule file under ``path`` (``file:line``), streamed."""
        return expand_records(super().list_items(path, root))

    def refusal(self, kind: str) -> str:
        return f"{NOT_TEXT}; content looks like {kind}"

    def estimate_items(self, path: Path) -> int:
        return estimate_records(path)

    def process_batch(self, items: list[WorkItem], monitor: Monitor) -> list[Outcome]:
        return self.loader.process(items, monitor)

    def finish_load(self) -> None:
        """Save the index, let other processes write, and stop the chemistry workers (about 200 MB each while
        they live; the next load starts them again in a second or two)."""
        try:
            self.keeper.end_load()
        finally:
            self.preparer.close()

    def stored_ids(self, ids: Iterable[int]) -> set[int]:
        """Of ``ids``, those fully stored: an SQL row and an index entry."""
        wanted = sorted({int(i) for i in ids})
        if not wanted:
            return set()
        in_index = [i for i, ok in zip(wanted, self.keeper.index.contains(wanted).tolist(), strict=True) if ok]
        return self.catalog.present(in_index)

    # -- items --------------------------------------------------------------------------------
    def describe(self, row: dict[str, Any]) -> dict[str, Any]:
        return {**catalog.public(super().describe(row)), "svg_url": f"items/{int(row['id'])}/svg"}

    def delete_items(self, ids: list[int]) -> None:
        """Delete molecules: their rows first (no longer listed), then their index entries."""
        with self.keeper.writing() as index:
            with self.sql.begin() as conn:
                conn.execute(delete(self.items).where(self.items.c.id.in_(ids)))
                before = self.catalog.bump(conn)
            index.delete(ids)
            self.keeper.committed(before)
            self.keeper.save()

    def drop(self) -> int:
        with self.keeper.writing() as index:
            with self.sql.begin() as conn:
                n = self.catalog.count(conn)
                conn.execute(delete(self.items))
                before = self.catalog.bump(conn)
            index.clear()
            self.keeper.committed(before)
            self.keeper.save()
        return n

    def close(self) -> None:
        """Stop the chemistry and matching worker processes and release the index (saving unsaved changes)."""
        if hasattr(self, "match_lane"):
            self.match_lane.shutdown()
        if self.matcher is not None:
            self.matcher.close()
        self.preparer.close()
        self.keeper.close()

    # -- searching ----------------------------------------------------------------------------
    def search(self, query: str, mode: str = "similarity", top_k: int = 10, offset: int = 0,
               min_similarity: float | None = None, filters: Mapping[str, Any] | None = None,
               timeout_ms: int | None = None) -> dict[str, Any]:
        """Results ``offset .. offset + top_k - 1`` of one ranking; see :meth:`.search.MoleculeSearch.search`."""
        self.check_page(top_k, offset)
        return self.searcher.search(query, mode, top_k, offset, min_similarity, filters, timeout_ms)

    def search_batch(self, queries: Sequence[str], mode: str = "similarity", top_k: int = 10, offset: int = 0,
                     min_similarity: float | None = None, filters: Mapping[str, Any] | None = None,
                     timeout_ms: int | None = None) -> list[dict[str, Any]]:
        self.check_page(top_k, offset)
        return self.searcher.batch(queries, mode, top_k, offset, min_similarity, filters, timeout_ms)

    def svg(self, item_id: int, highlight: str | None = None, width: int = 300, height: int = 220) -> tuple[str, bool]:
        return self.searcher.svg(item_id, highlight, width, height)

    def depict(self, text: str, width: int = 300, height: int = 220) -> str:
        return self.searcher.depict(text, width, height)

    def cli_search(self, query: str, top_k: int) -> dict[str, Any]:
        """``bootcamp search molecular_search QUERY``: a SMILES (similarity), or ``MODE:QUERY`` for another mode
        (``substructure:[NX3;H2]c``, ``superstructure:...``, ``exact:...``)."""
        mode, sep, text = query.partition(":")
        if sep and mode in ("substructure", "superstructure", "exact", "similarity", "sub"):
            return self.search(text, "substructure" if mode == "sub" else mode, top_k)
        return self.search(query, "similarity", top_k)

    @classmethod
    def sample_data(cls, dest: Path) -> SampleData:
        return write_samples(dest)
