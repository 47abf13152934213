"""The services' store on a SQL database: one ``records`` table, one row per (table, key), JSON values.

The town hall's ledger book moved from a dict in memory to a database that survives the power
going out. :class:`SqlStore` implements :class:`twin.services.store.Store` with the same rules as
:class:`~twin.services.store.MemoryStore`: a transaction's reads see committed state plus its own
writes, and its writes land together on commit or not at all. Transactions are serialised (SQLite:
``BEGIN IMMEDIATE``, the database's single writer lock; PostgreSQL: a transaction-scoped advisory
lock), so two processes sharing one database behave like one ledger. A transaction opened while
the same thread already has one open becomes a ``SAVEPOINT`` inside it: a request that submits 500
applications runs them as 500 nested transactions and pays for one durable commit.

Rows are ``(tbl, k, kind, ik, sk, v)``: ``k`` the canonical key text (the primary key with ``tbl``),
``kind`` 0/1/2 for int/str/tuple keys, ``ik``/``sk`` the int or string key for ordered scans (ints
before strings before tuples, as in memory), ``v`` the record in the typed JSON codec.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterator, Sequence
from types import TracebackType
from typing import Any

from real_backends.stores.codec import CodecError, decode, decode_key, encode, encode_key
from twin.services.store import DuplicateKeyError, StoreError, _sort_key

Key = Hashable
INT64 = (-(2**63), 2**63 - 1)


def key_columns(key: Key) -> tuple[str, int, int, str]:
    """``(k, kind, ik, sk)`` for a key; raises :class:`StoreError` for keys SQL cannot order."""
    try:
        k = encode_key(key)
    except CodecError as e:
        raise StoreError(str(e)) from None
    if isinstance(key, tuple):
        return k, 2, 0, ""
    if isinstance(key, str):
        return k, 1, 0, key
    n = int(key)  # type: ignore[call-overload]
    if not INT64[0] <= n <= INT64[1]:
        raise StoreError(f"key {n}: int keys must fit in 64 bits for a SQL store")
    return k, 0, n, ""


class SqlStore:
    """Shared logic; subclasses provide the connection, the dialect and the writer lock."""

    #: parameter marker of the driver ("?" sqlite3, "%s" psycopg)
    marker = "?"

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self._depth = 0  # open (nested) transactions of the thread holding _lock
        self.commits = 0

    # -- dialect hooks -------------------------------------------------------------------------

    def _begin(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _sql(self, q: str) -> str:
        return q if self.marker == "?" else q.replace("?", self.marker)

    def _exec(self, q: str, params: Sequence[object] = ()) -> Any:
        return self._conn.execute(self._sql(q), params)

    # -- the Store interface ---------------------------------------------------------------------

    def transaction(self) -> SqlTransaction:
        return SqlTransaction(self)

    def get(self, table: str, key: Key) -> object | None:
        with self._lock:
            return self._get(table, key)

    def scan(self, table: str, limit: int | None = None) -> Iterator[tuple[Key, object]]:
        with self._lock:
            return iter(self._scan(table, limit))

    def count(self, table: str) -> int:
        with self._lock:
            return int(self._exec("SELECT count(*) FROM records WHERE tbl = ?", (table,)).fetchone()[0])

    def tables(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._exec("SELECT DISTINCT tbl FROM records ORDER BY tbl").fetchall()]

    # -- row operations (caller holds _lock) -----------------------------------------------------

    def _get(self, table: str, key: Key) -> object | None:
        row = self._exec("SELECT v FROM records WHERE tbl = ? AND k = ?", (table, key_columns(key)[0])).fetchone()
        return None if row is None else decode(row[0])

    def _put(self, table: str, key: Key, value: object) -> None:
        if value is None:
            raise StoreError(f"put {table}[{key!r}]: None is not a record (use delete)")
        k, kind, ik, sk = key_columns(key)
        self._exec(
            "INSERT INTO records (tbl, k, kind, ik, sk, v) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (tbl, k) DO UPDATE SET v = excluded.v",
            (table, k, kind, ik, sk, encode(value)),
        )

    def _insert(self, table: str, key: Key, value: object) -> None:
        if value is None:
            raise StoreError(f"insert {table}[{key!r}]: None is not a record")
        k, kind, ik, sk = key_columns(key)
        cur = self._exec(
            "INSERT INTO records (tbl, k, kind, ik, sk, v) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tbl, k) DO NOTHING",
            (table, k, kind, ik, sk, encode(value)),
        )
        if cur.rowcount == 0:
            raise DuplicateKeyError(f"insert {table}[{key!r}]: a record with this key already exists")

    def _delete(self, table: str, key: Key) -> None:
        self._exec("DELETE FROM records WHERE tbl = ? AND k = ?", (table, key_columns(key)[0]))

    def _scan(self, table: str, limit: int | None) -> list[tuple[Key, object]]:
        out: list[tuple[Key, object]] = []
        for kind, order in ((0, "ik"), (1, "sk")):
            left = None if limit is None else limit - len(out)
            if left is not None and left <= 0:
                return out
            q = f"SELECT k, v FROM records WHERE tbl = ? AND kind = ? ORDER BY {order}"
            rows = self._exec(q + (" LIMIT ?" if left is not None else ""),
                              (table, kind) + ((left,) if left is not None else ())).fetchall()  # fmt: skip
            out.extend((decode_key(k), decode(v)) for k, v in rows)
        if limit is None or len(out) < limit:
            rows = self._exec("SELECT k, v FROM records WHERE tbl = ? AND kind = 2", (table,)).fetchall()
            tuples = sorted(((decode_key(k), v) for k, v in rows), key=lambda kv: _sort_key(kv[0]))
            out.extend((k, decode(v)) for k, v in tuples[: None if limit is None else limit - len(out)])
        return out


class SqlTransaction:
    """One unit of work on a :class:`SqlStore`: a database transaction, or a savepoint when nested."""

    __slots__ = ("_store", "_depth", "_done")

    def __init__(self, store: SqlStore) -> None:
        store._lock.acquire()
        try:
            self._depth = store._depth
            if self._depth == 0:
                store._begin()
            else:
                store._exec(f"SAVEPOINT sp{self._depth}")
        except BaseException:
            store._lock.release()
            raise
        store._depth += 1
        self._store, self._done = store, False

    def _live(self, what: str) -> SqlStore:
        if self._done:
            raise StoreError(f"{what}: this transaction is already finished")
        return self._store

    def get(self, table: str, key: Key) -> object | None:
        return self._live("get")._get(table, key)

    def put(self, table: str, key: Key, value: object) -> None:
        self._live("put")._put(table, key, value)

    def insert(self, table: str, key: Key, value: object) -> None:
        self._live("insert")._insert(table, key, value)

    def delete(self, table: str, key: Key) -> None:
        self._live("delete")._delete(table, key)

    def scan(self, table: str, limit: int | None = None) -> Iterator[tuple[Key, object]]:
        return iter(self._live("scan")._scan(table, limit))

    def _finish(self, *statements: str) -> None:
        s = self._live("commit")
        self._done = True
        try:
            for sql in statements:
                s._exec(sql)
        except BaseException:
            if self._depth == 0:  # a failed COMMIT must not leave the connection inside a transaction
                try:
                    s._exec("ROLLBACK")
                except Exception:  # noqa: BLE001, S110 - the original error is the one to report
                    pass
            raise
        finally:
            s._depth -= 1
            s._lock.release()

    def commit(self) -> None:
        if self._depth == 0:
            self._finish("COMMIT")
            self._store.commits += 1
        else:
            self._finish(f"RELEASE SAVEPOINT sp{self._depth}")

    def rollback(self) -> None:
        if self._done:
            return
        if self._depth == 0:
            self._finish("ROLLBACK")
        else:
            self._finish(f"ROLLBACK TO SAVEPOINT sp{self._depth}", f"RELEASE SAVEPOINT sp{self._depth}")

    def __enter__(self) -> SqlTransaction:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if self._done:
            return
        if et is None:
            self.commit()
        else:
            self.rollback()
