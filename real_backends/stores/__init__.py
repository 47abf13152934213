"""Durable homes for the services' state: SQLite (embedded default) and PostgreSQL.

``open_store(url)`` turns a ``--store`` option into a :class:`twin.services.store.Store`::

    open_store("sqlite:///var/twin/payout.db")          # SqliteStore (WAL, synchronous=FULL)
    open_store("postgresql://user@127.0.0.1:5432/twin")  # PostgresStore (psycopg)
    open_store("memory://")                             # MemoryStore (tests, nothing kept)

:class:`~real_backends.stores.jpki.RecordsJpkiStore` puts the JPKI centre's certificate ledger on
any of them; :mod:`real_backends.stores.pgserver` starts a throwaway PostgreSQL for tests.
"""

from __future__ import annotations

from real_backends.stores.codec import CodecError, decode, encode
from real_backends.stores.jpki import RecordsJpkiStore
from real_backends.stores.sql import SqlStore
from real_backends.stores.sqlite import SqliteStore
from twin.services.store import MemoryStore, Store, StoreError

SCHEMES = ("sqlite:///PATH", "postgresql://...", "memory://")


def open_store(url: str) -> Store:
    """The store a URL names; a clear :class:`StoreError` for anything else."""
    if not isinstance(url, str) or not url:
        raise StoreError(f"store URL {url!r}: expected one of {', '.join(SCHEMES)}")
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if not path:
            raise StoreError(f"store URL {url!r}: sqlite:/// needs a file path, e.g. sqlite:///payout.db")
        return SqliteStore(path)
    if url.startswith(("postgresql://", "postgres://")):
        from real_backends.stores.postgres import PostgresStore

        return PostgresStore(url)
    if url == "memory://":
        return MemoryStore()
    scheme = url.split(":", 1)[0]
    raise StoreError(f"store URL scheme {scheme!r} is not supported: use one of {', '.join(SCHEMES)}")


__all__ = ["CodecError", "RecordsJpkiStore", "SqlStore", "SqliteStore", "StoreError", "decode", "encode", "open_store"]
