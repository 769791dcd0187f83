"""The molecule service: ``create_app()`` for ``bootcamp serve molecular_search`` (prefix ``/molecule``).

Similarity and exact searches are CPU-bound and short: they run on the service's pool. Substructure and
superstructure searches and highlighted drawings wait on RDKit worker processes for up to their time limit:
they run on the pipeline's ``match_lane``, so a slow query never takes a thread of the pool that answers
``/count`` or similarity searches; a full lane answers 503 + ``Retry-After`` at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.responses import Response

from common.pool import run_in_pool
from common.web import ItemId, PoolDep, StopwatchDep, create_service_app, get_pipeline

from .config import MoleculeSettings
from .pipeline import MoleculePipeline
from .records import NAME_COLUMNS, SMILES_COLUMNS
from .schemas import BatchRequest, BatchResponse, Columns, SearchRequest, SearchResponse

NAME = "molecular_search"
MoleculePipelineDep = Annotated[MoleculePipeline, Depends(get_pipeline)]
SVG_HEADERS = {"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}
STRUCTURE_MODES = frozenset({"substructure", "superstructure"})
Width = Annotated[int, Query(ge=50, le=1200)]
Height = Annotated[int, Query(ge=50, le=1200)]

router = APIRouter(tags=["molecules"])


@router.post("/search", response_model=SearchResponse)
async def search(body: SearchRequest, pipeline: MoleculePipelineDep, pool: PoolDep,
                 watch: StopwatchDep) -> dict[str, Any]:
    """One query, one page of one ranking: similarity (Tanimoto desc, id), substructure (heavy atoms asc, id),
    superstructure (heavy atoms desc, id) or exact (id); ``filters`` apply before ranking in every mode."""
    filters = body.filters.ranges() if body.filters else None
    lane = pipeline.match_lane if body.mode in STRUCTURE_MODES else pool
    out = await run_in_pool(lane, pipeline.search, body.smiles, body.mode, body.top_k, body.offset,
                            body.min_similarity, filters, body.timeout_ms)
    return {**out, "took_ms": watch.ms}


@router.post("/search/batch", response_model=BatchResponse)
async def search_batch(body: BatchRequest, pipeline: MoleculePipelineDep, pool: PoolDep,
                       watch: StopwatchDep) -> dict[str, Any]:
    """Many queries in one call (at most ``MOLECULE_MAX_BATCH_QUERIES``, 1000 by default); each query gets its
    results or its own ``error`` (a bad SMILES does not fail the others); ``total`` is how many molecules were
    searched, as in ``/search`` (0: nothing is loaded yet)."""
    filters = body.filters.ranges() if body.filters else None
    lane = pipeline.match_lane if body.mode in STRUCTURE_MODES else pool
    results = await run_in_pool(lane, pipeline.search_batch, body.queries, body.mode, body.top_k, body.offset,
                                body.min_similarity, filters, body.timeout_ms)
    return {"results": results, "mode": body.mode, "total": pipeline.index_size, "took_ms": watch.ms}


@router.get("/columns", response_model=Columns)
async def columns() -> dict[str, Any]:
    """The table columns a load reads SMILES and names from (``records.py``); the page reads batch queries with
    the same lists."""
    return {"smiles": list(SMILES_COLUMNS), "name": list(NAME_COLUMNS)}


@router.get("/items/{item_id}/svg", response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}})
async def item_svg(item_id: ItemId, pipeline: MoleculePipelineDep, pool: PoolDep,
                   highlight: Annotated[str | None, Query(max_length=2000, description="SMILES/SMARTS to colour")]
                   = None, width: Width = 300, height: Height = 220) -> Response:
    """A stored molecule drawn by RDKit; ``highlight`` colours every match of a substructure query, within the
    time limit ``MOLECULE_TIMEOUT_MS`` (past it: drawn without highlight, header ``X-Highlight-Complete: false``)."""
    lane = pipeline.match_lane if highlight else pool
    svg, complete = await run_in_pool(lane, pipeline.svg, item_id, highlight, width, height)
    headers = {**SVG_HEADERS, "X-Highlight-Complete": "true" if complete else "false"}
    if not complete:
        headers["Cache-Control"] = "no-store"
    return Response(svg, media_type="image/svg+xml", headers=headers)


@router.get("/depict", response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}})
async def depict(smiles: Annotated[str, Query(min_length=1, max_length=2000)], pipeline: MoleculePipelineDep,
                 pool: PoolDep, width: Width = 300, height: Height = 220) -> Response:
    """Draw any SMILES or SMARTS (the page previews the query with it); invalid input → 422."""
    svg = await run_in_pool(pool, pipeline.depict, smiles, width, height)
    return Response(svg, media_type="image/svg+xml", headers=SVG_HEADERS)


def create_app(settings: MoleculeSettings | None = None) -> FastAPI:
    settings = settings or MoleculeSettings()
    return create_service_app(NAME, settings, lambda res: MoleculePipeline(res, settings), routers=[router],
                              static_dir=Path(__file__).parent / "static")
