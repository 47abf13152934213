"""Japanese public holidays (国民の祝日), the days a town hall counter is shut.

A municipal counter in Japan closes on Saturdays, Sundays and on the public holidays fixed by the
Public Holiday Act (国民の祝日に関する法律). Most holidays are fixed dates; four move to a Monday
(the Happy Monday system, ハッピーマンデー制度); the two equinox days follow the sun and are
computed here with the standard approximation used by the National Astronomical Observatory's
almanac; a holiday on a Sunday gives a substitute holiday (振替休日) on the next day that is not a
holiday; a plain day squeezed between two holidays becomes a citizens' holiday (国民の休日).
2019-2021 bring the special cases of the imperial succession and the Tokyo Olympics.

The rules are those in force since 2007 (substitute holidays after any Sunday holiday, Showa Day),
with Mountain Day from 2016 and the Emperor's Birthday moved from 12-23 (until 2018) to 02-23
(from 2020). :func:`holidays_in_year` answers for 2007-2099; equinox days for years the
observatory has not yet announced are the formula's predictions.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

FIRST_YEAR = 2007
LAST_YEAR = 2099

# The 2019-2021 one-off laws: enthronement days and the Olympic moves.
_SPECIAL_DAYS: dict[int, dict[dt.date, str]] = {
    2019: {
        dt.date(2019, 5, 1): "Enthronement Day",
        dt.date(2019, 10, 22): "Enthronement Ceremony Day",
    },
}
_OLYMPIC_MOVES: dict[int, dict[str, dt.date]] = {
    2020: {
        "Marine Day": dt.date(2020, 7, 23),
        "Sports Day": dt.date(2020, 7, 24),
        "Mountain Day": dt.date(2020, 8, 10),
    },
    2021: {
        "Marine Day": dt.date(2021, 7, 22),
        "Sports Day": dt.date(2021, 7, 23),
        "Mountain Day": dt.date(2021, 8, 8),
    },
}


def vernal_equinox_day(year: int) -> dt.date:
    """春分の日 by the standard formula (valid 1980-2099)."""
    _check_year(year)
    y = year - 1980
    return dt.date(year, 3, int(20.8431 + 0.242194 * y - y // 4))


def autumnal_equinox_day(year: int) -> dt.date:
    """秋分の日 by the standard formula (valid 1980-2099)."""
    _check_year(year)
    y = year - 1980
    return dt.date(year, 9, int(23.2488 + 0.242194 * y - y // 4))


def nth_monday(year: int, month: int, n: int) -> dt.date:
    """The n-th Monday of a month (Happy Monday holidays)."""
    first = dt.date(year, month, 1)
    offset = (0 - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 7 * (n - 1))


def _national_holidays(year: int) -> dict[dt.date, str]:
    """The 祝日 themselves, before citizens' and substitute holidays are added."""
    sports = "Sports Day" if year >= 2020 else "Health and Sports Day"
    days: dict[dt.date, str] = {
        dt.date(year, 1, 1): "New Year's Day",
        nth_monday(year, 1, 2): "Coming of Age Day",
        dt.date(year, 2, 11): "National Foundation Day",
        vernal_equinox_day(year): "Vernal Equinox Day",
        dt.date(year, 4, 29): "Showa Day",
        dt.date(year, 5, 3): "Constitution Memorial Day",
        dt.date(year, 5, 4): "Greenery Day",
        dt.date(year, 5, 5): "Children's Day",
        nth_monday(year, 9, 3): "Respect for the Aged Day",
        autumnal_equinox_day(year): "Autumnal Equinox Day",
        dt.date(year, 11, 3): "Culture Day",
        dt.date(year, 11, 23): "Labour Thanksgiving Day",
    }
    moved = _OLYMPIC_MOVES.get(year, {})
    days[moved.get("Marine Day", nth_monday(year, 7, 3))] = "Marine Day"
    days[moved.get("Sports Day", nth_monday(year, 10, 2))] = sports
    if year >= 2016:
        days[moved.get("Mountain Day", dt.date(year, 8, 11))] = "Mountain Day"
    if year <= 2018:
        days[dt.date(year, 12, 23)] = "Emperor's Birthday"
    elif year >= 2020:
        days[dt.date(year, 2, 23)] = "Emperor's Birthday"
    days.update(_SPECIAL_DAYS.get(year, {}))
    return days


@cache
def _holidays_cached(year: int) -> tuple[tuple[dt.date, str], ...]:
    national = _national_holidays(year)
    days = dict(national)
    # 国民の休日: a day that is not a 祝日 with a 祝日 on both sides (not a Sunday: that is a rest day anyway).
    for d in sorted(national):
        gap = d + dt.timedelta(days=2)
        middle = d + dt.timedelta(days=1)
        if gap in national and middle not in national and middle.weekday() != 6:
            days[middle] = "Citizens' Holiday"
    # 振替休日: a 祝日 on a Sunday moves the rest to the nearest following day that is not a holiday.
    for d in sorted(national):
        if d.weekday() == 6:
            sub = d + dt.timedelta(days=1)
            while sub in days:
                sub += dt.timedelta(days=1)
            days[sub] = "Substitute Holiday"
    return tuple(sorted(days.items()))


def holidays_in_year(year: int) -> dict[dt.date, str]:
    """All public holidays of ``year`` (祝日, 国民の休日 and 振替休日), date -> English name, in date order."""
    _check_year(year)
    return dict(_holidays_cached(year))


def is_holiday(day: dt.date) -> bool:
    """True if ``day`` is a Japanese public holiday."""
    return day in holidays_in_year(day.year)


def _check_year(year: int) -> None:
    if not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(
            f"year {year!r} is outside the holiday rules this module knows: {FIRST_YEAR}-{LAST_YEAR} are allowed"
        )
