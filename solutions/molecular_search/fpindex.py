"""An exact in-memory fingerprint index: packed ``uint64`` rows plus a bit-transposed copy.

Similarity (:meth:`FingerprintIndex.search`): a query with ``a`` bits on selects ``a`` columns of
the transposed matrix (one bit per stored row, 64 rows per word); adding them into bit-plane
counters yields every row's intersection count ``c`` with a few hundred vectorised word
operations. Rows are sorted by popcount ``b`` and each popcount group is padded to whole words,
so ``Tanimoto = c / (a + b − c) ≥ T`` ⇔ ``c·(1 + T) ≥ T·(a + b)`` becomes a bit-serial comparison
of the counters with one integer threshold per word. Pass one takes the k rows sharing the most
bits with the query; their k-th score ``T`` bounds the true k-th best from below. Pass two
selects every row scoring ≥ T and scores those exactly. Scores are exact (integer counts, one
float64 division, so equal fractions compare equal); ties are broken by ascending id.
:meth:`search_scan` answers the same by a popcount-bounded scan of the row-major matrix and is
kept as a cross-check.

Substructure: RDKit pattern fingerprints in a second matrix, kept in (heavy atoms, id) order; a
molecule can contain the query only if its pattern bits include the query's, so one vectorised
test screens every row before RDKit verifies the survivors.

The index lives in memory (about 2 × 256 bytes per molecule for the Morgan bits, 256 for the
pattern bits); :meth:`save`/:meth:`load` persist it as one ``.npz`` under the service's data
directory so a restart does not re-read every row from SQL.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: rows scored per numpy step (keeps temporaries in cache)
CHUNK = 32768
#: bound rings: rows whose bound lies in [RINGS[i], RINGS[i-1]) are scored in step i
RINGS = (0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2, 0.1, 0.0)


@dataclass(frozen=True)
class _Arrays:
    """An immutable, consolidated view searched without the lock."""

    ids: np.ndarray  # int64 [N], rows in popcount order
    fps: np.ndarray  # uint64 [N, W]
    pcs: np.ndarray  # int32 [N], non-decreasing
    sub_order: np.ndarray  # int64 [N]: row numbers in (heavy atoms, id) order
    sub_pfps: np.ndarray  # uint64 [N, PW] in sub_order
    smiles: list[str]  # per row (popcount order)
    #: bit-transposed copy built on first use: ``cols[j]`` has bit ``r`` set when row ``r`` has bit ``j``
    cache: dict = field(default_factory=dict, compare=False)

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])


def _transpose(fps: np.ndarray, nbits: int, block: int = 32768) -> np.ndarray:
    """``[nbits, ceil(n / 64)]`` uint64: bit ``r % 64`` of word ``r // 64`` of column ``j`` is row r's bit j."""
    n = fps.shape[0]
    words = (n + 63) // 64
    out = np.zeros((nbits, words * 8), dtype=np.uint8)
    for start in range(0, n, block):  # block is a multiple of 64, so chunks land on whole words
        dense = np.unpackbits(fps[start : start + block].view(np.uint8), axis=1, bitorder="little")
        packed = np.packbits(np.ascontiguousarray(dense.T), axis=1, bitorder="little")
        out[:, start // 8 : start // 8 + packed.shape[1]] = packed
    return out.view(np.uint64)


@dataclass(frozen=True)
class _Layout:
    """The transposed matrix over padded positions: each popcount group starts on a 64-row word."""

    cols: np.ndarray  # uint64 [nbits, words]
    pos2row: np.ndarray  # int64 [words * 64]: row number, or -1 for padding
    row2pos: np.ndarray  # int64 [n]
    word_b: np.ndarray  # int64 [words]: the popcount shared by the rows of each word


def _build_layout(arr: _Arrays, nbits: int) -> _Layout:
    n = arr.size
    if n == 0:
        return _Layout(np.zeros((nbits, 0), np.uint64), np.zeros(0, np.int64), np.zeros(0, np.int64),
                       np.zeros(0, np.int64))
    starts = np.flatnonzero(np.r_[True, arr.pcs[1:] != arr.pcs[:-1]])
    sizes = np.diff(np.r_[starts, n])
    padded = (sizes + 63) // 64 * 64
    group_pos = np.r_[0, np.cumsum(padded)[:-1]]
    total = int(padded.sum())
    pos2row = np.full(total, -1, dtype=np.int64)
    row_pos = np.repeat(group_pos - starts, sizes) + np.arange(n)
    pos2row[row_pos] = np.arange(n)
    fps = np.zeros((total, arr.fps.shape[1]), dtype=np.uint64)
    fps[row_pos] = arr.fps
    word_b = np.repeat(arr.pcs[starts].astype(np.int64), padded // 64)
    return _Layout(_transpose(fps, nbits), pos2row, row_pos.astype(np.int64), word_b)


def _count_planes(cols: np.ndarray, bits: np.ndarray) -> list[np.ndarray]:
    """Bit-plane counters: plane ``l`` holds bit ``l`` of each position's count of query bits."""
    words = cols.shape[1]
    planes: list[np.ndarray] = []
    buffers = (np.empty(words, dtype=np.uint64), np.empty(words, dtype=np.uint64))
    for added, j in enumerate(bits.tolist(), start=1):
        if added.bit_length() > len(planes):
            planes.append(np.zeros(words, dtype=np.uint64))
        carry = cols[j]
        for level, plane in enumerate(planes[: added.bit_length()]):
            out = buffers[level & 1]
            np.bitwise_and(plane, carry, out=out)
            np.bitwise_xor(plane, carry, out=plane)
            carry = out
    return planes


_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)


def _ge_scalar(planes: list[np.ndarray], m: int) -> np.ndarray:
    """Bits of the positions whose count is ≥ m (m ≥ 1), compared bit-serially from the top plane."""
    words = planes[0].shape[0]
    if m >= 1 << len(planes):
        return np.zeros(words, dtype=np.uint64)
    eq = np.full(words, _ONES, dtype=np.uint64)
    gt = np.zeros(words, dtype=np.uint64)
    for level in range(len(planes) - 1, -1, -1):
        if (m >> level) & 1:
            eq &= planes[level]
        else:
            gt |= eq & planes[level]
    return gt | eq


def _ge_words(planes: list[np.ndarray], cut: np.ndarray) -> np.ndarray:
    """Like :func:`_ge_scalar` with one threshold per word (``cut`` ≥ 1)."""
    words = planes[0].shape[0]
    top = len(planes)
    out = np.zeros(words, dtype=np.uint64)
    fits = cut < (1 << top)  # words whose threshold exceeds every representable count stay empty
    eq = np.where(fits, _ONES, np.uint64(0)).astype(np.uint64)
    gt = np.zeros(words, dtype=np.uint64)
    for level in range(top - 1, -1, -1):
        m_bits = np.where((cut >> level) & 1, _ONES, np.uint64(0)).astype(np.uint64)
        p = planes[level]
        gt |= eq & p & ~m_bits
        eq &= ~(p ^ m_bits)
    np.bitwise_or(gt, eq, out=out)
    return out


def _count_at_least(planes: list[np.ndarray], m: int) -> int:
    return int(np.bitwise_count(_ge_scalar(planes, m)).sum())


def _positions(mask: np.ndarray) -> np.ndarray:
    nz = np.flatnonzero(mask)
    if nz.size == 0:
        return np.zeros(0, dtype=np.int64)
    bits = np.unpackbits(mask[nz].view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")
    w, b = np.nonzero(bits)
    return nz[w].astype(np.int64) * 64 + b


class FingerprintIndex:
    """Thread-safe: writers append/delete under a lock; searches read a consolidated snapshot."""

    def __init__(self, fp_bits: int, pattern_bits: int) -> None:
        self.words = fp_bits // 64
        self.pattern_words = pattern_bits // 64
        self._lock = threading.RLock()
        self._clear()

    def _clear(self) -> None:
        self._ids: list[np.ndarray] = []
        self._fps: list[np.ndarray] = []
        self._pfps: list[np.ndarray] = []
        self._heavy: list[np.ndarray] = []
        self._smiles: list[str] = []
        self._deleted: set[int] = set()
        self._known: set[int] = set()
        self._arrays: _Arrays | None = self._empty()

    def _empty(self) -> _Arrays:
        return _Arrays(np.zeros(0, np.int64), np.zeros((0, self.words), np.uint64), np.zeros(0, np.int32),
                       np.zeros(0, np.int64), np.zeros((0, self.pattern_words), np.uint64), [])

    # -- writes ------------------------------------------------------------------------------
    def clear(self) -> None:
        with self._lock:
            self._clear()

    def add(self, ids: list[int], fps: list[bytes], pfps: list[bytes], heavy: list[int], smiles: list[str]) -> int:
        """Add rows whose id is not already present; returns how many were new."""
        with self._lock:
            keep = [i for i, item_id in enumerate(ids) if item_id not in self._known or item_id in self._deleted]
            if not keep:
                return 0
            for i in keep:
                self._deleted.discard(ids[i])
                self._known.add(ids[i])
            self._ids.append(np.asarray([ids[i] for i in keep], dtype=np.int64))
            self._fps.append(np.frombuffer(b"".join(fps[i] for i in keep), dtype=np.uint64).reshape(-1, self.words))
            self._pfps.append(
                np.frombuffer(b"".join(pfps[i] for i in keep), dtype=np.uint64).reshape(-1, self.pattern_words))
            self._heavy.append(np.asarray([heavy[i] for i in keep], dtype=np.int32))
            self._smiles.extend(smiles[i] for i in keep)
            self._arrays = None
            return len(keep)

    def delete(self, ids: list[int]) -> None:
        with self._lock:
            gone = [i for i in ids if i in self._known]
            if gone:
                self._deleted.update(gone)
                self._known.difference_update(gone)
                self._arrays = None

    def contains(self, ids: list[int]) -> np.ndarray:
        """Which of ``ids`` are live rows of the index."""
        with self._lock:
            known = self._known
            return np.fromiter((i in known for i in ids), dtype=bool, count=len(ids))

    def __len__(self) -> int:
        with self._lock:
            return len(self._known)

    # -- consolidation -----------------------------------------------------------------------
    def snapshot(self) -> _Arrays:
        with self._lock:
            if self._arrays is None:
                self._arrays = self._consolidate()
            return self._arrays

    def _consolidate(self) -> _Arrays:
        if not self._ids:
            return self._empty()
        ids = np.concatenate(self._ids)
        fps = np.concatenate(self._fps)
        pfps = np.concatenate(self._pfps)
        heavy = np.concatenate(self._heavy)
        smiles = self._smiles
        if self._deleted:
            alive = ~np.isin(ids, np.fromiter(self._deleted, dtype=np.int64, count=len(self._deleted)))
            ids, fps, pfps, heavy = ids[alive], fps[alive], pfps[alive], heavy[alive]
            smiles = [s for s, keep in zip(smiles, alive.tolist(), strict=True) if keep]
            self._deleted.clear()
        pcs = np.bitwise_count(fps).sum(axis=1, dtype=np.int32)
        order = np.lexsort((ids, pcs))
        ids, fps, pfps, heavy, pcs = ids[order], fps[order], pfps[order], heavy[order], pcs[order]
        smiles = [smiles[i] for i in order.tolist()]
        # keep the consolidated arrays as the single chunk, so the next add appends to them
        self._ids, self._fps, self._pfps, self._heavy, self._smiles = [ids], [fps], [pfps], [heavy], smiles
        sub_order = np.lexsort((ids, heavy))
        return _Arrays(ids, np.ascontiguousarray(fps), pcs, sub_order, np.ascontiguousarray(pfps[sub_order]), smiles)

    # -- similarity --------------------------------------------------------------------------
    def search(self, query: bytes, k: int, min_similarity: float = 0.0) -> list[tuple[int, float, int]]:
        """Exact Tanimoto top-k: ``[(id, similarity, row), ...]`` by similarity desc, then id asc.

        Bit-sliced counting: the query's ``a`` on-bits select ``a`` columns of the transposed matrix;
        adding them into vertical (bit-plane) counters gives every row's intersection count ``c``,
        64 rows per machine word. Rows are grouped by popcount ``b`` and each group is padded to
        whole words, so every word has one ``b`` and the exact test ``Tanimoto ≥ T`` ⇔
        ``c·(1 + T) ≥ T·(a + b)`` becomes a bit-serial comparison of ``c`` with a per-word integer
        threshold. First pass: the k rows with the largest ``c`` give a k-th score ``T`` (a lower
        bound of the true k-th best); second pass: every row scoring ≥ T, scored exactly.
        """
        arr = self.snapshot()
        if arr.size == 0 or k <= 0:
            return []
        q = np.frombuffer(query, dtype=np.uint64)
        bits = np.flatnonzero(np.unpackbits(q.view(np.uint8), bitorder="little"))
        a = int(bits.size)
        floor = max(min_similarity, 0.0)
        layout = self._layout(arr)
        planes = _count_planes(layout.cols, bits)
        if a == 0 or not planes:
            return self._score(arr, layout, planes, a, layout.row2pos, k, floor)
        # pass 1: the largest m such that at least k rows share ≥ m bits with the query
        lo = 1
        if _count_at_least(planes, lo) < k:
            if floor == 0:  # fewer than k rows share any bit: zero-similarity rows fill the list
                return self._score(arr, layout, planes, a, layout.row2pos, k, floor)
            threshold = floor
        else:
            hi = a
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if _count_at_least(planes, mid) >= k:
                    lo = mid
                else:
                    hi = mid - 1
            first = self._score(arr, layout, planes, a, _positions(_ge_scalar(planes, lo)), k, floor)
            threshold = max(floor, first[-1][1]) if len(first) >= k else floor
        if threshold <= 0:
            return self._score(arr, layout, planes, a, layout.row2pos, k, floor)
        # pass 2: every row with Tanimoto ≥ threshold (a generous integer cut per popcount group)
        cut = np.ceil(threshold * (a + layout.word_b) / (1.0 + threshold) - 1e-9).astype(np.int64)
        positions = _positions(_ge_words(planes, np.maximum(cut, 1)))
        return self._score(arr, layout, planes, a, positions, k, floor)

    @staticmethod
    def _score(arr: _Arrays, layout: _Layout, planes: list[np.ndarray], a: int, positions: np.ndarray,
               k: int, floor: float) -> list[tuple[int, float, int]]:
        """Exact scores of the rows at these padded positions; top-k by (-similarity, id)."""
        rows = layout.pos2row[positions]
        real = rows >= 0
        positions, rows = positions[real], rows[real]
        c = np.zeros(positions.size, dtype=np.int64)
        word, shift = positions >> 6, (positions & 63).astype(np.uint64)
        for level, plane in enumerate(planes):
            c += ((plane[word] >> shift) & np.uint64(1)).astype(np.int64) << level
        denom = (a + arr.pcs[rows] - c).astype(np.float64)
        sims = np.divide(c, denom, out=np.zeros(rows.size, dtype=np.float64), where=denom > 0)
        keep = sims >= floor
        rows, sims = rows[keep], sims[keep]
        order = np.lexsort((arr.ids[rows], -sims))[:k]
        return [(int(arr.ids[rows[i]]), float(sims[i]), int(rows[i])) for i in order]

    def _layout(self, arr: _Arrays) -> _Layout:
        layout = arr.cache.get("layout")
        if layout is not None:
            return layout
        with self._lock:
            layout = arr.cache.get("layout")
            if layout is None:
                layout = _build_layout(arr, self.words * 64)
                arr.cache["layout"] = layout
        return layout

    def warm(self) -> None:
        """Consolidate and build the transposed matrix now, so the next search does not pay for it."""
        self._layout(self.snapshot())

    def search_scan(self, query: bytes, k: int, min_similarity: float = 0.0) -> list[tuple[int, float, int]]:
        """The same answer by a popcount-bounded scan of the row-major matrix (kept as a cross-check)."""
        arr = self.snapshot()
        q = np.frombuffer(query, dtype=np.uint64)
        a = int(np.bitwise_count(q).sum())
        best_s = np.zeros(0, dtype=np.float64)
        best_r = np.zeros(0, dtype=np.int64)
        if arr.size == 0 or k <= 0:
            return []
        max_pc = int(arr.pcs[-1])
        done_lo, done_hi = None, None  # popcount range [lo, hi] already scored
        floor = max(min_similarity, 0.0)
        for t in RINGS:
            if a == 0:
                lo, hi = 0, max_pc
            else:
                lo = int(np.floor(a * t))
                hi = max_pc if t <= 0 else min(max_pc, int(np.ceil(a / t)))
            ranges = [(lo, hi)] if done_lo is None else []
            if done_lo is not None and lo < done_lo:
                ranges.append((lo, done_lo - 1))
            if done_hi is not None and hi > done_hi:
                ranges.append((done_hi + 1, hi))
            for plo, phi in ranges:
                start = int(np.searchsorted(arr.pcs, plo, side="left"))
                stop = int(np.searchsorted(arr.pcs, phi, side="right"))
                for s in range(start, stop, CHUNK):
                    e = min(stop, s + CHUNK)
                    c = np.bitwise_count(arr.fps[s:e] & q).sum(axis=1, dtype=np.int32)
                    denom = (a + arr.pcs[s:e] - c).astype(np.float64)
                    sims = np.divide(c, denom, out=np.zeros(e - s, dtype=np.float64), where=denom > 0)
                    cut = floor if best_s.shape[0] < k else max(floor, float(best_s[k - 1]))
                    sel = np.flatnonzero(sims >= cut)
                    if sel.size == 0:
                        continue
                    cand_s = np.concatenate([best_s, sims[sel]])
                    cand_r = np.concatenate([best_r, sel + s])
                    order = np.lexsort((arr.ids[cand_r], -cand_s))[:k]
                    best_s, best_r = cand_s[order], cand_r[order]
            done_lo = lo if done_lo is None else min(done_lo, lo)
            done_hi = hi if done_hi is None else max(done_hi, hi)
            # every row not scored yet has a bound < t: stop once that cannot reach (or tie) the cut
            threshold = floor if best_s.shape[0] < k else max(floor, float(best_s[k - 1]))
            if (done_lo <= 0 and done_hi >= max_pc) or (threshold > 0 and t <= threshold):
                break
        return [(int(arr.ids[r]), float(s), int(r)) for s, r in zip(best_s, best_r, strict=True)]

    def fingerprint(self, row: int) -> bytes:
        return self.snapshot().fps[row].tobytes()

    # -- substructure ------------------------------------------------------------------------
    def screen(self, query_pattern: bytes) -> tuple[_Arrays, np.ndarray]:
        """Rows (popcount order numbers) whose pattern bits include the query's, in (heavy atoms, id) order."""
        arr = self.snapshot()
        q = np.frombuffer(query_pattern, dtype=np.uint64)
        nz = np.flatnonzero(q)
        if nz.size == 0:
            return arr, arr.sub_order
        qn = q[nz]
        hits = []
        for s in range(0, arr.size, CHUNK):
            block = arr.sub_pfps[s : s + CHUNK][:, nz]
            ok = np.all((block & qn) == qn, axis=1)
            hits.append(np.flatnonzero(ok) + s)
        positions = np.concatenate(hits) if hits else np.zeros(0, np.int64)
        return arr, arr.sub_order[positions]

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: Path, version: int) -> None:
        with self._lock:
            arr = self.snapshot()
            pfps = self._pfps[0] if self._pfps else np.zeros((0, self.pattern_words), np.uint64)
            heavy = self._heavy[0] if self._heavy else np.zeros(0, np.int32)
        blob = "\n".join(arr.smiles).encode("utf-8")
        tmp = path.with_name(path.name + ".tmp.npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(tmp, ids=arr.ids, fps=arr.fps, pfps=pfps, heavy=heavy,
                 smiles=np.frombuffer(blob, dtype=np.uint8), version=np.asarray([version], dtype=np.int64))
        tmp.replace(path)

    def load(self, path: Path) -> int | None:
        """Read a snapshot written by :meth:`save`; returns its version, or None if absent/unreadable."""
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                ids, fps, pfps, heavy = data["ids"], data["fps"], data["pfps"], data["heavy"]
                smiles = data["smiles"].tobytes().decode("utf-8").split("\n") if ids.size else []
                version = int(data["version"][0])
        except Exception:
            log.warning("fingerprint snapshot %s unreadable; rebuilding from SQL", path, exc_info=True)
            return None
        if len(smiles) != ids.size or fps.shape != (ids.size, self.words) or pfps.shape[1] != self.pattern_words:
            log.warning("fingerprint snapshot %s does not match the settings; rebuilding", path)
            return None
        with self._lock:
            self._clear()
            self._ids, self._fps, self._pfps, self._heavy = [ids], [fps], [pfps], [heavy.astype(np.int32)]
            self._smiles = smiles
            self._known = set(ids.tolist())
            self._arrays = None
        return version
