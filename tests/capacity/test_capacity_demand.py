"""National demand: calibrated to July 2024, shaped by hour, weekday, type and season, run forward."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from pydantic import ValidationError

from twin.models.capacity.demand import build_demand, cards_held_history, interpolate, renewals_per_day
from twin.models.capacity.params import FACILITY_TYPES, Params

JULY = dt.date(2024, 7, 1)
PUBLISHED = {"hospital": 12.07e6, "clinic": 86.1e6, "dental": 14.2e6, "pharmacy": 92.6e6}


@pytest.fixture(scope="module")
def july():
    return build_demand(Params(), JULY, 31)


def test_july_2024_totals_match_the_published_figures(july):
    assert july.checks.sum() == pytest.approx(204_975_295, rel=2e-3)
    for i, t in enumerate(FACILITY_TYPES):
        assert july.by_type[i].sum() == pytest.approx(PUBLISHED[t], rel=2e-3), t
    assert july.card_checks.sum() == pytest.approx(22_807_316, rel=0.03)  # 11.13 %


def test_monday_morning_is_the_national_peak_and_sunday_is_quiet(july):
    per_hour = july.checks.reshape(31, 24)
    day, hour = np.unravel_index(np.argmax(per_hour), per_hour.shape)
    assert (JULY + dt.timedelta(days=int(day))).weekday() == 0 and 9 <= hour <= 11
    sunday = JULY + dt.timedelta(days=6)
    assert per_hour[6].sum() < 0.1 * per_hour[0].sum() and sunday.weekday() == 6


def test_pharmacies_come_an_hour_after_the_clinics(july):
    clinic, pharmacy = july.by_type[1, :24], july.by_type[3, :24]
    assert np.argmax(pharmacy) == np.argmax(clinic) + 1


def test_the_card_share_runs_forward_to_october_2025():
    p = Params()
    oct25 = build_demand(p, dt.date(2025, 10, 15), 1)
    assert oct25.card_share[0] == pytest.approx(0.3714)
    apr23 = build_demand(p, dt.date(2023, 4, 15), 1)
    assert apr23.card_share[0] == pytest.approx(0.063)
    # fewer readers operating in 2023 than in 2024: fewer online checks on a like weekday
    monday23, monday24 = dt.date(2023, 4, 17), dt.date(2024, 7, 8)
    assert build_demand(p, monday23, 1).checks.sum() < build_demand(p, monday24, 1).checks.sum() * 0.75


def test_the_etax_season_and_a_campaign_raise_the_portal_load():
    p = Params(demand={"campaigns": [(dt.date(2024, 9, 2), dt.date(2024, 9, 2), 3.0)]})
    feb = build_demand(p, dt.date(2024, 2, 19), 1).portal.sum()  # Monday in the filing season
    jan = build_demand(p, dt.date(2024, 1, 22), 1).portal.sum()
    assert feb == pytest.approx(2.5 * jan)
    sep = build_demand(p, dt.date(2024, 9, 2), 2).portal.reshape(2, 24).sum(axis=1)
    assert sep[0] == pytest.approx(3.0 * sep[1])


def test_renewals_follow_the_issuance_cohorts_five_years_on():
    hist = cards_held_history()
    assert hist[0] == (dt.date(2016, 1, 1), 0)
    assert all(b[1] >= a[1] * 0.99 for a, b in zip(hist, hist[1:], strict=False))  # cards held only grow
    days = [dt.date(2019, 11, 11), dt.date(2025, 6, 1)]
    early, later = renewals_per_day(days, 90)
    assert 0 < early < later  # the 2020-21 points-campaign cohort renews in 2025-26


def test_interpolation_is_flat_outside_and_linear_inside():
    pts = [(dt.date(2024, 1, 1), 0.0), (dt.date(2024, 1, 11), 1.0)]
    assert interpolate(pts, dt.date(2023, 1, 1)) == 0.0
    assert interpolate(pts, dt.date(2024, 1, 6)) == pytest.approx(0.5)
    assert interpolate(pts, dt.date(2030, 1, 1)) == 1.0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pools": {"ocsp": {"servers": 2}}}, "pools: missing eligibility"),
        ({"sweep": [2, 1]}, "sweep"),
        ({"revocation": {"mode": "carrier pigeon"}}, "mode"),
        ({"reception": {"match_rate": 1.5}}, "match_rate"),
        ({"pools": {p: {"servers": 0} for p in ("eligibility", "ocsp", "portal", "ca")}}, "servers"),
    ],
)
def test_bad_parameters_are_refused_by_name(params, message):
    with pytest.raises(ValidationError, match=message):
        Params(**params)


def test_a_zero_day_horizon_is_refused():
    with pytest.raises(ValueError, match="n_days = 0"):
        build_demand(Params(), JULY, 0)
