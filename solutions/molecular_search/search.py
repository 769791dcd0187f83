"""Searching stored molecules: the engine's four modes, batches and drawings, answered with the SQL rows.

:class:`~.engine.MoleculeEngine` ranks (exact Tanimoto, RDKit-verified structure matches, canonical SMILES
equality) over the memory-mapped index, with property filters applied before ranking; this module checks
the request, maps the engine's errors to 422, and completes each hit with its SQL row (name, source fields).
A hit whose row is not written yet (a load storing it right now) is left out.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from common.errors import InvalidInput, NotFound

from . import properties as props
from .chem import ChemError, draw_svg, parse_query
from .config import MoleculeSettings
from .engine import MODES, MoleculeEngine, SearchResult
from .keeper import IndexKeeper
from .molindex import Hit

T = TypeVar("T")
Rows = Callable[[Sequence[int]], dict[int, dict[str, Any]]]


def checked(call: Callable[[], T]) -> T:
    """Run an engine call; the caller's mistakes (bad SMILES/SMARTS, filter, paging) become 422."""
    try:
        return call()
    except ValueError as exc:  # ChemError and FilterError are ValueErrors
        raise InvalidInput(str(exc)) from exc


@dataclass(eq=False)
class MoleculeSearch:
    """Requests → engine → results with their rows (see the module docstring)."""

    engine: MoleculeEngine
    keeper: IndexKeeper
    rows: Rows
    settings: MoleculeSettings

    def budget_ms(self, timeout_ms: int | None) -> int:
        """The time limit of a structure search or a highlighted drawing (``MOLECULE_TIMEOUT_MS`` by default)."""
        if timeout_ms is None:
            return self.settings.timeout_ms
        if not 1 <= timeout_ms <= self.settings.max_timeout_ms:
            most = self.settings.max_timeout_ms
            raise InvalidInput(f"timeout_ms must be between 1 and {most} (a time limit of at most {most / 1000:g} s)")
        return timeout_ms

    @staticmethod
    def check(mode: str, min_similarity: float | None, filters: Mapping[str, Any] | None) -> props.Filters:
        if mode not in MODES:
            raise InvalidInput(f"mode must be one of {', '.join(MODES)}")
        if min_similarity is not None and not 0.0 <= min_similarity <= 1.0:
            raise InvalidInput("min_similarity must be within [0, 1]")
        return checked(lambda: props.normalize(filters))

    # -- one query ---------------------------------------------------------------------------------
    def search(self, query: str, mode: str, top_k: int, offset: int = 0, min_similarity: float | None = None,
               filters: Mapping[str, Any] | None = None, timeout_ms: int | None = None) -> dict[str, Any]:
        """``{"results", "mode", "complete", "query_kind", "candidates", "scanned", "total"}`` for one query."""
        f = self.check(mode, min_similarity, filters)
        budget = self.budget_ms(timeout_ms)
        self.keeper.ensure_fresh()
        result = checked(lambda: self.engine.search(query, mode, top_k, offset,  # type: ignore[arg-type]
                                                    min_similarity or 0.0, f, budget))
        rows = self.rows([h.id for h in result.hits])
        return {"results": self.results(result.hits, rows, query if mode == "substructure" else None),
                **self.summary(result)}

    def summary(self, result: SearchResult) -> dict[str, Any]:
        return {"mode": result.mode, "complete": result.complete, "query_kind": result.query_kind,
                "candidates": result.candidates, "scanned": result.scanned, "total": len(self.keeper.index)}

    @staticmethod
    def results(hits: Sequence[Hit], rows: dict[int, dict[str, Any]], highlight: str | None) -> list[dict[str, Any]]:
        """The API's result dicts; a substructure query is highlighted in the drawings."""
        suffix = f"?highlight={quote(highlight, safe='')}" if highlight else ""
        out = []
        for hit in hits:
            row = rows.get(hit.id)
            if row is None:  # in the index, its SQL row not committed yet
                continue
            out.append({"id": hit.id, "smiles": hit.smiles, "name": row["name"], "similarity": hit.similarity,
                        "properties": hit.properties, "fields": json.loads(row.get("fields") or "{}"),
                        "svg_url": f"items/{hit.id}/svg{suffix}"})
        return out

    # -- many queries ------------------------------------------------------------------------------
    def batch(self, queries: Sequence[str], mode: str, top_k: int, offset: int = 0,
              min_similarity: float | None = None, filters: Mapping[str, Any] | None = None,
              timeout_ms: int | None = None) -> list[dict[str, Any]]:
        """One ``{"query", "results", "error", "complete"}`` per query, in order; a bad query gets its own error.

        Similarity queries share one view of the index and one filter mask. Structure queries share one time
        budget (``timeout_ms`` for the whole batch): those it does not reach answer ``complete: false``.
        """
        if len(queries) > self.settings.max_batch_queries:
            raise InvalidInput(f"at most {self.settings.max_batch_queries} queries per batch")
        f = self.check(mode, min_similarity, filters)
        budget = self.budget_ms(timeout_ms)
        self.keeper.ensure_fresh()
        if mode == "similarity":
            answers = self.engine.search_batch(queries, "similarity", top_k, offset, min_similarity or 0.0, f)
        else:
            answers = self._structure_batch(queries, mode, top_k, offset, f, budget)
        ids = [h.id for a in answers if isinstance(a, SearchResult) for h in a.hits]
        rows = self.rows(ids)
        out = []
        for query, answer in zip(queries, answers, strict=True):
            if isinstance(answer, SearchResult):
                results = self.results(answer.hits, rows, query if mode == "substructure" else None)
                out.append({"query": query, "results": results, "error": None, "complete": answer.complete})
            else:
                out.append({"query": query, "results": [], "error": str(answer), "complete": True})
        return out

    def _structure_batch(self, queries: Sequence[str], mode: str, top_k: int, offset: int, f: props.Filters,
                         budget_ms: int) -> list[SearchResult | Exception]:
        deadline = time.monotonic() + budget_ms / 1000.0
        out: list[SearchResult | Exception] = []
        for query in queries:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                out.append(SearchResult(mode, [], complete=False))
                continue
            try:
                out.append(self.engine.search(query, mode, top_k, offset, 0.0, f, left_ms))  # type: ignore[arg-type]
            except ValueError as exc:
                out.append(exc)
        return out

    # -- drawings ----------------------------------------------------------------------------------
    def svg(self, item_id: int, highlight: str | None, width: int, height: int) -> tuple[str, bool]:
        """A stored molecule drawn, with every match of ``highlight`` coloured; ``(svg, complete)``: past the
        time limit the drawing comes without highlight and ``complete`` is False."""
        row = self.rows([item_id]).get(int(item_id))
        if row is None:
            raise NotFound(f"no molecule with id {item_id}")
        return checked(lambda: self.engine.svg(row["smiles"], highlight or None, width, height,
                                               self.settings.timeout_ms))

    def depict(self, text: str, width: int, height: int) -> str:
        """Any SMILES or SMARTS drawn (the page previews the query), up to the size of a molecule a load stores
        (``max_heavy_atoms``): a similarity query may be larger than a structure query (``max_query_atoms``)."""
        if len(text) > self.settings.max_query_chars:
            raise InvalidInput(f"query longer than {self.settings.max_query_chars} characters")
        try:
            mol = parse_query(text)[0]
        except ChemError as exc:
            raise InvalidInput(str(exc)) from exc
        if mol.GetNumAtoms() > self.settings.max_heavy_atoms:
            raise InvalidInput(f"query has {mol.GetNumAtoms()} atoms; drawings stop at {self.settings.max_heavy_atoms}")
        return draw_svg(mol, width, height)
