"""SQL store with SQLAlchemy Core: a SQLite file by default, MySQL/MariaDB via ``DATABASE_URL``.

Tables are declared with SQLAlchemy ``Table`` objects on :attr:`SQLStore.metadata` (prefixed with
the service name, so four services can share one MySQL database) and created on start. Every
statement is built with SQLAlchemy expressions, so values always travel as bound parameters.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData, Table, create_engine, event, insert, inspect, text
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from .errors import BackendUnavailable

log = logging.getLogger(__name__)

#: rows per multi-row INSERT on MySQL (keeps statements well under max_allowed_packet)
MULTI_ROW_CHUNK = 500
#: ask the driver to keep the affected-row count of INSERTs (SQLAlchemy drops it otherwise)
_ROWCOUNT = {"preserve_rowcount": True}


class SQLStore:
    """An engine plus the tables of the services that use it."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        self.metadata = MetaData()
        self.engine = self._create_engine(url)

    def _create_engine(self, url: str) -> Engine:
        if self.dialect == "sqlite":
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

            @event.listens_for(engine, "connect")
            def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
                cursor = dbapi_conn.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()

            return engine
        # utf8mb4 whatever the server's default (often latin1): names, questions and molecules are any Unicode
        return create_engine(url, pool_pre_ping=True, pool_recycle=3600, pool_size=5, max_overflow=10,
                             connect_args={"charset": "utf8mb4", "collation": "utf8mb4_unicode_ci"})

    def describe(self) -> str:
        """Backend description without credentials, for ``/health`` and logs."""
        if self.dialect == "sqlite":
            return f"sqlite:{self.url.database}"
        socket = self.url.query.get("unix_socket")
        where = f"{socket}" if socket else f"{self.url.host}:{self.url.port or 3306}"
        return f"{self.dialect}://{where}/{self.url.database}"

    def create_all(self) -> None:
        """Create the declared tables that do not exist; refuse tables an older version made differently."""
        try:
            if self.dialect == "mysql":
                for table in self.metadata.sorted_tables:
                    table.dialect_kwargs.update(mysql_charset="utf8mb4", mysql_collate="utf8mb4_unicode_ci")
            self.metadata.create_all(self.engine)
            existing = inspect(self.engine)
            for table in self.metadata.sorted_tables:
                have = {c["name"] for c in existing.get_columns(table.name)}
                missing = [c.name for c in table.columns if c.name not in have]
                if missing:
                    raise BackendUnavailable(
                        f"table {table.name} on {self.describe()} lacks column(s) {', '.join(missing)}: it was made by "
                        "an older version of the bootcamp. Drop it (or start with an empty DATA_DIR / database).")
        except SQLAlchemyError as exc:
            raise BackendUnavailable(f"cannot create tables on {self.describe()}: {exc}") from exc

    def ping(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise BackendUnavailable(f"database {self.describe()} does not answer: {exc}") from exc

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside a transaction, committed on success, rolled back on error."""
        with self.engine.begin() as conn:
            yield conn

    def insert_ignore(self, conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
        """Insert rows, skipping those whose primary/unique key exists; returns rows inserted."""
        if not rows:
            return 0
        if self.dialect == "sqlite":
            stmt = sqlite_insert(table).on_conflict_do_nothing()
            result = conn.execute(stmt, list(rows), execution_options=_ROWCOUNT)
            return max(int(result.rowcount or 0), 0)
        if self.dialect in ("mysql", "mariadb"):
            # one multi-row INSERT per chunk: executemany's rowcount is unreliable on MySQL drivers
            inserted = 0
            for start in range(0, len(rows), MULTI_ROW_CHUNK):
                chunk = list(rows[start : start + MULTI_ROW_CHUNK])
                result = conn.execute(mysql_insert(table).prefix_with("IGNORE").values(chunk),
                                      execution_options=_ROWCOUNT)
                inserted += max(int(result.rowcount or 0), 0)
            return inserted
        result = conn.execute(insert(table), list(rows), execution_options=_ROWCOUNT)
        return max(int(result.rowcount or 0), 0)

    def upsert(self, conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows or overwrite the non-key columns of existing ones."""
        if not rows:
            return
        keys = {c.name for c in table.primary_key.columns}
        columns = [c for c in rows[0] if c not in keys]
        if self.dialect == "sqlite":
            stmt: Any = sqlite_insert(table)
            stmt = stmt.on_conflict_do_update(
                index_elements=list(keys), set_={c: stmt.excluded[c] for c in columns}
            ) if columns else stmt.on_conflict_do_nothing()
        elif self.dialect in ("mysql", "mariadb"):
            stmt = mysql_insert(table)
            stmt = stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in columns}) if columns else (
                stmt.prefix_with("IGNORE")
            )
        else:
            raise NotImplementedError(f"upsert not implemented for {self.dialect}")
        conn.execute(stmt, list(rows))

    def dispose(self) -> None:
        self.engine.dispose()


def open_sql_store(url: str, default_path: Path) -> SQLStore:
    """``DATABASE_URL`` when set, otherwise a SQLite file at ``default_path``."""
    return SQLStore(url or f"sqlite:///{default_path}")
