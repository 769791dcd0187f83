"""ASGI guards that run before a request body is read.

* :class:`AccessGuard` – with ``API_KEY`` set, every non-GET request needs ``X-API-Key`` (checked before a
  byte of the body is received). Without a key (local use), it refuses requests whose ``Host`` is not an
  allowed name (DNS rebinding) and state-changing requests whose ``Origin`` is another site (a foreign web
  page posting to the local server: multipart ``/upload`` is a CORS "simple" request), ``null`` included: that
  is what a sandboxed iframe, which any page can make, sends.
* :class:`BodySizeLimit` – 413 for bodies over the limit (``MAX_UPLOAD_MB`` for multipart uploads, 4 MB for
  anything else: JSON), by header and while streaming.
"""

from __future__ import annotations

import json
import secrets
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: largest body that is not a multipart upload: twice the largest JSON request the contract allows (1000
#: molecule queries of 2000 characters); JSON is parsed in memory, at about 25 bytes per byte, on the event loop
MAX_JSON_BYTES = 4 << 20


async def send_json(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _host_name(host: str) -> str:
    """``Host`` header without the port (``[::1]:8000`` → ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class AccessGuard:
    """API key on non-GET requests; without a key, Host and Origin checks for local use."""

    def __init__(self, app: ASGIApp, api_key: str, allowed_hosts: list[str], cors_origins: list[str]) -> None:
        self.app = app
        self.api_key = api_key.encode()
        self.any_host = "*" in allowed_hosts
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.cors_origins = set(cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        method = scope.get("method", "GET")
        if self.api_key:
            if method not in SAFE_METHODS and not secrets.compare_digest(
                    headers.get("x-api-key", "").encode(), self.api_key):
                await send_json(send, 403, "missing or wrong X-API-Key header")
                return
        else:
            host = _host_name(headers.get("host", ""))
            if not self.any_host and host not in self.allowed_hosts:
                await send_json(send, 403, f"host {host!r} is not allowed (setting ALLOWED_HOSTS)")
                return
            origin = headers.get("origin")
            if method not in SAFE_METHODS and origin and not self._same_site(origin, headers):
                await send_json(send, 403, f"requests from {origin} are not allowed (setting CORS_ORIGINS)")
                return
        await self.app(scope, receive, send)

    def _same_site(self, origin: str, headers: dict[str, str]) -> bool:
        if origin in self.cors_origins:
            return True
        return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with 413, by header and while streaming; a body that is not a
    multipart upload (JSON, a form) over :data:`MAX_JSON_BYTES`, whatever ``max_bytes`` says."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        limit = self.max_bytes
        if not headers.get(b"content-type", b"").lower().startswith(b"multipart/"):
            limit = min(limit, MAX_JSON_BYTES)  # FastAPI reads a body without a content type as JSON
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(send, limit)
            return
        received = 0
        overflowed = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, overflowed
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    overflowed = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # body parsers may turn our exception into their own 400; the real answer is 413
            nonlocal response_started
            if overflowed:
                if message["type"] == "http.response.start" and not response_started:
                    response_started = True
                    await self._too_large(send, limit)
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            if not response_started:
                await self._too_large(send, limit)

    async def _too_large(self, send: Send, limit: int) -> None:
        if limit < self.max_bytes:
            await send_json(send, 413, f"request body larger than {limit // (1024 * 1024)} MB (files are uploaded as "
                                       "multipart/form-data)")
            return
        await send_json(send, 413, f"request body larger than {self.max_bytes // (1024 * 1024)} MB (setting "
                                   "MAX_UPLOAD_MB); a larger file can be loaded from a folder the server reads: /load")


class _BodyTooLarge(Exception):
    pass
