"""The services' store on PostgreSQL (psycopg 3): for a deployment with a database server and standbys.

A prefecture-wide payout office shares one ledger between several application servers. Each
:class:`PostgresStore` transaction starts with a transaction-scoped advisory lock, so transactions
from every server are serialised exactly as :class:`~twin.services.store.MemoryStore` applies
them one after another; the lock ends with the transaction (also when a server is killed, since
PostgreSQL rolls back a dead connection's transaction).

When the database server goes away (killed, or a standby promoted in its place), the transaction
in flight fails and the connection is broken; the next transaction opens a new connection with the
same URL. A URL listing the primary and its standby with ``target_session_attrs=read-write``
(``postgresql://u@h1:5432,h2:5432/db?target_session_attrs=read-write``) thus follows a failover:
until a server accepts writes, each attempt fails with a clear error the caller may retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from real_backends.stores.sql import SqlStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    tbl TEXT NOT NULL, k TEXT NOT NULL, kind SMALLINT NOT NULL, ik BIGINT NOT NULL, sk TEXT COLLATE "C" NOT NULL,
    v TEXT NOT NULL, PRIMARY KEY (tbl, k)
);
CREATE INDEX IF NOT EXISTS records_order ON records (tbl, kind, ik, sk);
"""

#: the advisory lock id all Myna Twin stores on one database share ("MYNA" in ASCII)
LOCK_ID = 0x4D594E41
#: how long a transaction waits for the store's lock before failing with a lock timeout
LOCK_TIMEOUT_MS = 60_000


def _connect(url: str) -> psycopg.Connection:
    conn = psycopg.connect(url, autocommit=True, prepare_threshold=0)
    # a writer that died holding the store's lock must give a clear error, not a silent hang
    conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT_MS}ms'")
    return conn


class PostgresStore(SqlStore):
    """:class:`twin.services.store.Store` on a PostgreSQL database given by a ``postgresql://`` URL."""

    marker = "%s"

    def __init__(self, url: str) -> None:
        conn = _connect(url)
        conn.execute(f"SELECT pg_advisory_lock({LOCK_ID})")  # schema creation: one server at a time
        try:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
        finally:
            conn.execute(f"SELECT pg_advisory_unlock({LOCK_ID})")
        super().__init__(conn)
        self.url = url
        self.reconnects = 0
        self._closed = False

    def close(self) -> None:
        self._closed = True
        super().close()

    def _exec(self, q: str, params: Sequence[object] = ()) -> Any:
        if self._depth == 0 and self._conn.closed and not self._closed:  # broken, between transactions: reconnect
            self._conn = _connect(self.url)
            self.reconnects += 1
        return super()._exec(q, params)

    def _begin(self) -> None:
        try:
            self._begin_once()
        except psycopg.OperationalError:
            # A connection whose server went away while it sat idle between transactions (killed, or
            # the backend terminated) only finds out on its next statement. Nothing of this
            # transaction has run yet (BEGIN and the lock have no effect to lose), so it is safe to
            # open a new connection and begin once more; whatever that answers (a promoted standby,
            # "read-only", no server at all) is the caller's answer.
            if self._closed or not self._conn.closed:
                raise
            self._begin_once()

    def _begin_once(self) -> None:
        self._exec("BEGIN")
        self._exec(f"SELECT pg_advisory_xact_lock({LOCK_ID})")

    def __repr__(self) -> str:
        return "PostgresStore(<url>)"  # the URL may hold a password
