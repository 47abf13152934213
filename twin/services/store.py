"""Where the services keep their state: keyed records in named tables, changed only by transactions.

A town hall's ledger book only ever holds what a clerk signed off: a page half written when the
power went out does not count. The services here work the same way. Every change is made inside a
:class:`Transaction` (``with store.transaction() as tx: ...``): reads see the committed state plus
the transaction's own writes, and the writes reach the store all at once on commit or not at all.
A service object holds nothing the store does not, so a "crash" is modelled by dropping the service
object and opening a new one on the same store: it sees exactly the committed transactions.

The interface is deliberately small so that a SQL table per name with a primary key on ``key``
implements it directly (``get`` = ``SELECT``, ``put`` = ``UPSERT``, ``insert`` = ``INSERT`` that
fails on a duplicate key, ``scan`` = ``SELECT ... ORDER BY key``). Keys are ints, strings or tuples
of them; values are immutable records (frozen dataclasses, named tuples, tuples, read-only arrays).

:class:`MemoryStore` is the in-memory implementation. For fault-injection tests it can be told to
crash on a later commit (:meth:`MemoryStore.crash_on_commit`): that commit raises
:class:`SimulatedCrash` and applies nothing, as if the process died just before writing.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import threading
from collections.abc import Hashable, Iterable, Iterator
from types import TracebackType
from typing import Protocol

Key = Hashable

_DELETED = object()


class StoreError(Exception):
    """A store operation broke a rule of the interface (e.g. a duplicate key on insert)."""


class DuplicateKeyError(StoreError):
    """``insert`` found the key already present: the table's primary key forbids a second record."""


class SimulatedCrash(StoreError):
    """The store "lost power" during commit: nothing of this transaction was written."""


class Transaction(Protocol):
    """One unit of work: reads see committed state plus own writes; writes land together on commit."""

    def get(self, table: str, key: Key) -> object | None: ...

    def put(self, table: str, key: Key, value: object) -> None: ...

    def insert(self, table: str, key: Key, value: object) -> None: ...

    def insert_many(self, table: str, items: Iterable[tuple[Key, object]]) -> int: ...

    def delete(self, table: str, key: Key) -> None: ...

    def scan(self, table: str, limit: int | None = None) -> Iterator[tuple[Key, object]]: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def __enter__(self) -> Transaction: ...

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None: ...


class Store(Protocol):
    """A durable home for keyed records: committed reads, transactional writes."""

    def transaction(self) -> Transaction: ...

    def get(self, table: str, key: Key) -> object | None: ...

    def scan(self, table: str, limit: int | None = None) -> Iterator[tuple[Key, object]]: ...

    def count(self, table: str) -> int: ...


def _sort_key(key: Key) -> tuple:
    # ints before strings before tuples, each in natural order: a total order over mixed key types
    if isinstance(key, int):
        return (0, key)
    if isinstance(key, str):
        return (1, key)
    return (2, key)


class _Table:
    """One table: a dict plus a flag telling whether insertion order is still key order (then scans need no sort)."""

    __slots__ = ("rows", "ordered", "last")

    def __init__(self) -> None:
        self.rows: dict[Key, object] = {}
        self.ordered = True
        self.last: Key | None = None

    def items(self) -> list[tuple[Key, object]]:
        if self.ordered:
            return list(self.rows.items())
        return sorted(self.rows.items(), key=lambda kv: _sort_key(kv[0]))


class MemoryStore:
    """The default store: a dict per table; commits are atomic; an optional injected crash."""

    def __init__(self) -> None:
        self._tables: dict[str, _Table] = {}
        self._crash_in: int | None = None
        self.commits = 0

    def _table(self, name: str) -> _Table:
        t = self._tables.get(name)
        if t is None:
            t = self._tables[name] = _Table()
        return t

    def transaction(self) -> MemoryTransaction:
        return MemoryTransaction(self)

    def get(self, table: str, key: Key) -> object | None:
        t = self._tables.get(table)
        return None if t is None else t.rows.get(key)

    def scan(self, table: str, limit: int | None = None) -> Iterator[tuple[Key, object]]:
        t = self._tables.get(table)
        if t is None:
            return iter(())
        if t.ordered:  # O(limit): the oldest-first queues are read a few records at a time
            return iter(list(itertools.islice(t.rows.items(), limit)))
        items = t.items()
        return iter(items if limit is None else items[:limit])

    def count(self, table: str) -> int:
        t = self._tables.get(table)
        return 0 if t is None else len(t.rows)

    def tables(self) -> list[str]:
        return sorted(self._tables)

    def crash_on_commit(self, after: int | None = 0) -> None:
        """Make the commit ``after`` commits from now fail with :class:`SimulatedCrash` (0: the next one).

        ``None`` disarms a crash that has not happened yet.
        """
        if after is not None and after < 0:
            raise ValueError(f"crash_on_commit: after={after} must be >= 0 (or None to disarm)")
        self._crash_in = after

    def _apply(self, writes: dict[str, dict[Key, object]]) -> None:
        if self._crash_in is not None:
            if self._crash_in == 0:
                self._crash_in = None
                raise SimulatedCrash("simulated crash during commit: the transaction was not written")
            self._crash_in -= 1
        tables = self._tables
        for table, own in writes.items():  # _Table.set, inlined: this loop is the store's hot path
            t = tables.get(table)
            if t is None:
                t = tables[table] = _Table()
            rows, ordered, last = t.rows, t.ordered, t.last
            for key, value in own.items():
                if value is _DELETED:
                    rows.pop(key, None)
                    continue
                if ordered and key not in rows:
                    if last is not None:
                        try:
                            ordered = key > last  # type: ignore[operator]
                        except TypeError:
                            ordered = False
                    last = key
                rows[key] = value
            t.ordered, t.last = ordered, last
        self.commits += 1


def overlay(
    committed: Iterable[tuple[Key, object]], own: dict[Key, object], limit: int | None
) -> Iterator[tuple[Key, object]]:
    """A transaction's scan: the committed rows with its own writes (and deletes) laid over, in key order."""
    merged = dict(committed)
    for k, v in own.items():
        if v is _DELETED:
            merged.pop(k, None)
        else:
            merged[k] = v
    items = sorted(merged.items(), key=lambda kv: _sort_key(kv[0]))
    return iter(items if limit is None else items[:limit])


_bulk_lock = threading.Lock()
_bulk_depth = [0, (700, 10, 10)]
#: young-generation collection threshold while a batch runs (the interpreter's default is 700)
BULK_GC_THRESHOLD = 50_000


@contextlib.contextmanager
def bulk() -> Iterator[None]:
    """A batch of many records: the young generation is collected every 50,000 allocations instead of
    700 while it runs. A batch allocates records and keeps them (no reference cycles), so the default's
    frequent collections, each walking everything allocated since, cost about a fifth of a memory-store
    batch. Nested and concurrent batches share one setting; the previous one is restored by the last."""
    with _bulk_lock:
        if _bulk_depth[0] == 0:
            _bulk_depth[1] = gc.get_threshold()
            if _bulk_depth[1][0] < BULK_GC_THRESHOLD:
                gc.set_threshold(BULK_GC_THRESHOLD, *_bulk_depth[1][1:])
        _bulk_depth[0] += 1
    try:
        yield
    finally:
        with _bulk_lock:
            _bulk_depth[0] -= 1
            if _bulk_depth[0] == 0:
                gc.set_threshold(*_bulk_depth[1])


def insert_each(tx: Transaction, table: str, items: Iterable[tuple[Key, object]]) -> int:
    """``insert_many`` for a transaction without a bulk path: one ``insert`` per item; returns the count."""
    n = 0
    for key, value in items:
        tx.insert(table, key, value)
        n += 1
    return n


class MemoryTransaction:
    """A write buffer over a :class:`MemoryStore`; applied on commit, discarded on rollback or error.

    The buffer is a dict per table (``{table: {key: value}}``), not one dict keyed by ``(table, key)``:
    a batch reads and writes about fifteen records a household, and a pair built for each was an
    allocation (and a share of the young collections) for every one of them."""

    __slots__ = ("_store", "_writes", "_done")

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._writes: dict[str, dict[Key, object]] = {}
        self._done = False

    def get(self, table: str, key: Key) -> object | None:
        own = self._writes.get(table)
        if own is not None:
            v = own.get(key)
            if v is not None:
                return None if v is _DELETED else v
        t = self._store._tables.get(table)
        return None if t is None else t.rows.get(key)

    def put(self, table: str, key: Key, value: object) -> None:
        if value is None:
            raise StoreError(f"put {table}[{key!r}]: None is not a record (use delete)")
        own = self._writes.get(table)
        if own is None:
            own = self._writes[table] = {}
        own[key] = value

    def insert(self, table: str, key: Key, value: object) -> None:
        if self.get(table, key) is not None:
            raise DuplicateKeyError(f"insert {table}[{key!r}]: a record with this key already exists")
        self.put(table, key, value)

    def insert_many(self, table: str, items: Iterable[tuple[Key, object]]) -> int:
        """Insert every ``(key, value)``; :class:`DuplicateKeyError` if any key is taken (a bulk load)."""
        return insert_each(self, table, items)

    def delete(self, table: str, key: Key) -> None:
        own = self._writes.get(table)
        if own is None:
            own = self._writes[table] = {}
        own[key] = _DELETED

    def scan(self, table: str, limit: int | None = None) -> Iterator[tuple[Key, object]]:
        own = self._writes.get(table)
        if not own:
            return self._store.scan(table, limit)
        return overlay(self._store.scan(table), own, limit)

    def commit(self) -> None:
        if self._done:
            raise StoreError("commit: this transaction is already finished")
        self._done = True
        self._store._apply(self._writes)

    def rollback(self) -> None:
        self._done = True
        self._writes = {}

    def __enter__(self) -> MemoryTransaction:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if et is None and not self._done:
            self.commit()
        elif not self._done:
            self.rollback()
