"""The eight molecular properties every stored molecule carries, and range filters over them.

Definitions are RDKit's (SPEC "Contract additions (v2)"): ``mw`` ``Descriptors.MolWt``, ``logp``
``Crippen.MolLogP``, ``tpsa`` ``rdMolDescriptors.CalcTPSA``, ``hbd`` ``CalcNumHBD``, ``hba``
``CalcNumHBA``, ``rotatable_bonds`` ``CalcNumRotatableBonds``, ``heavy_atoms`` ``HeavyAtomCount``,
``rings`` ``CalcNumRings``. Values are kept unrounded (float64 / int16 columns), so a filter compares
exactly the numbers RDKit computes.

A filter is ``{"mw": [lo, hi], ...}``: each bound inclusive, either may be ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from rdkit import Chem
from rdkit.Chem import Crippen, Descriptors, rdMolDescriptors

#: column order of property arrays ``[n, 8]``
PROPERTY_NAMES: tuple[str, ...] = ("mw", "logp", "tpsa", "hbd", "hba", "rotatable_bonds", "heavy_atoms", "rings")
#: continuous properties (float64 columns); the others are counts (int16 columns)
FLOAT_PROPERTIES = frozenset({"mw", "logp", "tpsa"})
COLUMN_DTYPES: dict[str, Any] = {name: (np.float64 if name in FLOAT_PROPERTIES else np.int16)
                                 for name in PROPERTY_NAMES}

#: a validated filter: property name → (lo, hi), ``None`` meaning unbounded
Filters = dict[str, tuple[float | None, float | None]]


class FilterError(ValueError):
    """A malformed property filter (unknown name, bad bounds); the service maps it to 422."""


def compute(mol: Chem.Mol) -> tuple[float, float, float, int, int, int, int, int]:
    """The eight properties of a sanitised molecule, in :data:`PROPERTY_NAMES` order."""
    return (
        float(Descriptors.MolWt(mol)),  # type: ignore[attr-defined]
        float(Crippen.MolLogP(mol)),  # type: ignore[attr-defined]
        float(rdMolDescriptors.CalcTPSA(mol)),
        int(rdMolDescriptors.CalcNumHBD(mol)),
        int(rdMolDescriptors.CalcNumHBA(mol)),
        int(rdMolDescriptors.CalcNumRotatableBonds(mol)),
        int(mol.GetNumHeavyAtoms()),
        int(rdMolDescriptors.CalcNumRings(mol)),
    )


def as_dict(values: Sequence[float]) -> dict[str, float | int]:
    """``{"mw": 180.159, ..., "rings": 1}`` from one row of values (counts as ``int``)."""
    return {name: (float(v) if name in FLOAT_PROPERTIES else int(v))
            for name, v in zip(PROPERTY_NAMES, values, strict=True)}


def normalize(filters: Mapping[str, Any] | None) -> Filters:
    """Validate a user filter; returns only the constraining entries (``{}`` = no filter)."""
    if not filters:
        return {}
    if not isinstance(filters, Mapping):
        raise FilterError("filters must be an object like {\"mw\": [200, 500]}")
    out: Filters = {}
    for name, bounds in filters.items():
        if name not in COLUMN_DTYPES:
            raise FilterError(f"unknown property {name!r}; known: {', '.join(PROPERTY_NAMES)}")
        if bounds is None:
            continue
        if isinstance(bounds, (str, bytes)) or not isinstance(bounds, Sequence) or len(bounds) != 2:
            raise FilterError(f"filter {name!r} must be [lo, hi] (either may be null)")
        lo, hi = (None if b is None else _number(name, b) for b in bounds)
        if lo is not None and hi is not None and lo > hi:
            raise FilterError(f"filter {name!r}: lower bound {lo} is above upper bound {hi}")
        if lo is not None or hi is not None:
            out[name] = (lo, hi)
    return out


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FilterError(f"filter {name!r}: bounds must be numbers or null, not {value!r}")
    value = float(value)
    if math.isnan(value):
        raise FilterError(f"filter {name!r}: NaN is not a bound")
    return value


def mask(columns: Mapping[str, np.ndarray], filters: Filters) -> np.ndarray | None:
    """Boolean mask of the rows passing every filter (``None`` when there is no filter)."""
    out: np.ndarray | None = None
    for name, (lo, hi) in filters.items():
        col = columns[name]
        ok = None
        if lo is not None:
            ok = col >= lo
        if hi is not None:
            ok = (col <= hi) if ok is None else np.logical_and(ok, col <= hi, out=ok)
        if ok is None:
            continue
        out = ok if out is None else np.logical_and(out, ok, out=out)
    return out


def passes(values: Mapping[str, float], filters: Filters) -> bool:
    """The same test for one molecule (used by brute-force references and small paths)."""
    for name, (lo, hi) in filters.items():
        v = values[name]
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return False
    return True
