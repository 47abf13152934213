"""How many clerks can start serving, hour by hour: staff rosters, opening hours and breakdowns.

A municipal counter has five positions. The roster puts three clerks on in the morning, two over
lunch and five in the afternoon rush (a :class:`StaffSchedule`); nobody starts a new case while the
counter is closed; and now and then the card-issuing terminal breaks down (:class:`Failures`: time
to failure and time to repair drawn from distributions) and nothing can start until it is repaired.

All three combine into one :class:`CapacityPlan`: the number of servers that may *start* new
service from each change time on. When that number drops, customers already in service finish
(the clerk goes off duty, the counter closes, after the current case), except for a failure with
``in_progress="restart"``, which interrupts service in progress: those customers go back to the
head of the queue and start their service again from scratch once a server is free.
Both stations read the same plan, so they agree on when service may start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from twin.sim.calendar import Calendar, _hour, _parse_time
from twin.sim.distributions import Distribution


@dataclass(frozen=True)
class StaffSchedule:
    """Servers on duty from each time on: ``times`` (hours, ascending, first 0.0) and ``servers``."""

    times: tuple[float, ...]
    servers: tuple[int, ...]

    def __post_init__(self) -> None:
        t = np.asarray(self.times, dtype=np.float64)
        if len(t) == 0 or len(t) != len(self.servers):
            raise ValueError(
                f"StaffSchedule: {len(t)} times and {len(self.servers)} server counts; need equally many, at least one"
            )
        if t[0] != 0.0:
            raise ValueError(f"StaffSchedule.times[0] = {float(t[0])!r}: the schedule must start at time 0.0")
        if np.any(np.diff(t) <= 0) or not np.all(np.isfinite(t)):
            raise ValueError("StaffSchedule.times: must be finite and strictly increasing")
        for s in self.servers:
            if int(s) != s or s < 0:
                raise ValueError(f"StaffSchedule.servers: {s!r} is not a whole number of servers >= 0")

    @classmethod
    def daily(cls, calendar: Calendar, shifts: Sequence[tuple[dt.time | str, int]]) -> StaffSchedule:
        """The same roster every day: ``[("00:00", 0), ("08:30", 3), ("12:00", 2), ("13:00", 5)]``."""
        if not shifts:
            raise ValueError("StaffSchedule.daily: shifts is empty; give at least one (time, servers) pair")
        hours = [_hour(_parse_time(t, f"shifts[{i}] time")) for i, (t, _) in enumerate(shifts)]
        if any(b <= a for a, b in zip(hours, hours[1:], strict=False)):
            raise ValueError(f"StaffSchedule.daily: shift times {hours} must be increasing within the day")
        counts = [n for _, n in shifts]
        times: list[float] = []
        servers: list[int] = []
        if hours[0] > 0:
            times.append(0.0)
            servers.append(int(counts[-1]))
        for day in range(calendar.n_days):
            for h, n in zip(hours, counts, strict=True):
                times.append(24.0 * day + h)
                servers.append(int(n))
        return cls(tuple(times), tuple(servers))

    def at(self, t: np.ndarray | float) -> np.ndarray:
        """Servers on duty at time(s) t."""
        i = np.searchsorted(np.asarray(self.times), np.asarray(t, dtype=np.float64), side="right") - 1
        return np.asarray(self.servers, dtype=np.int64)[i]


@dataclass(frozen=True)
class Failures:
    """A station that breaks down and is repaired: up-times ~ ``time_to_failure`` (mean = MTBF),
    down-times ~ ``time_to_repair`` (mean = MTTR), alternating from an up state at time 0.

    ``in_progress`` says what a breakdown does to customers being served: ``"finish"`` (their
    service completes, only new starts wait) or ``"restart"`` (service is interrupted and repeated
    in full after the repair). There is no default: the choice changes the answer.
    """

    time_to_failure: Distribution
    time_to_repair: Distribution
    in_progress: Literal["finish", "restart"]

    def __post_init__(self) -> None:
        if self.in_progress not in ("finish", "restart"):
            raise ValueError(f"Failures.in_progress = {self.in_progress!r}: allowed 'finish' or 'restart'")

    def down_intervals(self, rng: np.random.Generator, horizon: float) -> tuple[np.ndarray, np.ndarray]:
        """Breakdown intervals [down, up) that start before ``horizon``, drawn from ``rng``."""
        if not (horizon > 0 and np.isfinite(horizon)):
            raise ValueError(f"horizon = {horizon!r}: failures need a finite simulation horizon in hours > 0")
        cycle = self.time_to_failure.mean + self.time_to_repair.mean
        chunk = int(horizon / cycle * 1.2) + 16
        downs: list[np.ndarray] = []
        ups: list[np.ndarray] = []
        t = 0.0
        while t < horizon:
            up = self.time_to_failure.sample(rng, chunk)
            down = self.time_to_repair.sample(rng, chunk)
            fail_at = t + np.cumsum(up + down) - down
            repaired_at = fail_at + down
            downs.append(fail_at)
            ups.append(repaired_at)
            t = float(repaired_at[-1])
        d = np.concatenate(downs)
        u = np.concatenate(ups)
        keep = d < horizon
        return d[keep], u[keep]


@dataclass(frozen=True)
class CapacityPlan:
    """Servers allowed to start service from ``times[i]`` on (``servers[i]``), out of ``total``
    positions. ``times[0]`` is 0.0; consecutive values differ."""

    times: np.ndarray
    servers: np.ndarray
    total: int

    def at(self, t: np.ndarray | float) -> np.ndarray:
        i = np.searchsorted(self.times, np.asarray(t, dtype=np.float64), side="right") - 1
        return self.servers[i]

    def server_hours(self, edges: np.ndarray) -> np.ndarray:
        """Server-hours available in each bin [edges[k], edges[k+1])."""
        cum = np.concatenate([[0.0], np.cumsum(self.servers[:-1] * np.diff(self.times))])

        def integral(x: np.ndarray) -> np.ndarray:
            i = np.searchsorted(self.times, x, side="right") - 1
            return cum[i] + self.servers[i] * (x - self.times[i])

        e = np.asarray(edges, dtype=np.float64)
        return np.diff(integral(e))


def capacity_plan(
    servers: int,
    *,
    calendar: Calendar | None = None,
    staff: StaffSchedule | None = None,
    down: tuple[np.ndarray, np.ndarray] | None = None,
) -> CapacityPlan:
    """Combine positions, roster, opening hours and breakdowns into one step function."""
    if int(servers) != servers or servers < 1:
        raise ValueError(f"servers = {servers!r}: a station needs a whole number of servers >= 1")
    points = [np.zeros(1)]
    if staff is not None:
        points.append(np.asarray(staff.times, dtype=np.float64))
    if calendar is not None:
        opens, closes = calendar.open_intervals()
        points += [opens, closes]
    if down is not None:
        points += [down[0], down[1]]
    t = np.unique(np.concatenate(points))
    value = np.full(len(t), int(servers), dtype=np.int64)
    if staff is not None:
        value = np.minimum(value, staff.at(t))
    if calendar is not None:
        value = np.where(calendar.is_open(t), value, 0)
    if down is not None and len(down[0]):
        i = np.searchsorted(down[0], t, side="right") - 1
        is_down = (i >= 0) & (t < down[1][np.maximum(i, 0)])
        value = np.where(is_down, 0, value)
    change = np.concatenate([[True], value[1:] != value[:-1]])
    return CapacityPlan(times=t[change], servers=value[change], total=int(servers))
