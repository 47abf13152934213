"""The PostgreSQL store after its server connection dies: idle between transactions, or inside one.

This is the race behind the failover drill's flake: a backend killed while its connection sat idle
is only noticed on the next statement. Here the backend is terminated deterministically
(``pg_terminate_backend``) so both sides of that race are tested every run.
"""

from __future__ import annotations

import time

import psycopg
import pytest

from real_backends.stores.postgres import PostgresStore


def _terminate(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as c:
        assert c.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0] is True
        deadline = time.monotonic() + 30
        while c.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
            assert time.monotonic() < deadline, "the terminated backend did not exit"
            time.sleep(0.02)


def test_a_connection_that_died_idle_is_replaced_when_the_next_transaction_begins(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    try:
        with store.transaction() as tx:
            tx.put("t", 1, "before")
        _terminate(pg_url, store._conn.info.backend_pid)
        assert not store._conn.closed  # the client cannot know yet: nothing has been sent since
        with store.transaction() as tx:
            tx.put("t", 2, "after")
        assert store.reconnects == 1
        assert dict(store.scan("t")) == {1: "before", 2: "after"}
    finally:
        store.close()


def test_a_connection_that_dies_inside_a_transaction_fails_it_and_is_not_retried(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    try:
        with pytest.raises(psycopg.OperationalError):
            with store.transaction() as tx:
                tx.put("t", 1, "half")
                _terminate(pg_url, store._conn.info.backend_pid)
                tx.put("t", 2, "never")
        assert store.reconnects == 0  # the failed transaction is the caller's to retry, not the store's
        with store.transaction() as tx:  # the next one begins on a new connection
            tx.put("t", 3, "next")
        assert store.reconnects == 1
        assert dict(store.scan("t")) == {3: "next"}
    finally:
        store.close()


def test_a_closed_store_does_not_reconnect(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    _terminate(pg_url, store._conn.info.backend_pid)
    store.close()
    with pytest.raises(psycopg.OperationalError):
        store.transaction()
    assert store.reconnects == 0
