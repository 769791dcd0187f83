"""Reading a search's multipart body only once a worker slot is held, within a byte budget.

FastAPI reads ``File()`` parameters before the route runs, so a burst of searches would receive (and spool)
every body before any of them could be refused. The image routes take the raw request instead, hold a place
in the worker pool, and only then read the body here, refusing it with 413 as soon as it passes
``max_bytes`` (``IMAGE_MAX_QUERY_MB``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from common.errors import BadRequest, InvalidInput, PayloadTooLarge


async def read_form(request: Request, max_bytes: int, max_files: int, too_large: str) -> FormData:
    """The multipart form of ``request``; 422 when the body is not multipart, 413 (saying ``too_large``) past
    ``max_bytes``, 400 past ``max_files`` files."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput("expected a multipart/form-data body with the query image")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(too_large)

    async def limited() -> AsyncGenerator[bytes, None]:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_bytes:
                raise PayloadTooLarge(too_large)
            yield chunk

    parser = MultiPartParser(request.headers, limited(), max_files=max_files, max_fields=16)
    try:
        return await parser.parse()
    except MultiPartException as exc:
        if exc.message.startswith("Too many files"):
            raise BadRequest(f"at most {max_files} file{'s' if max_files > 1 else ''} per request") from exc
        raise BadRequest(f"malformed multipart body: {exc.message}") from exc


def form_fields(form: FormData, model: type[BaseModel]) -> Any:
    """The text fields of ``form`` validated by ``model`` (422 with the reasons)."""
    values = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise InvalidInput("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from exc


def form_file(form: FormData, field: str) -> UploadFile:
    value = form.get(field)
    if not isinstance(value, UploadFile):
        raise InvalidInput(f"{field}: a file is required")
    return value


def form_files(form: FormData, field: str) -> list[UploadFile]:
    files = [v for v in form.getlist(field) if isinstance(v, UploadFile)]
    if not files:
        raise InvalidInput(f"{field}: at least one file is required")
    return files


def multipart_body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """``openapi_extra`` describing a multipart body the route reads itself."""
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": properties, "required": required}}}}}
