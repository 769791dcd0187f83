"""The QA chatbot service: ``create_app()`` for ``bootcamp serve qa_chatbot`` (prefix ``/qa``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI

from common.app import create_service_app
from common.pool import run_in_pool
from common.service import PoolDep, Resources, get_pipeline

from .config import QASettings
from .pipeline import QAPipeline
from .schemas import AnswerRequest, AnswerResponse, SearchRequest, SearchResponse

NAME = "qa_chatbot"
Pipe = Annotated[QAPipeline, Depends(get_pipeline)]
router = APIRouter(tags=["qa"])


@router.post("/search", response_model=SearchResponse)
async def search(body: SearchRequest, pipeline: Pipe, pool: PoolDep) -> dict:
    """The stored FAQ entries closest to ``query`` (fused dense + BM25 score in [0, 1])."""
    started = time.perf_counter()
    results = await run_in_pool(pool, pipeline.search, body.query, min(body.top_k, pipeline.settings.max_top_k))
    return {"results": results, "took_ms": round((time.perf_counter() - started) * 1000, 2)}


@router.post("/answer", response_model=AnswerResponse)
async def answer(body: AnswerRequest, pipeline: Pipe, pool: PoolDep) -> dict:
    """The best answer, or ``answer: null`` when the best score is below the confidence threshold."""
    started = time.perf_counter()
    out = await run_in_pool(pool, pipeline.answer, body.query)
    out["threshold"] = pipeline.settings.confidence_threshold
    out["took_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return out


def create_app(settings: QASettings | None = None) -> FastAPI:
    settings = settings or QASettings()

    def build(res: Resources) -> QAPipeline:
        return QAPipeline(res, settings)

    return create_service_app(
        name=NAME,
        title="FAQ chatbot",
        description="Answers questions from a loaded FAQ (CSV/JSONL): all-MiniLM-L6-v2 embeddings of the stored "
        "questions fused with BM25 over question and answer, with a calibrated confidence threshold.",
        settings=settings,
        build_pipeline=build,
        routers=[router],
        static_dir=Path(__file__).parent / "static",
    )
