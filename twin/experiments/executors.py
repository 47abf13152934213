"""Executors: who does the work of a sweep -- local processes, a Dask cluster here, or one elsewhere.

Like a municipality that can hand the same stack of forms to its own clerks or to a contracted
processing centre, a sweep hands the same tasks to any :class:`Executor`. All of them do one thing:
``imap_unordered(fn, items)`` runs ``fn`` on every item and yields results as they finish, keeping
only a small window of tasks in flight (so a million-task sweep does not sit in memory). Which
worker ran a task never changes its result, so the merged results are the same bytes everywhere.

- :class:`LocalExecutor`: ``concurrent.futures.ProcessPoolExecutor`` with N worker processes (spawned,
  so workers start clean and learn everything from the task, as a Dask worker would).
- :class:`InlineExecutor`: the calling process itself (debugging, notebooks, tiny sweeps).
- :class:`DaskExecutor`: a ``distributed.LocalCluster`` it starts (``--local-cluster``) or an existing
  scheduler by address (``--cluster tcp://HOST:8786``).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol, TypeVar

from twin.errors import InputError, TwinError

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    """Runs a picklable top-level function over items; yields results in completion order."""

    workers: int
    description: str

    def imap_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]: ...

    def close(self) -> None: ...


class _Closing:
    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # type: ignore[attr-defined]


class InlineExecutor(_Closing):
    """Runs every task in the calling process, one after another."""

    workers = 1
    description = "in-process"

    def imap_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        for item in items:
            yield fn(item)

    def close(self) -> None:
        pass


class LocalExecutor(_Closing):
    """N local worker processes (``concurrent.futures``), at most ``window`` tasks in flight."""

    def __init__(self, workers: int | None = None, *, window: int | None = None):
        n = workers if workers is not None else (os.cpu_count() or 1)
        if n < 1:
            raise InputError(f"--workers: {n} is not a number of worker processes (at least 1)")
        self.workers = n
        self.window = window or 2 * n
        self.description = f"{n} local process{'es' if n != 1 else ''}"
        self._pool: ProcessPoolExecutor | None = None

    @property
    def pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def imap_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        it = iter(items)
        pending: set[Future[R]] = set()
        try:
            for item in it:
                pending.add(self.pool.submit(fn, item))
                if len(pending) >= self.window:
                    break
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in sorted(done, key=id):
                    try:
                        result = f.result()
                    except BrokenProcessPool:
                        raise TwinError(
                            "a worker process died (killed, out of memory, or a script that starts a sweep without "
                            "`if __name__ == '__main__':`); finished work is kept: run the sweep again to resume"
                        ) from None
                    yield result
                    nxt = next(it, _END)
                    if nxt is not _END:
                        pending.add(self.pool.submit(fn, nxt))  # type: ignore[arg-type]
        finally:
            for f in pending:
                f.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


_END = object()


class DaskExecutor(_Closing):
    """Tasks on a Dask cluster: an existing scheduler (``address``) or a LocalCluster it owns."""

    def __init__(
        self,
        address: str | None = None,
        *,
        workers: int | None = None,
        window: int | None = None,
        timeout: str = "10s",
    ):
        if address is not None and not address.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
            raise InputError(f"--cluster: {address!r} is not a scheduler address (e.g. tcp://10.0.0.5:8786)")
        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - dask[distributed] is a dependency
            raise InputError("--cluster/--local-cluster: dask[distributed] is not installed") from None
        self._cluster = None
        if address is None:
            n = workers or os.cpu_count() or 1
            self._cluster = LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
            )
            self.client = Client(self._cluster)
            self.description = f"Dask LocalCluster with {n} worker{'s' if n != 1 else ''}"
        else:
            try:
                self.client = Client(address, timeout=timeout)
            except OSError as e:
                raise InputError(f"--cluster {address}: cannot reach the Dask scheduler ({e})") from None
            try:
                check_worker_versions(self.client, address)
            except BaseException:
                self.client.close()
                raise
            self.description = f"Dask scheduler {address}"
        threads = self.client.nthreads()
        self.workers = max(1, sum(threads.values()))
        self.window = window or 2 * self.workers
        if address is not None:
            self.description += f" ({len(threads)} workers, {self.workers} threads)"

    def imap_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        from distributed import as_completed

        it = iter(items)
        first = [self.client.submit(fn, item, pure=False) for _, item in zip(range(self.window), it, strict=False)]
        if not first:
            return
        ac = as_completed(first)
        try:
            for fut in ac:
                result = fut.result()
                fut.release()
                yield result
                nxt = next(it, _END)
                if nxt is not _END:
                    ac.add(self.client.submit(fn, nxt, pure=False))
        finally:
            for fut in list(ac.futures):
                fut.cancel()

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def package_versions() -> tuple[str, str]:
    """What a worker must share with the process that sends it work: myna-twin and Python versions."""
    import platform

    import twin

    return twin.__version__, platform.python_version()


def check_worker_versions(client: Any, address: str) -> None:
    """Refuse a cluster whose workers run another myna-twin or Python (or none): one line naming the
    address and the versions, before any work is sent."""
    want = package_versions()
    try:
        got = client.run(package_versions)
    except Exception as e:  # noqa: BLE001 - a worker without the package fails to unpickle the call
        raise InputError(
            f"--cluster {address}: the workers cannot run myna-twin {want[0]} (Python {want[1]}): "
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from None
    if not got:
        raise InputError(f"--cluster {address}: the scheduler has no workers")
    bad = {w: tuple(v) for w, v in sorted(got.items()) if tuple(v) != want}
    if bad:
        shown = "; ".join(f"{w} runs myna-twin {v[0]} on Python {v[1]}" for w, v in list(bad.items())[:3])
        raise InputError(
            f"--cluster {address}: {len(bad)} of {len(got)} workers run other versions ({shown}); "
            f"this process runs myna-twin {want[0]} on Python {want[1]}: install the same on every worker"
        )


def make_executor(
    workers: int | None = None,
    *,
    cluster: str | None = None,
    local_cluster: bool = False,
) -> InlineExecutor | LocalExecutor | DaskExecutor:
    """The executor the command line asks for: ``--workers N`` / ``--local-cluster`` / ``--cluster ADDR``."""
    if cluster and local_cluster:
        raise InputError("--cluster and --local-cluster: choose one (an existing scheduler or a new local one)")
    if cluster:
        return DaskExecutor(cluster)
    if local_cluster:
        return DaskExecutor(workers=workers)
    if workers == 0:
        return InlineExecutor()
    return LocalExecutor(workers)
