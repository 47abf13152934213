"""A town hall's working calendar: business days, opening hours and the hours-since-start clock."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin.sim.calendar import Calendar, OpeningHours

D = dt.date


@pytest.fixture(scope="module")
def fy2020() -> Calendar:
    return Calendar(D(2020, 4, 1), D(2021, 3, 31))


def test_golden_week_2020_moves_the_next_business_day_to_may_7(fy2020: Calendar) -> None:
    assert fy2020.next_business_day(D(2020, 5, 1)) == D(2020, 5, 7)
    assert not fy2020.is_business_day(D(2020, 5, 6))  # substitute holiday for Constitution Day on Sunday


def test_year_end_closure_runs_from_dec_29_to_jan_3(fy2020: Calendar) -> None:
    assert fy2020.is_business_day(D(2020, 12, 28))
    assert fy2020.next_business_day(D(2020, 12, 28)) == D(2021, 1, 4)
    open_all_year = Calendar(D(2020, 12, 1), D(2021, 1, 31), year_end_closure=False)
    assert open_all_year.is_business_day(D(2020, 12, 29))
    assert not open_all_year.is_business_day(D(2021, 1, 1))  # New Year's Day is still a holiday


def test_business_day_arithmetic(fy2020: Calendar) -> None:
    # April 2020: 22 weekdays, 0 holidays on weekdays except Showa Day (Wed 04-29) -> 21
    assert fy2020.business_days_between(D(2020, 4, 1), D(2020, 5, 1)) == 21
    assert fy2020.business_days_between(D(2020, 5, 1), D(2020, 4, 1)) == 0
    assert fy2020.add_business_days(D(2020, 4, 28), 1) == D(2020, 4, 30)
    assert fy2020.add_business_days(D(2020, 5, 2), 0) == D(2020, 5, 7)  # a Saturday rolls forward
    days = fy2020.business_days()
    assert len(days) == fy2020.business_days_between(fy2020.start, fy2020.end + dt.timedelta(days=1))
    assert all(d.weekday() < 5 and not fy2020.is_holiday(d) for d in days)
    mask = fy2020.business_day_mask()
    assert len(mask) == fy2020.n_days == 365 and mask.sum() == len(days)


@given(st.dates(D(2020, 4, 1), D(2020, 12, 31)), st.integers(0, 30))
def test_adding_n_business_days_spans_exactly_n_business_days(day: dt.date, n: int) -> None:
    cal = Calendar(D(2020, 4, 1), D(2021, 3, 31))
    first = cal.add_business_days(day, 0)
    later = cal.add_business_days(day, n)
    assert cal.business_days_between(first, later) == n


def test_opening_hours_on_a_business_day_a_weekend_and_a_holiday(fy2020: Calendar) -> None:
    wed = fy2020.to_hours(dt.datetime(2020, 4, 1, 8, 30))
    assert wed == 8.5
    assert fy2020.is_open(wed) and fy2020.is_open(wed + 8.74)
    assert not fy2020.is_open(wed + 8.75)  # 17:15 is closed
    assert fy2020.next_open(wed - 1) == wed
    # Friday 17:30 -> Monday 08:30
    fri = fy2020.to_hours(dt.datetime(2020, 4, 3, 17, 30))
    assert fy2020.to_datetime(fy2020.next_open(fri)) == dt.datetime(2020, 4, 6, 8, 30)
    assert fy2020.slots_on(D(2020, 4, 29)) == ()


def test_evening_and_saturday_slots() -> None:
    hours = OpeningHours(weekday_slots={3: [("08:30", "19:00")]}, saturday=[("09:00", "12:00")])
    cal = Calendar(D(2020, 4, 1), D(2020, 4, 30), hours=hours)
    assert cal.is_open(cal.to_hours(dt.datetime(2020, 4, 2, 18, 0)))  # Thursday evening
    assert not cal.is_open(cal.to_hours(dt.datetime(2020, 4, 1, 18, 0)))  # Wednesday evening
    assert cal.is_open(cal.to_hours(dt.datetime(2020, 4, 4, 10, 0)))  # Saturday morning
    assert not cal.is_open(cal.to_hours(dt.datetime(2020, 4, 5, 10, 0)))  # Sunday
    opens, closes = cal.open_intervals()
    assert np.all(closes > opens) and np.all(opens[1:] >= closes[:-1])
    assert cal.open_hours_between(0, cal.horizon) == pytest.approx(float((closes - opens).sum()))


def test_always_open_joins_days_into_one_interval() -> None:
    cal = Calendar(D(2020, 12, 1), D(2020, 12, 10), hours=OpeningHours.always(), year_end_closure=False)
    opens, closes = cal.open_intervals()
    assert opens.tolist() == [0.0] and closes.tolist() == [240.0]


@given(st.floats(0, 24 * 365, allow_nan=False))
def test_hours_and_datetimes_convert_both_ways(hours: float) -> None:
    cal = Calendar(D(2020, 4, 1), D(2021, 3, 31))
    assert cal.to_hours(cal.to_datetime(hours)) == pytest.approx(hours, abs=1e-6)
    gap = cal.to_datetime64(np.array([hours]))[0] - np.datetime64(cal.to_datetime(hours), "us")
    assert abs(gap) <= np.timedelta64(1, "us")


@given(st.lists(st.floats(0, 24 * 60, allow_nan=False), min_size=1, max_size=50))
def test_next_open_is_the_first_open_instant_at_or_after(times: list[float]) -> None:
    cal = Calendar(D(2020, 4, 1), D(2020, 6, 30))
    t = np.array(times)
    nxt = cal.next_open(t)
    assert np.all(nxt >= t)
    assert np.all(cal.is_open(nxt))
    # nothing open in between: the open time before nxt is not after t
    opens, _ = cal.open_intervals()
    moved = nxt > t
    assert np.all(np.isin(nxt[moved], opens))


def test_bad_calendar_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="end 2020-04-01 is before start 2020-05-01"):
        Calendar(D(2020, 5, 1), D(2020, 4, 1))
    with pytest.raises(ValueError, match="without a time of day"):
        Calendar(dt.datetime(2020, 4, 1, 9), D(2020, 5, 1))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        (dict(business=[("8:3x", "17:15")]), r"business\[0\] open: '8:3x' is not a time of day"),
        (dict(business=[("17:15", "08:30")]), r"business\[0\]: opens at 17:15 but closes at 08:30"),
        (dict(saturday=[("09:00", "12:00"), ("11:00", "13:00")]), "saturday: slots .* overlap"),
        (dict(weekday_slots={6: [("09:00", "12:00")]}), "weekday 6 is not a business weekday"),
    ],
)
def test_bad_opening_hours_are_named(hours: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OpeningHours(**hours)


def test_dates_outside_the_calendar_are_refused(fy2020: Calendar) -> None:
    with pytest.raises(ValueError, match="date 2019-12-31 is outside the calendar 2020-04-01..2021-03-31"):
        fy2020.is_business_day(D(2019, 12, 31))
    with pytest.raises(ValueError, match="only forward"):
        fy2020.add_business_days(D(2020, 5, 1), -1)
