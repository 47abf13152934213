"""Servers started together on a new SQLite file all open it.

Switching a new file to WAL needs a lock, and SQLite answers a second process that asks for it at the same
moment "database is locked" at once, without its busy timeout (seen when ``twin serve portal`` and ``twin serve
points --set world=portal`` started together on a fresh file). The store waits for the lock instead.
"""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from real_backends.stores.sqlite import SqliteStore


def _open(path: str, barrier, results) -> None:  # noqa: ANN001
    barrier.wait()
    try:
        store = SqliteStore(path)
        with store.transaction() as tx:
            tx.put("t", (mp.current_process().name,), 1)
        results.put("ok")
    except Exception as exc:  # noqa: BLE001
        results.put(f"{type(exc).__name__}: {exc}")


def test_six_processes_opening_a_new_file_at_the_same_moment_all_open_it_in_wal_mode(tmp_path: Path) -> None:
    """Eight new files, six processes each (without the wait, about one round in five lost a process)."""
    ctx = mp.get_context("fork")
    n = 6
    for round_ in range(8):
        path = str(tmp_path / f"new-{round_}.db")
        barrier, results = ctx.Barrier(n), ctx.Queue()
        procs = [ctx.Process(target=_open, args=(path, barrier, results)) for _ in range(n)]
        for p in procs:
            p.start()
        got = [results.get(timeout=120) for _ in range(n)]
        for p in procs:
            p.join(60)
        assert got == ["ok"] * n, f"round {round_}: {got}"
        store = SqliteStore(path)
        assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.count("t") == n
