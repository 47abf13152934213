"""My Number Points over HTTP: ``twin serve points`` on SQLite, driven by wrk, without and with the card check.

Run with ``make bench`` (or ``.venv/bin/pytest benchmarks/test_bench_points_http.py --benchmark-only -s``).

Setup (not timed): ``twin serve points --store sqlite:///<tmp>/points.db --set people=20000`` (``no-cards``), or
``--set people=6000 --set cards=6000`` (``cards``: every resident holds a card of the world's JPKI centre, and
each reservation is checked against it); one worker by default, ``POINTS_BENCH_WORKERS`` for more; a fresh
SQLite file, every ledger step one durable transaction. The client writes the requests of the residents in
rounds of four: round ``k`` reserves the ``k``-th resident's MyKey ID (``POST /reservations``, with the card's
``card_serial`` where there are cards; the residents whose card was reported lost are left out, so no request
is refused), applies for phase 1 for the resident 200 places before (``POST /applications``, its own
``Idempotency-Key``; the MyKey ID is the one the server will give, worked out from the world's seed) and reports
two 10,000-yen top-ups for the resident 400 places before (``POST /top-ups``: 2,500 points each, the cap of
5,000 with the second). The lag of 200 residents keeps each step behind the one it needs, far more than the 32
requests that can be in flight. ``wrk`` (1 thread, 32 connections, closed model: under overload its
percentiles are those of a saturated server) sends them in turn for 10 s on the same 2 cores; a run sends
fewer requests than were written, so none is a replay. Figures go into ``extra_info`` and are printed:
requests/s, p50/p90/p99 ms, non-2xx, and what the server recorded afterwards (reservations, applications,
points granted), which is checked against what wrk sent and the ledger's invariants.

Measured 2026-12-05 (UTC) on the 2-core build machine shared with other jobs (load average before each run
given), 1 worker, command ``.venv/bin/python -m pytest benchmarks/test_bench_points_http.py --benchmark-only
-p no:randomly -s``, the code as committed:

| run (UTC) | load 1 / 5 / 15 min | world | requests/s | p50 ms | p90 ms | p99 ms | non-2xx |
|---|---|---|---|---|---|---|---|
| 23:55 | 2.34 / 2.60 / 2.37 | no cards | 515 | 59.5 | 88.6 | 186.2 | 0 |
| 23:55 | 2.98 / 2.73 / 2.42 | 6,000 cards | 492 | 59.7 | 96.2 | 187.8 | 0 |
| 23:56 | 3.37 / 2.85 / 2.47 | no cards | 499 | 61.6 | 90.8 | 152.5 | 0 |
| 23:56 | 3.59 / 2.94 / 2.51 | 6,000 cards | 426 | 72.6 | 100.5 | 208.9 | 0 |
| 23:57 | 4.12 / 3.11 / 2.57 | no cards | 451 | 67.4 | 99.4 | 192.0 | 0 |
| 23:57 | 4.14 / 3.21 / 2.62 | 6,000 cards | 448 | 68.1 | 96.1 | 190.3 | 0 |

So about 430-520 requests/s at p99 150-210 ms on one worker at load 2-4; the card check (a lookup in the
centre's in-memory ledger and its revocation status) costs less than the run-to-run spread. Each run's server
recorded what wrk sent: e.g. the first, 1,547 reservations, 1,347 applications and 5,732,500 points. One run
with 2 workers (``POINTS_BENCH_WORKERS=2``, no cards, 23:48, load 3.19, the code of the benchmark's first
commit): 485/s, p50 42.8 ms, p90 312.7 ms, p99 854.9 ms: the two processes' transactions wait for each
other's SQLite write lock (the points service has no group commit or writer lock, unlike the linkage
service), so a second worker buys almost no rate and a p99 four times worse.

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
from real_backends.points_api import LOST_EVERY, OPERATORS, PointsWorld
from twin.services.store import MemoryStore

PEOPLE = 20_000
CARDS = 6_000  # the world with cards: every resident holds one (built in about 9 s, on each side)
LAG = 200  # residents between a reservation and the application that needs it, and again to the top-ups
SECONDS = 10
CONNECTIONS = 32
WORKERS = int(os.environ.get("POINTS_BENCH_WORKERS", "1"))
TOP_UP_YEN = 10_000  # 2,500 points: two of them reach phase 1's cap of 5,000
pytestmark = pytest.mark.skipif(WRK is None, reason="wrk is not installed (apt-get install wrk)")


def requests(world: PointsWorld) -> list[tuple[str, str, str]]:
    """(path, Idempotency-Key or "", JSON body) in the order they are sent: rounds of reservation, application,
    two top-ups, each step ``LAG`` residents behind the one before. In a world with cards each reservation
    carries the resident's card, and the residents whose card was reported lost do not come."""
    local = PointsWorld(world.people, world.seed).ledger(MemoryStore())  # the same MyKey IDs as the server's
    residents = [p for p in range(world.people) if not world.cards or p % LOST_EVERY != LOST_EVERY - 1]
    operators = sorted(OPERATORS)
    operator = {p: operators[p % len(operators)] for p in residents}  # a resident's application and top-ups share it
    out = []
    for k in range(len(residents) + 2 * LAG):
        if k < len(residents):
            p = residents[k]
            card = {"card_serial": world.card_serial(p)} if world.cards else {}
            out.append(("/reservations", "", json.dumps({"person": p, "on": "2020-07-01", **card})))
        if 0 <= k - LAG < len(residents):
            p = residents[k - LAG]
            body = {"mykey": local.reserve(world.person(p)), "phase": "phase1", "operator": operator[p],
                    "service_account": f"acct-{p}", "card_applied_on": "2020-06-01", "on": "2020-07-15"}  # fmt: skip
            out.append(("/applications", f"apply-{p}", json.dumps(body)))
        if 0 <= k - 2 * LAG < len(residents):
            p = residents[k - 2 * LAG]
            for n in (1, 2):
                body = {"operator": operator[p], "operator_txn": f"{p}-{n}", "service_account": f"acct-{p}",
                        "amount_yen": TOP_UP_YEN, "on": "2020-09-15"}  # fmt: skip
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


@pytest.mark.parametrize("cards", [0, CARDS], ids=["no-cards", "cards"])
def test_points_reservations_applications_top_ups_over_http_on_sqlite(benchmark, tmp_path: Path, cards: int) -> None:
    world = PointsWorld(people=cards or PEOPLE, seed=0, cards=cards)
    reqs = requests(world)
    script = lua_script(tmp_path / "points.lua", reqs)
    store = f"sqlite:///{tmp_path / 'points.db'}"
    opts = {"people": str(world.people), "seed": str(world.seed), "cards": str(world.cards)}
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
    with_cards = f"{cards:,} residents with cards" if cards else "no card check"
    record(benchmark, f"points reservations + applications + top-ups over HTTP, SQLite, {WORKERS} worker(s), "
                      f"{with_cards}", figures)  # fmt: skip
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; recorded {reserved:,} reservations, "
          f"{applied:,} applications, {granted:,} points")  # fmt: skip
    # no refusal at all: every card presented is valid, so none is a 403
    assert figures["non_2xx"] == 0 and invariants["ok"], invariants
    sent = figures["rps"] * SECONDS
    assert sent < len(reqs), "the run wrapped round the requests: replays would be measured; write more"
    # every step found the one before it: the reservations wrk sent were recorded, each application found its
    # reservation, and the top-ups their application (up to the requests in flight when wrk stopped)
    assert reserved >= sent / 4 * 0.9
    assert applied >= reserved - LAG - CONNECTIONS
    assert granted >= 2 * 2_500 * (applied - LAG - CONNECTIONS)
