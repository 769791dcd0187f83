"""The one exception tree of the bootcamp.

Every error a service raises on purpose derives from :class:`BootcampError` and carries the HTTP
status it maps to. ``common.web.app`` installs a single handler that turns any of them into
``{"detail": "..."}`` with that status, so routes and pipelines raise, they never build responses::

    BootcampError (500)
    ├── BadRequest            400  malformed request the schema could not catch
    ├── Forbidden             403  path outside DATA_ROOTS, missing or wrong API key
    ├── NotFound              404  unknown item, task, file
    ├── PayloadTooLarge       413  upload or archive over the configured limits
    ├── UnsupportedMediaType  415  content sniffed as something this service does not take
    ├── InvalidInput          422  well-formed but unusable input (corrupt image, bad SMILES, empty query)
    ├── BackendUnavailable    503  Milvus or the SQL database cannot be reached
    └── Overloaded            503  the worker pool and its queue are full; carries ``Retry-After``

A backend that stops answering while a request runs surfaces as its library's error (SQLAlchemy's
``OperationalError``, pymilvus's ``MilvusException``): the same module answers those 503 with ``Retry-After``.
"""

from __future__ import annotations


class BootcampError(Exception):
    """Base of every deliberate error; ``status_code`` is the HTTP status it maps to."""

    status_code = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def headers(self) -> dict[str, str]:
        """Extra response headers (``Retry-After`` for :class:`Overloaded`)."""
        return {}


class BadRequest(BootcampError):
    """A malformed request the schema could not catch (a broken multipart body, a bad archive)."""

    status_code = 400


class Forbidden(BootcampError):
    """A path outside ``DATA_ROOTS``, a missing or wrong API key, a foreign Host or Origin."""

    status_code = 403


class NotFound(BootcampError):
    """An unknown item, task, file or demo."""

    status_code = 404


class PayloadTooLarge(BootcampError):
    """An upload, archive, image or query over its configured budget."""

    status_code = 413


class UnsupportedMediaType(BootcampError):
    """Content that sniffs as something this service does not take (whatever its name says)."""

    status_code = 415


class InvalidInput(BootcampError):
    """Well-formed but unusable input: a corrupt image, a bad SMILES, an empty query, a page too deep."""

    status_code = 422


class BackendUnavailable(BootcampError):
    """Milvus or the SQL database cannot be reached, or lacks a capability the settings ask for."""

    status_code = 503


class Overloaded(BootcampError):
    """The worker pool and its queue are full; the response carries ``Retry-After``."""

    status_code = 503

    def __init__(self, detail: str, retry_after_s: int = 2) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


__all__ = [
    "BackendUnavailable",
    "BadRequest",
    "BootcampError",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "Overloaded",
    "PayloadTooLarge",
    "UnsupportedMediaType",
]
