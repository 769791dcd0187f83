"""The molecule index: segments of bit-transposed fingerprints + property columns, searched exactly.

* **Similarity** (:meth:`MoleculeIndex.similarity`): exact Tanimoto top-k on the Morgan bits, ties
  broken by ascending id, with ``offset`` paging (the page is a slice of one exact ranking) and
  property filters applied *before* scoring (the filter becomes a word mask: the counters are
  compared only where a passing row lives, and when few words pass only those are gathered).
* **Screens** (:meth:`MoleculeIndex.screen`): pattern-fingerprint candidates for substructure
  (stored ⊇ query bits) and superstructure (stored ⊆ query bits) in ranking order; RDKit verifies
  them (:mod:`.matching`).
* **Exact** (:meth:`MoleculeIndex.exact`): canonical-SMILES hash look-up, equality checked on text.

Storage (:meth:`save` / constructor, files in :mod:`.store`): a directory with ``manifest.json``
naming segment directories (:mod:`.segment`) and tombstone masks. Opening maps the files; nothing is
rebuilt. New rows go to an in-memory *pending* buffer, sealed into in-memory segments of
``seal_rows`` (merged geometrically); deletes clear live bits (tombstones). :meth:`save` writes new
segments and tombstones, and compacts everything into one segment when more than ``compact_dead`` of
the rows are dead or there are more than ``max_segments``.

Thread safety: writes (add, delete, save) serialise on a lock; searches read an immutable view and
never wait for a writer except for building the pending segment (≤ ``seal_rows`` rows).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from . import properties as props
from . import screens, store
from .bitslice import popcount
from .ingest import FingerprintSpec, PreparedBatch
from .screens import Candidates
from .segment import Segment
from .similarity import query_bits, ranking
from .store import Part
from .views import Hit, View

__all__ = ["Candidates", "Hit", "MoleculeIndex", "Part", "View"]

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    ids: list[np.ndarray] = field(default_factory=list)
    fps: list[np.ndarray] = field(default_factory=list)
    pfps: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    smiles: list[str] = field(default_factory=list)
    known: set[int] = field(default_factory=set)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (np.concatenate(self.ids), np.concatenate(self.fps), np.concatenate(self.pfps),
                np.concatenate(self.values))

    def part(self) -> Part:
        """The pending rows as an in-memory segment, every row live."""
        ids, fps, pfps, values = self.arrays()
        seg = Segment.build(ids, fps, pfps, values, self.smiles)
        live = seg.padding_free_mask()
        return Part(seg, live, popcount(live))


class MoleculeIndex:
    """Exact similarity / screens / exact look-up over stored molecules (see the module docstring)."""

    def __init__(self, path: Path | str | None = None, spec: FingerprintSpec = FingerprintSpec(), *,
                 seal_rows: int = 32768, max_segments: int = 4, compact_dead: float = 0.1) -> None:
        self.path = Path(path) if path is not None else None
        self.spec = spec
        self.seal_rows = seal_rows
        self.max_segments = max_segments
        self.compact_dead = compact_dead
        self.meta: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._parts: list[Part] = []
        self._pending = _Pending()
        self._view: View | None = View(())
        self._generation = 0
        self._dirty = False  # changes not saved yet
        if self.path is not None and (self.path / store.MANIFEST).exists():
            self._open()

    # -- opening and saving ----------------------------------------------------------------------
    def _open(self, attempts: int = 3) -> None:
        assert self.path is not None
        for attempt in range(attempts):  # a writer may replace the generation between our reads
            try:
                self._open_once()
                return
            except FileNotFoundError:
                if attempt == attempts - 1:
                    raise

    def _open_once(self) -> None:
        assert self.path is not None
        manifest = store.read_manifest(self.path, self.spec)
        parts = store.open_parts(self.path, manifest)
        self._parts = parts
        self.meta = manifest.get("meta", {})
        self._generation = int(manifest.get("generation", 0))
        self._view = View(tuple(parts))
        log.debug("molecule index %s: %d molecules in %d mapped segments", self.path, len(self), len(parts))

    @property
    def dirty(self) -> bool:
        """True when there are changes :meth:`save` has not written yet."""
        return self._dirty

    def refresh(self) -> bool:
        """Re-open the files when another process saved a newer generation; True when reloaded.

        Only for readers: an index with unsaved changes (pending rows, deletes) is left alone.
        """
        if self.path is None or not (self.path / store.MANIFEST).exists():
            return False
        generation = int(json.loads((self.path / store.MANIFEST).read_text()).get("generation", 0))
        with self._lock:
            if generation == self._generation or self._dirty:
                return False
            self._pending = _Pending()
            self._open()
            return True

    def save(self, meta: Mapping[str, Any] | None = None, compact: bool | None = None) -> None:
        """Persist: new segments and tombstones are written, then the manifest is replaced atomically.

        ``compact=None`` compacts when dead rows exceed ``compact_dead`` or segments ``max_segments``;
        after saving, every segment is memory-mapped from its file (the in-memory copies are freed).
        """
        if self.path is None:
            raise ValueError("this index has no directory to save to")
        with self._lock:
            self._seal()
            stored = sum(p.seg.size for p in self._parts)
            dead = stored - sum(p.n_live for p in self._parts)
            if compact is None:
                compact = len(self._parts) > self.max_segments or (stored > 0 and dead > self.compact_dead * stored)
            if compact and (len(self._parts) > 1 or dead):
                self._parts = [p for p in [store.compacted(self._parts)] if p is not None]
            self._generation += 1
            if meta is not None:
                self.meta = dict(meta)
            parts = store.write_generation(self.path, self._parts, self._generation, self.meta, self.spec)
            self._parts = parts
            self._view = View(tuple(parts))
            self._dirty = False

    # -- writes ----------------------------------------------------------------------------------
    def add(self, ids: Sequence[int] | np.ndarray, batch: PreparedBatch) -> int:
        """Add the prepared rows under ``ids`` (one per row); ids already stored are skipped. Returns rows added."""
        return self.add_rows(ids, batch.smiles, batch.fps, batch.pattern_fps, batch.properties)

    def add_rows(self, ids: Sequence[int] | np.ndarray, smiles: Sequence[str], fps: np.ndarray,
                 pattern_fps: np.ndarray, values: np.ndarray) -> int:
        ids = np.asarray(ids, dtype=np.int64)
        n = ids.shape[0]
        if not (len(smiles) == fps.shape[0] == pattern_fps.shape[0] == values.shape[0] == n):
            raise ValueError("ids, smiles, fingerprints and properties must have one entry per row")
        if fps.shape[1:] != (self.spec.fp_bits // 64,) or pattern_fps.shape[1:] != (self.spec.pattern_bits // 64,):
            raise ValueError("fingerprint widths do not match the index's FingerprintSpec")
        if n == 0:
            return 0
        if (ids < 0).any():
            raise ValueError("ids must be non-negative")
        with self._lock:
            present = self.contains(ids)
            _, first = np.unique(ids, return_index=True)
            keep = np.zeros(n, dtype=bool)
            keep[first] = True
            keep &= ~present
            idx = np.flatnonzero(keep)
            if idx.size == 0:
                return 0
            pend = self._pending
            pend.ids.append(ids[idx])
            pend.fps.append(np.ascontiguousarray(fps[idx], dtype=np.uint64))
            pend.pfps.append(np.ascontiguousarray(pattern_fps[idx], dtype=np.uint64))
            pend.values.append(np.asarray(values[idx], dtype=np.float64))
            pend.smiles.extend(smiles[i] for i in idx.tolist())
            pend.known.update(ids[idx].tolist())
            if len(pend.known) >= self.seal_rows:
                self._seal()
            self._view = None
            self._dirty = True
            return int(idx.size)

    def _seal(self) -> None:
        """Turn the pending rows into an in-memory segment; merge in-memory segments geometrically."""
        if not self._pending.known:
            return
        self._parts.append(self._pending.part())
        self._pending = _Pending()
        while (len(self._parts) >= 2 and self._parts[-1].seg.path is None and self._parts[-2].seg.path is None
               and self._parts[-2].n_live <= 2 * self._parts[-1].n_live):
            merged = store.compacted(self._parts[-2:])
            self._parts[-2:] = [merged] if merged is not None else []
        self._view = None

    def delete(self, ids: Iterable[int]) -> int:
        """Remove molecules by id (unknown ids are ignored); returns how many were removed."""
        ids = np.fromiter(ids, dtype=np.int64)
        removed = 0
        with self._lock:
            pend = self._pending
            gone = [i for i in ids.tolist() if i in pend.known]
            if gone:
                all_ids, fps, pfps, values = pend.arrays()
                keep = ~np.isin(all_ids, np.asarray(gone, dtype=np.int64))
                smiles = [s for s, k in zip(pend.smiles, keep.tolist(), strict=True) if k]
                self._pending = _Pending([all_ids[keep]], [fps[keep]], [pfps[keep]], [values[keep]], smiles,
                                         pend.known.difference(gone))
                removed += len(gone)
            for i, part in enumerate(self._parts):
                self._parts[i], n = store.tombstoned(part, ids)
                removed += n
            if removed:
                self._view = None
                self._dirty = True
        return removed

    def clear(self) -> None:
        """Drop every molecule (files are replaced at the next :meth:`save`)."""
        with self._lock:
            self._parts = []
            self._pending = _Pending()
            self._view = View(())
            self._dirty = True

    # -- reads -----------------------------------------------------------------------------------
    def snapshot(self) -> View:
        view = self._view
        if view is not None:
            return view
        with self._lock:
            if self._view is None:
                parts = list(self._parts)
                if self._pending.known:
                    parts.append(self._pending.part())
                self._view = View(tuple(parts))
            return self._view

    def __len__(self) -> int:
        with self._lock:
            return sum(p.n_live for p in self._parts) + len(self._pending.known)

    def contains(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Which of ``ids`` are stored (live)."""
        ids = np.asarray(ids, dtype=np.int64)
        with self._lock:
            out = np.fromiter((i in self._pending.known for i in ids.tolist()), dtype=bool, count=ids.size)
            for part in self._parts:
                pos = part.seg.find_ids(ids)
                hit = pos >= 0
                p = pos[hit]
                out[hit] |= ((part.live[p >> 6] >> (p & 63).astype(np.uint64)) & np.uint64(1)).astype(bool)
            return out

    def get(self, ids: Sequence[int]) -> list[Hit | None]:
        """The stored molecule of each id (``None`` when absent)."""
        view = self.snapshot()
        ids_arr = np.asarray(ids, dtype=np.int64)
        out: list[Hit | None] = [None] * ids_arr.size
        for pi, part in enumerate(view.parts):
            pos = part.seg.find_ids(ids_arr)
            for i in np.flatnonzero(pos >= 0).tolist():
                p = int(pos[i])
                if (int(part.live[p >> 6]) >> (p & 63)) & 1:
                    out[i] = view.hit(pi, p, None)
        return out

    # -- similarity ------------------------------------------------------------------------------
    def similarity(self, query_fp: np.ndarray | bytes, top_k: int = 10, offset: int = 0,
                   min_similarity: float = 0.0, filters: Mapping[str, Any] | None = None,
                   _view: View | None = None, _allowed: list[np.ndarray] | None = None) -> list[Hit]:
        """Exact Tanimoto ranking ``offset .. offset + top_k - 1`` (similarity desc, id asc) among passing rows."""
        if top_k <= 0 or offset < 0:
            raise ValueError("top_k must be ≥ 1 and offset ≥ 0")
        qbits = query_bits(query_fp, self.spec.fp_bits)
        view = _view or self.snapshot()
        allowed = _allowed if _allowed is not None else view.allowed(props.normalize(filters))
        return ranking(view, allowed, qbits, top_k, offset, min_similarity)

    def similarity_batch(self, query_fps: np.ndarray, top_k: int = 10, offset: int = 0, min_similarity: float = 0.0,
                         filters: Mapping[str, Any] | None = None, threads: int = 2) -> list[list[Hit]]:
        """:meth:`similarity` for each row of ``query_fps`` (``uint64 [Q, W]``) on one view, filters computed
        once, spread over ``threads`` threads (numpy releases the GIL in the word operations)."""
        view = self.snapshot()
        allowed = view.allowed(props.normalize(filters))

        def one(q: np.ndarray) -> list[Hit]:
            return self.similarity(q, top_k, offset, min_similarity, None, _view=view, _allowed=allowed)

        if threads <= 1 or len(query_fps) < 2:
            return [one(q) for q in query_fps]
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(one, list(query_fps)))

    # -- screens and exact look-up (:mod:`.screens`) -------------------------------------------
    def screen(self, mode: Literal["substructure", "superstructure"], query_pattern: np.ndarray,
               filters: Mapping[str, Any] | None = None, query_heavy_atoms: int | None = None) -> Candidates:
        """See :func:`.screens.screen`."""
        return screens.screen(self.snapshot(), self.spec, mode, query_pattern, filters, query_heavy_atoms)

    def exact(self, canonical: str, filters: Mapping[str, Any] | None = None) -> list[Hit]:
        """See :func:`.screens.exact`."""
        return screens.exact(self.snapshot(), canonical, filters)
