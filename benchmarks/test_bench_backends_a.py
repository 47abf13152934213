"""Real backends, part A: payout API applications per second on SQLite and on PostgreSQL (loopback, 2 cores).

Run with ``make bench`` (or ``.venv/bin/pytest benchmarks/test_bench_backends_a.py --benchmark-only -s``).
Each benchmark starts ``twin serve payout`` (one uvicorn process) on a fresh store and submits
applications from this process with httpx: in batches of 500 per request (one durable commit per
batch, each application still under its own idempotency key), and one application per request
(one commit each). Every round uses households not yet applied for, so nothing is a replay. The
rates go into ``extra_info`` (applications/s) and are printed.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from real_backends.payout_api import PayoutWorld
from real_backends.rig.failover import _application_json
from real_backends.stores.pgserver import PostgresServer, free_port

ROOT = Path(__file__).resolve().parent.parent
WORLD = PayoutWorld(households=60_000, seed=7)


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        store = f"sqlite:///{tmp_path / 'payout.db'}"
    else:  # a fresh database per benchmark on the module's server
        import psycopg

        pg_url, name = request.getfixturevalue("pg").url, f"bench_{request.node.name.split('[')[0][-20:]}"
        with psycopg.connect(pg_url, autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {name}")
            c.execute(f"CREATE DATABASE {name}")
        store = pg_url.rsplit("/", 1)[0] + "/" + name
    port = free_port()
    cmd = [sys.executable, "-m", "twin.cli", "serve", "payout", "--store", store, "--port", str(port),
           "--set", f"households={WORLD.households}", "--set", f"seed={WORLD.seed}"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def _households() -> Iterator[int]:
    return (h for h in range(WORLD.households) if WORLD.roll.entitled(h))


def test_bench_applications_in_batches_of_500(benchmark, server: str) -> None:
    households = _households()
    client = httpx.Client(base_url=server, timeout=120)
    per_round = 10 * 500

    def submit() -> None:
        for _ in range(10):
            hs = list(itertools.islice(households, 500))
            items = [{"key": f"b-{h}", "application": _application_json(WORLD, h)} for h in hs]
            r = client.post("/applications/batch", json={"items": items})
            assert r.status_code == 200 and {d["outcome"] for d in r.json()["decisions"]} == {"accepted"}

    benchmark.pedantic(submit, rounds=3, iterations=1)
    rate = per_round / benchmark.stats.stats.mean
    benchmark.extra_info["applications_per_s"] = round(rate)
    print(f"\n{server}: {rate:,.0f} applications/s in batches of 500")


def test_bench_one_application_per_request(benchmark, server: str) -> None:
    households = _households()
    client = httpx.Client(base_url=server, timeout=120)
    per_round = 300

    def submit() -> None:
        for h in itertools.islice(households, per_round):
            r = client.post("/applications", json=_application_json(WORLD, h), headers={"Idempotency-Key": f"s-{h}"})
            assert r.status_code == 200 and r.json()["outcome"] == "accepted"

    benchmark.pedantic(submit, rounds=3, iterations=1)
    rate = per_round / benchmark.stats.stats.mean
    benchmark.extra_info["applications_per_s"] = round(rate)
    print(f"\n{server}: {rate:,.0f} applications/s, one per request")
