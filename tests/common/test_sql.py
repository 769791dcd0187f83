"""SQLStore on SQLite and on a real MariaDB."""

from __future__ import annotations

import pytest
from sqlalchemy import BigInteger, Column, String, Table, Text, select

from common.errors import BackendUnavailable
from common.sql import SQLStore, open_sql_store


@pytest.fixture
def sql(backend, tmp_path, unique):
    store = open_sql_store(backend.database_url, tmp_path / "meta.db")
    table = Table(f"t_{unique}", store.metadata,
                  Column("id", BigInteger, primary_key=True, autoincrement=False),
                  Column("name", String(255), nullable=False), Column("body", Text))
    store.create_all()
    yield store, table
    table.drop(store.engine)
    store.dispose()


def test_insert_ignore_and_upsert(sql):
    store, table = sql
    with store.begin() as conn:
        assert store.insert_ignore(conn, table, [{"id": 1, "name": "a", "body": "x"},
                                                 {"id": 2, "name": "b", "body": "y"}]) == 2
        assert store.insert_ignore(conn, table, [{"id": 1, "name": "changed", "body": "z"}]) == 0
        assert conn.execute(select(table.c.name).where(table.c.id == 1)).scalar_one() == "a"
        store.upsert(conn, table, [{"id": 1, "name": "changed", "body": "z"}, {"id": 3, "name": "c", "body": ""}])
        names = dict(conn.execute(select(table.c.id, table.c.name)).all())
    assert names == {1: "changed", 2: "b", 3: "c"}


def test_values_are_bound_not_interpolated(sql):
    store, table = sql
    hostile = "x'); DROP TABLE tasks; -- \" \\ ünï"
    with store.begin() as conn:
        store.insert_ignore(conn, table, [{"id": 7, "name": hostile, "body": hostile}])
        found = conn.execute(select(table.c.id).where(table.c.name == hostile)).scalars().all()
    assert found == [7]


def test_transaction_rolls_back_on_error(sql):
    store, table = sql
    with pytest.raises(RuntimeError), store.begin() as conn:
        store.insert_ignore(conn, table, [{"id": 9, "name": "n", "body": "b"}])
        raise RuntimeError("boom")
    with store.begin() as conn:
        assert conn.execute(select(table.c.id)).scalars().all() == []


def test_describe_hides_credentials(backend, sql):
    store, _ = sql
    assert "bootcamp:" not in store.describe() and store.describe().split(":")[0] in ("sqlite", "mysql")


def test_describe_names_the_socket_of_a_socket_connection():
    """/health said mysql://localhost:3306 for a server reached through its Unix socket."""
    store = SQLStore("mysql+mysqlconnector://u:secret@localhost/bootcamp?unix_socket=/run/mysqld/mysqld.sock")
    assert store.describe() == "mysql:///run/mysqld/mysqld.sock/bootcamp"
    assert SQLStore("mysql+mysqlconnector://u:secret@db/bootcamp").describe() == "mysql://db:3306/bootcamp"


def test_unreachable_database_is_backend_unavailable():
    store = SQLStore("mysql+mysqlconnector://u:p@127.0.0.1:1/none")
    with pytest.raises(BackendUnavailable):
        store.ping()
