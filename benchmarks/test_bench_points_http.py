"""My Number Points over HTTP: ``twin serve points`` on SQLite, driven by wrk.

Run with ``make bench`` (or ``.venv/bin/pytest benchmarks/test_bench_points_http.py --benchmark-only -s``).

Setup (not timed): ``twin serve points --store sqlite:///<tmp>/points.db --set people=20000`` (one worker by
default, ``POINTS_BENCH_WORKERS`` for more; a fresh SQLite file, every ledger step one durable transaction).
The client writes the requests of 20,000 residents in rounds of four: round ``k`` reserves resident ``k``'s
MyKey ID (``POST /reservations``), applies for phase 1 for resident ``k - 200`` (``POST /applications``, its
own ``Idempotency-Key``; the MyKey ID is the one the server will give, worked out from the world's seed) and
reports two 10,000-yen top-ups for resident ``k - 400`` (``POST /top-ups``: 2,500 points each, the cap of
5,000 with the second). The lag of 200 residents keeps each step behind the one it needs, far more than the
32 requests that can be in flight. ``wrk`` (1 thread, 32 connections, closed model: under overload its
percentiles are those of a saturated server) sends them in turn for 10 s on the same 2 cores; a run sends
fewer than the 80,000 requests written, so none is a replay. Figures go into ``extra_info`` and are printed:
requests/s, p50/p90/p99 ms, non-2xx, and what the server recorded afterwards (reservations, applications,
points granted), which is checked against what wrk sent and the ledger's invariants.

Measured 2026-12-05 on the 2-core build machine shared with other jobs, with the code as committed,
command ``.venv/bin/python -m pytest benchmarks/test_bench_points_http.py --benchmark-only -p no:randomly -s``:

- 23:48 UTC, load average 3.01 / 2.97 / 2.26 before the run, 1 worker: **464 requests/s, p50 67.1 ms, p90
  92.5 ms, p99 149.9 ms**, no non-2xx; the server recorded 1,420 reservations, 1,220 applications and 5,097,500
  points (1,019.5 residents' 5,000);
- 23:49 UTC, load average 3.41 / 3.08 / 2.34, 1 worker: 437/s, p50 70.2 ms, p90 100.1 ms, p99 200.8 ms, no
  non-2xx; 1,354 reservations, 1,153 applications, 4,765,000 points;
- 23:48 UTC, load average 3.19 / 3.02 / 2.30, 2 workers (``POINTS_BENCH_WORKERS=2``): 485/s, p50 42.8 ms, p90
  312.7 ms, p99 854.9 ms, no non-2xx: the two processes' transactions wait for each other's SQLite write
  lock (the points service has no group commit or writer lock, unlike the linkage service), so a second
  worker buys almost no rate and a six times worse p99.

There is no target for the points service in issue 17; these are the first figures. A run on a quiet
machine is still to be made.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
from _wrk import WRK, record, wrk

from real_backends.load.server import twin_serve
from real_backends.points_api import OPERATORS, PointsWorld
from twin.services.store import MemoryStore

PEOPLE = 20_000
LAG = 200  # residents between a reservation and the application that needs it, and again to the top-ups
SECONDS = 10
CONNECTIONS = 32
WORKERS = int(os.environ.get("POINTS_BENCH_WORKERS", "1"))
TOP_UP_YEN = 10_000  # 2,500 points: two of them reach phase 1's cap of 5,000
pytestmark = pytest.mark.skipif(WRK is None, reason="wrk is not installed (apt-get install wrk)")


def requests(world: PointsWorld) -> list[tuple[str, str, str]]:
    """(path, Idempotency-Key or "", JSON body) in the order they are sent: rounds of reservation, application,
    two top-ups, each step ``LAG`` residents behind the one before."""
    local = world.ledger(MemoryStore())  # the same secret: the same MyKey IDs as the server's
    mykeys = [local.reserve(world.person(p)) for p in range(world.people)]
    operators = sorted(OPERATORS)
    out = []
    for k in range(world.people + 2 * LAG):
        if k < world.people:
            out.append(("/reservations", "", json.dumps({"person": k, "on": "2020-07-01"})))
        p = k - LAG
        if 0 <= p < world.people:
            body = {"mykey": mykeys[p], "phase": "phase1", "operator": operators[p % len(operators)],
                    "service_account": f"acct-{p}", "card_applied_on": "2020-06-01", "on": "2020-07-15"}  # fmt: skip
            out.append(("/applications", f"apply-{p}", json.dumps(body)))
        p = k - 2 * LAG
        if 0 <= p < world.people:
            for n in (1, 2):
                body = {"operator": operators[p % len(operators)], "operator_txn": f"{p}-{n}",
                        "service_account": f"acct-{p}", "amount_yen": TOP_UP_YEN, "on": "2020-09-15"}  # fmt: skip
                out.append(("/top-ups", "", json.dumps(body)))
    return out


def lua_script(path: Path, reqs: list[tuple[str, str, str]]) -> Path:
    """A wrk script sending ``reqs`` in turn (one tab-separated line each in a side file)."""
    data = path.with_suffix(".tsv")
    data.write_text("".join(f"{p}\t{k}\t{b}\n" for p, k, b in reqs))
    path.write_text(
        "local reqs = {}\n"
        f'for line in io.lines("{data}") do\n'
        '  local p, k, b = line:match("^([^\\t]*)\\t([^\\t]*)\\t(.*)$")\n'
        "  reqs[#reqs + 1] = {p, k, b}\n"
        "end\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #reqs + 1\n"
        "  local r = reqs[i]\n"
        '  local h = {["Content-Type"] = "application/json"}\n'
        '  if r[2] ~= "" then h["Idempotency-Key"] = r[2] end\n'
        '  return wrk.format("POST", r[1], h, r[3])\n'
        "end\n"
    )
    return path


def test_points_reservations_applications_top_ups_over_http_on_sqlite(benchmark, tmp_path: Path) -> None:
    world = PointsWorld(people=PEOPLE, seed=0)
    reqs = requests(world)
    script = lua_script(tmp_path / "points.lua", reqs)
    store = f"sqlite:///{tmp_path / 'points.db'}"
    opts = {"people": str(world.people), "seed": str(world.seed)}
    with twin_serve("points", store, opts, workers=WORKERS, ready_path="/health") as url:
        load = os.getloadavg()
        figures = benchmark.pedantic(lambda: wrk(url, script, seconds=SECONDS, connections=CONNECTIONS),
                                     rounds=1, iterations=1)  # fmt: skip
        with httpx.Client(base_url=url, timeout=60) as c:
            months = c.get("/months/phase1").json()["months"]
            granted = c.get("/totals").json()["granted"]
            invariants = c.get("/invariants").json()
    reserved, applied = (sum(m[what] for m in months) for what in ("reservations", "applications"))
    figures.update(load_1min_before=load[0], reservations=float(reserved), applications=float(applied),
                   points_granted=float(granted))  # fmt: skip
    record(benchmark, f"points reservations + applications + top-ups over HTTP, SQLite, {WORKERS} worker(s)",
           figures)  # fmt: skip
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; recorded {reserved:,} reservations, "
          f"{applied:,} applications, {granted:,} points")  # fmt: skip
    assert figures["non_2xx"] == 0 and invariants["ok"], invariants
    sent = figures["rps"] * SECONDS
    assert sent < len(reqs), "the run wrapped round the requests: replays would be measured; write more"
    # every step found the one before it: the reservations wrk sent were recorded, each application found its
    # reservation, and the top-ups their application (up to the requests in flight when wrk stopped)
    assert reserved >= min(PEOPLE, sent / 4 * 0.9)
    assert applied >= min(PEOPLE, reserved - LAG - CONNECTIONS)
    assert granted >= 2 * 2_500 * (applied - LAG - CONNECTIONS)
