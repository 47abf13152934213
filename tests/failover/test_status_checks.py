"""The platform operators' status checks (現況確認, issue 18 item 3) in the failover world: a nightly batch of its
own on the JPKI responder, by the capacity model's rule, delayed (not lost) by the responder's outages."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from failover_helpers import START, params, quiet_service, year

from twin.models.capacity.demand import platform_status_per_hour
from twin.models.capacity.params import Params as CapacityParams
from twin.models.failover import report
from twin.models.failover.demand import hourly_demand
from twin.models.failover.intervals import Intervals
from twin.models.failover.params import Demand, Params
from twin.models.failover.status_checks import batch_delays

LINKS = {"platform_links": 2_400_000, "platform_status_checks_per_link_per_day": 0.1,
         "platform_status_check_hours": (1, 5)}  # 240,000 checks a night, 60,000 an hour 01:00-05:00


def responder(**over) -> Params:  # noqa: ANN001
    return params({"jpki_ocsp": quiet_service(carries=["ocsp", "status"], capacity_per_site_rps=50_000)},
                  random_faults=False, demand=LINKS, **over)  # fmt: skip


def test_wiring_the_status_profile_is_the_capacity_models_rule_and_defaults() -> None:
    d, c = Demand(), CapacityParams().demand
    assert (d.platform_status_checks_per_link_per_day, d.platform_status_check_hours) == (
        c.platform_status_checks_per_link_per_day, c.platform_status_check_hours)
    days = [START + dt.timedelta(days=i) for i in range(7)]
    cap = CapacityParams(demand=LINKS)
    status = hourly_demand(Demand(**LINKS), START, 7)["status"]
    np.testing.assert_array_equal(status, platform_status_per_hour(cap, days))
    assert "status" in Params().services["jpki_ocsp"].carries


def test_with_no_outage_no_check_is_delayed_and_the_people_are_counted_apart() -> None:
    y = year(responder(), n_days=7)["jpki_ocsp"]
    assert y.status.scheduled == pytest.approx(7 * 240_000)
    assert (y.status.delayed, y.status.carried, y.status.pending, y.status.max_delay_hours) == (0, 0, 0, 0)
    h = hourly_demand(responder().demand, START, 7)
    assert y.requests == pytest.approx(h["ocsp"].sum())  # the checks are not in the people's requests


def test_an_ocsp_outage_over_the_window_delays_exactly_the_checks_in_it() -> None:
    # down 02:00-03:30 on the second night: the checks due then (1.5 h x 60,000) wait until 03:30
    outage = [{"target": "jpki_ocsp", "start": dt.datetime(2025, 1, 7, 2), "hours": 1.5}]
    st = year(responder(injected=outage), n_days=3)["jpki_ocsp"].status
    assert st.delayed == pytest.approx(90_000)
    assert st.carried == 0 and st.pending == 0 and st.late_nights == 1
    assert st.max_delay_hours == pytest.approx(1.5)
    assert st.mean_delay_hours == pytest.approx(0.75)  # evenly spread: half the outage on average
    assert st.on_time + st.delayed == pytest.approx(st.scheduled)  # conservation


def test_an_outage_past_the_window_carries_its_checks_to_the_next_night() -> None:
    # down 04:00-09:00: the checks of 04:00-05:00 wait for the next night's window at 01:00 (20-21 h)
    outage = [{"target": "jpki_ocsp", "start": dt.datetime(2025, 1, 7, 4), "hours": 5.0}]
    st = year(responder(injected=outage), n_days=3)["jpki_ocsp"].status
    assert st.delayed == pytest.approx(60_000) and st.carried == pytest.approx(60_000) and st.pending == 0
    assert st.max_delay_hours == pytest.approx(21.0)
    assert st.mean_delay_hours == pytest.approx(20.5)
    # on the last night of the horizon nothing comes after: the carried checks stay pending
    late = [{"target": "jpki_ocsp", "start": dt.datetime(2025, 1, 8, 4), "hours": 5.0}]
    st = year(responder(injected=late), n_days=3)["jpki_ocsp"].status
    assert st.pending == pytest.approx(60_000) and st.delay_hours == 0


def test_an_outage_outside_the_window_or_at_the_ca_delays_none() -> None:
    day = [{"target": "jpki_ocsp", "start": dt.datetime(2025, 1, 7, 10), "hours": 4.0}]
    st = year(responder(injected=day), n_days=3)["jpki_ocsp"]
    assert st.status.delayed == 0 and st.failed > 0  # people's logins failed; the nightly batch did not notice
    ca = params({"jpki_ocsp": quiet_service(carries=["ocsp", "status"], capacity_per_site_rps=50_000),
                 "jpki_ca": quiet_service(depends_on=[])}, random_faults=False, demand=LINKS,
                injected=[{"target": "jpki_ca", "start": dt.datetime(2025, 1, 7, 1), "hours": 4.0}])  # fmt: skip
    assert year(ca, n_days=3)["jpki_ocsp"].status.delayed == 0


def test_the_batch_is_conserved_for_any_outages() -> None:
    rng = np.random.default_rng(5)
    rate = np.tile(np.r_[np.zeros(1), np.full(4, 10.0), np.zeros(19)], 10)
    for _ in range(50):
        s = np.sort(rng.uniform(0, 240, 6))
        down = Intervals.of(s, s + rng.exponential(6, 6))
        st = batch_delays(rate, (1, 5), down, 10)
        assert st.scheduled == pytest.approx(400)
        assert 0 <= st.pending <= st.carried <= st.delayed <= st.scheduled
        # each delayed check waits at least until its outage ends and is answered inside a window
        assert st.delay_hours >= 0 and st.max_delay_hours <= 240


def test_the_report_counts_the_delayed_checks_and_the_revoked_links_noticed_late() -> None:
    outage = [{"target": "jpki_ocsp", "start": dt.datetime(2025, 1, 7, 2), "hours": 1.5}]
    p = responder(injected=outage)
    h = report.status_headline([year(p, n_days=3)], p)
    assert h["delayed"] == pytest.approx(90_000)
    # a check every 10 days, 0.08 revocations a link a year: 0.08 / 365 x 10 of the links revoked since their last
    assert h["revoked_links_noticed_late"] == pytest.approx(90_000 * 0.08 / 365 * 10)
    text = report.status_section({"drill": h, "calm": report.status_headline([year(responder(), 3)], responder())})
    para = text.blocks[0].text
    assert "drill: 90,000 of 720,000 checks met the responder down" in para
    assert "at most 1.5" in para and "calm: the responder was never down in the window" in para


def test_the_report_lists_the_status_check_parameters_as_assumed_with_ranges() -> None:
    rows = {a.name: a for a in report.assumptions(Params(), [])}
    for name, rng in (("demand.platform_status_checks_per_link_per_day", "1/30-1"),
                      ("demand.platform_status_check_hours", "night windows"),
                      ("demand.platform_revocations_per_link_per_year", "0.03-0.15")):
        assert rows[name].source is None and f"assumed range {rng}" in rows[name].value, rows[name]


def test_a_status_window_ending_before_it_starts_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="platform_status_check_hours"):
        Params(demand={"platform_status_check_hours": (5, 1)})
