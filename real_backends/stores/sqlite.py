"""The embedded durable store (the default for ``twin serve``): one SQLite file, WAL, synchronous=FULL.

A municipality without a database team still needs a ledger that survives a power cut: SQLite in
write-ahead-log mode with ``synchronous=FULL`` makes every committed transaction durable before
the commit returns: it survives both the process being killed (``kill -9``) and the machine losing
power after the commit returned (an fsync of the log at every commit). Writers take the database's
write lock at ``BEGIN IMMEDIATE``, so several server processes on one file (the failover rig's
replicas) serialise their transactions.

Two settings make the batches cheaper without touching that: a page cache of 64 MiB per connection
(``cache_size``; SQLite's default is 2 MiB, smaller than one day's intake file, so a batch re-read
b-tree pages from the operating system) and a checkpoint of the log into the database every 8,192
pages (32 MiB; ``wal_autocheckpoint``, default 1,000), so a page written by several batches is
copied into the database file once. A checkpoint only copies transactions that are already durable
in the log; the log is longer (up to about 32 MiB past the last checkpoint) and a reopen after a
crash replays it.
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
        conn.execute("PRAGMA cache_size=-65536")  # KiB: 64 MiB
        conn.execute("PRAGMA wal_autocheckpoint=8192")  # pages: 32 MiB at the default 4 KiB page
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        conn.executescript(SCHEMA)
        super().__init__(conn)
        self.path = path

    def _begin(self) -> None:
        self._exec("BEGIN IMMEDIATE")

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"
