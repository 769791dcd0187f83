"""The molecule search engine: queries in four modes over a :class:`~.molindex.MoleculeIndex`.

Pure numpy/RDKit + files; no web, vector-store or SQL code. Typical use::

    index = MoleculeIndex(data_dir / "molecules")          # maps saved files, or starts empty
    with Preparer() as prep, MoleculeEngine(index) as engine:
        batch = prep.prepare(records)                      # per-record errors in batch.errors
        index.add(ids_for(batch.smiles), batch); index.save({"version": 3})
        result = engine.search("c1ccccc1O", mode="substructure", top_k=10, filters={"mw": [None, 300]})

Errors: :class:`~.chem.ChemError` for a query RDKit cannot read (the message says why, and suggests
entering a SMILES when the text looks like a name), :class:`~.properties.FilterError` for a bad
filter, ``ValueError`` for bad paging; all are the caller's mistakes (HTTP 422).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from rdkit import Chem

from . import properties as props
from .chem import (
    ChemError,
    canonical_smiles,
    draw_svg,
    looks_like_smarts,
    parse_query,
    parse_smiles,
    reject_csv_line,
    reject_inchi,
)
from .ingest import morgan_fp, pattern_fp
from .matching import MatchPool
from .molindex import Hit, MoleculeIndex

Mode = Literal["similarity", "substructure", "superstructure", "exact"]
MODES: tuple[str, ...] = ("similarity", "substructure", "superstructure", "exact")


@dataclass
class SearchResult:
    mode: str
    hits: list[Hit]
    #: False when a substructure/superstructure search ran out of time (hits are then a prefix)
    complete: bool = True
    #: "smiles" or "smarts": how the query was read
    query_kind: str = "smiles"
    #: substructure/superstructure: molecules left by the fingerprint screen, and how many RDKit verified
    candidates: int | None = None
    scanned: int | None = None
    took_ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class MoleculeEngine:
    """Search modes, paging, filters, batches and bounded chemistry over one index (thread-safe)."""

    def __init__(self, index: MoleculeIndex, matcher: MatchPool | None = None, *, match_workers: int = 2,
                 max_query_chars: int = 2000, max_query_atoms: int = 120, max_top_k: int = 1000,
                 max_offset: int = 100_000, timeout_ms: int = 5000) -> None:
        self.index = index
        self.spec = index.spec
        self._own_matcher = matcher is None
        self.matcher = matcher if matcher is not None else MatchPool(match_workers)
        self.max_query_chars = max_query_chars
        self.max_query_atoms = max_query_atoms
        self.max_top_k = max_top_k
        self.max_offset = max_offset
        self.timeout_ms = timeout_ms

    # -- queries -----------------------------------------------------------------------------------
    def _check(self, text: str, top_k: int, offset: int) -> str:
        if not isinstance(text, str) or not text.strip():
            raise ChemError("empty query")
        if len(text) > self.max_query_chars:
            raise ChemError(f"query longer than {self.max_query_chars} characters")
        if not 1 <= top_k <= self.max_top_k:
            raise ValueError(f"top_k must be between 1 and {self.max_top_k}")
        if not 0 <= offset <= self.max_offset:
            raise ValueError(f"offset must be between 0 and {self.max_offset}")
        return text.strip()

    def _molecule(self, text: str, mode: str) -> Chem.Mol:
        reject_inchi(text)
        reject_csv_line(text)
        if looks_like_smarts(text):
            raise ChemError(f"{mode} search needs a molecule (SMILES); SMARTS queries work in substructure mode")
        return parse_smiles(text)

    def _cap_atoms(self, mol: Chem.Mol) -> None:
        if mol.GetNumAtoms() > self.max_query_atoms:
            raise ChemError(f"query has {mol.GetNumAtoms()} atoms; the limit is {self.max_query_atoms}")

    def search(self, query: str, mode: Mode = "similarity", top_k: int = 10, offset: int = 0,
               min_similarity: float = 0.0, filters: Mapping[str, Any] | None = None,
               timeout_ms: int | None = None) -> SearchResult:
        """Results ``offset .. offset + top_k - 1`` of one ranking:

        * ``similarity``: Tanimoto desc, id asc (``min_similarity`` drops lower scores);
        * ``substructure``: stored molecules containing the query (SMILES or SMARTS), heavy atoms asc, id asc;
        * ``superstructure``: stored molecules contained in the query (SMILES), heavy atoms desc, id asc;
        * ``exact``: same canonical isomeric SMILES, id asc.

        ``filters`` (property ranges) apply in every mode before ranking.
        """
        started = time.perf_counter()
        text = self._check(query, top_k, offset)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        f = props.normalize(filters)
        if not 0.0 <= min_similarity <= 1.0:
            raise ValueError("min_similarity must be within [0, 1]")
        if mode == "similarity":
            mol = self._molecule(text, mode)
            hits = self.index.similarity(morgan_fp(mol, self.spec), top_k, offset, min_similarity, f)
            result = SearchResult(mode, hits)
        elif mode == "exact":
            mol = self._molecule(text, mode)
            hits = self.index.exact(canonical_smiles(mol), f)[offset : offset + top_k]
            result = SearchResult(mode, hits)
        else:
            result = self._structure(text, mode, top_k, offset, f, timeout_ms)
        result.took_ms = round((time.perf_counter() - started) * 1000, 3)
        return result

    def _structure(self, text: str, mode: str, top_k: int, offset: int, f: props.Filters,
                   timeout_ms: int | None) -> SearchResult:
        if mode == "substructure":
            qmol, kind = parse_query(text)
        else:
            qmol, kind = self._molecule(text, mode), "smiles"
        self._cap_atoms(qmol)
        budget = (timeout_ms if timeout_ms is not None else self.timeout_ms) / 1000.0
        started = time.monotonic()
        cand = self.index.screen(mode, pattern_fp(qmol, self.spec), f,  # type: ignore[arg-type]
                                 query_heavy_atoms=qmol.GetNumHeavyAtoms() if mode == "superstructure" else None)
        need = offset + top_k
        out = self.matcher.match(mode, text, cand.smiles, need=need,  # type: ignore[arg-type]
                                 timeout_s=max(0.0, budget - (time.monotonic() - started)))
        qfp = morgan_fp(qmol, self.spec) if kind == "smiles" else None
        hits = cand.hits(out.matched[offset:need], qfp)
        return SearchResult(mode, hits, out.complete, kind, len(cand), out.scanned)

    def search_batch(self, queries: Sequence[str], mode: Mode = "similarity", top_k: int = 10, offset: int = 0,
                     min_similarity: float = 0.0, filters: Mapping[str, Any] | None = None,
                     timeout_ms: int | None = None, threads: int = 2) -> list[SearchResult | Exception]:
        """One result per query, or the query's own error (:class:`ChemError`/``ValueError``).

        Similarity batches share one index view and one filter mask and run on ``threads`` threads.
        """
        f = props.normalize(filters)
        if mode != "similarity":
            out: list[SearchResult | Exception] = []
            for q in queries:
                try:
                    out.append(self.search(q, mode, top_k, offset, min_similarity, f, timeout_ms))
                except ValueError as exc:  # ChemError and FilterError are ValueErrors
                    out.append(exc)
            return out
        started = time.perf_counter()
        fps: list[np.ndarray] = []
        where: list[int] = []
        results: list[SearchResult | Exception | None] = []
        for i, q in enumerate(queries):
            try:
                text = self._check(q, top_k, offset)
                fps.append(morgan_fp(self._molecule(text, mode), self.spec))
                where.append(i)
                results.append(None)
            except ValueError as exc:
                results.append(exc)
        if fps:
            found = self.index.similarity_batch(np.stack(fps), top_k, offset, min_similarity, f, threads=threads)
            for i, hits in zip(where, found, strict=True):
                results[i] = SearchResult(mode, hits)
        took = round((time.perf_counter() - started) * 1000, 3)
        for r in results:
            if isinstance(r, SearchResult):
                r.took_ms = took
        return results  # type: ignore[return-value]

    # -- drawings ----------------------------------------------------------------------------------
    def svg(self, smiles: str, highlight: str | None = None, width: int = 300, height: int = 220,
            timeout_ms: int | None = None) -> tuple[str, bool]:
        """``(svg, complete)``: the molecule drawn with every match of ``highlight`` coloured.

        Highlight matching runs in a killable worker; past ``timeout_ms`` the molecule is drawn
        without highlight and ``complete`` is False.
        """
        mol = parse_smiles(smiles)
        if not highlight:
            return draw_svg(mol, width, height), True
        text = self._check(highlight, 1, 0)
        self._cap_atoms(parse_query(text)[0])
        budget = (timeout_ms if timeout_ms is not None else self.timeout_ms) / 1000.0
        drawn = self.matcher.svg(smiles, text, width, height, budget)
        if drawn is None:
            return draw_svg(mol, width, height), False
        return drawn, True

    def close(self) -> None:
        """Stop the matching workers (when this engine started them)."""
        if self._own_matcher:
            self.matcher.close()

    def __enter__(self) -> MoleculeEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
