"""Mount the demos under their prefixes, with a landing page at ``/``.

``bootcamp serve`` serves every installed demo of :data:`common.registry.DEMOS`; ``bootcamp serve
image_search`` serves one. Either way a demo lives under the same prefix (``/image`` ...), so URLs, pages
and tests do not depend on how it is run. Once every demo has started, one line per demo is logged: its URL
and its backends.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from .. import registry
from ..registry import Demo, demo, installed_demos
from ..resources import Resources
from ..settings import ServiceSettings
from .app import NOT_USED
from .docs import COMMON_STATIC, install_favicon, install_offline_docs
from .middleware import AccessGuard
from .pages import render as render_page

log = logging.getLogger("bootcamp")


def create_service(entry: Demo) -> FastAPI:
    app: FastAPI = entry.load("app")()
    return app


def build_app(names: Sequence[str] | None = None, services: dict[str, FastAPI] | None = None,
              base_url: str = "") -> FastAPI:
    """The combined app: each demo mounted at its prefix, a landing page at ``/``.

    ``services`` lets tests pass ready-made apps (with overridden settings) instead of names; ``base_url``
    (``http://127.0.0.1:8000``) is only used in the start-up log.
    """
    if services is None:
        chosen = [demo(n) for n in names] if names else installed_demos()
        services = {entry.name: create_service(entry) for entry in chosen}
    entries = {name: demo(name) for name in services}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Starlette does not run the lifespan of mounted apps; enter each child's here.
        async with AsyncExitStack() as stack:
            for name, child in services.items():
                await stack.enter_async_context(child.router.lifespan_context(child))
                res: Resources = child.state.resources
                vectors = (f"{res.vectors.describe()} {res.vectors.location()}" if child.state.pipeline.uses_vectors
                           else NOT_USED)
                log.info("%-18s %s%s/  (vectors: %s, database: %s)", name, base_url, entries[name].prefix,
                         vectors, res.sql.describe())
            if base_url:
                log.info("all demos at %s/ (Ctrl+C to stop)", base_url)
            yield

    parent = FastAPI(title="Vector-search bootcamp",
                     description="Every mounted demo's API in one document; each demo also has its own at "
                     "<prefix>/docs.", lifespan=lifespan, docs_url=None, redoc_url=None)
    install_offline_docs(parent)
    install_favicon(parent)
    shared = ServiceSettings()
    parent.add_middleware(AccessGuard, api_key=shared.api_key, allowed_hosts=shared.allowed_hosts,
                          cors_origins=shared.cors_origins)
    parent.openapi = lambda: _combined_openapi(parent, services, entries)  # type: ignore[method-assign]
    landing = _landing_page(services, entries)

    @parent.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(landing)

    @parent.get("/health", tags=["bootcamp"])
    async def health() -> dict[str, object]:
        return {"status": "ok", "services": {name: entries[name].prefix for name in services}}

    parent.mount("/assets/common", StaticFiles(directory=COMMON_STATIC), name="common-static")
    for name, child in services.items():
        parent.mount(entries[name].prefix, child, name=name)
    return parent


def _landing_page(services: dict[str, FastAPI], entries: dict[str, Demo]) -> str:
    pipelines = {name: entries[name].load("pipeline") for name in services}
    demos = [{"prefix": entries[name].prefix, "title": child.title, "description": child.description,
              "first_step": entries[name].first_step, "noun": pipelines[name].noun, "nouns": pipelines[name].nouns}
             for name, child in services.items()]
    missing = [d.name for d in registry.DEMOS if d.name not in services]
    return render_page(COMMON_STATIC / "landing.html", demos=demos, missing=missing)


def _combined_openapi(parent: FastAPI, services: dict[str, FastAPI], entries: dict[str, Demo]) -> dict[str, Any]:
    """The parent's OpenAPI document with each service's paths under its prefix.

    Schema names that two services define differently are qualified with the service name.
    """
    if parent.openapi_schema:
        return parent.openapi_schema
    spec = get_openapi(title=parent.title, version=parent.version, description=parent.description,
                       routes=parent.routes)
    schemas: dict[str, Any] = spec.setdefault("components", {}).setdefault("schemas", {})
    for name, child in services.items():
        prefix = entries[name].prefix
        child_spec = child.openapi()
        text = json.dumps(child_spec)
        for schema_name, schema in child_spec.get("components", {}).get("schemas", {}).items():
            if schema_name in schemas and schemas[schema_name] != schema:
                qualified = f"{name}__{schema_name}"
                text = text.replace(f'"#/components/schemas/{schema_name}"', f'"#/components/schemas/{qualified}"')
        child_spec = json.loads(text)
        for schema_name, schema in child_spec.get("components", {}).get("schemas", {}).items():
            key = schema_name if schema_name not in schemas or schemas[schema_name] == schema else (
                f"{name}__{schema_name}")
            schemas[key] = schema
        for path, operations in child_spec.get("paths", {}).items():
            for operation in operations.values():
                operation["tags"] = [f"{prefix} · {tag}" for tag in operation.get("tags", ["service"])]
                if "operationId" in operation:
                    operation["operationId"] = f"{name}__{operation['operationId']}"
            spec["paths"][f"{prefix}{path}"] = operations
    parent.openapi_schema = spec
    return spec
