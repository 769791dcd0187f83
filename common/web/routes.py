"""The routes every service has: loading, tasks, items, export (see SPEC: HTTP contract).

Each route is a thin call into the pipeline or the task runner through the worker pool; what a route means
is written on the pipeline method it calls (``Pipeline.page``, ``Pipeline.drop`` ...).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse

from ..errors import BadRequest
from ..pipeline import Pipeline, load_job
from ..pool import run_in_pool
from ..safety import resolve_in_roots
from ..tasks import TaskRunner
from .deps import PipelineDep, PoolDep, ResourcesDep, TasksDep
from .schemas import (
    CountResponse,
    DropResponse,
    ItemId,
    ItemPage,
    LoadRequest,
    PageOffset,
    ServiceInfo,
    TaskCreated,
    TaskList,
    TaskStatus,
)
from .uploads import is_archive_file, save_uploads, stage_archive

router = APIRouter()


@router.get("/info", response_model=ServiceInfo, response_model_exclude_none=True, tags=["service"])
async def info(request: Request, res: ResourcesDep, pipeline: PipelineDep) -> dict[str, Any]:
    """What the page needs to guide a user: the folders ``/load`` may read, accepted content, limits."""
    s = res.settings
    return {
        "name": res.name, "title": request.app.title, "data_roots": [str(r) for r in s.roots()],
        "accepted": sorted(pipeline.accepted_kinds | {"zip"}), "max_upload_mb": s.max_upload_mb,
        "max_top_k": s.max_top_k, "api_key_required": bool(s.api_key),
        **(await run_in_pool(res.pool, _counts, pipeline)).model_dump(exclude_none=True),
    }


@router.post("/load", status_code=202, response_model=TaskCreated, tags=["load"])
async def load(body: LoadRequest, res: ResourcesDep, pipeline: PipelineDep) -> TaskCreated:
    """Load a file, a directory (recursively) or a .zip that lies inside ``DATA_ROOTS``."""
    path = resolve_in_roots(body.path, res.settings.roots())
    if await run_in_pool(res.pool, is_archive_file, path):
        staging = res.new_staging_dir()
        root = await run_in_pool(res.pool, stage_archive, path, staging, res.settings)
        job = load_job(pipeline, root, root, cleanup=staging, origin=str(path))
        return TaskCreated(task_id=res.tasks.submit(body.path, job))
    root = path if path.is_dir() else path.parent
    return TaskCreated(task_id=res.tasks.submit(body.path, load_job(pipeline, path, root)))


@router.post("/upload", status_code=202, response_model=TaskCreated, tags=["load"])
async def upload(files: Annotated[list[UploadFile], File(description="files, or .zip archives of them")],
                 res: ResourcesDep, pipeline: PipelineDep) -> TaskCreated:
    """Upload files (or zips of them); they are stored and loaded in the background."""
    if not files:
        raise BadRequest("no files uploaded")
    staging = res.new_staging_dir()
    await run_in_pool(res.pool, save_uploads, files, staging, res.settings, pipeline)
    names = ", ".join(f.filename or "?" for f in files[:3]) + (" ..." if len(files) > 3 else "")
    job = load_job(pipeline, staging, staging, cleanup=staging, origin="upload")
    task_id = res.tasks.submit(f"upload: {names}", job)
    return TaskCreated(task_id=task_id)


@router.post("/samples", status_code=202, response_model=TaskCreated, tags=["load"])
async def load_samples(res: ResourcesDep, pipeline: PipelineDep) -> TaskCreated:
    """Load this demo's sample data (what ``bootcamp sample-data`` writes), to try the demo at once."""
    sample = await run_in_pool(res.pool, type(pipeline).sample_data, res.settings.samples_dir(res.name))
    root = sample.path if sample.path.is_dir() else sample.path.parent
    return TaskCreated(task_id=res.tasks.submit(f"sample data: {sample.origin}", load_job(pipeline, sample.path, root)))


@router.get("/tasks", response_model=TaskList, tags=["load"])
async def recent_tasks(tasks: TasksDep, pool: PoolDep,
                       limit: Annotated[int, Query(ge=1, le=50)] = 10) -> dict[str, Any]:
    """This service's latest loads, newest first (they survive restarts)."""
    return {"tasks": await run_in_pool(pool, tasks.recent, limit)}


@router.get("/tasks/{task_id}", response_model=TaskStatus, tags=["load"])
async def task_status(task_id: str, tasks: TasksDep, pool: PoolDep) -> dict[str, Any]:
    """Progress of a load; an interrupted one reads as failed."""
    return await run_in_pool(pool, tasks.get, task_id)


@router.post("/tasks/{task_id}/cancel", status_code=202, response_model=TaskStatus, tags=["load"])
async def cancel_task(task_id: str, tasks: TasksDep, pool: PoolDep) -> dict[str, Any]:
    """Stop a load at its next batch; every item it reported as stored stays complete."""
    return await run_in_pool(pool, tasks.cancel, task_id)


@router.get("/count", response_model=CountResponse, response_model_exclude_none=True, tags=["items"])
async def count(pipeline: PipelineDep, pool: PoolDep) -> CountResponse:
    """Stored items; ``kinds`` counts them by kind where a demo stores several."""
    return await run_in_pool(pool, _counts, pipeline)


@router.get("/items", response_model=ItemPage, tags=["items"])
async def list_items(pipeline: PipelineDep, pool: PoolDep, offset: PageOffset = 0,
                     limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    """Stored items, newest first; ``total`` equals ``/count``."""
    return await run_in_pool(pool, pipeline.page, offset, limit)


@router.get("/items/{item_id}", tags=["items"])
async def get_item(item_id: ItemId, pipeline: PipelineDep, pool: PoolDep) -> dict[str, Any]:
    """Metadata of one stored item."""
    return await run_in_pool(pool, pipeline.get_item, item_id)


@router.delete("/items/{item_id}", status_code=204, tags=["items"])
async def delete_item(item_id: ItemId, pipeline: PipelineDep, pool: PoolDep) -> Response:
    await run_in_pool(pool, pipeline.delete_item, item_id)
    return Response(status_code=204)


@router.delete("/data", response_model=DropResponse, tags=["items"])
async def drop(pipeline: PipelineDep, tasks: TasksDep, pool: PoolDep) -> DropResponse:
    """Cancel this service's running loads, then delete every item (the task history is kept)."""
    return DropResponse(dropped=await run_in_pool(pool, _cancel_then_drop, tasks, pipeline))


def _counts(pipeline: Pipeline) -> CountResponse:
    return CountResponse(count=pipeline.count(), kinds=pipeline.count_kinds())


def _cancel_then_drop(tasks: TaskRunner, pipeline: Pipeline) -> int:
    tasks.cancel_all()
    return pipeline.drop()


@router.get("/export", tags=["items"], response_class=StreamingResponse,
            responses={200: {"content": {"application/x-ndjson": {}}}})
async def export(res: ResourcesDep, pipeline: PipelineDep) -> StreamingResponse:
    """Every item's metadata as JSON Lines, streamed."""

    def lines() -> Iterator[bytes]:
        for item in pipeline.export():
            yield (json.dumps(item, ensure_ascii=False, default=str) + "\n").encode()

    return StreamingResponse(lines(), media_type="application/x-ndjson",
                             headers={"Content-Disposition": f'attachment; filename="{res.name}.jsonl"'})
