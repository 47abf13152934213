"""Stores for the contract tests: the same behaviour asked of MemoryStore, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from real_backends.stores import SqliteStore
from real_backends.stores.pgserver import PostgresServer
from twin.services.store import MemoryStore, Store


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL cluster for the session; stopped and checked gone at the end."""
    server = PostgresServer().start()
    yield server
    server.stop()
    assert not server.running(), "the PostgreSQL server outlived the test session"


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh empty database per test (dropped afterwards)."""
    import uuid

    import psycopg

    name = "t" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server.url, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    yield pg_server.url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(pg_server.url, autocommit=True) as c:
        c.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """A factory opening the same store again (a "restart"): same file, same database."""
    yield from _factory(request.param, request, tmp_path)


@pytest.fixture(params=["sqlite", "postgres"])
def make_sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """As ``make_store``, for the SQL stores only (nesting, key and value limits)."""
    yield from _factory(request.param, request, tmp_path)


def _factory(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    opened: list = []
    if kind == "memory":
        one = MemoryStore()
        yield lambda: one
        return
    if kind == "sqlite":
        path = tmp_path / "store.db"

        def factory() -> Store:
            opened.append(SqliteStore(path))
            return opened[-1]
    else:
        from real_backends.stores.postgres import PostgresStore

        url = request.getfixturevalue("pg_url")

        def factory() -> Store:
            opened.append(PostgresStore(url))
            return opened[-1]

    yield factory
    for s in opened:
        s.close()
