"""A sweep on a real Dask cluster -- a ``dask scheduler`` and two ``dask worker`` processes on
loopback -- gives the same bytes as the same sweep on local processes, and nothing is left running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from xp_helpers import group_processes, venv_env

from twin import experiments as xp
from twin.errors import InputError


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=5)


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    """A scheduler on a free loopback port and two single-threaded workers; yields its address."""
    env = venv_env()
    sched_file = tmp_path / "scheduler.json"
    logs = tmp_path / "logs"
    logs.mkdir()
    procs: list[subprocess.Popen] = []

    def start(name: str, args: list[str]) -> None:
        log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process below)
        procs.append(subprocess.Popen(args, env=env, stdout=log, stderr=log, start_new_session=True, cwd=tmp_path))
        log.close()

    start("scheduler", ["dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                        "--scheduler-file", str(sched_file)])  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not sched_file.exists() or not sched_file.read_text().strip():
            assert procs[0].poll() is None, (logs / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        worker = ["dask", "worker", address, "--nthreads", "1", "--nworkers", "1", "--host", "127.0.0.1"]
        worker += ["--no-dashboard", "--local-directory", str(tmp_path)]
        for i in range(2):
            start(f"worker{i}", worker)
        yield address
    finally:
        pgids = [p.pid for p in procs]
        _stop(procs)
        deadline = time.monotonic() + 10
        while any(group_processes(g) for g in pgids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [g for g in pgids if group_processes(g)] == [], "Dask processes left behind"


def _wait_for_workers(address: str, n: int) -> None:
    from distributed import Client

    with Client(address, timeout="20s") as c:
        c.wait_for_workers(n, timeout=60)


@pytest.mark.slow
def test_a_sweep_on_a_dask_cluster_equals_the_same_sweep_run_locally(
    toy_file: Path, tmp_path: Path, dask_cluster: str
) -> None:
    _wait_for_workers(dask_cluster, 2)
    kw = {"grid": 3, "reps": 3, "series": ["backlog"]}
    on_dask = xp.sweep(toy_file, ["rate=1:3"], cluster=dask_cluster, out=tmp_path / "dask", **kw)
    local = xp.sweep(toy_file, ["rate=1:3"], workers=0, out=tmp_path / "local", **kw)
    assert on_dask.workers == 2 and on_dask.computed == 9
    assert on_dask.manifest["executor"].startswith(f"Dask scheduler {dask_cluster} (2 workers")
    assert (on_dask.path / "results.parquet").read_bytes() == (local.path / "results.parquet").read_bytes()
    # the workers learned the test-only kind from the tasks themselves
    assert on_dask.results.query("origin == 'summary' and metric == 'arrivals'").value.nunique() > 1


def test_an_unreachable_scheduler_is_a_clear_error(toy_file: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(InputError, match=f"--cluster tcp://127.0.0.1:{port}: cannot reach the Dask scheduler"):
        xp.DaskExecutor(f"tcp://127.0.0.1:{port}", timeout="1s")


@pytest.mark.slow
def test_a_local_cluster_gives_the_same_bytes_and_is_gone_afterwards(toy_file: Path, tmp_path: Path) -> None:
    import multiprocessing

    kw = {"grid": 2, "reps": 2}
    on_dask = xp.sweep(toy_file, ["rate=1:3"], local_cluster=True, workers=1, out=tmp_path / "dask", **kw)
    local = xp.sweep(toy_file, ["rate=1:3"], workers=0, out=tmp_path / "local", **kw)
    assert on_dask.manifest["executor"] == "Dask LocalCluster with 1 worker"
    assert (on_dask.path / "results.parquet").read_bytes() == (local.path / "results.parquet").read_bytes()
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert multiprocessing.active_children() == []
