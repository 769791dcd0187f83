"""Vector store over pymilvus ``MilvusClient``.

One class serves both backends: a Milvus Lite file (the default, ``data/<service>/milvus.db``) or
any Milvus 2.x server (``MILVUS_URI`` + ``MILVUS_TOKEN``). Services describe their collections with
pymilvus' own schema objects and call the methods below with the collection name; what differs
between backends is detected once, at connect time, as :class:`Capabilities`, never assumed.

The store connects on first use, so a demo that keeps no vectors (the molecule demo: its own index) never
opens Milvus, and never holds the lock on a Milvus Lite file that a ``bootcamp`` command would then need.

Every collection is created with ``Strong`` consistency so a row is countable and deletable as soon as the
call that wrote it returns, on the server as in Lite. Searches default to ``Session`` consistency (setting
``MILVUS_SEARCH_CONSISTENCY``): they see every write of this process at once without waiting for the server's
time tick, which costs a ``Strong`` search about 200 ms on a Milvus server.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pymilvus import CollectionSchema, DataType, MilvusClient
from pymilvus.milvus_client.index import IndexParams

from .errors import BackendUnavailable

log = logging.getLogger(__name__)

#: rows sent per insert/upsert RPC; keeps each message well under gRPC's 64 MB default
INSERT_BATCH = 1000


@dataclass(frozen=True)
class ScalarField:
    """A non-vector field of a collection (``max_length`` for VARCHAR)."""

    name: str
    dtype: DataType
    max_length: int | None = None


@dataclass(frozen=True)
class CollectionSpec:
    """A collection as a pipeline declares it; :meth:`VectorStore.ensure` creates it (schema + index).

    ``kind`` is ``float`` (FLOAT_VECTOR of ``dim``), ``binary`` (BINARY_VECTOR of ``dim`` bits) or ``bm25``
    (a VARCHAR ``text`` analysed into a SPARSE_FLOAT_VECTOR by Milvus' BM25 function, backends >= 2.5; its
    ``index_params`` may set ``bm25_k1`` and ``bm25_b``, whose defaults differ between Milvus Lite and servers).
    ``item_field`` is the field holding the id of the item a row belongs to: ``id`` when a row is the item,
    ``video_id`` when many rows (keyframes) belong to one item; deletes of an item go through it.
    """

    name: str
    kind: Literal["float", "binary", "bm25"] = "float"
    dim: int = 0
    metric: str = "COSINE"
    index_type: str = "HNSW"
    index_params: dict[str, Any] = field(default_factory=dict)
    scalars: tuple[ScalarField, ...] = ()
    item_field: str = "id"
    vector_field: str = "vector"
    text_max_length: int = 65535


@dataclass(frozen=True)
class Capabilities:
    """What the connected backend can do (Milvus Lite 3.x: no binary vectors; Milvus 2.3: no BM25)."""

    binary_vector: bool
    bm25: bool
    server_version: str


_ESCAPES = {"\\": "\\\\", '"': '\\"', "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


#: capabilities already probed in this process, per (server URI, server version)
_DETECTED: dict[tuple[str, str], Capabilities] = {}


def escape_string(value: str) -> str:
    """Quote ``value`` as a Milvus filter-expression string literal.

    Backslashes, quotes and control characters are escaped, so user text can never close the
    literal and inject an expression: ``f"name == {escape_string(user_name)}"``.
    """
    escaped = "".join(_ESCAPES.get(ch, ch) if ch in _ESCAPES or ord(ch) >= 32 else f"\\u{ord(ch):04x}"
                      for ch in value)
    return f'"{escaped}"'


def int_list(values: Iterable[int]) -> str:
    """A filter-expression list of integers (``[1, 2, 3]``); refuses anything that is not an int."""
    return "[" + ", ".join(str(int(v)) for v in values) + "]"


class VectorStore:
    """A connection to Milvus (Lite file or server) shared by one service's pipeline."""

    def __init__(self, uri: str, token: str = "", search_consistency: str = "Session") -> None:
        self.uri = uri
        self.search_consistency = search_consistency
        self.is_lite = not uri.startswith(("http://", "https://", "tcp://", "grpc://", "unix:"))
        self._token = token
        # Milvus Lite is a single embedded process; its client is not safe to share across threads.
        self._lock = threading.RLock() if self.is_lite else _NullLock()
        self._connecting = threading.RLock()
        self._client: MilvusClient | None = None
        self._capabilities: Capabilities | None = None

    @property
    def client(self) -> MilvusClient:
        """The pymilvus client, connected on first use (:class:`BackendUnavailable` when Milvus cannot be
        reached)."""
        if self._client is None:
            with self._connecting:
                if self._client is None:
                    self._client = _connect(self.uri, self._token, self.is_lite)
        return self._client

    @property
    def connected(self) -> bool:
        """Whether the store has connected (a demo that keeps no vectors never does)."""
        return self._client is not None

    @property
    def capabilities(self) -> Capabilities:
        """What the backend can do, probed on first use (connecting)."""
        if self._capabilities is None:
            with self._connecting:
                if self._capabilities is None:
                    self._capabilities = self._detect_capabilities()
        return self._capabilities

    def describe(self) -> str:
        """``milvus-lite`` or ``milvus`` (for ``/health`` and logs)."""
        return "milvus-lite" if self.is_lite else "milvus"

    def location(self) -> str:
        """Where the vectors are, without credentials."""
        return self.uri if self.is_lite else self.uri.split("@")[-1]

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()

    def ping(self) -> str:
        """The server version; raises :class:`BackendUnavailable` when Milvus does not answer."""
        client = self.client  # connecting says why it cannot
        try:
            with self._lock:
                return str(client.get_server_version())
        except Exception as exc:
            raise BackendUnavailable(f"Milvus at {self.uri} does not answer: {exc}") from exc

    # -- collections -------------------------------------------------------------------------
    @staticmethod
    def new_schema(**kwargs: Any) -> CollectionSchema:
        return MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False, **kwargs)

    @staticmethod
    def new_index_params() -> IndexParams:
        return MilvusClient.prepare_index_params()

    def ensure(self, spec: CollectionSpec) -> None:
        """Create the collection a :class:`CollectionSpec` declares unless it exists; load it for search."""
        schema = self.new_schema()
        schema.add_field("id", DataType.INT64, is_primary=True)
        for scalar in spec.scalars:
            extra = {"max_length": scalar.max_length} if scalar.max_length else {}
            schema.add_field(scalar.name, scalar.dtype, **extra)
        index = self.new_index_params()
        if spec.kind == "bm25":
            from pymilvus import Function, FunctionType

            schema.add_field("text", DataType.VARCHAR, max_length=spec.text_max_length, enable_analyzer=True)
            schema.add_field(spec.vector_field, DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(Function(name=f"{spec.name}_bm25", function_type=FunctionType.BM25,
                                         input_field_names=["text"], output_field_names=[spec.vector_field]))
            # the nested "params" form: Milvus Lite reads only that one (pymilvus 3 flattens a plain ``params``)
            index.add_index(spec.vector_field, index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                            params={"params": dict(spec.index_params)} if spec.index_params else None)
        else:
            dtype = DataType.BINARY_VECTOR if spec.kind == "binary" else DataType.FLOAT_VECTOR
            schema.add_field(spec.vector_field, dtype, dim=spec.dim)
            index.add_index(spec.vector_field, index_type=spec.index_type, metric_type=spec.metric,
                            params=dict(spec.index_params))
        self.ensure_collection(spec.name, schema, index)

    def has_collection(self, name: str) -> bool:
        with self._lock:
            return bool(self.client.has_collection(name))

    def ensure_collection(self, name: str, schema: CollectionSchema, index_params: IndexParams) -> None:
        """Create ``name`` with this schema and index unless it exists; load it for search."""
        with self._lock:
            if not self.client.has_collection(name):
                log.debug("creating collection %s on %s", name, self.uri)
                self.client.create_collection(
                    name, schema=schema, index_params=index_params, consistency_level="Strong"
                )
            self.client.load_collection(name)

    def drop(self, name: str) -> None:
        with self._lock:
            if self.client.has_collection(name):
                self.client.drop_collection(name)

    # -- rows --------------------------------------------------------------------------------
    def upsert(self, name: str, rows: Sequence[dict[str, Any]]) -> int:
        """Insert or replace rows by primary key, in batches; returns the number written."""
        written = 0
        for start in range(0, len(rows), INSERT_BATCH):
            chunk = list(rows[start : start + INSERT_BATCH])
            with self._lock:
                result = self.client.upsert(name, chunk)
            written += int(result.get("upsert_count", len(chunk)))
        return written

    def flush(self, name: str) -> None:
        """Seal what was written so it is indexed (Lite searches unflushed rows by brute force)."""
        with self._lock:
            self.client.flush(name)

    def search(
        self,
        name: str,
        vectors: Sequence[Any],
        *,
        anns_field: str,
        limit: int,
        metric_type: str,
        params: dict[str, Any] | None = None,
        filter: str = "",
        output_fields: Sequence[str] = (),
        consistency_level: str | None = None,
    ) -> list[list[dict[str, Any]]]:
        """Nearest neighbours per query vector: ``[[{"id", "distance", "entity": {...}}, ...], ...]``.

        ``consistency_level`` overrides the store's search consistency (``MILVUS_SEARCH_CONSISTENCY``, default
        ``Session``: this client's own writes without waiting for the server's latest timestamp).
        """
        with self._lock:
            hits = self.client.search(
                name,
                data=list(vectors),
                anns_field=anns_field,
                limit=limit,
                filter=filter,
                output_fields=list(output_fields),
                search_params={"metric_type": metric_type, "params": params or {}},
                consistency_level=consistency_level or self.search_consistency,
            )
        return [[dict(hit) for hit in per_query] for per_query in hits]

    def query(
        self, name: str, *, filter: str, output_fields: Sequence[str] = (), limit: int | None = None
    ) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"filter": filter, "output_fields": list(output_fields)}
        if limit is not None:
            kwargs["limit"] = limit
        with self._lock:
            return [dict(row) for row in self.client.query(name, **kwargs)]

    def get(self, name: str, ids: Sequence[int], output_fields: Sequence[str] = ()) -> list[dict[str, Any]]:
        if not ids:
            return []
        with self._lock:
            rows = self.client.get(name, ids=list(ids), output_fields=list(output_fields) or None)
        return [dict(row) for row in rows]

    def iterate(
        self, name: str, *, output_fields: Sequence[str], filter: str = "", batch: int = 1000
    ) -> Iterator[list[dict[str, Any]]]:
        """Every row matching ``filter``, in primary-key pages (works on Lite and 2.3 servers)."""
        last: int | None = None
        while True:
            clause = f"id > {int(last)}" if last is not None else "id >= -9223372036854775807"
            expr = f"({filter}) and {clause}" if filter else clause
            with self._lock:
                rows = self.client.query(name, filter=expr, output_fields=["id", *output_fields], limit=batch)
            if not rows:
                return
            rows = sorted((dict(r) for r in rows), key=lambda r: r["id"])
            yield rows
            if len(rows) < batch:
                return
            last = rows[-1]["id"]

    def delete(self, name: str, *, ids: Sequence[int] | None = None, filter: str = "") -> None:
        with self._lock:
            if ids is not None:
                if ids:
                    self.client.delete(name, ids=list(ids))
            elif filter:
                self.client.delete(name, filter=filter)
            else:
                raise ValueError("delete needs ids or a filter")

    def count(self, name: str, filter: str = "") -> int:
        """Live rows (deleted rows excluded, unlike ``get_collection_stats`` on a server)."""
        with self._lock:
            if not self.client.has_collection(name):
                return 0
            rows = self.client.query(name, filter=filter, output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    # -- capabilities ------------------------------------------------------------------------
    def _detect_capabilities(self) -> Capabilities:
        version = self.ping()
        key = (self.uri, version)
        if not self.is_lite and key in _DETECTED:  # probing a server costs seconds; it cannot change under us
            return _DETECTED[key]
        _DETECTED[key] = Capabilities(
            binary_vector=self._probe(_binary_schema),
            bm25=self._probe(_bm25_schema),
            server_version=version,
        )
        return _DETECTED[key]

    def _probe(self, make_schema: Callable[[], tuple[CollectionSchema, IndexParams]]) -> bool:
        """Try to create a throwaway collection; the backend's refusal means 'not supported'."""
        name = f"_probe_{uuid.uuid4().hex[:12]}"
        with _quiet("pymilvus"), self._lock:
            try:
                schema, index = make_schema()
                self.client.create_collection(name, schema=schema, index_params=index)
                return True
            except Exception as exc:
                log.debug("capability probe %s refused by %s: %s", make_schema.__name__, self.uri, exc)
                return False
            finally:
                try:
                    if self.client.has_collection(name):
                        self.client.drop_collection(name)
                except Exception:  # noqa: S110 - best effort cleanup of a probe
                    pass


def _binary_schema() -> tuple[CollectionSchema, IndexParams]:
    """A throwaway collection that only a backend with binary vectors creates."""
    schema = VectorStore.new_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("fp", DataType.BINARY_VECTOR, dim=64)
    index = VectorStore.new_index_params()
    index.add_index("fp", index_type="BIN_FLAT", metric_type="JACCARD")
    return schema, index


def _bm25_schema() -> tuple[CollectionSchema, IndexParams]:
    """A throwaway collection that only a backend with BM25 full-text search creates."""
    from pymilvus import Function, FunctionType

    schema = VectorStore.new_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("text", DataType.VARCHAR, max_length=256, enable_analyzer=True)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                 output_field_names=["sparse"]))
    index = VectorStore.new_index_params()
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    return schema, index


def _connect(uri: str, token: str, is_lite: bool) -> MilvusClient:
    if is_lite:
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
    try:
        return MilvusClient(uri=uri, token=token) if token else MilvusClient(uri=uri)
    except Exception as exc:  # pymilvus raises several unrelated types on connect failure
        hint = (" (a Milvus Lite file is open in one process at a time: is a server using this DATA_DIR? Stop "
                "it, or load and search through its page or API)") if is_lite else ""
        raise BackendUnavailable(f"cannot connect to Milvus at {uri}: {exc}{hint}") from exc


class _NullLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Silence a library logger while a probe is expected to fail."""
    logger = logging.getLogger(logger_name)
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


def open_vector_store(uri: str, token: str, default_path: Path, search_consistency: str = "Session") -> VectorStore:
    """``MILVUS_URI`` when set, otherwise a Milvus Lite file at ``default_path``."""
    return VectorStore(uri or str(default_path), token, search_consistency)


def is_unreachable(exc: BaseException) -> bool:
    """Whether a pymilvus or gRPC error says the Milvus server cannot be reached (down, restarting, a network
    cut), rather than that a request was wrong: pymilvus retries for a few seconds, then raises a
    ``MilvusException`` carrying the gRPC status, or lets the ``grpc.RpcError`` through."""
    import grpc
    from pymilvus.exceptions import ConnectError, ConnectionNotExistException, MilvusUnavailableException

    if isinstance(exc, MilvusUnavailableException | ConnectError | ConnectionNotExistException):
        return True
    code = getattr(exc, "code", None)
    if callable(code):  # a grpc.RpcError's status is a method, a MilvusException's an attribute
        code = code()
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return True
    return exc.__cause__ is not None and exc.__cause__ is not exc and is_unreachable(exc.__cause__)
