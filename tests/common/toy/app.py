"""The toy demo's web service: the common routes plus its own search."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, Field

from common.pool import run_in_pool
from common.web import PoolDep, create_service_app, get_pipeline

from .pipeline import ToyPipeline, ToySettings

ToyDep = Annotated[ToyPipeline, Depends(get_pipeline)]
router = APIRouter(tags=["notes"])


class SearchRequest(BaseModel):
    query: str = Field(..., min_length=1, max_length=1000, examples=["vector database"])
    top_k: int = 10
    offset: int = 0


@router.post("/search")
async def search(body: SearchRequest, pipeline: ToyDep, pool: PoolDep) -> dict[str, Any]:
    started = time.perf_counter()
    results = await run_in_pool(pool, pipeline.search, body.query, body.top_k, body.offset)
    return {"results": results, "took_ms": round((time.perf_counter() - started) * 1000, 2)}


def create_app(settings: ToySettings | None = None) -> FastAPI:
    settings = settings or ToySettings()
    return create_service_app("toy", settings, lambda res: ToyPipeline(res, settings), routers=[router],
                              title="Toy notes", description="Notes searched by character trigrams.")
