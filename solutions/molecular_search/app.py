"""The molecule service: ``create_app()`` for ``bootcamp serve molecular_search`` (prefix ``/molecule``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.responses import Response

from common.app import create_service_app
from common.pool import run_in_pool
from common.service import PoolDep, Resources, get_pipeline

from .config import MoleculeSettings
from .pipeline import MoleculePipeline
from .schemas import SearchRequest, SearchResponse

NAME = "molecular_search"
Pipe = Annotated[MoleculePipeline, Depends(get_pipeline)]
SVG_HEADERS = {"Cache-Control": "private, max-age=300",
               "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}
Highlight = Annotated[str | None, Query(max_length=2000, description="SMILES/SMARTS to highlight")]

router = APIRouter(tags=["molecules"])


@router.post("/search", response_model=SearchResponse)
async def search(body: SearchRequest, pipeline: Pipe, pool: PoolDep) -> dict:
    """Similarity: exact Tanimoto top-k (ties by id). Substructure: SMILES or SMARTS, screened then verified."""
    started = time.perf_counter()
    if body.mode == "similarity":
        results = await run_in_pool(pool, pipeline.similarity, body.smiles, body.top_k, body.min_similarity or 0.0)
        out: dict = {"results": results, "mode": "similarity", "complete": True}
        highlight = ""
    else:
        out = await run_in_pool(pool, pipeline.substructure, body.smiles, body.top_k, body.timeout_ms)
        out["mode"] = "substructure"
        highlight = "?highlight=" + quote(body.smiles, safe="")
    for hit in out["results"]:
        hit["svg_url"] = f"items/{hit['id']}/svg{highlight}"
    out["took_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return out


@router.get("/items/{item_id}/svg", response_class=Response,
            responses={200: {"content": {"image/svg+xml": {}}}})
async def item_svg(item_id: int, pipeline: Pipe, pool: PoolDep,
                   highlight: Highlight = None,
                   width: Annotated[int, Query(ge=50, le=1200)] = 300,
                   height: Annotated[int, Query(ge=50, le=1200)] = 220) -> Response:
    """An SVG drawing of a stored molecule; ``highlight`` colours every match of a substructure query."""
    svg = await run_in_pool(pool, pipeline.svg, item_id, highlight, width, height)
    return Response(svg, media_type="image/svg+xml", headers=SVG_HEADERS)


@router.get("/depict", response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}})
async def depict(smiles: Annotated[str, Query(min_length=1, max_length=2000)], pipeline: Pipe, pool: PoolDep,
                 width: Annotated[int, Query(ge=50, le=1200)] = 300,
                 height: Annotated[int, Query(ge=50, le=1200)] = 220) -> Response:
    """Draw any SMILES/SMARTS (the page previews the query with it); invalid input → 422."""
    svg = await run_in_pool(pool, pipeline.depict, smiles, width, height)
    return Response(svg, media_type="image/svg+xml", headers=SVG_HEADERS)


def create_app(settings: MoleculeSettings | None = None) -> FastAPI:
    settings = settings or MoleculeSettings()

    def build(res: Resources) -> MoleculePipeline:
        return MoleculePipeline(res, settings)

    return create_service_app(
        name=NAME,
        title="Molecular search",
        description="Similarity (exact Tanimoto on Morgan fingerprints) and substructure search over molecules "
        "loaded from SMILES, CSV or SD files, with RDKit depictions.",
        settings=settings,
        build_pipeline=build,
        routers=[router],
        static_dir=Path(__file__).parent / "static",
    )
