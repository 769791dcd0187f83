"""Mount the installed services under their prefixes, with a landing page at ``/``.

``bootcamp serve`` serves every service whose package is installed; ``bootcamp serve image_search``
serves one. Either way a service lives under the same prefix (``/image`` ...), so URLs, pages and
tests do not depend on how it is run. Each ``solutions.<name>.app`` module provides
``create_app(settings=None) -> FastAPI``.
"""

from __future__ import annotations

import html
import importlib
import importlib.util
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from .app import COMMON_STATIC, install_offline_docs
from .errors import NotFound

log = logging.getLogger(__name__)

#: every service of the bootcamp and the prefix it is served under (SPEC: HTTP contract)
SERVICES: dict[str, str] = {
    "image_search": "/image",
    "qa_chatbot": "/qa",
    "video_analysis": "/video",
    "molecular_search": "/molecule",
}


def available_services() -> list[str]:
    """Services whose app module is installed, in SPEC order."""
    return [name for name in SERVICES if _installed(f"solutions.{name}.app")]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package is absent
        return False


def create_service(name: str) -> FastAPI:
    if name not in SERVICES:
        raise NotFound(f"unknown service {name!r}; known: {', '.join(SERVICES)}")
    module = importlib.import_module(f"solutions.{name}.app")
    app: FastAPI = module.create_app()
    return app


def build_app(names: Sequence[str] | None = None, services: dict[str, FastAPI] | None = None) -> FastAPI:
    """The combined app: each service mounted at its prefix, a landing page at ``/``.

    ``services`` lets tests pass ready-made apps (with overridden settings) instead of names.
    """
    if services is None:
        chosen = list(names) if names else available_services()
        services = {name: create_service(name) for name in chosen}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Starlette does not run the lifespan of mounted apps; enter each child's here.
        async with AsyncExitStack() as stack:
            for child in services.values():
                await stack.enter_async_context(child.router.lifespan_context(child))
            yield

    parent = FastAPI(
        title="Vector-search bootcamp",
        description="Every mounted demo's API in one document; each demo also has its own at <prefix>/docs.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_offline_docs(parent)
    parent.openapi = lambda: _combined_openapi(parent, services)  # type: ignore[method-assign]
    landing = _landing_page(services)

    @parent.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(landing)

    @parent.get("/health", tags=["bootcamp"])
    async def health() -> dict[str, object]:
        return {"status": "ok", "services": {name: SERVICES[name] for name in services}}

    parent.mount("/assets/common", StaticFiles(directory=COMMON_STATIC), name="common-static")
    for name, child in services.items():
        parent.mount(SERVICES[name], child, name=name)
    return parent


def _landing_page(services: dict[str, FastAPI]) -> str:
    cards = []
    for name, child in services.items():
        prefix = SERVICES[name]
        cards.append(
            f'<li class="card"><h2><a href="{prefix}/">{html.escape(child.title)}</a></h2>'
            f"<p>{html.escape(child.description)}</p>"
            f'<p class="links"><a href="{prefix}/">Open the demo</a> · <a href="{prefix}/docs">API docs</a>'
            f' · <a href="{prefix}/redoc">ReDoc</a></p></li>'
        )
    missing = [n for n in SERVICES if n not in services]
    note = (
        f'<p class="muted">Not installed here: {html.escape(", ".join(missing))}.</p>' if missing else ""
    )
    return (COMMON_STATIC / "landing.html").read_text(encoding="utf-8").replace(
        "<!--SERVICES-->", "\n".join(cards) or "<li>No service is installed.</li>"
    ).replace("<!--NOTE-->", note)


def _combined_openapi(parent: FastAPI, services: dict[str, FastAPI]) -> dict[str, Any]:
    """The parent's OpenAPI document with each service's paths under its prefix.

    Schema names that two services define differently are qualified with the service name.
    """
    if parent.openapi_schema:
        return parent.openapi_schema
    spec = get_openapi(title=parent.title, version=parent.version, description=parent.description,
                       routes=parent.routes)
    schemas: dict[str, Any] = spec.setdefault("components", {}).setdefault("schemas", {})
    for name, child in services.items():
        prefix = SERVICES[name]
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
