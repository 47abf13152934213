"""Linkage queries over HTTP: ``twin serve linkage`` on SQLite, driven by wrk.

Run with ``make bench`` (or ``.venv/bin/pytest benchmarks/test_bench_linkage_http.py --benchmark-only -s``).
Target from issue 17: >= 2,000 queries/s at p99 <= 50 ms over HTTP on SQLite.

Setup (not timed): ``twin serve linkage --store sqlite:///<tmp>/linkage.db --set people=2000 --workers 2``
(the world seeded into a fresh SQLite file: WAL, ``synchronous=FULL``, every exchange record durable
before its answer; concurrent queries share a commit, :class:`real_backends.linkage_api.GroupCommit`).
The client fetches each body's agency code for every person (``POST /linkage/codes``) and writes 4,000
lawful queries (public assistance asking the pension service or the insurer, the pension service asking
the town for assessed income, a benefit check asking the account register, each for another person),
which ``wrk`` (1 thread, 32 connections, closed model: under overload its percentiles are those of a
saturated server) sends in turn for 10 s on the same 2 cores. Figures go into ``extra_info`` and are
printed: queries/s, p50/p90/p99 ms, non-2xx. The exchange count the server reports afterwards is
checked against what wrk says it sent.

Measured 2026-12-04 on the 2-core build machine, never quiet (two other helpers and full test runs on the
same 2 cores; the benchmark under ``nice -n 10``, so the server had less than its share), with the
code as committed (fast path, group commit, writer flock), 2 workers, 32 connections, 10 s:

- 16:49 UTC, load average 4.83 / 6.38 / 6.20 before the run: **2,111 queries/s, p50 13.7 ms, p90
  24.4 ms, p99 40.9 ms**, no non-2xx, 21,275 exchanges recorded: the target (>= 2,000/s at p99 <= 50 ms)
  was met in this run;
- 16:50 UTC, load average 3.90 / 5.53 / 5.91: 2,136/s, p50 14.4 ms, p90 22.0 ms, p99 30.1 ms, no
  non-2xx, 21,424 exchanges recorded: met;
- 16:46 UTC, load average 7.91 / 7.32 / 6.40: 1,050/s, p50 30.2 ms, p90 49.2 ms, p99 70.2 ms: not met
  (53 % of the rate, p99 1.4x over), on a machine then about 4x oversubscribed.
- 22:07 UTC (after the exchange record's response model was shared with the portal hub), load average
  3.13 / 4.12 / 3.33: 2,272/s, p50 12.4 ms, p90 24.9 ms, p99 36.6 ms, no non-2xx, 22,793 exchanges
  recorded: met.

So on this shared machine the target was met at load averages 3.1, 3.9 and 4.8 and missed at 7.9. On a quiet
machine (2026-12-06 17:44 UTC, the other jobs idle, load average 1.28 / 0.85 / 2.19 before the run, not niced):
**2,858 queries/s, p50 10.8 ms, p90 16.2 ms, p99 22.6 ms**, no non-2xx, 28,664 exchanges recorded: met.
Again at 20:18 UTC (after the answers became the full qualification and the served bodies got their nightly
refresh; load 0.78 / 2.48 / 2.94 before, nothing else running): 3,200/s, p50 10.1 ms, p90 13.0 ms, p99 17.7 ms, no
non-2xx, 32,054 exchanges recorded: met.
Server CPU per query (1 worker, wrk 16 connections, /proc
utime+stime over the run): 0.31 ms (2026-12-04; the capacity model's figure). Measured again on 2026-12-06 at
20:20 UTC, twice each, the same way: 0.351 and 0.373 ms at 4ec3e8c (before those two changes), 0.369 and 0.352 ms
after them: no difference the changes make, and both above the 0.31 ms of two days before. Earlier
steps, same machine, for the record: one commit per query ~5 ms in process (hence the group commit);
FastAPI route only, 926/s p99 279 ms (load 7.1); two workers contending through SQLite's busy handler,
p99 549 ms (load 7.5, before the writer flock). Command: ``nice -n 10 .venv/bin/python -m pytest
benchmarks/test_bench_linkage_http.py --benchmark-only -p no:randomly -s`` (``LINKAGE_BENCH_WORKERS=1``
for one worker: 795/s, p99 88 ms at load 7.6).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
from _wrk import WRK, lua_bodies, record, wrk

from real_backends.linkage_api import LinkageWorld, resident_code
from real_backends.load.server import twin_serve

PEOPLE = 2000
SECONDS = 10
WORKERS = int(os.environ.get("LINKAGE_BENCH_WORKERS", "2"))
pytestmark = pytest.mark.skipif(WRK is None, reason="wrk is not installed (apt-get install wrk)")


def queries(url: str, world: LinkageWorld, n: int) -> list[str]:
    """``n`` lawful queries, each body asking under its own code fetched from the server."""
    out = []
    with httpx.Client(base_url=url, timeout=30) as c:
        def code(body: str, person: int) -> str:
            r = c.post("/linkage/codes", json={"body": body, "resident_code": resident_code(person)})
            assert r.status_code == 200, r.text
            return r.json()["code"]

        for k in range(n):
            p = k % world.people
            town = world.town(p)
            requester, procedure, provider, item = (
                (town, "public_assistance", "jps", "pension"),
                (town, "public_assistance", "kyokai", "health_insurance"),
                ("jps", "pension", town, "local_tax_income"),
                (town, "benefit_eligibility", "digital", "benefit_account"),
            )[k % 4]  # fmt: skip
            out.append(json.dumps({"requester": requester, "code": code(requester, p), "procedure": procedure,
                                   "provider": provider, "item": item, "at": "2025-07-01T09:00:00+09:00"}))  # fmt: skip
    return out


def test_linkage_queries_over_http_on_sqlite(benchmark, tmp_path: Path) -> None:
    world = LinkageWorld(people=PEOPLE, seed=0)
    opts = {"people": str(world.people), "seed": str(world.seed)}
    store = f"sqlite:///{tmp_path / 'linkage.db'}"
    with twin_serve("linkage", store, opts, workers=WORKERS, ready_path="/health") as url:
        script = lua_bodies(tmp_path / "queries.lua", "/linkage/queries", queries(url, world, 2 * PEOPLE))
        before = httpx.get(url + "/health").json()["exchanges"]
        load = os.getloadavg()
        figures = benchmark.pedantic(lambda: wrk(url, script, seconds=SECONDS, connections=32), rounds=1,
                                     iterations=1)  # fmt: skip
        exchanges = httpx.get(url + "/health").json()["exchanges"] - before
    figures["load_1min_before"] = load[0]
    figures["exchanges"] = float(exchanges)
    record(benchmark, f"linkage queries over HTTP, SQLite, {WORKERS} worker(s)", figures)
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; exchanges recorded {exchanges:,}")
    assert figures["non_2xx"] == 0
    # every answered query was recorded (wrk may leave a few in flight when it stops: they are recorded too)
    assert exchanges >= figures["rps"] * SECONDS * 0.9
