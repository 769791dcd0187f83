"""What a search reads: an immutable :class:`View` of the index's parts, and the :class:`Hit` it answers with."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import properties as props
from .bitslice import pack_mask
from .store import Part


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
