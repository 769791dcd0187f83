"""The video service: ``create_app()`` for ``bootcamp serve video_analysis`` (prefix ``/video``).

The common routes (load, upload, tasks, items, export ...) come from :mod:`common.web`; these are the video
demo's own. Routes that read a query image or face photos take a place in the worker pool *before* reading
the file (503 + ``Retry-After`` when the pool is full), and read it in the worker, bounded by ``max_image_mb``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response

from common.errors import InvalidInput, PayloadTooLarge
from common.files import ID_MAX
from common.pipeline import search_one
from common.pool import run_in_pool
from common.web import ItemId, PageOffset, PoolDep, StopwatchDep, create_service_app, get_pipeline

from .config import VideoSettings
from .faces import FaceModel
from .moments import TextModel
from .pipeline import VideoPipeline
from .ranges import RangeKind, read_range
from .schemas import (
    BatchResponse,
    Enrolled,
    Formats,
    MomentsResponse,
    PeopleList,
    PersonDetail,
    SearchResponse,
    VideoDetail,
    VideoList,
)
from .video import FORMATS, accept_attribute, formats_text

NAME = "video_analysis"
VideoPipelineDep = Annotated[VideoPipeline, Depends(get_pipeline)]
router = APIRouter()
#: a keyframe's time in a path, in milliseconds (bounded like an id: never an overflow in the database driver)
FrameMs = Annotated[int, PathParam(ge=0, le=ID_MAX)]


def read_upload(upload: UploadFile, limit_mb: int) -> bytes:
    """The bytes of an uploaded image (read in a worker thread), refused beyond ``limit_mb``."""
    upload.file.seek(0)
    data = upload.file.read(limit_mb * 1024 * 1024 + 1)
    if len(data) > limit_mb * 1024 * 1024:
        raise PayloadTooLarge(f"{upload.filename or 'image'} is larger than {limit_mb} MB")
    return data


@router.get("/formats", response_model=Formats, tags=["load"])
async def formats() -> dict[str, Any]:
    """The video files a load accepts (their content is checked, not their names): what the page's file picker
    offers and a refusal names."""
    return {"formats": [{"name": f.name, "suffixes": list(f.suffixes), "media_type": f.media_type} for f in FORMATS],
            "text": formats_text(), "accept": accept_attribute()}


@router.post("/search", response_model=SearchResponse, tags=["search"])
async def search(pipeline: VideoPipelineDep, pool: PoolDep, watch: StopwatchDep,
                 file: Annotated[UploadFile, File(description="query image (JPEG, PNG, WebP ...)")],
                 top_k: Annotated[int, Form(examples=[5])] = 10,
                 offset: Annotated[int, Form(examples=[0])] = 0) -> dict[str, Any]:
    """The videos whose keyframes look most like the image: best keyframe per video, no video twice, ranked
    ``offset .. offset + top_k - 1`` (two pages equal one longer query)."""
    pipeline.check_page(top_k, offset)
    limit = pipeline.settings.max_image_mb
    async with pool.slot() as slot:
        results = await slot.run(pipeline.search_reading, lambda: read_upload(file, limit), top_k, offset)
    return {"results": results, "took_ms": watch.ms}


@router.post("/search/batch", response_model=BatchResponse, tags=["search"])
async def search_batch(pipeline: VideoPipelineDep, pool: PoolDep, watch: StopwatchDep,
                       files: Annotated[list[UploadFile], File(description="query images (at most 32)")],
                       top_k: Annotated[int, Form(examples=[3])] = 10,
                       offset: Annotated[int, Form(examples=[0])] = 0) -> dict[str, Any]:
    """Many query images in one call; one that cannot be read gets its own ``error``, the others their results.
    Images are read one at a time, each just before it is searched."""
    pipeline.check_page(top_k, offset)
    most = pipeline.settings.max_batch_queries
    if not 1 <= len(files) <= most:
        raise InvalidInput(f"send between 1 and {most} query images")
    limit = pipeline.settings.max_image_mb

    def one(file: UploadFile) -> dict[str, Any]:
        return search_one(file, lambda f: pipeline.search_reading(lambda: read_upload(f, limit), top_k, offset),
                          name=lambda f: f.filename or "?")

    async with pool.slot() as slot:  # one pool call per query: other requests take turns with a long batch
        results = await slot.each(one, files)
    return {"results": results, "took_ms": watch.ms}


@router.get("/moments", response_model=MomentsResponse, response_model_exclude_none=True, tags=["search"])
async def moments(pipeline: VideoPipelineDep, pool: PoolDep,
                  label: Annotated[str | None, Query(max_length=100, description="an ImageNet class name",
                                                     examples=["mobile home"])] = None,
                  q: Annotated[str | None, Query(max_length=200, description="words matched to label names",
                                                 examples=["a candle"])] = None,
                  person_id: Annotated[int | None, Query(description="an enrolled person")] = None,
                  offset: PageOffset = 0,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    """Moments across all videos showing a label, matching some words, or where an enrolled person appears;
    best first. Give exactly one of ``label``, ``q`` and ``person_id``."""
    return await run_in_pool(pool, lambda: pipeline.moments.find(label=label, q=q, person_id=person_id,
                                                                  offset=offset, limit=limit))


@router.get("/videos", response_model=VideoList, tags=["videos"])
async def list_videos(pipeline: VideoPipelineDep, pool: PoolDep, limit: Annotated[int, Query(ge=1, le=500)] = 200,
                      offset: PageOffset = 0) -> dict[str, Any]:
    """Stored videos, newest first (``GET /items`` pages the same list with its total)."""
    return {"videos": (await run_in_pool(pool, pipeline.page, offset, limit))["items"]}


@router.get("/videos/{video_id}", response_model=VideoDetail, tags=["videos"])
async def video(video_id: ItemId, pipeline: VideoPipelineDep, pool: PoolDep) -> dict[str, Any]:
    """Metadata, who appears when (``faces``) and what appears when (``labels``), keyframe thumbnails."""
    return await run_in_pool(pool, pipeline.video, video_id)


@router.api_route("/videos/{video_id}/stream", methods=["GET", "HEAD"], tags=["videos"],
                  responses={206: {"description": "the requested byte range"},
                             416: {"description": "a range past the end of the file"}})
async def stream(video_id: ItemId, request: Request, pipeline: VideoPipelineDep, pool: PoolDep) -> Response:
    """The video (a browser-playable WebM copy when the original is not), with HTTP Range support.

    ``Range: bytes=a-b`` → 206 with ``Content-Range``; a range past the end → 416; a ``Range`` that is not a
    byte range (``items=0-1``, ``bytes=abc``) is ignored, as RFC 9110 lets a server do: 200 with the whole file.
    """
    path, media_type = await run_in_pool(pool, pipeline.stream_file, video_id)
    spec = request.headers.get("range")
    if spec is not None:
        size = (await run_in_pool(pool, path.stat)).st_size
        kind = read_range(spec, size)
        if kind is RangeKind.UNSATISFIABLE:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        if kind is RangeKind.IGNORE:  # FileResponse reads the header from the request: take it out
            request.scope["headers"] = [(k, v) for k, v in request.scope["headers"] if k != b"range"]
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, max-age=60"})


@router.api_route("/videos/{video_id}/frames/{ms}.jpg", methods=["GET", "HEAD"], tags=["videos"],
                  response_class=FileResponse)
async def frame(video_id: ItemId, ms: FrameMs, pipeline: VideoPipelineDep, pool: PoolDep) -> FileResponse:
    """The JPEG thumbnail of the keyframe at ``ms`` milliseconds."""
    path = await run_in_pool(pool, pipeline.frame_file, video_id, ms)
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@router.delete("/videos/{video_id}", status_code=204, tags=["videos"])
async def delete_video(video_id: ItemId, pipeline: VideoPipelineDep, pool: PoolDep) -> Response:
    await run_in_pool(pool, pipeline.delete_item, video_id)
    return Response(status_code=204)


@router.post("/people", response_model=Enrolled, status_code=201, tags=["people"])
async def enrol(pipeline: VideoPipelineDep, pool: PoolDep,
                files: Annotated[list[UploadFile], File(description="one or more face photos")],
                name: Annotated[str, Form(max_length=200, examples=["Lionel"])] = "") -> dict[str, Any]:
    """Enrol a person from face photos (or add photos to a person of that name). A missing or blank name is 422
    "name must not be empty", said the same way by every form."""
    most, limit = pipeline.settings.max_photos, pipeline.settings.max_image_mb
    if len(files) > most:
        raise InvalidInput(f"at most {most} photos per request")

    def photos() -> Iterator[tuple[str, bytes]]:
        for i, f in enumerate(files):
            yield f.filename or f"photo-{i}", read_upload(f, limit)

    async with pool.slot() as slot:
        return await slot.run(pipeline.people.enrol, name, photos())


@router.get("/people", response_model=PeopleList, tags=["people"])
async def people(pipeline: VideoPipelineDep, pool: PoolDep) -> dict[str, Any]:
    return {"people": await run_in_pool(pool, pipeline.people.list_people)}


@router.get("/people/{person_id}", response_model=PersonDetail, tags=["people"])
async def person(person_id: ItemId, pipeline: VideoPipelineDep, pool: PoolDep) -> dict[str, Any]:
    """A person and every video they appear in, found among the faces stored at load time."""
    out = await run_in_pool(pool, pipeline.people.person, person_id)
    out["appearances"] = await run_in_pool(pool, pipeline.people.appearances, person_id)
    return out


@router.delete("/people/{person_id}", status_code=204, tags=["people"])
async def delete_person(person_id: ItemId, pipeline: VideoPipelineDep, pool: PoolDep) -> Response:
    await run_in_pool(pool, pipeline.people.delete_person, person_id)
    return Response(status_code=204)


def create_app(settings: VideoSettings | None = None, *, encoder: Any = None, face_model: FaceModel | None = None,
               text_model: TextModel | None = None) -> FastAPI:
    """The service app; tests may pass already-loaded models to share them between apps."""
    conf = settings or VideoSettings()
    return create_service_app(
        NAME, conf,
        lambda res: VideoPipeline(res, conf, encoder=encoder, face_model=face_model, text_model=text_model),
        routers=[router], static_dir=Path(__file__).parent / "static",
    )
