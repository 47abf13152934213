"""The two stations are one model: same inputs, same departures; and both agree with Erlang C.

The batch station is only worth having if it is the SimPy station, faster. On random small
instances (any number of clerks, with or without opening hours, rosters, breakdowns and patience)
every customer must start, end and leave at the same time in both, to float precision. On long
M/M/c runs at 80 % utilisation both must reproduce Erlang C's mean wait.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.sim import (
    BatchStation,
    Calendar,
    CustomerLog,
    Exponential,
    Failures,
    LogNormal,
    OpeningHours,
    StaffSchedule,
    Station,
    erlang,
)

CAL = Calendar(
    dt.date(2020, 4, 1),
    dt.date(2020, 4, 12),
    hours=OpeningHours(weekday_slots={3: [("08:30", "19:00")]}, saturday=[("09:00", "12:00")]),
)


def both(seed: int, servers: int, arrivals: np.ndarray, **kwargs) -> tuple[CustomerLog, CustomerLog]:
    logs = []
    for cls in (Station, BatchStation):
        env = simpy.Environment()
        station = cls(env, servers, LogNormal(0.4, 1.2), rng=np.random.default_rng(seed), **kwargs)
        station.submit(arrivals)
        env.run()
        logs.append(station.log())
    return logs[0], logs[1]


def assert_same(a: CustomerLog, b: CustomerLog) -> None:
    for field in ("start", "end", "left"):
        x, y = getattr(a, field), getattr(b, field)
        assert np.array_equal(np.isnan(x), np.isnan(y)), field
        assert np.allclose(x, y, rtol=0, atol=1e-9, equal_nan=True), field
    assert np.array_equal(a.reneged, b.reneged)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    servers=st.integers(1, 6),
    n=st.integers(0, 150),
    hours=st.booleans(),
    roster=st.booleans(),
    breakdowns=st.booleans(),
    impatient=st.booleans(),
)
def test_same_inputs_give_the_same_departures(
    seed: int, servers: int, n: int, hours: bool, roster: bool, breakdowns: bool, impatient: bool
) -> None:
    arrivals = np.sort(np.random.default_rng(seed + 1).uniform(0, 24 * 10, n))
    kwargs: dict = {"horizon": CAL.horizon}
    if hours:
        kwargs["calendar"] = CAL
    if roster:
        kwargs["staff"] = StaffSchedule.daily(CAL, [("00:00", 1), ("10:00", servers), ("12:00", 0), ("13:00", 2)])
    if breakdowns:
        kwargs["failures"] = Failures(Exponential(8.0), Exponential(1.5), in_progress="finish")
    if impatient:
        kwargs["patience"] = Exponential(1.0)
    simpy_log, batch_log = both(seed, servers, arrivals, **kwargs)
    assert_same(simpy_log, batch_log)


def test_identical_waits_on_a_plain_fifo_run_of_thousands() -> None:
    rng = np.random.default_rng(11)
    arrivals = np.cumsum(rng.exponential(1 / 2.4, 20_000))
    simpy_log, batch_log = both(5, 3, arrivals)
    assert_same(simpy_log, batch_log)
    assert np.allclose(simpy_log.wait, batch_log.wait, rtol=0, atol=1e-9)


def mm_c(seed: int, n: int, c: int, rho: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.exponential(1 / (rho * c), n)), rng.exponential(1.0, n)


def batch_means(waits: np.ndarray, batches: int = 50) -> tuple[float, float]:
    """Mean wait after a 1 % warm-up and its standard error by the method of batch means."""
    w = waits[len(waits) // 100 :]
    means = np.array([b.mean() for b in np.array_split(w, batches)])
    return float(w.mean()), float(means.std(ddof=1) / np.sqrt(batches))


@pytest.mark.slow
@pytest.mark.parametrize(("c", "n"), [(1, 6_000_000), (3, 5_000_000), (10, 10_000_000)])
def test_batch_station_mean_wait_is_within_2_percent_of_erlang_c(c: int, n: int) -> None:
    a, s = mm_c(2024 + c, n, c, 0.8)
    station = BatchStation(None, c, Exponential(1.0), rng=np.random.default_rng(0))
    mean, se = batch_means(station.serve(a, s).wait)
    exact = erlang.mean_wait(0.8 * c, 1.0, c)
    # the run is long enough that 2 % is at least three standard errors: a real check, not luck
    assert se < exact * 0.02 / 3
    assert mean == pytest.approx(exact, rel=0.02)


@pytest.mark.slow
@pytest.mark.parametrize("c", [3, 10])
def test_simpy_station_mean_wait_matches_erlang_c_within_its_standard_error(c: int) -> None:
    a, s = mm_c(77 + c, 150_000, c, 0.8)
    env = simpy.Environment()
    station = Station(env, c, Exponential(1.0), rng=np.random.default_rng(0))
    station.submit(a, s)
    env.run()
    mean, se = batch_means(station.log().wait)
    exact = erlang.mean_wait(0.8 * c, 1.0, c)
    # 150k customers: a standard error of a few percent of the mean (more with more clerks, where
    # most customers do not wait at all); the exact agreement with the batch station is the sharp check
    assert se < exact * 0.08
    assert abs(mean - exact) < 4 * se


@pytest.mark.slow
def test_simpy_station_wait_distribution_follows_erlang_c() -> None:
    c = 3
    a, s = mm_c(5, 100_000, c, 0.8)
    env = simpy.Environment()
    station = Station(env, c, Exponential(1.0), rng=np.random.default_rng(0))
    station.submit(a, s)
    env.run()
    w = station.log().wait[1000:]
    for t in (0.0, 0.5, 1.0, 2.0, 4.0):
        assert np.mean(w <= t) == pytest.approx(erlang.wait_cdf(t, 0.8 * c, 1.0, c), abs=0.02)
