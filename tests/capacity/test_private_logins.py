"""Private logins from the platform operators' links (issue 18 item 3), in the capacity model.

The flat "500k checks a day from private verifiers" is gone: the private logins are the operators' live
links x logins per link a day (twin.models.failover.demand.private_logins_per_day, the one rule the
failover model uses too). The defaults, 20,000,000 links x 0.025, give the old 500,000 a day.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from twin import scenario as sc
from twin.models.capacity import report
from twin.models.capacity.aggregate import simulate
from twin.models.capacity.demand import build_demand, platform_status_per_hour
from twin.models.capacity.params import Params
from twin.models.capacity.requests import build_day
from twin.models.failover import demand as fd

MONDAY = dt.date(2024, 7, 8)  # no holiday, outside the e-Tax season
SMALL = {"hospital": 80, "clinic": 900, "dental": 700, "pharmacy": 600}
VOLUME = {"hospital": 12.07e4, "clinic": 86.1e4, "dental": 14.2e4, "pharmacy": 92.6e4}


def _logins(p: Params, start: dt.date = MONDAY, n_days: int = 1) -> np.ndarray:
    """The private logins in the hourly demand: the private verifiers' load without the status checks."""
    days = [start + dt.timedelta(days=i) for i in range(n_days)]
    return build_demand(p, start, n_days).private - platform_status_per_hour(p, days)


def test_wiring_the_defaults_are_20_million_links_at_0_025_logins_each_the_old_500_000_a_day() -> None:
    d = Params().demand
    assert (d.platform_links, d.platform_logins_per_link_per_day) == (20_000_000, 0.025)
    assert (fd.PLATFORM_LINKS, fd.PLATFORM_LOGINS_PER_LINK_PER_DAY) == (20_000_000, 0.025)
    assert fd.private_logins_per_day(d.platform_links, d.platform_logins_per_link_per_day) == 500_000
    logins = _logins(Params())
    assert logins.sum() == pytest.approx(500_000)  # a weekday: the home-hours shape sums to the day's count
    assert int(np.argmax(logins)) in (20, 21)  # the evening at home, not the clinics' morning
    assert "private_verifier_checks_per_day" not in Params.model_fields["demand"].annotation.model_fields


def test_doubling_the_links_doubles_the_private_logins_hour_by_hour() -> None:
    one = Params(demand={"platform_links": 7_000_000, "platform_logins_per_link_per_day": 0.04})
    two = Params(demand={"platform_links": 14_000_000, "platform_logins_per_link_per_day": 0.04})
    a, b = _logins(one, MONDAY, 7), _logins(two, MONDAY, 7)
    assert a.sum() == pytest.approx(7 * 280_000 * (5 + 2 * fd.HOME_WEEKEND) / 7)  # weekends at HOME_WEEKEND
    np.testing.assert_allclose(b, 2 * a, rtol=1e-12)
    # and the logins per link scale them the same way
    np.testing.assert_allclose(_logins(Params(demand={"platform_links": 7_000_000,
                                                      "platform_logins_per_link_per_day": 0.08}), MONDAY, 7),
                               2 * a, rtol=1e-12)  # fmt: skip


def test_the_logins_reach_the_ocsp_pool_in_the_day_and_the_other_pools_not_at_all() -> None:
    pools = {"eligibility": {"servers": 4}, "ocsp": {"servers": 2}, "portal": {"servers": 2}, "ca": {"servers": 2},
             "linkage": {"servers": 2}}
    base = {"platform_status_checks_per_link_per_day": 0}
    one = Params(pools=pools, demand={**base, "platform_links": 10_000_000})
    two = Params(pools=pools, demand={**base, "platform_links": 20_000_000})
    a, b = simulate(one, build_demand(one, MONDAY, 1)), simulate(two, build_demand(two, MONDAY, 1))
    extra = b.pools["ocsp"].arrivals - a.pools["ocsp"].arrivals
    np.testing.assert_allclose(extra, _logins(one), rtol=1e-9, atol=1e-6)
    for pool in ("eligibility", "portal", "linkage", "ca"):
        assert np.array_equal(a.pools[pool].arrivals, b.pools[pool].arrivals), pool


def test_a_scenario_with_no_links_has_no_private_logins_and_no_status_checks() -> None:
    s = sc.loads("name: x\nkind: capacity\ncalendar: {start: 2024-07-08, end: 2024-07-14}\n"
                 "params: {demand: {platform_links: 0}}\n")  # fmt: skip
    p = s.options[0].params
    d = build_demand(p, MONDAY, 7)
    assert not d.private.any()
    np.testing.assert_allclose(d.logins, d.portal)  # the logins by either token are the portal's alone


def test_the_request_level_day_draws_the_private_logins_from_the_links() -> None:
    def params(links: float) -> Params:
        return Params(facilities={"count": SMALL, "checks_reference_month": VOLUME},
                      demand={"portal_logins_per_day": 10_000, "platform_links": links,
                              "platform_logins_per_link_per_day": 0.05, "linkage_queries_per_business_day": 10_000},
                      pools={"eligibility": {"servers": 1}, "ocsp": {"servers": 1}, "portal": {"servers": 1},
                             "ca": {"servers": 1}},
                      requests={"enabled": True, "knee": False, "window": ["19:00", "22:00"]})  # fmt: skip

    none = build_day(params(0), MONDAY, np.random.default_rng(3), agents=False, seed=3)
    assert len(none.sends["ocsp_private"]) == 0
    p = params(400_000)  # 20,000 logins a day; the status checks run at night, outside the window
    day = build_day(p, MONDAY, np.random.default_rng(3), agents=False, seed=3)
    expected = _logins(p)[19:22].sum()
    assert expected == pytest.approx(20_000 * fd.HOME_DAY[19:22].sum() / fd.HOME_DAY.sum())
    assert abs(len(day.sends["ocsp_private"]) - expected) < 5 * np.sqrt(expected)


def test_the_report_states_the_derivation_with_the_runs_numbers() -> None:
    p = Params(demand={"platform_links": 8_000_000, "platform_logins_per_link_per_day": 0.05})
    q = Params(demand={"platform_links": 4_000_000, "platform_logins_per_link_per_day": 0.05})
    results = {"eight": simulate(p, build_demand(p, MONDAY, 1)), "four": simulate(q, build_demand(q, MONDAY, 1))}
    text = report.private_paragraph(results, {"eight": p, "four": q}).text
    assert "8,000,000 live links" in text and "x 0.05 logins per link a day = 400,000 logins a day" in text
    assert "400,000 in the horizon" in text  # a weekday outside the e-Tax season: the day's count
    assert "266,667 status checks (現況確認) a day" in text and "01:00-05:00 JST" in text
    assert "626 in 2024-11" in text and "no count of links or of private JPKI verifications" in text
    assert "four: 4,000,000 x 0.05 = 200,000 a day, 200,000 in the horizon" in text


def test_the_report_lists_the_links_and_logins_per_link_as_assumed_with_ranges() -> None:
    rows = {a.name: a for a in report.assumptions(Params(), [])}
    assert "0.005-0.1" in rows["demand.platform_logins_per_link_per_day"].value
    assert "5,000,000-60,000,000" in rows["demand.platform_links"].value
    for name in ("demand.platform_links", "demand.platform_logins_per_link_per_day"):
        assert rows[name].source is None, name
