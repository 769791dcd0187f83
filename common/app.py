"""The app factory every service uses.

``create_service_app`` builds a FastAPI app whose lifespan opens the vector and SQL stores, the
worker pool and the task runner once, builds the service's pipeline (loading its models) in a
worker thread, and closes everything on shutdown. It also installs what every service has in
common: ``/health``, the common load/item routes, JSON errors from :mod:`common.errors`, the
request-size limit, the optional ``X-API-Key`` check on non-GET routes, CORS, the shared static
assets and the service's page at ``/``.

Routes are relative; :mod:`common.launcher` mounts each service at its prefix (``/image`` ...).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import BackendUnavailable, BootcampError, Forbidden
from .pool import make_pool, run_in_pool
from .service import Pipeline, Resources, common_router
from .settings import ServiceSettings
from .sql import open_sql_store
from .tasks import TaskRunner
from .vectors import open_vector_store

log = logging.getLogger(__name__)

COMMON_STATIC = Path(__file__).parent / "static"
#: Swagger UI and ReDoc bundles shipped by the fastapi-offline package (no CDN at run time)
DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

BuildPipeline = Callable[[Resources], Pipeline]


def create_service_app(
    *,
    name: str,
    title: str,
    description: str,
    settings: ServiceSettings,
    build_pipeline: BuildPipeline,
    routers: Sequence[APIRouter] = (),
    static_dir: Path | None = None,
) -> FastAPI:
    """A complete service app; ``name`` is the service (``image_search``), its data folder and table prefix."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service_dir = settings.service_dir(name)
        service_dir.mkdir(parents=True, exist_ok=True)
        pool = make_pool(settings.workers, name)
        loop = asyncio.get_running_loop()
        vectors = await loop.run_in_executor(
            pool, open_vector_store, settings.milvus_uri, settings.milvus_token, service_dir / "milvus.db"
        )
        sql = open_sql_store(settings.database_url, service_dir / "meta.db")
        tasks = TaskRunner(sql, name)
        resources = Resources(settings=settings, vectors=vectors, sql=sql, pool=pool, data_dir=service_dir)
        pipeline = await loop.run_in_executor(pool, build_pipeline, resources)
        await loop.run_in_executor(pool, sql.create_all)
        tasks.start()
        app.state.settings = settings
        app.state.vectors = vectors
        app.state.sql = sql
        app.state.pool = pool
        app.state.tasks = tasks
        app.state.pipeline = pipeline
        log.info("%s ready (vectors: %s, database: %s)", name, vectors.uri, sql.describe())
        try:
            yield
        finally:
            tasks.shutdown(wait=True)
            pipeline.close()
            vectors.close()
            sql.dispose()
            pool.shutdown(wait=True, cancel_futures=True)

    async def require_api_key(request: Request) -> None:
        if not settings.api_key or request.method in SAFE_METHODS:
            return
        given = request.headers.get("x-api-key", "")
        if not secrets.compare_digest(given.encode(), settings.api_key.encode()):
            raise Forbidden("missing or wrong X-API-Key header")

    app = FastAPI(
        title=title,
        description=description,
        lifespan=lifespan,
        dependencies=[Depends(require_api_key)],
        docs_url=None,
        redoc_url=None,
    )
    install_offline_docs(app)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*", "X-API-Key"],
        )

    @app.get("/health", tags=["service"])
    async def health(request: Request) -> JSONResponse:
        """``{"status": "ok", ...}``; 503 when Milvus or the database does not answer."""
        state = request.app.state
        try:
            version = await run_in_pool(state.pool, state.vectors.ping)
            await run_in_pool(state.pool, state.sql.ping)
        except BackendUnavailable as exc:
            return JSONResponse(
                {"status": "unavailable", "detail": exc.detail,
                 "vector_store": state.vectors.uri if state.vectors.is_lite else _redact(state.vectors.uri),
                 "database": state.sql.describe()},
                status_code=503,
            )
        return JSONResponse(
            {
                "status": "ok",
                "service": name,
                "vector_store": f"{'milvus-lite' if state.vectors.is_lite else 'milvus'} {version}",
                "database": state.sql.describe(),
            }
        )

    app.include_router(common_router())
    for router in routers:
        app.include_router(router)
    app.mount("/assets/common", StaticFiles(directory=COMMON_STATIC), name="common-static")
    if static_dir is not None:
        app.mount("/static", StaticFiles(directory=static_dir), name="static")
        index = static_dir / "index.html"

        @app.get("/", include_in_schema=False)
        async def page() -> FileResponse:
            return FileResponse(index, media_type="text/html")

    return app


def install_offline_docs(app: FastAPI) -> None:
    """Swagger UI at ``/docs`` and ReDoc at ``/redoc`` from assets installed with the project.

    FastAPI's defaults load them from a CDN, which leaves the pages blank offline. URLs honour the
    mount prefix (``root_path``), so ``/image/docs`` reads ``/image/openapi.json``.
    """
    app.mount("/assets/docs", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} · API",
            swagger_js_url=f"{root}/assets/docs/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/assets/docs/swagger-ui.css",
            swagger_favicon_url=f"{root}/assets/docs/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} · ReDoc",
            redoc_js_url=f"{root}/assets/docs/redoc.standalone.js",
            redoc_favicon_url=f"{root}/assets/docs/favicon.png", with_google_fonts=False,
        )


def _redact(uri: str) -> str:
    return uri.split("@")[-1]


def install_error_handlers(app: FastAPI) -> None:
    """Map :class:`BootcampError` and validation errors to ``{"detail": "..."}`` JSON."""

    @app.exception_handler(BootcampError)
    async def bootcamp_error(_request: Request, exc: BootcampError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        messages = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
            messages.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return JSONResponse({"detail": "; ".join(messages) or "invalid request"}, status_code=422)


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with 413, by header and while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        received = 0
        overflowed = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, overflowed
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    overflowed = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # body parsers may turn our exception into their own 400; the real answer is 413
            nonlocal response_started
            if overflowed:
                if message["type"] == "http.response.start" and not response_started:
                    response_started = True
                    await _too_large(send, self.max_bytes)
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            if not response_started:
                await _too_large(send, self.max_bytes)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body larger than {limit // (1024 * 1024)} MB"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
