"""The embedded durable store (the default for ``twin serve``): one SQLite file, WAL, synchronous=FULL.

A municipality without a database team still needs a ledger that survives a power cut: SQLite in
write-ahead-log mode with ``synchronous=FULL`` makes every committed transaction durable before
the commit returns: it survives both the process being killed (``kill -9``) and the machine losing
power after the commit returned (an fsync of the log at every commit). Writers take the database's
write lock at ``BEGIN IMMEDIATE``, so several server processes on one file (the failover rig's
replicas) serialise their transactions.

Three settings make the batches cheaper without touching that: a page cache of 64 MiB per
connection (``cache_size``; SQLite's default is 2 MiB, smaller than one day's intake file, so a batch
re-read b-tree pages from the operating system); a checkpoint of the log into the database every
32 MiB of pages (``wal_autocheckpoint``, default 1,000 pages), so a page written by several batches
is copied into the database file once; and 16 KiB pages in a new file (``page_size``, default 4 KiB).
A row holds its whole record (the payout's application records are about 800 bytes), so a 4 KiB leaf
held four or five of them and a batch's inserts split leaves all the time; a 16 KiB leaf holds four
times as many. A checkpoint only copies transactions that are already durable in the log; the log is
longer (up to about 32 MiB past the last checkpoint) and a reopen after a crash replays it. A file
created before keeps its page size (SQLite fixes it when the file is created).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from real_backends.stores.sql import SqlStore
from twin.services.store import StoreError

#: page size of a new file (bytes): see the module's docstring
PAGE_SIZE = 16_384
#: the log is copied into the database once it holds this many bytes of pages
CHECKPOINT_BYTES = 32 << 20

#: the rows, keyed by their scan order: one b-tree, so a row written costs one b-tree insert, not two
#: (the primary key ``(tbl, k)`` and an index ``records_order`` on the scan order, as before 2026-12)
SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    tbl TEXT NOT NULL, kind INTEGER NOT NULL, ik INTEGER NOT NULL, sk TEXT NOT NULL, k TEXT NOT NULL,
    v TEXT NOT NULL, PRIMARY KEY (tbl, kind, ik, sk)
) WITHOUT ROWID
"""

#: a file written before: primary key ``(tbl, k)`` and the index ``records_order``. Its rows are copied
#: into the new table in one transaction on first open (a crash in between leaves the old table whole)
_MIGRATE = (
    SCHEMA.replace("TABLE IF NOT EXISTS records", "TABLE records_v2"),
    "INSERT INTO records_v2 (tbl, kind, ik, sk, k, v) "
    "SELECT tbl, kind, ik, CASE kind WHEN 2 THEN k ELSE sk END, k, v FROM records",
    "DROP TABLE records",  # and its index
    "ALTER TABLE records_v2 RENAME TO records",
)


def _old_layout(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'records'").fetchone()
    return row is not None and "PRIMARY KEY (tbl, k)" in row[0]


def _wal(conn: sqlite3.Connection, path: str, busy_timeout_s: float) -> None:
    """Put the file in WAL mode. Two processes opening a new file at the same moment (two servers started
    together) contend for the lock the switch needs, and SQLite answers the loser "database is locked" at once,
    without waiting for its busy timeout: wait here instead, up to the same timeout."""
    deadline = time.monotonic() + busy_timeout_s
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                conn.close()
                raise
            time.sleep(0.005)
    if path != ":memory:" and str(mode).lower() != "wal":
        conn.close()
        raise StoreError(f"sqlite store {path!r}: journal_mode is {mode!r}; WAL is required (a read-only or "
                         "network file system?)")


class SqliteStore(SqlStore):
    """:class:`twin.services.store.Store` on one SQLite file (``:memory:`` for a throwaway database)."""

    ordered_key = True

    def __init__(self, path: str | Path, busy_timeout_s: float = 60.0) -> None:
        path = str(path)
        if path != ":memory:" and not Path(path).parent.is_dir():
            raise StoreError(f"sqlite store {path!r}: the folder {str(Path(path).parent)!r} does not exist")
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s)
        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # a new file only: before WAL mode writes its header
        _wal(conn, path, busy_timeout_s)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA cache_size=-65536")  # KiB: 64 MiB
        page = int(conn.execute("PRAGMA page_size").fetchone()[0])  # an older file: 4 KiB
        conn.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_BYTES // page}")
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        conn.execute("BEGIN IMMEDIATE")  # one process at a time sets the file up
        try:
            if _old_layout(conn):
                for statement in _MIGRATE:
                    conn.execute(statement)
            conn.execute(SCHEMA)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            conn.close()
            raise
        super().__init__(conn)
        self.path = path
        self._version: int | None = None  # data_version at this store's last transaction

    def _begin(self) -> None:
        """``BEGIN IMMEDIATE``: the writer lock, so no other connection commits until this transaction
        ends. ``data_version`` changes when another connection committed since this connection last
        looked (never for its own commits): unchanged, the memo still stands for the rows it names."""
        self._exec("BEGIN IMMEDIATE")
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            self._forget_all()
            self._version = version
        self._trusted = True

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"
