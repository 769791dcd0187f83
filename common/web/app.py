"""The app factory every service uses.

``create_service_app`` builds a FastAPI app whose lifespan opens the service's :class:`~common.resources.Resources`
(stores, worker pool, task runner) once, builds its pipeline (loading its models) in a worker thread, and
closes everything on shutdown. It also installs what every service has in common: ``/health``, the common
routes (:mod:`common.web.routes`), JSON errors from :mod:`common.errors`, the guards of
:mod:`common.web.middleware`, CORS, offline API docs, the shared static assets and the service's page at ``/``.

Routes are relative; :mod:`common.web.launcher` mounts each service at its prefix (``/image`` ...).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pymilvus.exceptions import MilvusException
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLTimeoutError
from starlette.requests import ClientDisconnect

from ..errors import BackendUnavailable, BootcampError
from ..pipeline import Pipeline
from ..pool import run_in_pool
from ..registry import demo as registered
from ..resources import Resources
from ..settings import ServiceSettings
from ..vectors import is_unreachable
from .docs import COMMON_STATIC, install_favicon, install_offline_docs
from .middleware import AccessGuard, BodySizeLimit
from .pages import render as render_page
from .routes import router as common_router

log = logging.getLogger(__name__)

#: seconds a client is asked to wait when a backend does not answer
RETRY_AFTER_S = 5

BuildPipeline = Callable[[Resources], Pipeline]
#: ``/health``'s ``vector_store`` for a demo that keeps no vectors in Milvus
NOT_USED = "not used"


def create_service_app(
    name: str,
    settings: ServiceSettings,
    build_pipeline: BuildPipeline,
    *,
    routers: Sequence[APIRouter] = (),
    static_dir: Path | None = None,
    title: str | None = None,
    description: str | None = None,
) -> FastAPI:
    """A complete service app. ``name`` is the demo (``image_search``): its registry entry gives the title
    and description (unless given), and it names its data folder and its tasks."""
    if title is None or description is None:
        entry = registered(name)
        title, description = title or entry.title, description or entry.description

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        res = await loop.run_in_executor(None, Resources.open, name, settings)
        try:
            pipeline = await loop.run_in_executor(res.pool.executor, build_pipeline, res)
            await loop.run_in_executor(res.pool.executor, res.sql.create_all)
        except BaseException:
            res.close()
            raise
        res.tasks.start()
        res.pool.executor.submit(pipeline.warm_up)
        app.state.settings = settings
        app.state.resources = res
        app.state.pipeline = pipeline
        log.debug("%s ready (vectors: %s, database: %s)", name, res.vectors.uri, res.sql.describe())
        try:
            yield
        finally:
            res.tasks.shutdown(wait=True)
            pipeline.close()
            res.close()

    app = FastAPI(title=title, description=description, lifespan=lifespan, docs_url=None, redoc_url=None)
    install_offline_docs(app)
    install_favicon(app)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
                           allow_headers=["*", "X-API-Key"])
    # added last, so it runs first: no body is read before the key, host and origin are checked
    app.add_middleware(AccessGuard, api_key=settings.api_key, allowed_hosts=settings.allowed_hosts,
                       cors_origins=settings.cors_origins)

    @app.get("/health", tags=["service"])
    async def health(request: Request) -> JSONResponse:
        """``{"status": "ok", ...}``; 503 when Milvus (for a demo that uses it) or the database does not answer."""
        res: Resources = request.app.state.resources
        uses_vectors = request.app.state.pipeline.uses_vectors
        try:
            version = await run_in_pool(res.pool, res.vectors.ping) if uses_vectors else ""
            await run_in_pool(res.pool, res.sql.ping)
        except BackendUnavailable as exc:
            return JSONResponse({"status": "unavailable", "detail": exc.detail, "vector_store": res.vectors.location(),
                                 "database": res.sql.describe()}, status_code=503)
        vectors = f"{res.vectors.describe()} {version}" if uses_vectors else NOT_USED
        return JSONResponse({"status": "ok", "service": name, "vector_store": vectors, "database": res.sql.describe()})

    app.include_router(common_router)
    for router in routers:
        app.include_router(router)
    app.mount("/assets/common", StaticFiles(directory=COMMON_STATIC), name="common-static")
    if static_dir is not None:
        app.mount("/static", StaticFiles(directory=static_dir), name="static")
        index = static_dir / "index.html"

        @app.get("/", include_in_schema=False)
        async def page() -> HTMLResponse:
            return HTMLResponse(render_page(index))

    return app


def install_error_handlers(app: FastAPI) -> None:
    """Map :class:`BootcampError`, validation errors and a backend that stopped answering (503 with
    ``Retry-After``) to ``{"detail": "..."}`` JSON; a client that hangs up mid-body is one log line."""

    @app.exception_handler(BootcampError)
    async def bootcamp_error(_request: Request, exc: BootcampError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(SQLTimeoutError)
    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        """The database went away (stopped, restarting, a network cut) or its pool is exhausted: try again."""
        log.warning("%s %s: the database does not answer (%s)", request.method, request.url.path,
                    type(getattr(exc, "orig", None) or exc).__name__)
        return _try_again("the database does not answer; try again shortly")

    @app.exception_handler(MilvusException)
    @app.exception_handler(grpc.RpcError)
    async def milvus_error(request: Request, exc: Exception) -> JSONResponse:
        if is_unreachable(exc):
            log.warning("%s %s: Milvus does not answer", request.method, request.url.path)
            return _try_again("Milvus does not answer; try again shortly")
        log.error("%s %s failed in Milvus", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal error in the vector store (the server log has the details)"},
                            status_code=500)

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, _exc: ClientDisconnect) -> Response:
        """The client hung up while sending its body: one log line, not a traceback per dropped connection."""
        log.info("%s %s: the client disconnected before sending its whole body", request.method, request.url.path)
        return Response(status_code=400)  # no one reads it

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        messages = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form"))
            messages.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return JSONResponse({"detail": "; ".join(messages) or "invalid request"}, status_code=422)


def _try_again(detail: str) -> JSONResponse:
    """503 for a backend that stopped answering, with how long to wait before asking again."""
    return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})
