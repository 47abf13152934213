"""The services' store on a SQL database: one ``records`` table, one row per (table, key), JSON values.

The town hall's ledger book moved from a dict in memory to a database that survives the power
going out. :class:`SqlStore` implements :class:`twin.services.store.Store` with the same rules as
:class:`~twin.services.store.MemoryStore`: a transaction's reads see committed state plus its own
writes, and its writes land together on commit or not at all. Transactions are serialised (SQLite:
``BEGIN IMMEDIATE``, the database's single writer lock; PostgreSQL: a transaction-scoped advisory
lock), so two processes sharing one database behave like one ledger. A transaction opened while
the same thread already has one open is nested in it (its writes are buffered and handed down on
commit, dropped on rollback): a request that submits 500 applications runs them as 500 nested
transactions and pays for one durable commit.

Rows are ``(tbl, k, kind, ik, sk, v)``: ``k`` the canonical key text, ``kind`` 0/1/2 for
int/str/tuple keys, ``ik``/``sk`` the int key, the hex of the string key's UTF-8 bytes or the tuple
key's text, so that ``(kind, ik, sk)`` orders the keys as in memory (ints before strings before
tuples, strings by code point; tuples are put in order after reading) and is unique, ``v`` the
record in the typed JSON codec. A dialect finds a row by ``(tbl, k)`` (PostgreSQL: that primary key
and a second index on ``(tbl, kind, ik, sk)`` for scans) or by ``(tbl, kind, ik, sk)`` itself
(SQLite: the primary key is the scan order, one b-tree per row instead of two; see
:attr:`SqlStore.ordered_key`). A store hands back the value it wrote itself
instead of decoding a row that still holds exactly the text it wrote (:meth:`SqlStore._read`); inside
a transaction of a database that no other connection wrote to since this store's last transaction
(SQLite's ``data_version``), it does not even read the row (:meth:`SqlStore._begin`).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import threading
from collections.abc import Hashable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any

from real_backends.stores.codec import (
    CodecError,
    _generic_writes,
    _text,
    decode,
    decode_key,
    encode,
    encode_exact,
    encode_key,
)
from twin.services.store import _DELETED, DuplicateKeyError, StoreError, _sort_key, insert_each, overlay

Key = Hashable
INT64 = (-(2**63), 2**63 - 1)
_MISSING = object()
_INSERT = "INSERT INTO records (tbl, k, kind, ik, sk, v) VALUES (?, ?, ?, ?, ?, ?)"


def key_columns(key: Key) -> tuple[str, int, int, str]:
    """``(k, kind, ik, sk)`` for a key; raises :class:`StoreError` for keys SQL cannot order (or hold)."""
    if type(key) is int and INT64[0] <= key <= INT64[1]:  # most keys: what _key_columns makes of them
        return str(key), 0, key, ""
    try:
        return _cached_key_columns(key)
    except TypeError:  # unhashable: not a key, and _key_columns says why
        return _key_columns(key)


@functools.lru_cache(maxsize=1 << 16, typed=True)  # a batch asks for the same keys many times
def _cached_key_columns(key: Key) -> tuple[str, int, int, str]:
    return _key_columns(key)


def _key_columns(key: Key) -> tuple[str, int, int, str]:
    """``(k, kind, ik, sk)`` for a key; raises :class:`StoreError` for keys SQL cannot order."""
    try:
        k = encode_key(key)
    except CodecError as e:
        raise StoreError(str(e)) from None
    if isinstance(key, tuple):
        return k, 2, 0, k  # sk: the text, so that (kind, ik, sk) is unique (tuples are ordered after reading)
    if isinstance(key, str):
        # hex of the UTF-8 bytes: sorts like the code points (as in memory) and holds no NUL, which
        # PostgreSQL text cannot store
        return k, 1, 0, key.encode("utf-8", "surrogatepass").hex()
    n = int(key)  # type: ignore[call-overload]
    if not INT64[0] <= n <= INT64[1]:
        raise StoreError(f"key {n}: int keys must fit in 64 bits for a SQL store")
    return k, 0, n, ""


class SqlStore:
    """Shared logic; subclasses provide the connection, the dialect and the writer lock."""

    #: parameter marker of the driver ("?" sqlite3, "%s" psycopg)
    marker = "?"
    #: rows per generation of the written-records memo (two generations are kept: see _read); a payout
    #: row held there is at most about 800 bytes (text and record), so the memo stays under ~80 MiB
    memo_rows = 50_000

    #: whether rows are found by ``(tbl, kind, ik, sk)`` (the primary key; SQLite) rather than by
    #: ``(tbl, k)`` (PostgreSQL: primary key ``(tbl, k)``, and an index for the scan order)
    ordered_key = False

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        if self.ordered_key:
            self._where, self._conflict = "kind = ? AND ik = ? AND sk = ?", "(tbl, kind, ik, sk)"
        else:
            self._where, self._conflict = "k = ?", "(tbl, k)"
        self._upsert = f"{_INSERT} ON CONFLICT {self._conflict} DO UPDATE SET v = excluded.v"
        # (table, key text) -> (value text, value) for rows this store wrote, newest generation first
        self._memo: dict[tuple[str, str], tuple[str, object]] = {}
        self._memo_old: dict[tuple[str, str], tuple[str, object]] = {}
        # whether the memo is the database's content for its keys (see _begin); only while a transaction is open
        self._trusted = False
        self._lock = threading.RLock()
        self._depth = 0  # open (nested) transactions of the thread holding _lock
        self._stack: list[SqlTransaction] = []  # those transactions, outermost first
        self.commits = 0

    # -- dialect hooks -------------------------------------------------------------------------

    def _begin(self) -> None:
        """Open the database transaction (holding the writer lock) and set :attr:`_trusted`.

        A dialect that can tell that no other connection committed since this store's last transaction
        (SQLite: ``PRAGMA data_version`` unchanged) sets ``_trusted`` (after :meth:`_forget_all` when one
        did): then every row the memo names holds exactly what the memo says, as this store keeps the
        memo in step with its own writes (a delete, or a write it does not remember, drops the entry; a
        rollback drops them all), and the transaction's reads take the memo's records without asking the
        database. Otherwise (PostgreSQL) reads compare the row's text with the memo (:meth:`_read`)."""
        raise NotImplementedError

    def _forget_all(self) -> None:
        """Drop the memo (another connection wrote, or a transaction whose writes it holds rolled back)."""
        self._memo, self._memo_old = {}, {}

    def _forget(self, table: str, k: str) -> None:
        """Drop the memo's entry for row ``(table, k)`` (deleted, or written as something it does not hold)."""
        self._memo.pop((table, k), None)
        self._memo_old.pop((table, k), None)

    def _known(self, table: str, k: str) -> tuple[str, object] | None:
        """``(text, value)`` of row ``(table, k)`` when the memo may stand for the database (:meth:`_begin`)."""
        if not (self._trusted and self._depth > 0):
            return None
        return self._memo.get((table, k)) or self._memo_old.get((table, k))

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

    def get_many(self, table: str, keys: Iterable[Key]) -> dict[Key, object]:
        """The records of many keys of one table (absent keys left out), one query per 500 keys: a batch
        reads what it will touch at once instead of one ``SELECT`` per record. Sees what the calling
        thread's open database transaction wrote, not what a nested transaction still buffers."""
        out: dict[Key, object] = {}
        with self._lock:
            memo, old = self._memo, self._memo_old
            if self._trusted and self._depth > 0:  # the memo's records without reading their rows (_begin)
                lo, hi = INT64
                rest = []
                for key in keys:
                    tk = (table, str(key) if type(key) is int and lo <= key <= hi else key_columns(key)[0])
                    m = memo.get(tk) or old.get(tk)
                    if m is None:
                        rest.append(key)
                    else:
                        out[key] = m[1]
                keys = rest
            for key, k, v in self._rows_at(table, keys, "v"):  # _read, inlined
                m = memo.get((table, k)) or old.get((table, k))
                out[key] = m[1] if m is not None and m[0] == v else decode(v)
        return out

    def _rows_at(self, table: str, keys: Iterable[Key], what: str, chunk: int = 500) -> Iterator[tuple[Key, str, Any]]:
        """``(key, k, what)`` for the rows of ``keys`` present in ``table``, one query per ``chunk`` keys
        (caller holds _lock; keys that SQL cannot hold raise :class:`StoreError`)."""
        lo, hi = INT64
        groups: dict[str, dict[object, Key]]  # WHERE clause -> {column value: key}
        if self.ordered_key:  # ints by ik, strings and tuples by sk: the primary key
            groups = {"kind = 0 AND ik": {}, "kind = 1 AND ik = 0 AND sk": {}, "kind = 2 AND ik = 0 AND sk": {}}
            ints, strs, tuples = groups.values()
            for key in keys:
                if type(key) is int and lo <= key <= hi:
                    ints[key] = key
                else:
                    _, kind, ik, sk = key_columns(key)
                    (ints if kind == 0 else strs if kind == 1 else tuples)[ik if kind == 0 else sk] = key
            cols = ("ik", "sk", "sk")
        else:
            groups = {"k": {(str(k) if type(k) is int and lo <= k <= hi else key_columns(k)[0]): k for k in keys}}
            cols = ("k",)
        for (where, found), col in zip(groups.items(), cols, strict=True):
            values = list(found)
            if col == "ik" and len(values) > chunk and max(values) - min(values) < 2 * len(values):
                # many int keys, dense (a batch's households, application ids, queue places): one range
                # query instead of one per ``chunk`` keys; the rows in the range that were not asked for
                # (at most as many as were) are left out here
                q = f"SELECT ik, k, {what} FROM records WHERE tbl = ? AND kind = 0 AND ik BETWEEN ? AND ?"
                for at, k, x in self._exec(q, (table, min(values), max(values))).fetchall():
                    if at in found:
                        yield found[at], k, x
                continue
            for i in range(0, len(values), chunk):
                part = values[i : i + chunk]
                q = f"SELECT {col}, k, {what} FROM records WHERE tbl = ? AND {where} IN ({', '.join('?' * len(part))})"
                for at, k, x in self._exec(q, (table, *part)).fetchall():
                    yield found[at], k, x

    def count(self, table: str) -> int:
        with self._lock:
            return int(self._exec("SELECT count(*) FROM records WHERE tbl = ?", (table,)).fetchone()[0])

    def tables(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._exec("SELECT DISTINCT tbl FROM records ORDER BY tbl").fetchall()]

    # -- row operations (caller holds _lock) -----------------------------------------------------

    def _remember(self, table: str, k: str, text: str, value: object) -> None:
        """Note that row ``(table, k)`` was written as ``text`` from ``value`` (see :meth:`_read`)."""
        memo = self._memo
        memo[(table, k)] = (text, value)
        if len(memo) >= self.memo_rows:
            self._memo_old, self._memo = memo, {}

    def _read(self, table: str, k: str, text: str) -> object:
        """The record stored as ``text`` in row ``(table, k)``: the value this store wrote there when
        the stored text is still exactly the text it wrote, otherwise the decoded text.

        A batch reads back most of what the batch before wrote (the applications and household
        files it verifies, the files it pays), and decoding was about 40 % of a SQLite batch. The
        value handed back is only remembered when :func:`~real_backends.stores.codec.encode_exact`
        says that decoding its text gives an equal value of the same immutable types, and only
        while the row still holds that very text (compared in full), so a reader cannot tell the
        two apart, whatever other connections wrote meanwhile, and a rolled-back write is never
        seen. At most two generations of ``memo_rows`` rows are kept.
        """
        m = self._memo.get((table, k)) or self._memo_old.get((table, k))
        if m is not None and m[0] == text:
            return m[1]
        return decode(text)

    def _get(self, table: str, key: Key) -> object | None:
        k, kind, ik, sk = key_columns(key)
        m = self._known(table, k)
        if m is not None:
            return m[1]
        q = f"SELECT k, v FROM records WHERE tbl = ? AND {self._where}"
        row = self._exec(q, (table, *((kind, ik, sk) if self.ordered_key else (k,)))).fetchone()
        return None if row is None else self._read(table, row[0], row[1])

    def _has(self, table: str, key: Key) -> bool:
        k, kind, ik, sk = key_columns(key)
        if self._known(table, k) is not None:
            return True
        q = f"SELECT 1 FROM records WHERE tbl = ? AND {self._where}"
        return self._exec(q, (table, *((kind, ik, sk) if self.ordered_key else (k,)))).fetchone() is not None

    def _wrote(self, table: str, k: str, text: str, value: object, exact: bool) -> None:
        """Row ``(table, k)`` now holds ``text``, written from ``value`` (remembered when ``exact``)."""
        if exact:
            self._remember(table, k, text, value)
        else:
            self._forget(table, k)

    def _put(self, table: str, key: Key, value: object) -> None:
        if value is None:
            raise StoreError(f"put {table}[{key!r}]: None is not a record (use delete)")
        k, kind, ik, sk = key_columns(key)
        text, exact = encode_exact(value)
        self._exec(self._upsert, (table, k, kind, ik, sk, text))
        self._wrote(table, k, text, value, exact)

    def _insert(self, table: str, key: Key, value: object) -> None:
        if value is None:
            raise StoreError(f"insert {table}[{key!r}]: None is not a record")
        k, kind, ik, sk = key_columns(key)
        text, exact = encode_exact(value)
        cur = self._exec(f"{_INSERT} ON CONFLICT {self._conflict} DO NOTHING", (table, k, kind, ik, sk, text))
        if cur.rowcount == 0:  # the row keeps what it held (and the memo, its entry)
            raise DuplicateKeyError(f"insert {table}[{key!r}]: a record with this key already exists")
        self._wrote(table, k, text, value, exact)

    def _delete(self, table: str, key: Key) -> None:
        k, kind, ik, sk = key_columns(key)
        self._forget(table, k)
        self._exec(f"DELETE FROM records WHERE tbl = ? AND {self._where}",
                   (table, *((kind, ik, sk) if self.ordered_key else (k,))))  # fmt: skip

    def _flush(self, writes: dict[str, dict[Key, object]]) -> None:
        """Write a nested transaction's buffer: one ``executemany`` for the upserts, one for the deletes.

        A batch of 500 applications leaves about 1,500 rows to write; one statement each is 1,500
        round trips to PostgreSQL, an ``executemany`` is pipelined by psycopg. (Each key appears
        once in the buffer, so the order of upserts and deletes does not matter.)
        """
        # (keys in the buffer were checked by put/delete, so key_columns cannot raise here)
        puts, updates, deletes = [], [], []
        memo, old, limit, ordered = self._memo, self._memo_old, self.memo_rows, self.ordered_key
        # a row the memo names exists (_begin): it is rewritten with a plain UPDATE, about 1 us a row
        # cheaper in SQLite than the upsert's failed insert and update (a household file is rewritten
        # three times, an application record once)
        known = self._trusted and self._depth > 0
        next_generic, write, forget = _generic_writes.__next__, _text, self._forget
        lo, hi = INT64
        for table, own in writes.items():  # _encode and _remember, inlined: the batches' hot path
            for key, value in own.items():
                if type(key) is int and lo <= key <= hi:
                    k, kind, ik, sk = str(key), 0, key, ""
                else:
                    k, kind, ik, sk = key_columns(key)
                if value is _DELETED:
                    forget(table, k)
                    deletes.append((table, kind, ik, sk) if ordered else (table, k))
                    continue
                tk = (table, k)
                exists = known and (tk in memo or tk in old)
                n = next_generic()  # encode_exact, inlined
                text = write(value)
                if next_generic() == n + 1:
                    memo[tk] = (text, value)
                    if len(memo) >= limit:
                        self._memo_old, self._memo = memo, {}
                        memo, old = self._memo, self._memo_old
                else:
                    forget(table, k)
                (updates if exists else puts).append((table, k, kind, ik, sk, text))
        cur = self._conn.cursor()
        try:
            if updates:
                params = [(r[5], r[0], r[2], r[3], r[4]) if ordered else (r[5], r[0], r[1]) for r in updates]
                cur.executemany(self._sql(f"UPDATE records SET v = ? WHERE tbl = ? AND {self._where}"), params)
                if cur.rowcount != len(updates):  # never expected (the memo names rows that exist): upsert them
                    puts.extend(updates)
            if puts:
                cur.executemany(self._sql(self._upsert), puts)
            if deletes:
                cur.executemany(self._sql(f"DELETE FROM records WHERE tbl = ? AND {self._where}"), deletes)
        except BaseException:
            self._forget_all()  # some rows may not hold what the memo now says
            raise

    def _scan(self, table: str, limit: int | None) -> list[tuple[Key, object]]:
        out: list[tuple[Key, object]] = []
        for kind, order in ((0, "ik"), (1, "sk")):
            left = None if limit is None else limit - len(out)
            if left is not None and left <= 0:
                return out
            # an int key is its ik column (a queue's scan reads tens of thousands): no JSON to parse
            q = f"SELECT {'ik' if kind == 0 else 'NULL'}, k, v FROM records WHERE tbl = ? AND kind = ? ORDER BY {order}"
            rows = self._exec(q + (" LIMIT ?" if left is not None else ""),
                              (table, kind) + ((left,) if left is not None else ())).fetchall()  # fmt: skip
            read = self._read
            if kind == 0:
                out.extend((ik, read(table, k, v)) for ik, k, v in rows)
            else:
                out.extend((decode_key(k), read(table, k, v)) for _, k, v in rows)
        if limit is None or len(out) < limit:
            rows = self._exec("SELECT k, v FROM records WHERE tbl = ? AND kind = 2", (table,)).fetchall()
            tuples = sorted(((decode_key(k), k, v) for k, v in rows), key=lambda kkv: _sort_key(kkv[0]))
            left = None if limit is None else limit - len(out)
            out.extend((key, self._read(table, k, v)) for key, k, v in tuples[:left])
        return out


class SqlTransaction:
    """One unit of work on a :class:`SqlStore`: a database transaction, or, when nested, a write buffer over it.

    A nested transaction keeps its writes in memory (reads see them first) and hands them to the
    transaction below on commit: PostgreSQL slows down sharply past 64 subtransactions in one
    transaction, and a batch of 500 applications would need 500 savepoints.
    """

    __slots__ = ("_store", "_depth", "_done", "_writes")

    def __init__(self, store: SqlStore) -> None:
        store._lock.acquire()
        try:
            self._depth = store._depth
            if self._depth == 0:
                store._begin()
        except BaseException:
            store._lock.release()
            raise
        store._depth += 1
        # {table: {key: value or _DELETED}}: a dict per table, so that a read or write of the buffer
        # builds no (table, key) pair (a batch does about fifteen a household)
        self._writes: dict[str, dict[Key, object]] = {}
        self._store, self._done = store, False
        store._stack.append(self)

    def _live(self, what: str) -> SqlStore:
        if self._done:
            raise StoreError(f"{what}: this transaction is already finished")
        return self._store

    def _lookup(self, table: str, key: Key) -> object:
        """The value seen through the open nested transactions, top down; ``_MISSING`` if none has the key."""
        for t in reversed(self._store._stack):
            own = t._writes.get(table)
            if own is not None:
                v = own.get(key, _MISSING)
                if v is not _MISSING:
                    return v
        return _MISSING

    def get(self, table: str, key: Key) -> object | None:
        s = self._live("get") if self._done else self._store
        v = self._lookup(table, key) if self._depth > 0 else _MISSING
        if v is _MISSING:
            return s._get(table, key)
        return None if v is _DELETED else v

    def get_many(self, table: str, keys: Iterable[Key]) -> dict[Key, object]:
        """:meth:`get` for many keys at once (absent keys left out): the open nested transactions'
        writes first, one query per 500 keys for the rest."""
        s = self._live("get_many")
        out: dict[Key, object] = {}
        if self._depth == 0 or not any(t._writes for t in s._stack):  # nothing buffered: all from the database
            return s.get_many(table, keys)
        rest = []
        for k in keys:
            v = self._lookup(table, k) if self._depth > 0 else _MISSING
            if v is _MISSING:
                rest.append(k)
            elif v is not _DELETED:
                out[k] = v
        out.update(s.get_many(table, rest))
        return out

    def put(self, table: str, key: Key, value: object) -> None:
        if self._done or self._depth == 0:
            self._live("put")._put(table, key, value)
            return
        if value is None:
            raise StoreError(f"put {table}[{key!r}]: None is not a record (use delete)")
        if type(key) is not int or not INT64[0] <= key <= INT64[1]:
            key_columns(key)  # refuse a key SQL cannot hold now, not at commit
        own = self._writes.get(table)
        if own is None:
            own = self._writes[table] = {}
        own[key] = value

    def insert(self, table: str, key: Key, value: object) -> None:
        s = self._live("insert")
        if self._depth == 0:
            s._insert(table, key, value)
            return
        v = self._lookup(table, key)
        if (v is _MISSING and s._has(table, key)) or (v is not _MISSING and v is not _DELETED):
            raise DuplicateKeyError(f"insert {table}[{key!r}]: a record with this key already exists")
        self.put(table, key, value)

    def insert_many(self, table: str, items: Iterable[tuple[Key, object]]) -> int:
        """Insert every ``(key, value)`` (a bulk load: per 10,000 rows one query for keys already taken
        and one ``executemany``, pipelined on PostgreSQL); :class:`DuplicateKeyError` naming the first
        taken key (or a key given twice), and the caller's transaction then rolls back. Nested, the
        rows go through the write buffer like single inserts."""
        s = self._live("insert_many")
        if self._depth > 0:
            return insert_each(self, table, items)
        q = s._sql(_INSERT)
        total = 0
        it = iter(items)
        while chunk := list(itertools.islice(it, 10_000)):
            rows = []
            for key, value in chunk:
                if value is None:
                    raise StoreError(f"insert {table}[{key!r}]: None is not a record")
                rows.append((table, *key_columns(key), encode(value)))  # a bulk load: not remembered
            if s._memo or s._memo_old:  # (a key it loads is absent, so the memo holds none: kept exact anyway)
                for r in rows:
                    s._forget(table, r[1])
            texts = [r[1] for r in rows]
            taken = set(texts) if len(set(texts)) == len(texts) else None
            if taken is not None:  # no key twice in the chunk: ask the database which it already holds
                taken = {k for _, k, _ in s._rows_at(table, [key for key, _ in chunk], "1", len(chunk))}
            if taken != set():
                seen: set[str] = set()
                for (key, _), text in zip(chunk, texts, strict=True):
                    if (taken is None and text in seen) or (taken is not None and text in taken):
                        raise DuplicateKeyError(f"insert {table}[{key!r}]: a record with this key already exists")
                    seen.add(text)
            s._conn.cursor().executemany(q, rows)
            total += len(rows)
        return total

    def delete(self, table: str, key: Key) -> None:
        s = self._live("delete")
        if self._depth == 0:
            s._delete(table, key)
        else:
            key_columns(key)
            own = self._writes.get(table)
            if own is None:
                own = self._writes[table] = {}
            own[key] = _DELETED

    def scan(self, table: str, limit: int | None = None) -> Iterator[tuple[Key, object]]:
        s = self._live("scan")
        own: dict[Key, object] = {}
        for t in s._stack:  # outermost first: inner writes win
            own.update(t._writes.get(table, {}))
        if not own:
            return iter(s._scan(table, limit))
        return overlay(s._scan(table, None), own, limit)

    def _close(self) -> None:
        s = self._store
        self._done = True
        s._stack.pop()
        s._depth -= 1
        s._lock.release()

    def commit(self) -> None:
        s = self._live("commit")
        if s._stack[-1] is not self:
            raise StoreError("commit: an inner transaction is still open")
        try:
            if self._depth == 0:
                s._trusted = False
                try:
                    s._exec("COMMIT")
                except BaseException:
                    s._forget_all()  # it may hold writes that did not land
                    with contextlib.suppress(Exception):  # a failed COMMIT must not leave a transaction open
                        s._exec("ROLLBACK")
                    raise
                s.commits += 1
            elif self._depth == 1:  # the transaction below is the database transaction itself
                s._flush(self._writes)
            else:
                below = s._stack[-2]._writes
                for table, own in self._writes.items():
                    if table in below:
                        below[table].update(own)
                    else:
                        below[table] = own
        finally:
            self._close()

    def rollback(self) -> None:
        if self._done:
            return
        s = self._store
        try:
            if self._depth == 0:
                s._trusted = False
                s._forget_all()  # it holds this transaction's flushed writes
                s._exec("ROLLBACK")
        finally:
            self._writes = {}
            self._close()

    def __enter__(self) -> SqlTransaction:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if self._done:
            return
        if et is None:
            self.commit()
        else:
            self.rollback()
