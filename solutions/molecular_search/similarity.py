"""Exact Tanimoto top-k over the parts of a :class:`~.views.View` (the bit-sliced scan of :mod:`.bitslice`).

Per segment, :func:`topk_part` finds the exact top-k among the allowed rows in two passes (a bound from the
rows sharing the most bits, then every row that can reach it); :func:`ranking` runs the segments largest
first, each one's cut-off raised by what the previous ones found, and merges them by (-similarity, id).
"""

from __future__ import annotations

import numpy as np

from .bitslice import count_planes, counts_at, ge_scalar, ge_words, popcount, positions
from .segment import Segment
from .views import Hit, View


def query_bits(query_fp: np.ndarray | bytes, fp_bits: int) -> np.ndarray:
    """The set bit positions of a query fingerprint (``uint64[fp_bits / 64]`` or its bytes)."""
    q = np.frombuffer(query_fp, dtype=np.uint64) if isinstance(query_fp, bytes) else np.asarray(query_fp)
    if q.dtype != np.uint64 or q.shape != (fp_bits // 64,):
        raise ValueError(f"query fingerprint must be uint64[{fp_bits // 64}]")
    return np.flatnonzero(np.unpackbits(q.view(np.uint8), bitorder="little"))


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


def ranking(view: View, allowed: list[np.ndarray], qbits: np.ndarray, top_k: int, offset: int,
            min_similarity: float) -> list[Hit]:
    """Ranks ``offset .. offset + top_k - 1`` of the allowed rows by (-Tanimoto, id); ``qbits`` are the
    query's on-bit indices, ``allowed`` a word mask per part."""
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
