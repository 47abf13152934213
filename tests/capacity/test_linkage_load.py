"""Linkage queries as a load of the capacity model (issue 17 item 5), at both tiers.

The bodies' queries through the information-provision network go to their own pool (the linkage
pool, service time the linkage server's measured CPU per query). Their volume and hours are assumed:
the wiring tests check that the hourly demand carries what the parameters say; the others that the
load reaches the linkage pool, and only it, in the hourly model and request by request.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from twin.models.capacity import report
from twin.models.capacity.aggregate import simulate
from twin.models.capacity.demand import build_demand
from twin.models.capacity.params import LINKAGE_QUERY_SECONDS_HTTP, POOLS, Params
from twin.models.capacity.report_requests import headline, sections
from twin.models.capacity.requests import DayResult, build_day, play
from twin.models.failover.demand import CARD_BUSINESS_DAY
from twin.report import Table

MONDAY = dt.date(2024, 7, 8)  # a week with no holiday; Monday 2024-07-15 is Marine Day
SMALL = {"hospital": 80, "clinic": 900, "dental": 700, "pharmacy": 600}
VOLUME = {"hospital": 12.07e4, "clinic": 86.1e4, "dental": 14.2e4, "pharmacy": 92.6e4}


def test_wiring_linkage_daily_total_and_hours_in_the_hourly_demand() -> None:
    p = Params(demand={"linkage_queries_per_business_day": 2_000_000, "linkage_batch_share": 0.25,
                       "linkage_batch_hours": (19, 23)})
    d = build_demand(p, MONDAY, 8).linkage.reshape(8, 24)
    assert d[:5].sum(axis=1) == pytest.approx([2_000_000] * 5)  # Monday to Friday
    assert d[5:].sum() == 0.0  # Saturday, Sunday and Marine Day: the offices are closed
    assert d[0, 19:23].sum() == pytest.approx(0.25 * 2_000_000 + 0.75 * 2_000_000 * CARD_BUSINESS_DAY[19:23].sum()
                                              / CARD_BUSINESS_DAY.sum())
    assert d[0, 19] == pytest.approx(d[0, 22])  # the batch is spread evenly over its window
    assert d[0, :8].sum() == 0.0 and d[0, 23] == 0.0  # nothing at night outside the batch window
    assert int(np.argmax(d[0])) in (10, 11, 14)  # the office peaks of the town-hall hours


def test_wiring_linkage_service_time_is_the_benchmarks_server_cpu_per_query() -> None:
    p = Params()
    assert p.service_times.linkage_query == LINKAGE_QUERY_SECONDS_HTTP == 0.31e-3
    r = simulate(p, build_demand(p, MONDAY, 1))
    assert r.pools["linkage"].service_seconds[10] == pytest.approx(0.31e-3)
    assert r.pools["linkage"].arrivals.sum() == pytest.approx(p.demand.linkage_queries_per_business_day)


def test_raising_the_linkage_volume_moves_the_linkage_pool_and_no_other() -> None:
    pools = {"eligibility": {"servers": 4}, "ocsp": {"servers": 2}, "portal": {"servers": 2}, "ca": {"servers": 2},
             "linkage": {"servers": 1}}
    low = Params(pools=pools, demand={"linkage_queries_per_business_day": 1_000_000})
    high = Params(pools=pools, demand={"linkage_queries_per_business_day": 20_000_000})
    a = simulate(low, build_demand(low, MONDAY, 2))
    b = simulate(high, build_demand(high, MONDAY, 2))
    la, lb = a.pools["linkage"], b.pools["linkage"]
    assert lb.utilisation.max() == pytest.approx(20 * la.utilisation.max())
    assert lb.quantile(0.99) > la.quantile(0.99)
    assert b.knees["linkage"] == pytest.approx(a.knees["linkage"] / 20, rel=1e-6)
    for pool in POOLS:
        if pool == "linkage":
            continue
        assert np.array_equal(a.pools[pool].arrivals, b.pools[pool].arrivals), pool
        assert np.array_equal(a.pools[pool].utilisation, b.pools[pool].utilisation), pool
        assert a.pools[pool].quantile(0.99) == b.pools[pool].quantile(0.99), pool
        assert a.knees[pool] == b.knees[pool], pool


def test_a_scenario_that_sizes_only_the_older_pools_gets_the_default_linkage_pool() -> None:
    p = Params(pools={"eligibility": {"servers": 1}, "ocsp": {"servers": 1}, "portal": {"servers": 1},
                      "ca": {"servers": 1}})
    assert p.pools["linkage"].servers == 2


def test_a_batch_window_ending_before_it_starts_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="linkage_batch_hours"):
        Params(demand={"linkage_batch_hours": (23, 19)})


def test_the_report_lists_the_linkage_volume_as_assumed_with_its_range_and_the_service_time_as_measured() -> None:
    rows = {a.name: a for a in report.assumptions(Params(), [])}
    vol = rows["demand.linkage_queries_per_business_day"]
    assert vol.source is None and "assumed range 300,000-5,000,000" in vol.value
    assert rows["demand.linkage_batch_share"].source is None
    assert "test_bench_linkage_http" in rows["service_times.linkage_query"].source


def _small(volume: float, servers: int) -> Params:
    return Params(
        facilities={"count": SMALL, "checks_reference_month": VOLUME},
        demand={"portal_logins_per_day": 10_000, "platform_logins_per_link_per_day": 5_000 / 20_000_000,
                "linkage_queries_per_business_day": volume},
        pools={"eligibility": {"servers": 1}, "ocsp": {"servers": 1}, "portal": {"servers": 1}, "ca": {"servers": 1},
               "linkage": {"servers": servers}},
        requests={"enabled": True, "knee": False, "window": ["09:00", "12:00"], "timeout_seconds": 2.0},
    )


def test_linkage_queries_are_requests_at_the_linkage_pool_in_the_request_level_day() -> None:
    p = _small(40_000, 1)
    day = build_day(p, MONDAY, np.random.default_rng(5), agents=False, seed=5)
    expected = build_demand(p, MONDAY, 1).linkage[9:12].sum()
    n = len(day.sends["linkage"])
    assert abs(n - expected) < 5 * np.sqrt(expected)  # Poisson around the hourly model's count
    assert np.all(np.diff(day.sends["linkage"]) >= 0) and day.sends["linkage"].max() < 3 * 3600
    res = play(p, day, np.random.default_rng(6))
    row = res.classes.index("linkage")
    assert res.first[row].sum() == n
    # the linkage pool's workers were busy for about n measured service times, and no other pool served them
    assert res.busy_seconds["linkage"].sum() == pytest.approx(n * LINKAGE_QUERY_SECONDS_HTTP, rel=0.05)


def test_at_request_level_more_linkage_queries_raise_the_linkage_pools_latency() -> None:
    # service time stretched (TLS carries it) so that one worker is loaded at the higher volume
    lat = []
    for volume in (40_000, 400_000):
        p = _small(volume, 1)
        p = p.model_copy(update={"requests": p.requests.model_copy(update={"tls_seconds": 0.06})})
        day = build_day(p, MONDAY, np.random.default_rng(5), agents=False, seed=5)
        res = play(p, day, np.random.default_rng(6))
        h = headline(DayResult(day, res, {}, {}))
        lat.append((h["linkage_p99_seconds"], h["linkage_first_attempts"]))
    (p_low, n_low), (p_high, n_high) = lat
    assert n_high == pytest.approx(10 * n_low, rel=0.05)
    assert p_high > 1.5 * p_low  # M/M/1 p99 at utilisation 0.06 and 0.6: about 2.3 times


def test_the_request_level_report_shows_the_linkage_pool_beside_the_others() -> None:
    p = _small(40_000, 1)
    day = build_day(p, MONDAY, np.random.default_rng(5), agents=False, seed=5)
    res = play(p, day, np.random.default_rng(6))
    (sec,) = sections({"base": DayResult(day, res, {}, {})})
    table = next(b for b in sec.blocks if isinstance(b, Table) and b.title.startswith("Per pool"))
    rows = {r[1]: r for r in table.rows}
    assert set(rows) == {"eligibility", "ocsp", "portal", "linkage"}
    assert rows["linkage"][2] == len(day.sends["linkage"])  # first attempts: every query sent
