"""The QA chatbot service: ``create_app()`` for ``bootcamp serve qa_chatbot`` (prefix ``/qa``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.responses import FileResponse

from common.pool import run_in_pool
from common.web import ItemId, PageOffset, PoolDep, StopwatchDep, create_service_app, get_pipeline

from .config import QASettings
from .pipeline import QAPipeline
from .schemas import (
    AnswerRequest,
    AnswerResponse,
    BatchRequest,
    BatchResponse,
    DocumentPassages,
    SearchRequest,
    SearchResponse,
)

NAME = "qa_chatbot"
QAPipelineDep = Annotated[QAPipeline, Depends(get_pipeline)]
router = APIRouter(tags=["qa"])

#: how a stored document is served: never run as a page of this site (a user's HTML may carry scripts)
SANDBOX = {"Content-Security-Policy": "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'",
           "X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600"}


@router.post("/search", response_model=SearchResponse)
async def search(body: SearchRequest, pipeline: QAPipelineDep, pool: PoolDep, watch: StopwatchDep) -> dict[str, Any]:
    """FAQ entries and document passages ranked for ``query`` (calibrated score in [0, 1]); the page
    ``offset .. offset + top_k - 1``."""
    results = await run_in_pool(pool, pipeline.search, body.query, body.top_k, body.offset)
    return {"results": results, "took_ms": watch.ms}


@router.post("/search/batch", response_model=BatchResponse)
async def search_batch(body: BatchRequest, pipeline: QAPipelineDep, pool: PoolDep,
                       watch: StopwatchDep) -> dict[str, Any]:
    """Up to 100 questions at once: each gets its results, or its own ``error`` (an empty question...)."""
    results = await run_in_pool(pool, pipeline.search_batch, body.queries, body.top_k, body.offset)
    return {"results": results, "took_ms": watch.ms}


@router.post("/answer", response_model=AnswerResponse)
async def answer(body: AnswerRequest, pipeline: QAPipelineDep, pool: PoolDep, watch: StopwatchDep) -> dict[str, Any]:
    """The best FAQ answer or passage with its highlight, or ``answer: null`` below the calibrated threshold."""
    out = await run_in_pool(pool, pipeline.answer, body.query)
    return {**out, "threshold": pipeline.settings.answer_threshold, "took_ms": watch.ms}


@router.get("/items/{item_id}/passages", response_model=DocumentPassages)
async def document_passages(item_id: ItemId, pipeline: QAPipelineDep, pool: PoolDep,
                            offset: PageOffset = 0,
                            limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    """The passages of a stored document, in order, as they are searched."""
    return await run_in_pool(pool, pipeline.document_passages, item_id, offset, limit)


@router.api_route("/items/{item_id}/file", methods=["GET", "HEAD"], response_class=FileResponse)
async def document_file(item_id: ItemId, pipeline: QAPipelineDep, pool: PoolDep) -> FileResponse:
    """The stored copy of a document (results link to it, at their section's anchor). HTML is served sandboxed:
    no script of a loaded page runs."""
    path, media_type = await run_in_pool(pool, pipeline.document_file, item_id)
    return FileResponse(path, media_type=media_type, headers=SANDBOX)


def create_app(settings: QASettings | None = None) -> FastAPI:
    settings = settings or QASettings()
    return create_service_app(NAME, settings, lambda res: QAPipeline(res, settings), routers=[router],
                              static_dir=Path(__file__).parent / "static")
