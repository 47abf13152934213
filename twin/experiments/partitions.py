"""Partitioned runs: one scenario split into independent parts (by municipality), run on any executor.

A national agent run follows millions of households through the real services. A municipality's
register and ledger do not depend on another's, so a model splits its run into partitions and hands
them to :func:`run_partitions`, which runs them on the executor of the run -- this process, local
worker processes (the default for ``twin run``), or a Dask cluster (``twin run --cluster ADDR``) -- and
returns the results in partition order, whichever worker finished first. A partition's random stream
depends on the run's seed and the partition's number only, so the merged result is the same bytes
on one process, on two, or on a cluster.

If a worker dies, Dask hands its partitions to another worker and the run completes; local process
pools are re-created and the partitions that were lost are run again (at most ``retries`` times).
When partitions are still missing after that, :class:`MissingPartitions` names them; finished
partitions are kept in ``cache`` (when given), so the rerun computes only the missing ones.

``twin run --cluster`` sets the run's executor with :func:`using`; a model asks :func:`current`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from twin.errors import TwinError
from twin.experiments.executors import Executor, InlineExecutor, LocalExecutor

T = TypeVar("T")
R = TypeVar("R")

_CURRENT: list[Executor] = []


class MissingPartitions(TwinError):
    """Some partitions did not finish; the message names them and says how to resume."""


@contextlib.contextmanager
def using(executor: Executor) -> Iterator[Executor]:
    """Run the partitions of models called inside this block on ``executor``."""
    _CURRENT.append(executor)
    try:
        yield executor
    finally:
        _CURRENT.pop()


def current() -> Executor | None:
    """The executor set by :func:`using`, if any."""
    return _CURRENT[-1] if _CURRENT else None


def default_executor(n_partitions: int) -> Executor:
    """Local processes, one per core (at most one per partition); this process for a single partition."""
    workers = min(n_partitions, os.cpu_count() or 1)
    return InlineExecutor() if workers <= 1 else LocalExecutor(workers)


def _call(item: tuple[Callable[[Any], Any], int, Any]) -> tuple[int, Any]:
    fn, i, arg = item
    return i, fn(arg)


def run_partitions(
    fn: Callable[[T], R],
    inputs: Sequence[T],
    *,
    executor: Executor | None = None,
    what: str = "partition",
    retries: int = 2,
    cache: Path | None = None,
) -> list[R]:
    """``fn(input)`` for every partition, on ``executor`` (default: :func:`current`, else
    :func:`default_executor`); results in input order. ``fn`` must be a top-level function. A partition
    whose local worker dies is tried again ``retries`` times on its own."""
    ex = executor or current()
    own = ex is None
    if own:
        ex = default_executor(len(inputs))
    results: dict[int, R] = {}
    keys = [_key(fn, x) for x in inputs] if cache is not None else []
    if cache is not None:
        for i, k in enumerate(keys):
            f = cache / f"{k}.pkl"
            if f.exists():
                results[i] = pickle.loads(f.read_bytes())  # noqa: S301 - our own cache folder

    def take(i: int, r: R) -> None:
        results[i] = r
        if cache is not None:
            _store(cache, keys[i], r)

    try:
        todo = [(fn, i, x) for i, x in enumerate(inputs) if i not in results]
        try:
            for i, r in ex.imap_unordered(_call, todo):  # type: ignore[union-attr]
                take(i, r)
        except TwinError:
            if not isinstance(ex, LocalExecutor):
                raise
            ex.close()  # a worker died and took the pool with it: a fresh pool runs what is missing
            # A dead worker breaks every partition in flight beside it, so which partition killed it is
            # unknown. Run the missing ones one at a time: then a death is the partition's own, and
            # each gets its own ``retries`` (which partitions finish no longer depends on timing).
            for i, x in enumerate(inputs):
                for _attempt in range(retries):
                    if i in results:
                        break
                    try:
                        for j, r in ex.imap_unordered(_call, [(fn, i, x)]):  # type: ignore[union-attr]
                            take(j, r)
                    except TwinError:
                        ex.close()
    finally:
        if own:
            ex.close()  # type: ignore[union-attr]
    missing = [i for i in range(len(inputs)) if i not in results]
    if missing:
        raise MissingPartitions(
            f"{what}s {', '.join(map(str, missing))} of {len(inputs)} did not finish (workers died); "
            "finished ones are kept: run again to compute only these"
        )
    return [results[i] for i in range(len(inputs))]


def _key(fn: Callable[..., Any], x: object) -> str:
    """The cache name of ``fn(x)``: ``x.cache_key()`` when the input has one (pickles of sets, e.g.
    inside pydantic models, differ between processes, and a rerun is another process), else its pickle."""
    own = getattr(x, "cache_key", None)
    body = own().encode() if callable(own) else pickle.dumps(x)
    return hashlib.sha256(f"{fn.__module__}.{fn.__qualname__}".encode() + b"\0" + body).hexdigest()[:24]


def _store(folder: Path, key: str, result: object) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{key}.{os.getpid()}.tmp"
    tmp.write_bytes(pickle.dumps(result))
    os.replace(tmp, folder / f"{key}.pkl")
