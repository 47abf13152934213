"""Hourly demand: the published monthly total, Monday-morning peaks, counter hours, surges."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from twin.models.failover.demand import hourly_demand
from twin.models.failover.params import Demand, Surge


def test_july_2024_eligibility_checks_add_up_to_the_published_total() -> None:
    d = hourly_demand(Demand(), dt.date(2024, 7, 1), 31)
    assert d["eligibility"].sum() == pytest.approx(204_975_295)


def test_monday_morning_is_the_eligibility_peak_and_sundays_are_quiet() -> None:
    d = hourly_demand(Demand(), dt.date(2024, 7, 1), 14)["eligibility"].reshape(14, 24)  # 07-01 is a Monday
    assert d.max() == d[0].max() == d[7].max()
    assert d[0, 9:12].sum() > 1.2 * d[1, 9:12].sum()
    assert d[6].sum() < 0.1 * d[1].sum()  # Sunday


def test_town_hall_counters_open_on_business_days_with_peaks_at_ten_eleven_and_two() -> None:
    d = hourly_demand(Demand(), dt.date(2024, 7, 15), 7)["card"].reshape(7, 24)  # 07-15 is Marine Day
    assert d[0].sum() == 0 and d[5].sum() == 0 and d[6].sum() == 0
    day = d[1]
    assert day[:8].sum() == 0 and day[18:].sum() == 0
    assert set(np.argsort(day)[-3:]) == {10, 11, 14}
    assert day.sum() == pytest.approx(Demand().card_transactions_per_business_day)


def test_surge_multiplies_exactly_its_window_and_feeds_ocsp() -> None:
    base = hourly_demand(Demand(), dt.date(2024, 10, 1), 2)
    surge = Surge(profile="portal", start=dt.datetime(2024, 10, 1, 8, 30), end=dt.datetime(2024, 10, 1, 10), factor=3)
    d = hourly_demand(Demand(surges=[surge]), dt.date(2024, 10, 1), 2)
    ratio = d["portal"] / base["portal"]
    np.testing.assert_allclose(ratio[[7, 10, 30]], 1.0)
    assert ratio[8] == pytest.approx(2.0) and ratio[9] == pytest.approx(3.0)  # half an hour, then a full one
    np.testing.assert_allclose(d["ocsp"] - base["ocsp"], d["portal"] - base["portal"])


def test_horizon_must_be_a_day_at_least() -> None:
    with pytest.raises(ValueError, match="n_days = 0: the demand horizon must be at least one day"):
        hourly_demand(Demand(), dt.date(2024, 10, 1), 0)
