"""The image service: ``create_app()`` for ``bootcamp serve image_search`` (prefix ``/image``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, File, Form, UploadFile
from fastapi.responses import FileResponse

from common.app import create_service_app
from common.pool import run_in_pool
from common.service import PoolDep, Resources, get_pipeline

from .config import ImageSettings
from .pipeline import ImagePipeline
from .schemas import SearchResponse

NAME = "image_search"
Pipe = Annotated[ImagePipeline, Depends(get_pipeline)]
CACHE = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}

router = APIRouter(tags=["images"])


@router.post("/search", response_model=SearchResponse)
async def search(file: Annotated[UploadFile, File(description="the query image")], pipeline: Pipe, pool: PoolDep,
                 top_k: Annotated[int, Form(ge=1, le=100)] = 10) -> dict:
    """Images most similar to the uploaded one; edited copies (crop, rotation, resize, JPEG) come first."""
    started = time.perf_counter()
    data = await file.read()
    results = await run_in_pool(pool, pipeline.search, data, top_k)
    return {"results": results, "took_ms": round((time.perf_counter() - started) * 1000, 2)}


@router.get("/items/{item_id}/image", response_class=FileResponse,
            responses={200: {"content": {"image/*": {}}}})
async def item_image(item_id: int, pipeline: Pipe, pool: PoolDep) -> FileResponse:
    """The stored copy of an image, as loaded."""
    path, media_type = await run_in_pool(pool, pipeline.image_file, item_id)
    return FileResponse(path, media_type=media_type, headers=CACHE)


@router.get("/items/{item_id}/thumbnail", response_class=FileResponse,
            responses={200: {"content": {"image/jpeg": {}}}})
async def item_thumbnail(item_id: int, pipeline: Pipe, pool: PoolDep) -> FileResponse:
    """A JPEG thumbnail (at most 256 px a side by default)."""
    path = await run_in_pool(pool, pipeline.thumbnail_file, item_id)
    return FileResponse(path, media_type="image/jpeg", headers=CACHE)


def create_app(settings: ImageSettings | None = None) -> FastAPI:
    settings = settings or ImageSettings()

    def build(res: Resources) -> ImagePipeline:
        return ImagePipeline(res, settings)

    return create_service_app(
        name=NAME,
        title="Reverse image search",
        description="Find an image and its edited copies (cropped, rotated, resized, recompressed) among loaded "
        "images: EfficientNet-Lite0 regional descriptors in Milvus, re-ranked with ORB + RANSAC.",
        settings=settings,
        build_pipeline=build,
        routers=[router],
        static_dir=Path(__file__).parent / "static",
    )
