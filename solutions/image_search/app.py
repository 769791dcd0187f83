"""The image service: ``create_app()`` for ``bootcamp serve image_search`` (prefix ``/image``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse

from common.pool import run_in_pool
from common.web import PoolDep, create_service_app, get_pipeline

from .config import ImageSettings
from .pipeline import ImagePipeline
from .query_form import form_fields, form_file, multipart_body, read_form
from .schemas import SearchForm, SearchResponse

NAME = "image_search"
ImagePipelineDep = Annotated[ImagePipeline, Depends(get_pipeline)]
CACHE = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
MB = 1024 * 1024

router = APIRouter(tags=["images"])

_SEARCH_FORM = {
    "file": {"type": "string", "format": "binary", "description": "the query image"},
    "top_k": {"type": "integer", "default": 10, "minimum": 1, "maximum": 100},
    "offset": {"type": "integer", "default": 0, "minimum": 0},
}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


@router.post("/search", response_model=SearchResponse, openapi_extra=multipart_body(_SEARCH_FORM, ["file"]))
async def search(request: Request, pipeline: ImagePipelineDep, pool: PoolDep) -> dict[str, Any]:
    """Images most similar to the uploaded one; edited copies (crop, rotation, resize, JPEG) come first.

    The body is read once a worker is free (503 + ``Retry-After`` when the queue is full), up to
    ``IMAGE_MAX_QUERY_MB``."""
    started = time.perf_counter()
    settings = pipeline.settings
    async with pool.slot() as slot:
        form = await read_form(request, settings.max_query_mb * MB + 64 * 1024, max_files=1)
        try:
            fields: SearchForm = form_fields(form, SearchForm)
            upload = form_file(form, "file")
            pipeline.check_page(fields.top_k, fields.offset)
            data = await upload.read()
            results = await slot.run(pipeline.search, data, fields.top_k, fields.offset)
        finally:
            await form.close()
    return {"results": results, "took_ms": _ms(started)}


@router.get("/items/{item_id}/image", response_class=FileResponse, responses={200: {"content": {"image/*": {}}}})
async def item_image(item_id: int, pipeline: ImagePipelineDep, pool: PoolDep) -> FileResponse:
    """The stored copy of an image, as loaded."""
    path, media_type = await run_in_pool(pool, pipeline.image_file, item_id)
    return FileResponse(path, media_type=media_type, headers=CACHE)


@router.get("/items/{item_id}/thumbnail", response_class=FileResponse,
            responses={200: {"content": {"image/jpeg": {}}}})
async def item_thumbnail(item_id: int, pipeline: ImagePipelineDep, pool: PoolDep) -> FileResponse:
    """A JPEG thumbnail (at most 256 px a side by default)."""
    path = await run_in_pool(pool, pipeline.thumbnail_file, item_id)
    return FileResponse(path, media_type="image/jpeg", headers=CACHE)


def create_app(settings: ImageSettings | None = None) -> FastAPI:
    settings = settings or ImageSettings()
    return create_service_app(NAME, settings, lambda res: ImagePipeline(res, settings), routers=[router],
                              static_dir=Path(__file__).parent / "static")
