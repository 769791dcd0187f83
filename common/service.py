"""What every service shares: the pipeline contract, the load job and the common routes.

A service supplies a *pipeline* (decode → embed → store) satisfying :class:`Pipeline`; this module
turns it into the endpoints every demo has (``/load``, ``/upload``, ``/tasks/{id}``, ``/count``,
``/items/{id}``, ``DELETE /data``) and into the background job that loads files in batches.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, File, Request, Response, UploadFile
from pydantic import BaseModel, Field

from .errors import BadRequest, UnsupportedMediaType
from .pool import run_in_pool
from .safety import SNIFF_BYTES, ZipLimits, extract_zip, resolve_in_roots, safe_name, sniff, sniff_file
from .settings import ServiceSettings
from .sql import SQLStore
from .tasks import Progress, TaskRunner
from .vectors import VectorStore

log = logging.getLogger(__name__)


@dataclass
class WorkItem:
    """One unit of a load: a file, or a record of a file (a CSV row, a SMILES line).

    ``label`` names it in task errors (``photos/cat.jpg``, ``faq.csv:12``). ``error`` set by
    ``list_items`` marks an item that already failed (an unreadable record) and is not processed.
    """

    label: str
    path: Path | None = None
    data: Any = None
    error: str | None = None


@dataclass
class Resources:
    """What the lifespan opens once and hands to ``build_pipeline``."""

    settings: ServiceSettings
    vectors: VectorStore
    sql: SQLStore
    pool: ThreadPoolExecutor
    data_dir: Path
    extra: dict[str, Any] = field(default_factory=dict)


class Pipeline(Protocol):
    """The contract between a service and the common plumbing."""

    #: sniffed kinds (see :func:`common.safety.sniff`) this service loads; ``zip`` is handled here
    accepted_kinds: frozenset[str]
    #: items per ``process_batch`` call (chosen by measurement per model)
    batch_size: int

    def list_items(self, path: Path, root: Path) -> Iterable[WorkItem]:
        """Expand a file or directory into work items, labelled relative to ``root``.

        Files under ``path`` are temporary for uploads (removed after the load): a pipeline that
        serves file content later (images, videos) copies it into its own media directory.
        """
        ...

    def process_batch(self, items: list[WorkItem]) -> list[str | None]:
        """Decode, embed and store a batch; one error message (or None) per item, in order."""
        ...

    def finish_load(self) -> None:
        """Called after the last batch of a load (flush indexes)."""
        ...

    def count(self) -> int: ...

    def get_item(self, item_id: int) -> dict[str, Any]:
        """Metadata of one item; raises :class:`~common.errors.NotFound`."""
        ...

    def delete_item(self, item_id: int) -> None:
        """Delete one item; raises :class:`~common.errors.NotFound`."""
        ...

    def drop(self) -> int:
        """Delete everything of this service; returns how many items there were."""
        ...

    def close(self) -> None: ...


def batched(items: Iterable[WorkItem], size: int) -> Iterator[list[WorkItem]]:
    batch: list[WorkItem] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def load_job(pipeline: Pipeline, path: Path, root: Path, cleanup: Path | None = None) -> Any:
    """The background job of a load: list, then process in batches, reporting progress.

    A batch that raises is retried item by item, so one bad item fails alone and the rest of its
    batch is still stored.
    """

    def job(progress: Progress) -> None:
        try:
            items = list(pipeline.list_items(path, root))
            progress.set_total(len(items))
            failed_early = [(i.label, i.error) for i in items if i.error]
            if failed_early:
                progress.advance(0, [(label, str(err)) for label, err in failed_early])
            todo = [i for i in items if not i.error]
            for batch in batched(todo, max(1, pipeline.batch_size)):
                errors = _process_batch(pipeline, batch)
                failed = [(item.label, err) for item, err in zip(batch, errors, strict=True) if err]
                progress.advance(len(batch) - len(failed), failed)
            pipeline.finish_load()
        finally:
            if cleanup is not None:
                shutil.rmtree(cleanup, ignore_errors=True)

    return job


def _process_batch(pipeline: Pipeline, batch: list[WorkItem]) -> list[str | None]:
    try:
        errors = pipeline.process_batch(batch)
        if len(errors) != len(batch):
            raise RuntimeError(f"process_batch returned {len(errors)} results for {len(batch)} items")
        return errors
    except Exception:
        if len(batch) == 1:
            log.exception("item %s failed", batch[0].label)
            return ["internal error while processing this item"]
        log.warning("a batch of %d failed; retrying its items one by one", len(batch), exc_info=True)
        return [_process_batch(pipeline, [item])[0] for item in batch]


# -- dependencies ------------------------------------------------------------------------------
def get_settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


def get_pipeline(request: Request) -> Any:
    return request.app.state.pipeline


def get_tasks(request: Request) -> TaskRunner:
    return request.app.state.tasks


def get_pool(request: Request) -> ThreadPoolExecutor:
    return request.app.state.pool


SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
PipelineDep = Annotated[Any, Depends(get_pipeline)]
TasksDep = Annotated[TaskRunner, Depends(get_tasks)]
PoolDep = Annotated[ThreadPoolExecutor, Depends(get_pool)]


# -- schemas -----------------------------------------------------------------------------------
class LoadRequest(BaseModel):
    path: str = Field(..., min_length=1, max_length=4096, description="file or directory on the server")


class TaskCreated(BaseModel):
    task_id: str


class TaskError(BaseModel):
    item: str
    error: str


class TaskStatus(BaseModel):
    task_id: str
    state: str
    source: str
    total: int
    done: int
    failed: int
    message: str | None
    errors: list[TaskError]
    created_at: str | None
    finished_at: str | None


class CountResponse(BaseModel):
    count: int


class DropResponse(BaseModel):
    dropped: int


# -- routes ------------------------------------------------------------------------------------
def common_router() -> APIRouter:
    """``/load``, ``/upload``, ``/tasks/{id}``, ``/count``, ``/items/{id}``, ``DELETE /data``."""
    router = APIRouter()

    @router.post("/load", status_code=202, response_model=TaskCreated, tags=["load"])
    async def load(body: LoadRequest, settings: SettingsDep, pipeline: PipelineDep, tasks: TasksDep,
                   pool: PoolDep) -> TaskCreated:
        """Load a file, a directory (recursively) or a .zip that lies inside ``DATA_ROOTS``."""
        path = resolve_in_roots(body.path, settings.roots())
        staging: Path | None = None
        root = path if path.is_dir() else path.parent
        if path.is_file() and await run_in_pool(pool, sniff_file, path) == "zip":
            staging = _staging_dir(settings)
            await run_in_pool(pool, extract_zip, path, staging, _zip_limits(settings))
            path = root = staging
        task_id = tasks.submit(body.path, load_job(pipeline, path, root, cleanup=staging))
        return TaskCreated(task_id=task_id)

    @router.post("/upload", status_code=202, response_model=TaskCreated, tags=["load"])
    async def upload(files: Annotated[list[UploadFile], File(description="files, or one .zip")],
                     settings: SettingsDep, pipeline: PipelineDep, tasks: TasksDep,
                     pool: PoolDep) -> TaskCreated:
        """Upload files (or a zip of them); they are stored and loaded in the background."""
        if not files:
            raise BadRequest("no files uploaded")
        staging = _staging_dir(settings)
        try:
            kinds = await run_in_pool(pool, _save_uploads, files, staging, settings)
            if not any(k in pipeline.accepted_kinds or k == "zip" for k in kinds):
                raise UnsupportedMediaType(
                    f"none of the uploaded files is of a supported kind ({', '.join(sorted(pipeline.accepted_kinds))})"
                )
        except Exception:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        names = ", ".join(f.filename or "?" for f in files[:3]) + (" ..." if len(files) > 3 else "")
        task_id = tasks.submit(f"upload: {names}", load_job(pipeline, staging, staging, cleanup=staging))
        return TaskCreated(task_id=task_id)

    @router.get("/tasks/{task_id}", response_model=TaskStatus, tags=["load"])
    async def task_status(task_id: str, tasks: TasksDep, pool: PoolDep) -> dict[str, Any]:
        """Progress of a load; survives restarts (an interrupted task reads as failed)."""
        return await run_in_pool(pool, tasks.get, task_id)

    @router.get("/count", response_model=CountResponse, tags=["items"])
    async def count(pipeline: PipelineDep, pool: PoolDep) -> CountResponse:
        return CountResponse(count=await run_in_pool(pool, pipeline.count))

    @router.get("/items/{item_id}", tags=["items"])
    async def get_item(item_id: int, pipeline: PipelineDep, pool: PoolDep) -> dict[str, Any]:
        """Metadata of one stored item."""
        return await run_in_pool(pool, pipeline.get_item, item_id)

    @router.delete("/items/{item_id}", status_code=204, tags=["items"])
    async def delete_item(item_id: int, pipeline: PipelineDep, pool: PoolDep) -> Response:
        await run_in_pool(pool, pipeline.delete_item, item_id)
        return Response(status_code=204)

    @router.delete("/data", response_model=DropResponse, tags=["items"])
    async def drop(pipeline: PipelineDep, pool: PoolDep) -> DropResponse:
        """Delete every item of this service (tasks history is kept)."""
        return DropResponse(dropped=await run_in_pool(pool, pipeline.drop))

    return router


def _staging_dir(settings: ServiceSettings) -> Path:
    path = settings.data_dir / "uploads" / uuid.uuid4().hex
    path.mkdir(parents=True)
    return path


def _zip_limits(settings: ServiceSettings) -> ZipLimits:
    return ZipLimits(
        max_members=settings.max_zip_members,
        max_total_bytes=settings.max_upload_bytes * 10,
        max_ratio=settings.max_zip_ratio,
    )


def _save_uploads(files: list[UploadFile], staging: Path, settings: ServiceSettings) -> list[str]:
    """Write uploads into ``staging`` (zips extracted safely); returns the sniffed kind of each."""
    kinds = []
    for index, upload in enumerate(files):
        upload.file.seek(0)
        head = upload.file.read(SNIFF_BYTES)
        upload.file.seek(0)
        kind = sniff(head)
        kinds.append(kind)
        name = safe_name(upload.filename or f"upload-{index}")
        target = staging / name
        if target.exists():
            target = staging / f"{index}-{name}"
        if kind == "zip":
            archive = staging.parent / f"{staging.name}.zip"
            try:
                with archive.open("wb") as out:
                    shutil.copyfileobj(upload.file, out, 1 << 20)
                extract_zip(archive, staging / target.stem, _zip_limits(settings))
            finally:
                archive.unlink(missing_ok=True)
        else:
            with target.open("wb") as out:
                shutil.copyfileobj(upload.file, out, 1 << 20)
    return kinds


# -- helpers for pipelines ---------------------------------------------------------------------
def iter_files(path: Path) -> Iterator[Path]:
    """Regular files at or under ``path`` in a stable order; symlinks and hidden files skipped.

    Symlinks are not followed, so a link planted inside a data root cannot reach outside it.
    """
    if path.is_file() and not path.is_symlink():
        yield path
        return
    for child in sorted(path.iterdir()):
        if child.name.startswith(".") or child.name == "__MACOSX" or child.is_symlink():
            continue
        if child.is_dir():
            yield from iter_files(child)
        elif child.is_file():
            yield child


def label_for(path: Path, root: Path) -> str:
    """How an item is named in results and task errors: its path relative to the load root."""
    try:
        rel = path.relative_to(root)
        return str(rel) if str(rel) != "." else path.name
    except ValueError:
        return path.name


def content_id(data: bytes | str) -> int:
    """A stable positive 53-bit id from content (exact in JavaScript numbers, fits Milvus INT64)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big") >> 11
