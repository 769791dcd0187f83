"""Request and response models of the routes every service has (see SPEC: HTTP contract)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from ..files import ID_MAX

#: an item id in a route's path (``/items/{item_id}``, ``/videos/{video_id}``...): ids are 53-bit
#: (:func:`common.files.content_id`), so any other number is a 422 that says so, never a database error (SQLite
#: raises OverflowError past 64 bits)
ItemId = Annotated[int, Path(ge=0, le=ID_MAX, description="an item id, as search results and /items give it")]
#: how many rows a listing skips (``?offset=``): bounded like an id, so a huge one is a 422, not a database error
PageOffset = Annotated[int, Query(ge=0, le=ID_MAX, description="rows to skip")]


class LoadRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"path": "data/samples/image_search/images"}]})

    path: str = Field(..., min_length=1, max_length=4096, description="file, directory or .zip on the server, "
                      "inside DATA_ROOTS")


class TaskCreated(BaseModel):
    task_id: str


class TaskError(BaseModel):
    item: str
    error: str
    level: Literal["error", "warning"] = "error"


class TaskSummary(BaseModel):
    """A load as ``GET /tasks`` lists it; ``GET /tasks/{id}`` adds its errors."""

    task_id: str
    state: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    source: str
    total: int = Field(..., description="items of the load (an estimate until it has finished)")
    done: int = Field(..., description="items stored: new + duplicates")
    new: int = Field(..., description="items stored by this load")
    duplicates: int = Field(..., description="items already stored (same content): nothing written")
    failed: int
    warnings: int = Field(..., description="items stored with a warning (listed in errors, level 'warning')")
    partial: float = Field(..., description="progress inside the batch being processed, in items")
    message: str | None
    created_at: str | None
    finished_at: str | None


class TaskStatus(TaskSummary):
    errors: list[TaskError] = Field(..., description="the first failed and warned items, in the order met")


class TaskList(BaseModel):
    tasks: list[TaskSummary]


class CountResponse(BaseModel):
    count: int
    #: by kind, in a demo that stores items of several kinds (the QA demo: ``{"faq": 18, "document": 17}``)
    kinds: dict[str, int] | None = None


class DropResponse(BaseModel):
    dropped: int


class ItemPage(BaseModel):
    items: list[dict[str, Any]]
    total: int
    offset: int
    limit: int


class ServiceInfo(BaseModel):
    """What the page needs to guide a user: where /load may read, what it accepts, the limits."""

    name: str
    title: str
    data_roots: list[str]
    accepted: list[str]
    max_upload_mb: int
    max_top_k: int
    api_key_required: bool
    count: int
    kinds: dict[str, int] | None = None  # as in CountResponse
