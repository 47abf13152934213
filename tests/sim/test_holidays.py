"""Japanese public holidays: the published lists for 2019-2021 and the rules behind every year."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin.sim.holidays import (
    autumnal_equinox_day,
    holidays_in_year,
    is_holiday,
    vernal_equinox_day,
)


def days(year: int, *month_days: tuple[int, int]) -> list[dt.date]:
    return [dt.date(year, m, d) for m, d in month_days]


# The Cabinet Office lists (内閣府「国民の祝日」について), substitute and citizens' holidays included.
CABINET_OFFICE = {
    2019: days(
        2019,
        (1, 1), (1, 14), (2, 11), (3, 21), (4, 29), (4, 30), (5, 1), (5, 2), (5, 3), (5, 4), (5, 5), (5, 6),
        (7, 15), (8, 11), (8, 12), (9, 16), (9, 23), (10, 14), (10, 22), (11, 3), (11, 4), (11, 23),
    ),
    2020: days(
        2020,
        (1, 1), (1, 13), (2, 11), (2, 23), (2, 24), (3, 20), (4, 29), (5, 3), (5, 4), (5, 5), (5, 6),
        (7, 23), (7, 24), (8, 10), (9, 21), (9, 22), (11, 3), (11, 23),
    ),
    2021: days(
        2021,
        (1, 1), (1, 11), (2, 11), (2, 23), (3, 20), (4, 29), (5, 3), (5, 4), (5, 5),
        (7, 22), (7, 23), (8, 8), (8, 9), (9, 20), (9, 23), (11, 3), (11, 23),
    ),
}  # fmt: skip


@pytest.mark.parametrize("year", sorted(CABINET_OFFICE))
def test_holiday_lists_match_the_cabinet_office_for_2019_to_2021(year: int) -> None:
    assert list(holidays_in_year(year)) == CABINET_OFFICE[year]


def test_the_2019_succession_days_are_holidays() -> None:
    h = holidays_in_year(2019)
    assert h[dt.date(2019, 5, 1)] == "Enthronement Day"
    assert h[dt.date(2019, 10, 22)] == "Enthronement Ceremony Day"
    # the days between Showa Day, the enthronement and Constitution Day become citizens' holidays
    assert h[dt.date(2019, 4, 30)] == h[dt.date(2019, 5, 2)] == "Citizens' Holiday"


def test_the_emperors_birthday_moves_from_december_to_february_with_no_birthday_in_2019() -> None:
    assert is_holiday(dt.date(2018, 12, 23)) and not is_holiday(dt.date(2019, 12, 23))
    assert not is_holiday(dt.date(2019, 2, 23))
    assert "Emperor's Birthday" not in holidays_in_year(2019).values()
    assert holidays_in_year(2020)[dt.date(2020, 2, 23)] == "Emperor's Birthday"
    assert holidays_in_year(2018)[dt.date(2018, 12, 24)] == "Substitute Holiday"  # 12-23 was a Sunday


def test_olympic_years_move_marine_sports_and_mountain_day() -> None:
    assert not is_holiday(dt.date(2020, 10, 12)) and not is_holiday(dt.date(2021, 10, 11))
    assert not is_holiday(dt.date(2020, 8, 11)) and not is_holiday(dt.date(2021, 8, 11))
    assert holidays_in_year(2022)[dt.date(2022, 7, 18)] == "Marine Day"  # back to the third Monday


def test_mountain_day_starts_in_2016_and_september_can_make_a_citizens_holiday() -> None:
    assert "Mountain Day" not in holidays_in_year(2015).values()
    assert holidays_in_year(2016)[dt.date(2016, 8, 11)] == "Mountain Day"
    assert holidays_in_year(2015)[dt.date(2015, 9, 22)] == "Citizens' Holiday"
    assert holidays_in_year(2026)[dt.date(2026, 9, 22)] == "Citizens' Holiday"


@pytest.mark.parametrize(
    ("year", "vernal", "autumnal"),
    [(2015, 21, 23), (2016, 20, 22), (2019, 21, 23), (2020, 20, 22), (2023, 21, 23), (2024, 20, 22), (2025, 20, 23)],
)
def test_equinox_days_match_the_published_dates(year: int, vernal: int, autumnal: int) -> None:
    assert vernal_equinox_day(year) == dt.date(year, 3, vernal)
    assert autumnal_equinox_day(year) == dt.date(year, 9, autumnal)


@given(st.integers(2015, 2035))
def test_every_year_follows_the_substitute_and_citizens_rules(year: int) -> None:
    h = holidays_in_year(year)
    national = {d for d, name in h.items() if name not in ("Substitute Holiday", "Citizens' Holiday")}
    for d, name in h.items():
        if name == "Substitute Holiday":
            # it follows a run of holidays that started with a national holiday on a Sunday
            run_start = d - dt.timedelta(days=1)
            while run_start - dt.timedelta(days=1) in h and run_start.weekday() != 6:
                run_start -= dt.timedelta(days=1)
            assert run_start.weekday() == 6 and run_start in national
            assert d.weekday() != 6
        if name == "Citizens' Holiday":
            assert d - dt.timedelta(days=1) in national and d + dt.timedelta(days=1) in national
    for d in national:
        if d.weekday() == 6:  # a Sunday holiday always gives a substitute within the same run of holidays
            nxt = d + dt.timedelta(days=1)
            while h.get(nxt) not in (None, "Substitute Holiday"):
                nxt += dt.timedelta(days=1)
            assert h.get(nxt) == "Substitute Holiday"
    happy_mondays = ("Coming of Age Day", "Respect for the Aged Day")
    assert all(d.weekday() == 0 for d, n in h.items() if n in happy_mondays)
    # 14 every year, plus Mountain Day (2016-), the Emperor's Birthday (not 2019), the two 2019 succession days
    expected = 14 + (year >= 2016) + (year != 2019) + 2 * (year == 2019)
    assert len(national) == expected


@pytest.mark.parametrize("year", [2006, 2100, 2020.0])
def test_years_outside_the_known_rules_are_refused_by_name(year: object) -> None:
    with pytest.raises(ValueError, match="2007-2099 are allowed"):
        holidays_in_year(year)  # type: ignore[arg-type]
