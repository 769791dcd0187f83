"""Swagger UI at ``/docs`` and ReDoc at ``/redoc`` from assets installed with the project (no CDN).

FastAPI's defaults load them from a CDN, which leaves the pages blank offline. URLs honour the mount prefix
(``root_path``), so ``/image/docs`` reads ``/image/openapi.json``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

COMMON_STATIC = Path(__file__).resolve().parent.parent / "static"
#: Swagger UI and ReDoc bundles shipped by the fastapi-offline package
DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
FAVICON = COMMON_STATIC / "favicon.svg"
#: ReDoc's footer shows a logo it loads from Redocly's CDN; our copy of the bundle shows our icon instead
REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@functools.cache
def _redoc_bundle() -> bytes:
    return (DOCS_ASSETS / "redoc.standalone.js").read_bytes().replace(REDOC_CDN_LOGO.encode(), b"favicon.svg")


def install_offline_docs(app: FastAPI) -> None:
    app.mount("/assets/docs", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    def docs_page(path: str, render: Callable[[str, str], HTMLResponse]) -> None:
        """GET ``path``: the page ``render(root, openapi_url)`` makes, its links under the app's mount prefix."""

        async def page(request: Request) -> HTMLResponse:
            root = request.scope.get("root_path", "").rstrip("/")
            return render(root, f"{root}{app.openapi_url}")

        app.add_api_route(path, page, methods=["GET"], include_in_schema=False)

    docs_page("/docs", lambda root, openapi_url: get_swagger_ui_html(
        openapi_url=openapi_url, title=f"{app.title} · API",
        swagger_js_url=f"{root}/assets/docs/swagger-ui-bundle.js", swagger_css_url=f"{root}/assets/docs/swagger-ui.css",
        swagger_favicon_url=f"{root}/favicon.svg",
    ))
    docs_page("/redoc", lambda root, openapi_url: get_redoc_html(
        openapi_url=openapi_url, title=f"{app.title} · ReDoc", redoc_js_url=f"{root}/assets/redoc.standalone.js",
        redoc_favicon_url=f"{root}/favicon.svg", with_google_fonts=False,
    ))

    @app.get("/assets/redoc.standalone.js", include_in_schema=False)
    async def redoc_bundle() -> Response:
        return Response(_redoc_bundle(), media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})


def install_favicon(app: FastAPI) -> None:
    """``/favicon.svg`` and ``/favicon.ico`` (browsers ask for the latter whatever the page says)."""

    @app.get("/favicon.svg", include_in_schema=False)
    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})
