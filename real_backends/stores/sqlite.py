"""The embedded durable store (the default for ``twin serve``): one SQLite file, WAL, synchronous=FULL.

A municipality without a database team still needs a ledger that survives a power cut: SQLite in
write-ahead-log mode with ``synchronous=FULL`` makes every committed transaction durable before
the commit returns. Writers take the database's write lock at ``BEGIN IMMEDIATE``, so several
server processes on one file (the failover rig's replicas) serialise their transactions.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from real_backends.stores.sql import SqlStore
from twin.services.store import StoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    tbl TEXT NOT NULL, k TEXT NOT NULL, kind INTEGER NOT NULL, ik INTEGER NOT NULL, sk TEXT NOT NULL,
    v TEXT NOT NULL, PRIMARY KEY (tbl, k)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_order ON records (tbl, kind, ik, sk);
"""


class SqliteStore(SqlStore):
    """:class:`twin.services.store.Store` on one SQLite file (``:memory:`` for a throwaway database)."""

    def __init__(self, path: str | Path, busy_timeout_s: float = 60.0) -> None:
        path = str(path)
        if path != ":memory:" and not Path(path).parent.is_dir():
            raise StoreError(f"sqlite store {path!r}: the folder {str(Path(path).parent)!r} does not exist")
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        conn.executescript(SCHEMA)
        super().__init__(conn)
        self.path = path

    def _begin(self) -> None:
        self._exec("BEGIN IMMEDIATE")

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"
