"""Metric probes: per-customer logs and the hour-by-hour queue, as tidy rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.metrics import Metrics
from twin.sim import BatchStation, Calendar, Exponential, StaffSchedule, Station, capacity_plan, mean_occupancy


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 10), st.floats(0, 5)), min_size=0, max_size=30),
    st.floats(0.25, 3),
)
def test_mean_occupancy_equals_a_brute_force_time_average(intervals: list[tuple[float, float]], width: float) -> None:
    begin = np.array([b for b, _ in intervals])
    finish = np.array([b + d for b, d in intervals])
    edges = np.arange(0.0, 16.0 + width, width)
    got = mean_occupancy(begin, finish, edges)
    fine = np.linspace(0, edges[-1], 20_001)[:-1] + edges[-1] / 40_000  # midpoints of a fine grid
    count = ((begin[:, None] <= fine) & (fine < finish[:, None])).sum(axis=0) if len(begin) else np.zeros_like(fine)
    expected = [count[(fine >= a) & (fine < b)].mean() for a, b in zip(edges[:-1], edges[1:], strict=True)]
    assert got == pytest.approx(expected, abs=0.01 + 2 * len(begin) * edges[-1] / 20_000 / width)


def test_open_intervals_count_to_the_end_of_the_bin() -> None:
    assert mean_occupancy(np.array([0.5]), np.array([np.nan]), np.array([0.0, 1.0, 2.0])).tolist() == [0.5, 1.0]


def test_capacity_plan_server_hours_follow_the_roster_and_hours() -> None:
    cal = Calendar(dt.date(2020, 4, 1), dt.date(2020, 4, 2))
    staff = StaffSchedule.daily(cal, [("00:00", 2), ("12:00", 1), ("13:00", 3)])
    plan = capacity_plan(3, calendar=cal, staff=staff)
    per_hour = plan.server_hours(np.arange(0.0, 49.0))
    assert per_hour[8] == 1.0  # 08:30-09:00 with two clerks
    assert per_hour[9] == 2.0 and per_hour[12] == 1.0 and per_hour[13] == 3.0
    assert per_hour[17] == 0.75 and per_hour[20] == 0.0
    assert plan.server_hours(np.array([0.0, 48.0]))[0] == pytest.approx(2 * (3.5 * 2 + 1 + 4.25 * 3))


@pytest.mark.parametrize("cls", [Station, BatchStation])
def test_series_of_a_two_customer_morning_are_exact(cls) -> None:
    env = simpy.Environment()
    station = cls(env, 1, Exponential(1.0), rng=np.random.default_rng(0), name="counter-1")
    # A: 0.5-1.5; B arrives 1.0, waits until 1.5, served until 2.0
    station.submit(np.array([0.5, 1.0]), np.array([1.0, 0.5]))
    env.run()
    m = Metrics()
    station.record_series(m, bin_hours=1.0, until=3.0, origin=dt.datetime(2020, 4, 1), kind="walk-in")
    df = m.frame()
    assert set(df.labels) == {"kind=walk-in;station=counter-1"}
    series = {k: g.sort_values("time").value.tolist() for k, g in df.groupby("metric")}
    assert series["queue_length"] == [0.0, 0.5, 0.0]
    assert series["busy_servers"] == [0.5, 1.0, 0.0]
    assert series["utilisation"] == [0.5, 1.0, 0.0]
    assert series["servers_available"] == [1.0, 1.0, 1.0]
    times = sorted(set(df.time))
    assert [str(t) for t in times] == ["2020-04-01 00:00:00", "2020-04-01 01:00:00", "2020-04-01 02:00:00"]


@pytest.mark.parametrize("cls", [Station, BatchStation])
def test_busy_servers_never_exceed_the_positions_and_reneged_customers_leave_the_queue(cls) -> None:
    cal = Calendar(dt.date(2020, 4, 1), dt.date(2020, 4, 7))
    env = simpy.Environment()
    station = cls(env, 3, Exponential(0.3), rng=np.random.default_rng(4), calendar=cal, patience=Exponential(0.5))
    station.submit(np.sort(np.random.default_rng(2).uniform(0, 24 * 6, 3000)))
    env.run()
    m = Metrics()
    station.record_series(m, bin_hours=0.5, until=cal.horizon)
    df = m.frame()
    busy = df[df.metric == "busy_servers"].value.to_numpy()
    assert busy.max() <= 3.0 + 1e-9
    log = station.log()
    # Little's law on the log: time-average queue x horizon = total time spent waiting or until giving up
    queue = df[df.metric == "queue_length"].value.to_numpy()
    waited = np.where(log.served(), log.start, log.left) - log.arrival
    assert queue.sum() * 0.5 == pytest.approx(waited.sum(), rel=1e-9)
    assert log.reneged.any() and log.summary()["reneged"] == log.reneged.sum()


def test_series_need_a_clock_and_a_sensible_bin() -> None:
    station = BatchStation(None, 1, Exponential(1.0), rng=np.random.default_rng(0))
    station.serve(np.array([0.5]))
    with pytest.raises(ValueError, match="needs a calendar or an origin"):
        station.record_series(Metrics(), until=2.0)
    with pytest.raises(ValueError, match="bin_hours = 0.0: must be a finite number of hours > 0"):
        station.record_series(Metrics(), bin_hours=0.0, until=2.0, origin=dt.datetime(2020, 4, 1))
