"""Settings shared by every service.

Each service subclasses :class:`ServiceSettings` with its own ``env_prefix`` (``IMAGE_``, ``QA_`` ...)
for its own knobs. The backend settings are the same for all services and read without a prefix,
so one ``.env`` configures the whole bootcamp::

    MILVUS_URI=http://milvus:19530
    DATABASE_URL=mysql+mysqlconnector://bootcamp:secret@mysql:3306/bootcamp
    DATA_ROOTS=/srv/photos:/srv/faq
    API_KEY=change-me
    BOOTCAMP_ENV=production

Left unset, every service runs embedded: a Milvus Lite file and a SQLite file under ``DATA_DIR``
(``./data``). Outside dev mode the settings refuse to start without an ``API_KEY`` or with the
example database password.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: the password in the example compose files; never acceptable outside dev mode
EXAMPLE_DB_PASSWORDS = frozenset({"bootcamp", "password", "changeme", "root", ""})


def _shared(name: str) -> AliasChoices:
    """Read a backend setting from its unprefixed environment name (or its field name)."""
    return AliasChoices(name, name.lower())


class ServiceSettings(BaseSettings):
    """Base settings; subclasses set ``model_config = service_config("IMAGE_")``."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    env: Literal["dev", "production"] = Field("dev", validation_alias=_shared("BOOTCAMP_ENV"))
    data_dir: Path = Field(Path("data"), validation_alias=_shared("DATA_DIR"))
    data_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, validation_alias=_shared("DATA_ROOTS")
    )
    milvus_uri: str = Field("", validation_alias=_shared("MILVUS_URI"))
    milvus_token: str = Field("", validation_alias=_shared("MILVUS_TOKEN"))
    #: consistency of searches: Session sees this process's writes at once; Strong also waits for other writers
    milvus_search_consistency: Literal["Strong", "Session", "Bounded", "Eventually"] = Field(
        "Session", validation_alias=_shared("MILVUS_SEARCH_CONSISTENCY"))
    database_url: str = Field("", validation_alias=_shared("DATABASE_URL"))
    api_key: str = Field("", validation_alias=_shared("API_KEY"))
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_shared("CORS_ORIGINS")
    )
    max_upload_mb: int = Field(200, validation_alias=_shared("MAX_UPLOAD_MB"), gt=0)
    max_zip_members: int = Field(20_000, validation_alias=_shared("MAX_ZIP_MEMBERS"), gt=0)
    max_zip_ratio: int = Field(100, validation_alias=_shared("MAX_ZIP_RATIO"), gt=0)
    #: what all archives of one request may expand to, and how many archives one request may carry
    max_expand_mb: int = Field(2048, validation_alias=_shared("MAX_EXPAND_MB"), gt=0)
    max_archives: int = Field(8, validation_alias=_shared("MAX_ARCHIVES"), gt=0)
    max_image_mpx: float = Field(40.0, validation_alias=_shared("MAX_IMAGE_MPX"), gt=0)
    workers: int = Field(2, validation_alias=_shared("WORKERS"), gt=0)
    #: onnxruntime execution providers, in order of preference (CPU is always added last)
    onnx_providers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["CPUExecutionProvider"], validation_alias=_shared("ONNX_PROVIDERS")
    )
    #: where exported ONNX models are cached, shared by every demo (default: DATA_DIR/models)
    model_cache_dir: Path | None = Field(None, validation_alias=_shared("MODEL_CACHE_DIR"))
    #: calls that may wait for a worker; beyond, requests get 503 + Retry-After
    queue_limit: int = Field(16, validation_alias=_shared("QUEUE_LIMIT"), ge=0)
    #: Host names the server answers to when no API_KEY is set (DNS-rebinding guard); "*" for any
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1", "::1"], validation_alias=_shared("ALLOWED_HOSTS")
    )

    # -- per service (each demo's settings class gives its own defaults) --------------------
    #: first part of this service's Milvus collection and SQL table names; tests give each run its own
    store_prefix: str = Field("items", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
    #: items per ``process_batch`` call
    batch_size: int = Field(64, gt=0)
    max_top_k: int = Field(100, gt=0, le=16384)
    #: deepest result a search may page to (``offset + top_k``)
    max_results: int = Field(1000, gt=0, le=16384)

    @field_validator("data_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: object) -> object:
        if isinstance(value, str):
            return [p for p in value.split(os.pathsep) if p.strip()]
        return value

    @field_validator("cors_origins", "allowed_hosts", "onnx_providers", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _one_at_sign(cls, value: str) -> str:
        """A password with an ``@`` pasted into the URL (the compose files build it from ``MYSQL_PASSWORD``) makes
        the rest of the password part of the host name: said here, not as a DNS error at the first query."""
        if "://" in value and "@" in _url_host_and_database(value):
            raise ValueError("its password holds '@': write it %40 in the URL, or choose a password without '@'")
        return value

    @model_validator(mode="after")
    def _refuse_insecure_outside_dev(self) -> ServiceSettings:
        if self.env == "dev":
            return self
        if not self.api_key:
            raise ValueError("API_KEY must be set when BOOTCAMP_ENV is not 'dev'")
        password = _url_password(self.database_url)
        if password is not None and password in EXAMPLE_DB_PASSWORDS:
            raise ValueError("DATABASE_URL uses an example password; set a real one outside dev mode")
        return self

    # -- derived locations -------------------------------------------------------------------
    def roots(self) -> list[Path]:
        """The allow-list for ``/load``: ``DATA_ROOTS`` or, when unset, ``DATA_DIR``."""
        return self.data_roots or [self.data_dir]

    def service_dir(self, service: str) -> Path:
        return self.data_dir / service

    def samples_dir(self, demo: str) -> Path:
        """Where a demo's sample data is written, by ``bootcamp sample-data`` and the page's button alike."""
        return self.data_dir / "samples" / demo

    def models_dir(self) -> Path:
        return self.model_cache_dir or self.data_dir / "models"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024


def service_config(prefix: str) -> SettingsConfigDict:
    """The model_config of a service's settings: its env prefix, ``.env``, nested ``__``."""
    return SettingsConfigDict(
        env_prefix=prefix, env_file=".env", env_nested_delimiter="__", extra="ignore", populate_by_name=True
    )


def invalid_settings(exc: ValidationError) -> list[str]:
    """One line per error of a settings class, naming the environment variable to fix and never its value:
    a value may be a secret (pydantic's own message repeats every input, ``API_KEY`` and ``DATABASE_URL``
    included, and a start-up log is often shared)."""
    cls = next((c for c in _subclasses(ServiceSettings) if c.__name__ == exc.title), ServiceSettings)
    lines = []
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        message = error["msg"].removeprefix("Value error, ")
        where = _env_name(cls, str(error["loc"][0])) if error["loc"] else ""
        lines.append(f"invalid setting {where}: {message}" if where else f"invalid settings: {message}")
    return lines


def _env_name(cls: type[BaseSettings], name: str) -> str:
    """The environment variable of a field (``name`` is the field's name or one of its aliases)."""
    for field, info in cls.model_fields.items():
        alias = info.validation_alias
        choices = [str(c) for c in alias.choices] if isinstance(alias, AliasChoices) else []
        if name == field or name in choices:
            return choices[0] if choices else f"{cls.model_config.get('env_prefix') or ''}{field}".upper()
    return name.upper()


def _subclasses(cls: type[ServiceSettings]) -> list[type[ServiceSettings]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found += _subclasses(sub)
    return found


def _url_host_and_database(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:  # not a URL: the store that opens it says so
        return ""
    return f"{parsed.host or ''}/{parsed.database or ''}"


def _url_password(url: str) -> str | None:
    if not url or "://" not in url:
        return None
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        return None
    return parsed.password or ""
