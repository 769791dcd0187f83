"""The video service: ``create_app()`` for ``bootcamp serve video_analysis`` (prefix ``/video``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, Response

from common.app import create_service_app
from common.errors import InvalidInput, PayloadTooLarge
from common.pool import run_in_pool
from common.service import PoolDep, Resources, get_pipeline

from .config import VideoSettings
from .pipeline import VideoPipeline
from .ranges import range_ok
from .schemas import Enrolled, PeopleList, PersonDetail, SearchResponse, VideoDetail, VideoList

NAME = "video_analysis"
Pipe = Annotated[VideoPipeline, Depends(get_pipeline)]
#: largest query image / face photo read into memory
MAX_IMAGE_BYTES = 25 * 1024 * 1024
MAX_PHOTOS = 20

router = APIRouter()


async def _read_limited(upload: UploadFile, pool) -> bytes:
    data = await run_in_pool(pool, upload.file.read, MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise PayloadTooLarge(f"{upload.filename or 'image'} is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
    if not data:
        raise InvalidInput(f"{upload.filename or 'image'} is empty")
    return data


@router.post("/search", response_model=SearchResponse, tags=["search"])
async def search(request: Request, pipeline: Pipe, pool: PoolDep,
                 file: Annotated[UploadFile, File(description="query image (JPEG, PNG, WebP ...)")],
                 top_k: Annotated[int, Form(ge=1)] = 10) -> dict:
    """The videos whose frames look most like the image: best frame per video, no video twice."""
    started = time.perf_counter()
    if top_k > request.app.state.settings.max_top_k:
        raise InvalidInput(f"top_k must be at most {request.app.state.settings.max_top_k}")
    data = await _read_limited(file, pool)
    results = await run_in_pool(pool, pipeline.search_bytes, data, top_k)
    return {"results": results, "took_ms": round((time.perf_counter() - started) * 1000, 2)}


@router.get("/videos", response_model=VideoList, tags=["videos"])
async def list_videos(pipeline: Pipe, pool: PoolDep, limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                      offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    return {"videos": await run_in_pool(pool, pipeline.list_videos, limit, offset)}


@router.get("/videos/{video_id}", response_model=VideoDetail, tags=["videos"])
async def video(video_id: int, pipeline: Pipe, pool: PoolDep) -> dict:
    """Metadata, who appears when (``faces``) and what appears when (``labels``), keyframe thumbnails."""
    return await run_in_pool(pool, pipeline.video, video_id)


@router.get("/videos/{video_id}/stream", tags=["videos"],
            responses={206: {"description": "the requested byte range"}, 416: {"description": "bad range"}})
async def stream(video_id: int, request: Request, pipeline: Pipe, pool: PoolDep) -> Response:
    """The video (a browser-playable WebM copy when the original is not), with HTTP Range support.

    ``Range: bytes=a-b`` → 206 with ``Content-Range``; a malformed or unsatisfiable range → 416.
    """
    path, media_type = await run_in_pool(pool, pipeline.media_path, video_id)
    spec = request.headers.get("range")
    if spec is not None:
        size = (await run_in_pool(pool, path.stat)).st_size
        if not range_ok(spec, size):
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, max-age=60"})


@router.get("/videos/{video_id}/frames/{ms}.jpg", tags=["videos"], response_class=FileResponse)
async def frame(video_id: int, ms: int, pipeline: Pipe, pool: PoolDep) -> FileResponse:
    """The JPEG thumbnail of the keyframe at ``ms`` milliseconds."""
    path = await run_in_pool(pool, pipeline.frame_path, video_id, ms)
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@router.delete("/videos/{video_id}", status_code=204, tags=["videos"])
async def delete_video(video_id: int, pipeline: Pipe, pool: PoolDep) -> Response:
    await run_in_pool(pool, pipeline.delete_item, video_id)
    return Response(status_code=204)


@router.post("/people", response_model=Enrolled, status_code=201, tags=["people"])
async def enrol(pipeline: Pipe, pool: PoolDep,
                name: Annotated[str, Form(min_length=1, max_length=200)],
                files: Annotated[list[UploadFile], File(description="one or more face photos")]) -> dict:
    """Enrol a person from face photos (or add photos to a person of that name)."""
    if len(files) > MAX_PHOTOS:
        raise InvalidInput(f"at most {MAX_PHOTOS} photos per request")
    photos = [(f.filename or f"photo-{i}", await _read_limited(f, pool)) for i, f in enumerate(files)]
    return await run_in_pool(pool, pipeline.enrol, name, photos)


@router.get("/people", response_model=PeopleList, tags=["people"])
async def people(pipeline: Pipe, pool: PoolDep) -> dict:
    return {"people": await run_in_pool(pool, pipeline.list_people)}


@router.get("/people/{person_id}", response_model=PersonDetail, tags=["people"])
async def person(person_id: int, pipeline: Pipe, pool: PoolDep) -> dict:
    """A person and every video they appear in, found among the faces stored at load time."""
    out = await run_in_pool(pool, pipeline.person, person_id)
    out["appearances"] = await run_in_pool(pool, pipeline.appearances, person_id)
    return out


@router.delete("/people/{person_id}", status_code=204, tags=["people"])
async def delete_person(person_id: int, pipeline: Pipe, pool: PoolDep) -> Response:
    await run_in_pool(pool, pipeline.delete_person, person_id)
    return Response(status_code=204)


def create_app(settings: VideoSettings | None = None, encoder=None, face_model=None) -> FastAPI:
    """The service app; tests may pass already-loaded models to share them between apps."""
    settings = settings or VideoSettings()

    def build(res: Resources) -> VideoPipeline:
        return VideoPipeline(res, settings, encoder=encoder, face_model=face_model)

    return create_service_app(
        name=NAME,
        title="Video analysis",
        description="Search videos by image (EfficientNet-Lite0 keyframe embeddings in Milvus), see who appears "
        "when (dlib face embeddings matched against enrolled people) and what appears when (ImageNet labels).",
        settings=settings,
        build_pipeline=build,
        routers=[router],
        static_dir=Path(__file__).parent / "static",
    )
