"""One immutable segment of the molecule index: columns in memory or memory-mapped from files.

Rows are placed at *positions*: sorted by Morgan popcount ``b`` (then molecular weight, then id),
with every popcount group padded to whole 64-row words, so each word of the transposed matrices
holds rows of a single ``b`` (the Tanimoto bound per word is then one integer). Padding positions
carry id ``-1`` and are never live. Sorting by weight inside a group keeps a weight range in few
words, which the filtered search exploits.

Files of a segment directory (all ``.npy``, opened with ``mmap_mode="r"``, so opening is a map):

============== ======================= ==============================================
``cols``       uint64 [fp_bits, W]     Morgan bits, transposed (similarity)
``pcols``      uint64 [pattern_bits, W] pattern bits, transposed (substructure screen)
``word_b``     int32 [W]               popcount of the rows of each word
``ids``        int64 [P]               id per position, -1 for padding
``<property>`` float64/int16 [P]       the eight property columns
``smiles``     uint8 [...]             canonical SMILES, UTF-8, concatenated
``smiles_off`` int64 [P + 1]           start of each position's SMILES in ``smiles``
``id_sorted``  int64 [n], ``id_pos``   ids sorted, with their positions (id lookups)
``hash_sorted`` uint64 [n], ``hash_pos`` SMILES hashes sorted, with positions (exact mode)
============== ======================= ==============================================

``P = 64 W`` positions for ``n`` molecules. About 256 + 256 + 34 + 8 bytes per molecule plus the
SMILES (and 32 bytes of lookup tables touched only by deletes, id and exact look-ups).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import properties as props
from .bitslice import pack_mask, transpose, untranspose

FORMAT = 1
_ARRAYS = ("cols", "pcols", "word_b", "ids", "smiles", "smiles_off", "id_sorted", "id_pos", "hash_sorted",
           "hash_pos", *props.PROPERTY_NAMES)


def smiles_hash(smiles: list[str]) -> np.ndarray:
    """64-bit hashes of canonical SMILES (exact-mode look-ups; equality is then checked on the text)."""
    return np.fromiter((int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=8).digest(), "little")
                        for s in smiles), dtype=np.uint64, count=len(smiles))


@dataclass(frozen=True)
class Segment:
    cols: np.ndarray
    pcols: np.ndarray
    word_b: np.ndarray
    ids: np.ndarray
    columns: dict[str, np.ndarray]
    smiles_blob: np.ndarray
    smiles_off: np.ndarray
    id_sorted: np.ndarray
    id_pos: np.ndarray
    hash_sorted: np.ndarray
    hash_pos: np.ndarray
    path: Path | None = None  # set when memory-mapped from files

    @property
    def words(self) -> int:
        return int(self.word_b.shape[0])

    @property
    def size(self) -> int:
        """Molecules stored (live or not)."""
        return int(self.id_sorted.shape[0])

    def padding_free_mask(self) -> np.ndarray:
        """The word mask of real (non-padding) positions."""
        return pack_mask(np.asarray(self.ids) >= 0)

    # -- rows ----------------------------------------------------------------------------------
    def smiles(self, pos: int) -> str:
        a, b = int(self.smiles_off[pos]), int(self.smiles_off[pos + 1])
        return self.smiles_blob[a:b].tobytes().decode("utf-8")

    def properties(self, pos: int) -> dict[str, float | int]:
        return props.as_dict([self.columns[name][pos] for name in props.PROPERTY_NAMES])

    def values(self, positions: np.ndarray) -> np.ndarray:
        """``float64 [len, 8]`` property values at these positions."""
        return np.stack([np.asarray(self.columns[name][positions], dtype=np.float64)
                         for name in props.PROPERTY_NAMES], axis=1)

    def fingerprints(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row-major Morgan and pattern fingerprints at these positions (for compaction)."""
        return untranspose(self.cols, positions), untranspose(self.pcols, positions)

    def find_ids(self, ids: np.ndarray) -> np.ndarray:
        """Position of each id, -1 when absent."""
        ids = np.asarray(ids, dtype=np.int64)
        if self.size == 0 or ids.size == 0:
            return np.full(ids.shape, -1, dtype=np.int64)
        i = np.searchsorted(self.id_sorted, ids)
        i = np.minimum(i, self.size - 1)
        found = self.id_sorted[i] == ids
        return np.where(found, self.id_pos[i], -1).astype(np.int64)

    def find_smiles(self, smiles: str, digest: int) -> np.ndarray:
        """Positions whose canonical SMILES equals ``smiles``."""
        h = np.uint64(digest)
        lo = int(np.searchsorted(self.hash_sorted, h, side="left"))
        hi = int(np.searchsorted(self.hash_sorted, h, side="right"))
        pos = np.asarray(self.hash_pos[lo:hi], dtype=np.int64)
        return np.asarray([p for p in pos.tolist() if self.smiles(p) == smiles], dtype=np.int64)

    # -- building ------------------------------------------------------------------------------
    @staticmethod
    def build(ids: np.ndarray, fps: np.ndarray, pfps: np.ndarray, values: np.ndarray, smiles: list[str],
              hashes: np.ndarray | None = None) -> Segment:
        """A segment from row-major data (``fps`` uint64 [n, W], ``values`` float64 [n, 8])."""
        n = int(ids.shape[0])
        ids = np.asarray(ids, dtype=np.int64)
        pcs = np.bitwise_count(fps).sum(axis=1, dtype=np.int32) if n else np.zeros(0, np.int32)
        mw = values[:, 0] if n else np.zeros(0)
        order = np.lexsort((ids, mw, pcs))
        pcs = pcs[order]
        if n:
            starts = np.flatnonzero(np.r_[True, pcs[1:] != pcs[:-1]])
            sizes = np.diff(np.r_[starts, n])
        else:
            starts = sizes = np.zeros(0, np.int64)
        padded = (sizes + 63) // 64 * 64
        group_pos = np.r_[0, np.cumsum(padded)[:-1]].astype(np.int64)
        total = int(padded.sum())
        row_pos = (np.repeat(group_pos - starts, sizes) + np.arange(n)).astype(np.int64)  # sorted row → position
        pos_ids = np.full(total, -1, dtype=np.int64)
        pos_ids[row_pos] = ids[order]

        def spread(rows: np.ndarray) -> np.ndarray:
            out = np.zeros((total, rows.shape[1]), dtype=np.uint64)
            out[row_pos] = rows[order]
            return out

        cols = transpose(spread(fps)) if total else np.zeros((fps.shape[1] * 64, 0), np.uint64)
        pcols = transpose(spread(pfps)) if total and pfps.shape[1] else np.zeros((pfps.shape[1] * 64, total // 64),
                                                                                 np.uint64)
        word_b = np.repeat(pcs[starts], padded // 64).astype(np.int32) if n else np.zeros(0, np.int32)
        columns = {}
        for j, name in enumerate(props.PROPERTY_NAMES):
            dtype = props.COLUMN_DTYPES[name]
            col = np.full(total, np.nan if dtype is np.float64 else 0, dtype=dtype)
            col[row_pos] = values[order, j] if dtype is np.float64 else np.clip(values[order, j], -32768, 32767)
            columns[name] = col
        encoded = [s.encode("utf-8") for s in smiles]
        lengths = np.zeros(total, dtype=np.int64)
        lengths[row_pos] = np.fromiter((len(encoded[i]) for i in order.tolist()), dtype=np.int64, count=n)
        offsets = np.zeros(total + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        blob = np.frombuffer(b"".join(encoded[i] for i in order.tolist()), dtype=np.uint8)
        id_order = np.argsort(ids[order], kind="stable")
        hashes = smiles_hash(smiles) if hashes is None else hashes
        h_order = np.argsort(hashes[order], kind="stable")
        return Segment(cols, pcols, word_b, pos_ids, columns, blob, offsets, ids[order][id_order],
                       row_pos[id_order], hashes[order][h_order], row_pos[h_order])

    # -- files ---------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write every array as ``.npy`` into a new directory (fsynced), ready for :meth:`open`."""
        directory.mkdir(parents=True, exist_ok=False)
        arrays = self._arrays()
        for name in _ARRAYS:
            path = directory / f"{name}.npy"
            with path.open("wb") as fh:
                np.save(fh, np.ascontiguousarray(arrays[name]))
                fh.flush()
                os.fsync(fh.fileno())
        (directory / "segment.json").write_text(json.dumps({"format": FORMAT, "size": self.size,
                                                            "words": self.words}))

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"cols": self.cols, "pcols": self.pcols, "word_b": self.word_b, "ids": self.ids,
                "smiles": self.smiles_blob, "smiles_off": self.smiles_off, "id_sorted": self.id_sorted,
                "id_pos": self.id_pos, "hash_sorted": self.hash_sorted, "hash_pos": self.hash_pos, **self.columns}

    @staticmethod
    def open(directory: Path) -> Segment:
        """Memory-map a saved segment (nothing is read until a search touches it)."""
        meta = json.loads((directory / "segment.json").read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{directory}: unknown segment format {meta.get('format')}")
        a = {name: _map(directory / f"{name}.npy") for name in _ARRAYS}
        return Segment(a["cols"], a["pcols"], a["word_b"], a["ids"], {n: a[n] for n in props.PROPERTY_NAMES},
                       a["smiles"], a["smiles_off"], a["id_sorted"], a["id_pos"], a["hash_sorted"], a["hash_pos"],
                       path=directory)


def _map(path: Path) -> np.ndarray:
    """A read-only memory map of an ``.npy`` file (empty arrays, which cannot be mapped, are read)."""
    try:
        return np.asarray(np.load(path, mmap_mode="r", allow_pickle=False))
    except ValueError:
        return np.load(path, allow_pickle=False)
