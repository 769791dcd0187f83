"""Many queries in one call (``POST /search/batch``): each query gets its results or its own error."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..errors import BootcampError

Q = TypeVar("Q")


def search_each(queries: Sequence[Q], search: Callable[[Q], list[dict[str, Any]]],
                name: Callable[[Q], str] = str) -> list[dict[str, Any]]:
    """``[{"query", "results", "error"}]`` in query order; a query that fails with a 4xx-kind error gets that
    error's message and empty results, without failing the others. Other exceptions propagate (a 500 is a bug)."""
    return [search_one(query, search, name) for query in queries]


def search_one(query: Q, search: Callable[[Q], list[dict[str, Any]]],
               name: Callable[[Q], str] = str) -> dict[str, Any]:
    """One query's ``{"query", "results", "error"}`` of :func:`search_each` (for a batch whose queries are searched
    one pool call each, so that other requests take turns with a long batch)."""
    try:
        return {"query": name(query), "results": search(query), "error": None}
    except BootcampError as exc:
        if exc.status_code >= 500:
            raise
        return {"query": name(query), "results": [], "error": exc.detail}
