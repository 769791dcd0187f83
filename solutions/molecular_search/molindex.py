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
from . import store
from .bitslice import (
    count_planes,
    counts_at,
    gather_counts,
    ge_scalar,
    ge_words,
    pack_mask,
    popcount,
    positions,
)
from .ingest import FingerprintSpec, PreparedBatch
from .segment import Segment, smiles_hash
from .store import Part

__all__ = ["Candidates", "Hit", "MoleculeIndex", "Part", "View"]

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Hit:
    """One result: id, Tanimoto similarity to the query (``None`` when not defined), SMILES, properties."""

    id: int
    similarity: float | None
    smiles: str
    properties: dict[str, float | int]


@dataclass(frozen=True)
class View:
    """An immutable state of the index; every search runs on one."""

    parts: tuple[Part, ...]

    @property
    def size(self) -> int:
        return sum(p.n_live for p in self.parts)

    def hit(self, part: int, pos: int, similarity: float | None) -> Hit:
        seg = self.parts[part].seg
        return Hit(int(seg.ids[pos]), similarity, seg.smiles(pos), seg.properties(pos))

    def allowed(self, filters: props.Filters) -> list[np.ndarray]:
        """Per part: live rows that pass the filters, as a word mask."""
        out = []
        for p in self.parts:
            m = props.mask(p.seg.columns, filters) if filters else None
            out.append(p.live if m is None else p.live & pack_mask(m))
        return out


@dataclass
class Candidates:
    """Screened rows in ranking order (what RDKit must still verify)."""

    view: View
    part: np.ndarray
    pos: np.ndarray
    ids: np.ndarray

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def smiles(self, start: int, stop: int) -> list[tuple[int, str]]:
        parts = self.view.parts
        return [(int(self.ids[i]), parts[int(self.part[i])].seg.smiles(int(self.pos[i])))
                for i in range(start, min(stop, len(self)))]

    def hits(self, which: Sequence[int], query_fp: np.ndarray | None = None) -> list[Hit]:
        """Hits of candidates ``which`` (indices), with Tanimoto to ``query_fp`` when given."""
        out = []
        qbits = None if query_fp is None else np.flatnonzero(
            np.unpackbits(query_fp.view(np.uint8), bitorder="little"))
        for i in which:
            part, pos = int(self.part[i]), int(self.pos[i])
            sim = None
            if qbits is not None:
                seg = self.view.parts[part].seg
                c = int(gather_counts(seg.cols, qbits, np.asarray([pos], dtype=np.int64))[0])
                denom = qbits.size + int(seg.word_b[pos >> 6]) - c
                sim = c / denom if denom > 0 else 0.0
            out.append(self.view.hit(part, pos, sim))
        return out


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


def _empty_result() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(0, np.float64), np.zeros(0, np.int64), np.zeros(0, np.int64)


def topk_part(seg: Segment, allowed: np.ndarray, qbits: np.ndarray, k: int,
              floor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact top-k of one segment among ``allowed`` positions: ``(similarities, ids, positions)``.

    Pass one finds the largest ``m`` such that at least ``k`` allowed rows share ≥ ``m`` bits with the
    query; scoring those gives a k-th score ``T`` that bounds the true k-th best from below. Pass two
    selects every row with ``c·(1 + T) ≥ T·(a + b)`` (one integer cut per word) and scores it.
    """
    a = int(qbits.size)
    nz = np.flatnonzero(allowed)
    if nz.size == 0 or k <= 0:
        return _empty_result()
    if nz.size * 2 <= allowed.size:  # a selective filter: gather only the words holding passing rows
        sel: np.ndarray | None = nz
        columns = list(seg.cols[np.ix_(qbits, nz)]) if a else []
        word_b, mask = np.asarray(seg.word_b[nz]), allowed[nz]
    else:
        sel = None
        columns = [seg.cols[j] for j in qbits.tolist()]
        word_b, mask = np.asarray(seg.word_b), allowed
    planes = count_planes(columns, mask.size) if a else []

    def score(local: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = counts_at(planes, local) if planes else np.zeros(local.size, np.int64)
        denom = (a + word_b[local >> 6] - c).astype(np.float64)
        sims = np.divide(c, denom, out=np.zeros(local.size, dtype=np.float64), where=denom > 0)
        keep = np.flatnonzero(sims >= floor)
        glob = local[keep] if sel is None else sel[local[keep] >> 6] * 64 + (local[keep] & 63)
        ids = np.asarray(seg.ids[glob])
        order = np.lexsort((ids, -sims[keep]))[:k]
        return sims[keep][order], ids[order], glob[order]

    if not planes:
        return score(positions(mask))
    threshold = floor
    if popcount(ge_scalar(planes, 1) & mask) < k:
        if floor <= 0:  # fewer than k rows share a bit: zero-similarity rows fill the list
            return score(positions(mask))
    else:
        lo, hi = 1, a
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if popcount(ge_scalar(planes, mid) & mask) >= k:
                lo = mid
            else:
                hi = mid - 1
        first = score(positions(ge_scalar(planes, lo) & mask))
        if first[0].size >= k:
            threshold = max(floor, float(first[0][k - 1]))
    if threshold <= 0:
        return score(positions(mask))
    cut = np.ceil(threshold * (a + word_b) / (1.0 + threshold) - 1e-9).astype(np.int64)
    return score(positions(ge_words(planes, np.maximum(cut, 1)) & mask))


def merge_topk(results: list[tuple[int, tuple[np.ndarray, np.ndarray, np.ndarray]]],
               k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge per-part top-k lists: ``(similarities, ids, part, position)`` by (-similarity, id)."""
    if not results:
        z = np.zeros(0, np.int64)
        return np.zeros(0), z, z, z
    sims = np.concatenate([r[1][0] for r in results])
    ids = np.concatenate([r[1][1] for r in results])
    pos = np.concatenate([r[1][2] for r in results])
    part = np.concatenate([np.full(r[1][0].size, r[0], dtype=np.int64) for r in results])
    order = np.lexsort((ids, -sims))[:k]
    return sims[order], ids[order], part[order], pos[order]


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
        log.info("molecule index %s: %d molecules in %d mapped segments", self.path, len(self), len(parts))

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
        pend = self._pending
        if not pend.known:
            return
        ids, fps, pfps, values = pend.arrays()
        seg = Segment.build(ids, fps, pfps, values, pend.smiles)
        live = seg.padding_free_mask()
        self._parts.append(Part(seg, live, popcount(live)))
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
                pos = part.seg.find_ids(ids)
                pos = pos[pos >= 0]
                if pos.size == 0:
                    continue
                words, bits = pos >> 6, (pos & 63).astype(np.uint64)
                alive = ((part.live[words] >> bits) & np.uint64(1)).astype(bool)
                if not alive.any():
                    continue
                live = part.live.copy()
                np.bitwise_and.at(live, words[alive], ~(np.uint64(1) << bits[alive]))
                n = int(alive.sum())
                self._parts[i] = Part(part.seg, live, part.n_live - n, part.live_file)
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
                    ids, fps, pfps, values = self._pending.arrays()
                    seg = Segment.build(ids, fps, pfps, values, self._pending.smiles)
                    live = seg.padding_free_mask()
                    parts.append(Part(seg, live, popcount(live)))
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
    def _query_bits(self, query_fp: np.ndarray | bytes) -> np.ndarray:
        q = np.frombuffer(query_fp, dtype=np.uint64) if isinstance(query_fp, bytes) else np.asarray(query_fp)
        if q.dtype != np.uint64 or q.shape != (self.spec.fp_bits // 64,):
            raise ValueError(f"query fingerprint must be uint64[{self.spec.fp_bits // 64}]")
        return np.flatnonzero(np.unpackbits(q.view(np.uint8), bitorder="little"))

    def similarity(self, query_fp: np.ndarray | bytes, top_k: int = 10, offset: int = 0,
                   min_similarity: float = 0.0, filters: Mapping[str, Any] | None = None,
                   _view: View | None = None, _allowed: list[np.ndarray] | None = None) -> list[Hit]:
        """Exact Tanimoto ranking ``offset .. offset + top_k - 1`` (similarity desc, id asc) among passing rows."""
        if top_k <= 0 or offset < 0:
            raise ValueError("top_k must be ≥ 1 and offset ≥ 0")
        qbits = self._query_bits(query_fp)
        view = _view or self.snapshot()
        allowed = _allowed if _allowed is not None else view.allowed(props.normalize(filters))
        k = offset + top_k
        floor = max(float(min_similarity), 0.0)
        results = []
        best: np.ndarray = np.zeros(0)
        for i in sorted(range(len(view.parts)), key=lambda j: -view.parts[j].n_live):
            cut = floor if best.size < k else max(floor, float(best[k - 1]))
            res = topk_part(view.parts[i].seg, allowed[i], qbits, k, cut)
            results.append((i, res))
            if res[0].size:
                best = np.sort(np.concatenate([best, res[0]]))[::-1][:k]
        sims, _, part, pos = merge_topk(results, k)
        return [view.hit(int(part[j]), int(pos[j]), float(sims[j])) for j in range(offset, sims.size)]

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

    # -- screens and exact look-up ---------------------------------------------------------------
    def screen(self, mode: Literal["substructure", "superstructure"], query_pattern: np.ndarray,
               filters: Mapping[str, Any] | None = None, query_heavy_atoms: int | None = None) -> Candidates:
        """Rows that may contain (substructure) or be contained in (superstructure) the query, ranked.

        Substructure: stored pattern bits ⊇ the query's; ranked by heavy atoms ascending, then id.
        Superstructure: stored bits ⊆ the query's (and heavy atoms ≤ the query's); heavy atoms
        descending, then id. Filters are applied here, before any RDKit work.
        """
        view = self.snapshot()
        f = props.normalize(filters)
        if mode == "superstructure" and query_heavy_atoms is not None:
            lo, hi = f.get("heavy_atoms", (None, None))
            f = {**f, "heavy_atoms": (lo, query_heavy_atoms if hi is None else min(hi, query_heavy_atoms))}
        allowed = view.allowed(f)
        qbits = np.flatnonzero(np.unpackbits(np.asarray(query_pattern, np.uint64).view(np.uint8), bitorder="little"))
        parts, pos_list, heavy_list = [], [], []
        for i, part in enumerate(view.parts):
            cand = allowed[i].copy()
            if mode == "substructure":
                for j in qbits.tolist():
                    cand &= part.seg.pcols[j]
            else:
                # a stored bit the query lacks rules the row out: OR those columns (in place, no copies)
                outside = np.zeros_like(cand)
                for j in np.setdiff1d(np.arange(self.spec.pattern_bits), qbits).tolist():
                    np.bitwise_or(outside, part.seg.pcols[j], out=outside)
                cand &= ~outside
            # candidates in id order (the segment's id table), then a stable radix sort on heavy atoms:
            # (heavy atoms, id) order without sorting 64-bit ids
            id_pos = np.asarray(part.seg.id_pos)
            flags = ((cand[id_pos >> 6] >> (id_pos & 63).astype(np.uint64)) & np.uint64(1)).astype(bool)
            pos = id_pos[flags]
            parts.append(np.full(pos.size, i, dtype=np.int64))
            pos_list.append(pos)
            heavy_list.append(np.asarray(part.seg.columns["heavy_atoms"][pos], dtype=np.int16))
        if not pos_list:
            z = np.zeros(0, np.int64)
            return Candidates(view, z, z, z)
        part_arr, pos_arr, heavy = np.concatenate(parts), np.concatenate(pos_list), np.concatenate(heavy_list)
        ids = np.zeros(pos_arr.size, np.int64)
        for i, part in enumerate(view.parts):
            sel = part_arr == i
            ids[sel] = part.seg.ids[pos_arr[sel]]
        if len(view.parts) > 1:  # id order across parts
            by_id = np.argsort(ids, kind="stable")
            part_arr, pos_arr, heavy, ids = part_arr[by_id], pos_arr[by_id], heavy[by_id], ids[by_id]
        order = np.argsort(heavy if mode == "substructure" else -heavy, kind="stable")
        return Candidates(view, part_arr[order], pos_arr[order], ids[order])

    def exact(self, canonical: str, filters: Mapping[str, Any] | None = None) -> list[Hit]:
        """Every stored molecule whose canonical isomeric SMILES equals ``canonical``, by id."""
        view = self.snapshot()
        allowed = view.allowed(props.normalize(filters))
        digest = int(smiles_hash([canonical])[0])
        found: list[tuple[int, int, int]] = []
        for i, part in enumerate(view.parts):
            for p in part.seg.find_smiles(canonical, digest).tolist():
                if (int(allowed[i][p >> 6]) >> (p & 63)) & 1:
                    found.append((int(part.seg.ids[p]), i, p))
        return [view.hit(i, p, 1.0) for _, i, p in sorted(found)]
