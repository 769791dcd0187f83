"""Structure screens and exact look-up over a :class:`~.views.View` of the index.

* :func:`screen`: pattern-fingerprint candidates for substructure (stored ⊇ query bits) and superstructure
  (stored ⊆ query bits), in ranking order, as :class:`Candidates` that RDKit then verifies (:mod:`.matching`).
* :func:`exact`: canonical-SMILES hash look-up, equality checked on the text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from . import properties as props
from .bitslice import gather_counts
from .ingest import FingerprintSpec
from .segment import smiles_hash
from .views import Hit, View


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


def screen(view: View, spec: FingerprintSpec, mode: Literal["substructure", "superstructure"],
           query_pattern: np.ndarray, filters: Mapping[str, Any] | None = None,
           query_heavy_atoms: int | None = None) -> Candidates:
    """Rows that may contain (substructure) or be contained in (superstructure) the query, ranked.

    Substructure: stored pattern bits ⊇ the query's; ranked by heavy atoms ascending, then id.
    Superstructure: stored bits ⊆ the query's (and heavy atoms ≤ the query's); heavy atoms
    descending, then id. Filters are applied here, before any RDKit work.
    """
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
            for j in np.setdiff1d(np.arange(spec.pattern_bits), qbits).tolist():
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

def exact(view: View, canonical: str, filters: Mapping[str, Any] | None = None) -> list[Hit]:
    """Every stored molecule whose canonical isomeric SMILES equals ``canonical``, by id."""
    allowed = view.allowed(props.normalize(filters))
    digest = int(smiles_hash([canonical])[0])
    found: list[tuple[int, int, int]] = []
    for i, part in enumerate(view.parts):
        for p in part.seg.find_smiles(canonical, digest).tolist():
            if (int(allowed[i][p >> 6]) >> (p & 63)) & 1:
                found.append((int(part.seg.ids[p]), i, p))
    return [view.hit(i, p, 1.0) for _, i, p in sorted(found)]
