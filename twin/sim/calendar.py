"""The working calendar of a counter: business days (営業日), opening hours and the simulation clock.

A town hall's resident counter (住民窓口) opens 08:30-17:15 on business days: weekdays that are not
public holidays and, usually, not in the year-end closure (年末年始休業, 12-29 to 01-03). Some
halls add an evening slot on one weekday or open a Saturday morning. A :class:`Calendar` holds
one such regime over a date range and answers the questions a model asks: is this a business
day, what is the next one, how many lie between two dates, and when is the counter open.

Time convention: simulation time is a float number of **hours** since 00:00 local time (JST, no
daylight saving) on the calendar's first day. :meth:`Calendar.to_hours` and
:meth:`Calendar.to_datetime` convert; :meth:`Calendar.open_intervals` gives the opening hours as
two sorted arrays of hours, which the stations use to decide when service may start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from twin.sim.holidays import holidays_in_year

Slot = tuple[dt.time, dt.time]
_DAY = dt.timedelta(days=1)


def _parse_time(value: dt.time | str, what: str) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str):
        if value == "24:00":
            return dt.time(23, 59, 59, 999999)
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{what}: {value!r} is not a time of day; use 'HH:MM' (00:00-24:00)")


def _hour(t: dt.time) -> float:
    if t == dt.time(23, 59, 59, 999999):
        return 24.0
    return t.hour + t.minute / 60 + t.second / 3600 + t.microsecond / 3.6e9


def _slots(raw: Iterable[Sequence[dt.time | str]], what: str) -> tuple[tuple[float, float], ...]:
    out: list[tuple[float, float]] = []
    for i, slot in enumerate(raw):
        if len(slot) != 2:
            raise ValueError(f"{what}[{i}]: {slot!r} is not an (open, close) pair")
        a = _hour(_parse_time(slot[0], f"{what}[{i}] open"))
        b = _hour(_parse_time(slot[1], f"{what}[{i}] close"))
        if not a < b:
            raise ValueError(f"{what}[{i}]: opens at {slot[0]} but closes at {slot[1]}; close must be after open")
        out.append((a, b))
    out.sort()
    for (_, b), (a2, _) in zip(out, out[1:], strict=False):
        if a2 < b:
            raise ValueError(f"{what}: slots {out} overlap")
    return tuple(out)


@dataclass(frozen=True)
class OpeningHours:
    """When the counter is open, by kind of day; times as 'HH:MM' strings or ``datetime.time``.

    ``business`` applies to business days unless ``weekday_slots`` replaces it for a weekday
    (0 = Monday, e.g. ``{3: [("08:30", "19:00")]}`` for a Thursday evening). ``saturday`` and
    ``sunday`` apply to weekend days that are not holidays; ``holiday`` to public holidays; nothing
    opens during the year-end closure when the calendar has one.
    """

    business: tuple = (("08:30", "17:15"),)
    weekday_slots: Mapping[int, Sequence] = field(default_factory=dict)
    saturday: tuple = ()
    sunday: tuple = ()
    holiday: tuple = ()

    def __post_init__(self) -> None:
        for wd in self.weekday_slots:
            if wd not in range(5):
                raise ValueError(f"weekday_slots: weekday {wd!r} is not a business weekday; allowed 0 (Mon) to 4 (Fri)")
        # validate eagerly so a bad time is reported where it was written
        self.parsed()

    def parsed(self) -> dict[str, tuple[tuple[float, float], ...]]:
        out = {
            "business": _slots(self.business, "business"),
            "saturday": _slots(self.saturday, "saturday"),
            "sunday": _slots(self.sunday, "sunday"),
            "holiday": _slots(self.holiday, "holiday"),
        }
        for wd, slots in self.weekday_slots.items():
            out[f"weekday{wd}"] = _slots(slots, f"weekday_slots[{wd}]")
        return out

    @classmethod
    def always(cls) -> OpeningHours:
        """Open around the clock every day (an online service)."""
        day = (("00:00", "24:00"),)
        return cls(business=day, saturday=day, sunday=day, holiday=day)


class Calendar:
    """Business days and opening hours from ``start`` to ``end`` (both dates included).

    >>> cal = Calendar(dt.date(2020, 4, 1), dt.date(2020, 12, 31))
    >>> cal.next_business_day(dt.date(2020, 5, 1))
    datetime.date(2020, 5, 7)
    """

    def __init__(
        self,
        start: dt.date,
        end: dt.date,
        *,
        hours: OpeningHours | None = None,
        year_end_closure: bool = True,
    ) -> None:
        if not isinstance(start, dt.date) or not isinstance(end, dt.date):
            raise ValueError(f"start and end must be dates, got {start!r} and {end!r}")
        if isinstance(start, dt.datetime) or isinstance(end, dt.datetime):
            raise ValueError("start and end must be dates without a time of day")
        if end < start:
            raise ValueError(f"end {end} is before start {start}")
        self.start = start
        self.end = end
        self.hours = hours if hours is not None else OpeningHours()
        self.year_end_closure = year_end_closure
        self._holidays: dict[dt.date, str] = {}
        for year in range(start.year, end.year + 1):
            self._holidays.update(holidays_in_year(year))

    # ---- days -------------------------------------------------------------------------------
    @property
    def n_days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def horizon(self) -> float:
        """Hours from the start of the first day to the end of the last."""
        return 24.0 * self.n_days

    def holiday_name(self, day: dt.date) -> str | None:
        """English name of the public holiday on ``day``, or None."""
        return self._holidays.get(day)

    def is_holiday(self, day: dt.date) -> bool:
        return day in self._holidays

    def is_year_end_closure(self, day: dt.date) -> bool:
        """12-29 to 01-03, when the calendar keeps the year-end closure."""
        return self.year_end_closure and ((day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3))

    def is_business_day(self, day: dt.date) -> bool:
        """A weekday that is neither a holiday nor (if kept) in the year-end closure."""
        self._check_day(day)
        return day.weekday() < 5 and day not in self._holidays and not self.is_year_end_closure(day)

    def next_business_day(self, day: dt.date, *, include_today: bool = False) -> dt.date:
        """The first business day after ``day`` (or ``day`` itself with ``include_today``)."""
        d = day if include_today else day + _DAY
        while not self.is_business_day(d):
            d += _DAY
        return d

    def add_business_days(self, day: dt.date, n: int) -> dt.date:
        """The business day ``n`` business days after ``day`` (n >= 0; n = 0 rolls forward to one)."""
        if n < 0:
            raise ValueError(f"n = {n}: only forward business-day arithmetic is supported (n >= 0)")
        d = self.next_business_day(day, include_today=True)
        for _ in range(n):
            d = self.next_business_day(d)
        return d

    def business_days_between(self, first: dt.date, last: dt.date) -> int:
        """Number of business days in [first, last) (0 if last <= first)."""
        if last <= first:
            return 0
        i0 = (first - self.start).days
        i1 = (last - self.start).days
        self._check_day(first)
        self._check_day(last - _DAY)
        return int(self._business_mask[i0:i1].sum())

    def business_day_mask(self) -> np.ndarray:
        """One bool per calendar day, from ``start``: True on business days."""
        return self._business_mask.copy()

    def business_days(self) -> list[dt.date]:
        """All business days of the calendar, in order."""
        return [self.start + i * _DAY for i in np.flatnonzero(self._business_mask)]

    @cached_property
    def _business_mask(self) -> np.ndarray:
        return np.array([self.is_business_day(self.start + i * _DAY) for i in range(self.n_days)], dtype=bool)

    def _check_day(self, day: dt.date) -> None:
        if not self.start <= day <= self.end:
            raise ValueError(f"date {day} is outside the calendar {self.start}..{self.end}")

    # ---- clock --------------------------------------------------------------------------------
    def to_hours(self, when: dt.datetime | dt.date) -> float:
        """Simulation hours for a local datetime (or a date at 00:00)."""
        if not isinstance(when, dt.datetime):
            when = dt.datetime.combine(when, dt.time())
        origin = dt.datetime.combine(self.start, dt.time())
        return (when.replace(tzinfo=None) - origin) / dt.timedelta(hours=1)

    def to_datetime(self, hours: float) -> dt.datetime:
        """Local datetime of a simulation time (to the microsecond)."""
        return dt.datetime.combine(self.start, dt.time()) + dt.timedelta(hours=float(hours))

    def to_datetime64(self, hours: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`to_datetime`: datetime64[us] array."""
        origin = np.datetime64(self.start, "us")
        return origin + np.round(np.asarray(hours, dtype=np.float64) * 3.6e9).astype("timedelta64[us]")

    def day_of(self, hours: float) -> dt.date:
        return self.start + int(hours // 24) * _DAY

    # ---- opening hours --------------------------------------------------------------------------
    def slots_on(self, day: dt.date) -> tuple[tuple[float, float], ...]:
        """Opening slots of ``day`` as (open, close) hours of that day."""
        p = self._parsed_hours
        if self.is_year_end_closure(day):
            return ()
        if day in self._holidays:
            return p["holiday"]
        wd = day.weekday()
        if wd == 5:
            return p["saturday"]
        if wd == 6:
            return p["sunday"]
        return p.get(f"weekday{wd}", p["business"])

    @cached_property
    def _parsed_hours(self) -> dict[str, tuple[tuple[float, float], ...]]:
        return self.hours.parsed()

    @cached_property
    def _intervals(self) -> tuple[np.ndarray, np.ndarray]:
        opens: list[float] = []
        closes: list[float] = []
        for i in range(self.n_days):
            for a, b in self.slots_on(self.start + i * _DAY):
                t0, t1 = 24.0 * i + a, 24.0 * i + b
                if closes and closes[-1] == t0:  # 24-hour days join into one interval
                    closes[-1] = t1
                else:
                    opens.append(t0)
                    closes.append(t1)
        return np.array(opens), np.array(closes)

    def open_intervals(self) -> tuple[np.ndarray, np.ndarray]:
        """Opening intervals [open, close) in simulation hours, sorted and disjoint."""
        opens, closes = self._intervals
        return opens.copy(), closes.copy()

    def is_open(self, hours: np.ndarray | float) -> np.ndarray | bool:
        """True where the counter is open at that time (vectorised)."""
        opens, closes = self._intervals
        t = np.asarray(hours, dtype=np.float64)
        i = np.searchsorted(closes, t, side="right")
        o = np.concatenate([opens, [np.inf]])[i]
        inside = t >= o
        return bool(inside) if np.ndim(hours) == 0 else inside

    def next_open(self, hours: np.ndarray | float) -> np.ndarray | float:
        """The first time at or after ``hours`` when the counter is open (inf if never again)."""
        opens, closes = self._intervals
        t = np.asarray(hours, dtype=np.float64)
        i = np.searchsorted(closes, t, side="right")
        o = np.concatenate([opens, [np.inf]])[i]
        out = np.maximum(t, o)
        return float(out) if np.ndim(hours) == 0 else out

    def open_hours_between(self, t0: float, t1: float) -> float:
        """Hours the counter is open within [t0, t1)."""
        opens, closes = self._intervals
        return float(np.clip(np.minimum(closes, t1) - np.maximum(opens, t0), 0, None).sum())
