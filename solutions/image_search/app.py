"""The image service: ``create_app()`` for ``bootcamp serve image_search`` (prefix ``/image``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse
from starlette.datastructures import UploadFile

from common.errors import PayloadTooLarge
from common.pipeline import search_one
from common.pool import run_in_pool
from common.web import ItemId, PoolDep, StopwatchDep, create_service_app, get_pipeline

from .config import ImageSettings
from .pipeline import ImagePipeline
from .query_form import form_fields, form_file, form_files, multipart_body, read_form
from .schemas import BatchResponse, LabelList, SearchForm, SearchResponse, TextQuery, TextSearchResponse

NAME = "image_search"
ImagePipelineDep = Annotated[ImagePipeline, Depends(get_pipeline)]
CACHE = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
MB = 1024 * 1024
#: query files per ``POST /search/batch``
MAX_BATCH = 32
#: room for the multipart framing and form fields around the files
FORM_OVERHEAD = 64 * 1024

router = APIRouter(tags=["images"])

_PAGE_FIELDS = {
    "top_k": {"type": "integer", "default": 10, "minimum": 1, "maximum": 100},
    "offset": {"type": "integer", "default": 0, "minimum": 0},
    "label": {"type": "string", "description": "only images whose top-5 labels include this ImageNet class",
              "example": "orange"},
}
_FILE = {"type": "string", "format": "binary"}


@router.post("/search", response_model=SearchResponse,
             openapi_extra=multipart_body({"file": {**_FILE, "description": "the query image"}, **_PAGE_FIELDS},
                                          ["file"]))
async def search(request: Request, pipeline: ImagePipelineDep, pool: PoolDep, watch: StopwatchDep) -> dict[str, Any]:
    """Images most similar to the uploaded one; edited copies (crop, rotation, resize, JPEG) come first.

    A full server says 503 + ``Retry-After`` before the body is read; the body is read up to
    ``IMAGE_MAX_QUERY_MB`` without holding a worker's place, so a slow upload keeps no one else waiting."""
    settings = pipeline.settings
    pool.check_room()
    too_large = f"query larger than {settings.max_query_mb} MB (setting IMAGE_MAX_QUERY_MB)"
    form = await read_form(request, settings.max_query_mb * MB + FORM_OVERHEAD, max_files=1, too_large=too_large)
    try:
        fields: SearchForm = form_fields(form, SearchForm)
        upload = form_file(form, "file")
        pipeline.check_page(fields.top_k, fields.offset)
        if upload.size is not None and upload.size > settings.max_query_mb * MB:  # within the form's slack
            raise PayloadTooLarge(too_large)
        data = await upload.read()
        results = await run_in_pool(pool, pipeline.search, data, fields.top_k, fields.offset, fields.label)
    finally:
        await form.close()
    return {"results": results, "took_ms": watch.ms}


@router.post("/search/batch", response_model=BatchResponse,
             openapi_extra=multipart_body({"files": {"type": "array", "items": _FILE, "maxItems": MAX_BATCH,
                                                     "description": "query images"}, **_PAGE_FIELDS}, ["files"]))
async def search_batch(request: Request, pipeline: ImagePipelineDep, pool: PoolDep,
                       watch: StopwatchDep) -> dict[str, Any]:
    """Many query images at once (at most 32): each gets its results, or its own ``error``."""
    settings = pipeline.settings
    files_mb = min(settings.max_upload_mb, MAX_BATCH * settings.max_query_mb)
    pool.check_room()  # as /search: 503 before the body is read, and no place held while it arrives
    form = await read_form(request, files_mb * MB + FORM_OVERHEAD, max_files=MAX_BATCH,
                           too_large=f"queries larger than {files_mb} MB together (the smaller of MAX_UPLOAD_MB "
                                     f"and {MAX_BATCH} x IMAGE_MAX_QUERY_MB)")
    try:
        fields: SearchForm = form_fields(form, SearchForm)
        uploads = form_files(form, "files")
        pipeline.check_page(fields.top_k, fields.offset)
        if fields.label:
            pipeline.labels.filter(fields.label)  # a bad page or label fails the whole batch (422)

        def search(upload: UploadFile) -> list[dict[str, Any]]:
            if upload.size is not None and upload.size > settings.max_query_mb * MB:
                raise PayloadTooLarge(f"larger than {settings.max_query_mb} MB (setting IMAGE_MAX_QUERY_MB)")
            upload.file.seek(0)
            return pipeline.search(upload.file.read(), fields.top_k, fields.offset, fields.label)

        def one(upload: UploadFile) -> dict[str, Any]:
            return search_one(upload, search, name=lambda u: u.filename or "")

        async with pool.slot() as slot:
            # one pool call per query: a plain search waits for one query of a long batch, not for all of them
            results = await slot.each(one, uploads)
    finally:
        await form.close()
    return {"results": results, "took_ms": watch.ms}


@router.post("/search/text", response_model=TextSearchResponse)
async def search_text(body: TextQuery, pipeline: ImagePipelineDep, pool: PoolDep,
                      watch: StopwatchDep) -> dict[str, Any]:
    """Images whose ImageNet labels best match the words ("a squirrel on a branch", "fruit")."""
    results = await run_in_pool(pool, pipeline.search_text, body.query, body.top_k, body.offset)
    return {"results": results, "took_ms": watch.ms}


@router.get("/labels", response_model=LabelList)
async def labels(pipeline: ImagePipelineDep) -> dict[str, Any]:
    """The 1000 ImageNet class names an image can be labelled with (values of ``label``)."""
    return {"labels": pipeline.labels.names}


@router.api_route("/items/{item_id}/image", methods=["GET", "HEAD"], response_class=FileResponse,
                  responses={200: {"content": {"image/*": {}}}})
async def item_image(item_id: ItemId, pipeline: ImagePipelineDep, pool: PoolDep) -> FileResponse:
    """The stored copy of an image, as loaded."""
    path, media_type = await run_in_pool(pool, pipeline.image_file, item_id)
    return FileResponse(path, media_type=media_type, headers=CACHE)


@router.api_route("/items/{item_id}/thumbnail", methods=["GET", "HEAD"], response_class=FileResponse,
                  responses={200: {"content": {"image/jpeg": {}}}})
async def item_thumbnail(item_id: ItemId, pipeline: ImagePipelineDep, pool: PoolDep) -> FileResponse:
    """A JPEG thumbnail (at most 256 px a side by default)."""
    path = await run_in_pool(pool, pipeline.thumbnail_file, item_id)
    return FileResponse(path, media_type="image/jpeg", headers=CACHE)


def create_app(settings: ImageSettings | None = None) -> FastAPI:
    settings = settings or ImageSettings()
    return create_service_app(NAME, settings, lambda res: ImagePipeline(res, settings), routers=[router],
                              static_dir=Path(__file__).parent / "static")
