"""Private logins from the platform operators' links (issue 18 item 3), in the failover model.

The 'ocsp' profile carries the private logins as the operators' links x logins per link a day, by the
capacity model's rule (twin.models.failover.demand.private_logins_per_day) and with its defaults.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from twin import scenario as sc
from twin.models.capacity.params import Params as CapacityParams
from twin.models.failover import demand as fd
from twin.models.failover import report
from twin.models.failover.demand import hourly_demand
from twin.models.failover.params import Demand, Params

MONDAY = dt.date(2024, 7, 8)


def _private(d: Demand, start: dt.date = MONDAY, n_days: int = 7) -> np.ndarray:
    """The private logins on the 'ocsp' profile: what is left after the portal and the card checks."""
    h = hourly_demand(d, start, n_days)
    return h["ocsp"] - h["portal"] - d.card_share_of_eligibility * h["eligibility"]


def test_wiring_the_defaults_are_the_capacity_models_500_000_a_day() -> None:
    d, c = Demand(), CapacityParams().demand
    assert (d.platform_links, d.platform_logins_per_link_per_day) == (c.platform_links,
                                                                       c.platform_logins_per_link_per_day)
    assert _private(d, MONDAY, 1).sum() == pytest.approx(500_000)
    assert "private_verifier_checks_per_day" not in Demand.model_fields


def test_doubling_the_links_doubles_the_private_logins_on_the_ocsp_and_phone_profiles() -> None:
    one = Demand(platform_links=9_000_000, platform_logins_per_link_per_day=0.03, phone_share_of_logins=0.2)
    two = Demand(platform_links=18_000_000, platform_logins_per_link_per_day=0.03, phone_share_of_logins=0.2)
    a, b = _private(one), _private(two)
    assert a.sum() == pytest.approx(270_000 * (5 + 2 * fd.HOME_WEEKEND))
    np.testing.assert_allclose(b, 2 * a, rtol=1e-9)
    ha, hb = hourly_demand(one, MONDAY, 7), hourly_demand(two, MONDAY, 7)
    np.testing.assert_allclose(hb["ocsp"] - ha["ocsp"], a, rtol=1e-9)
    # the phone profile is a share of the portal and private logins (Android served since 2023-05-11)
    np.testing.assert_allclose(hb["phone"] - ha["phone"], a * 0.2 * one.phone_android_share, rtol=1e-9)
    for profile in ("eligibility", "portal", "card", "payout", "linkage"):
        assert np.array_equal(ha[profile], hb[profile]), profile


def test_the_same_links_give_the_same_private_logins_in_both_models() -> None:
    from twin.models.capacity.demand import build_demand, platform_status_per_hour

    links = {"platform_links": 3_000_000, "platform_logins_per_link_per_day": 0.1}
    cap = CapacityParams(demand=links)
    days = [MONDAY + dt.timedelta(days=i) for i in range(7)]
    capacity = build_demand(cap, MONDAY, 7).private - platform_status_per_hour(cap, days)
    np.testing.assert_allclose(capacity, _private(Demand(**links)), rtol=1e-9, atol=1e-6)


def test_a_scenario_with_no_links_has_no_private_logins() -> None:
    s = sc.loads("name: x\nkind: failover\nparams: {demand: {platform_links: 0}}\n")
    d = s.options[0].params.demand
    h = hourly_demand(d, MONDAY, 7)
    np.testing.assert_array_equal(h["ocsp"], h["portal"] + d.card_share_of_eligibility * h["eligibility"])


def test_the_report_states_the_derivation_with_the_runs_numbers() -> None:
    base = Params(demand={"platform_links": 6_000_000, "platform_logins_per_link_per_day": 0.05})
    more = Params(demand={"platform_links": 12_000_000, "platform_logins_per_link_per_day": 0.05})
    text = report.private_paragraph({"base": base, "more": more, "same": base}, MONDAY, 1).text
    assert "(base): 6,000,000 live links" in text and "x 0.05 logins per link a day = 300,000 logins a day" in text
    assert "300,000 in the 1 day before surges" in text and "626 in 2024-11" in text
    assert "Platform status checks" in text
    assert "more: 12,000,000 x 0.05 = 600,000 a day, 600,000 in the period" in text and "same:" not in text


def test_the_report_lists_the_links_and_logins_per_link_as_assumed_with_ranges() -> None:
    rows = {a.name: a for a in report.assumptions(Params(), [])}
    for name, rng in (("demand.platform_links", "5,000,000-60,000,000"),
                      ("demand.platform_logins_per_link_per_day", "0.005-0.1")):
        assert rows[name].source is None and f"assumed range {rng}" in rows[name].value, rows[name]
