"""Bit-sliced kernels over a bit-transposed fingerprint matrix (pure numpy).

A segment stores fingerprints column-major: ``cols[j]`` is a ``uint64`` array whose bit ``p % 64``
of word ``p // 64`` is bit ``j`` of the row at position ``p``. Adding the ``a`` columns of a query's
on-bits into vertical counters (bit planes) yields every row's intersection count ``c`` with a few
hundred word operations per 64 rows; comparing the counters with an integer threshold, bit-serially,
selects rows without ever materialising per-row counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ONES = np.uint64(0xFFFFFFFFFFFFFFFF)


_MASKS = {j: np.uint64(m) for j, m in [(32, 0x00000000FFFFFFFF), (16, 0x0000FFFF0000FFFF), (8, 0x00FF00FF00FF00FF),
                                        (4, 0x0F0F0F0F0F0F0F0F), (2, 0x3333333333333333), (1, 0x5555555555555555)]}


def transpose64(x: np.ndarray) -> None:
    """Transpose 64×64 bit matrices in place: ``x`` is ``uint64 [N, 64]``, row ``i`` bit ``b`` ↔ row ``b`` bit ``i``.

    The recursive block swap (six steps of shifts and masks), vectorised over all N matrices.
    """
    n = x.shape[0]
    for j, m in _MASKS.items():
        v = x.reshape(n, 64 // (2 * j), 2, j)
        a, b = v[:, :, 0, :], v[:, :, 1, :]
        t = ((a >> np.uint64(j)) ^ b) & m
        b ^= t
        a ^= t << np.uint64(j)


def transpose(rows: np.ndarray, block: int = 1024) -> np.ndarray:
    """``uint64 [n, W]`` rows (n a multiple of 64) → ``uint64 [W * 64, n / 64]`` columns.

    Column ``64 j + b``, word ``g`` has bit ``i`` set when row ``64 g + i`` has bit ``64 j + b``.
    Works ``block`` words (64 rows each) at a time.
    """
    n, w = rows.shape
    if n % 64:
        raise ValueError("row count must be a multiple of 64")
    groups = n // 64
    out = np.empty((w * 64, groups), dtype=np.uint64)
    out3 = out.reshape(w, 64, groups)
    for g0 in range(0, groups, block):
        g1 = min(groups, g0 + block)
        # a copy, always: transpose64 works in place, and a slice that is already contiguous (w == 1) would be
        # a view of the caller's rows
        blk = np.array(np.asarray(rows[g0 * 64 : g1 * 64]).reshape(g1 - g0, 64, w).transpose(0, 2, 1),
                       order="C", copy=True)
        transpose64(blk.reshape(-1, 64))
        out3[:, :, g0:g1] = blk.transpose(1, 2, 0)
    return out


def untranspose(cols: np.ndarray, positions: np.ndarray | None = None, block: int = 1024) -> np.ndarray:
    """Row-major ``uint64 [len(positions), nbits / 64]`` from columns (all positions when None).

    Works ``block`` words at a time (bounded temporaries whatever the segment size).
    """
    nbits, groups = cols.shape
    w = nbits // 64
    if positions is None:
        positions = np.arange(groups * 64, dtype=np.int64)
    positions = np.asarray(positions, dtype=np.int64)
    out = np.empty((positions.size, w), dtype=np.uint64)
    if positions.size == 0 or w == 0:
        return out
    order = np.argsort(positions, kind="stable")
    sorted_pos = positions[order]
    word = sorted_pos >> 6
    c3 = cols.reshape(w, 64, groups)
    for g0 in range(int(word[0]) // block * block, int(word[-1]) + 1, block):
        lo, hi = np.searchsorted(word, [g0, g0 + block])
        if lo == hi:
            continue
        g1 = min(groups, g0 + block)
        # [g, j, b], a copy always: transpose64 works in place, and one word (a segment of at most 64 rows, or
        # the last block) is already contiguous, so ascontiguousarray gave a view of the segment's own columns
        blk = np.array(np.asarray(c3[:, :, g0:g1]).transpose(2, 0, 1), order="C", copy=True)
        transpose64(blk.reshape(-1, 64))  # [g, j, i]
        rows = blk.transpose(0, 2, 1).reshape(-1, w)  # row 64 (g - g0) + i
        out[order[lo:hi]] = rows[sorted_pos[lo:hi] - g0 * 64]
    return out


def count_planes(columns: Sequence[np.ndarray], words: int) -> list[np.ndarray]:
    """Bit-plane counters: plane ``l`` holds bit ``l`` of each position's count of set columns."""
    planes: list[np.ndarray] = []
    buffers = (np.empty(words, dtype=np.uint64), np.empty(words, dtype=np.uint64))
    for added, col in enumerate(columns, start=1):
        if added.bit_length() > len(planes):
            planes.append(np.zeros(words, dtype=np.uint64))
        carry = col
        for level in range(added.bit_length()):
            plane = planes[level]
            out = buffers[level & 1]
            np.bitwise_and(plane, carry, out=out)
            np.bitwise_xor(plane, carry, out=plane)
            carry = out
    return planes


def ge_scalar(planes: list[np.ndarray], m: int) -> np.ndarray:
    """Bits of the positions whose count is ≥ m (m ≥ 1)."""
    words = planes[0].shape[0]
    if m >= 1 << len(planes):
        return np.zeros(words, dtype=np.uint64)
    eq = np.full(words, ONES, dtype=np.uint64)
    gt = np.zeros(words, dtype=np.uint64)
    tmp = np.empty(words, dtype=np.uint64)
    for level in range(len(planes) - 1, -1, -1):
        if (m >> level) & 1:
            eq &= planes[level]
        else:
            np.bitwise_and(eq, planes[level], out=tmp)
            gt |= tmp
    return gt | eq


def ge_words(planes: list[np.ndarray], cut: np.ndarray) -> np.ndarray:
    """Like :func:`ge_scalar` with one threshold per word (``cut`` ≥ 1)."""
    top = len(planes)
    fits = cut < (1 << top)  # words whose threshold exceeds every representable count stay empty
    eq = np.where(fits, ONES, np.uint64(0)).astype(np.uint64)
    gt = np.zeros_like(eq)
    for level in range(top - 1, -1, -1):
        m_bits = np.where((cut >> level) & 1, ONES, np.uint64(0)).astype(np.uint64)
        p = planes[level]
        gt |= eq & p & ~m_bits
        eq &= ~(p ^ m_bits)
    return gt | eq


def popcount(mask: np.ndarray) -> int:
    return int(np.bitwise_count(mask).sum())


def positions(mask: np.ndarray) -> np.ndarray:
    """Sorted positions (word * 64 + bit) of the set bits of a word mask."""
    nz = np.flatnonzero(mask)
    if nz.size == 0:
        return np.zeros(0, dtype=np.int64)
    bits = np.unpackbits(mask[nz].view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")
    w, b = np.nonzero(bits)
    return nz[w].astype(np.int64) * 64 + b


def counts_at(planes: list[np.ndarray], pos: np.ndarray) -> np.ndarray:
    """The counter value at each position."""
    c = np.zeros(pos.size, dtype=np.int64)
    word, shift = pos >> 6, (pos & 63).astype(np.uint64)
    for level, plane in enumerate(planes):
        c += ((plane[word] >> shift) & np.uint64(1)).astype(np.int64) << level
    return c


def gather_counts(cols: np.ndarray, bits: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Intersection counts of a few positions directly from the columns (no planes)."""
    if bits.size == 0 or pos.size == 0:
        return np.zeros(pos.size, dtype=np.int64)
    word, shift = pos >> 6, (pos & 63).astype(np.uint64)
    sel = cols[bits[:, None], word[None, :]]  # [a, len]
    return ((sel >> shift) & np.uint64(1)).sum(axis=0, dtype=np.int64)


def pack_mask(flags: np.ndarray) -> np.ndarray:
    """A boolean array over positions (length a multiple of 64) → ``uint64`` word mask."""
    return np.packbits(flags, bitorder="little").view(np.uint64)
