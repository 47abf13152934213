"""Serving the town halls' in-trays through a window: only the cohorts from the oldest one still waiting.

A six-year horizon must cost no more per day than a six-week one, so :meth:`CohortQueue.serve_window`
returns the jobs finished by cohort only from ``window_start`` on. These tests pin down that the
window changes nothing: the same jobs are served as by :meth:`CohortQueue.serve`, every cohort
before the window is empty, and the job-days waited are the same as counted over the whole horizon.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.sim.fluid import CohortQueue


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32 - 1), st.integers(1, 5), st.integers(1, 3), st.integers(1, 30), st.booleans(),
)  # fmt: skip
def test_the_window_serves_exactly_what_the_whole_horizon_serves(
    seed: int, n_stations: int, n_classes: int, horizon: int, carrying: bool
) -> None:
    rng = np.random.default_rng(seed)
    minutes = rng.uniform(0.5, 20.0, n_classes)
    whole = CohortQueue(n_stations, n_classes, horizon, minutes)
    windowed = CohortQueue(n_stations, n_classes, horizon, minutes)
    for day in range(horizon):
        jobs = rng.exponential(4.0, (n_stations, n_classes)) * (rng.random((n_stations, n_classes)) < 0.6)
        carry = jobs * rng.integers(1, 5) if carrying else None
        whole.arrive(day, jobs, carry)
        windowed.arrive(day, jobs, carry)
        cap = rng.uniform(0.0, 120.0, n_stations)
        served, carried, waited = whole.serve(day, cap)
        w_served, w_carried, window = windowed.serve_window(day, cap)
        start = windowed.window_start
        assert waited.shape == (n_stations, day + 1) and window.shape == (n_stations, day + 1 - start)
        np.testing.assert_array_equal(w_served, served)
        np.testing.assert_array_equal(w_carried, carried)
        np.testing.assert_array_equal(window, waited[:, start:])
        assert not waited[:, :start].any()  # nothing was finished from before the window
        assert not windowed.waiting[:, :start, :].any()  # because nothing waits there
        np.testing.assert_allclose(
            windowed.days_waited(day, window), waited @ (day - np.arange(day + 1)), rtol=1e-12, atol=1e-9
        )
    windowed.check_conservation()
    np.testing.assert_array_equal(windowed.backlog(), whole.backlog())


def test_a_queue_cleared_every_day_looks_at_one_day_however_long_the_horizon() -> None:
    q = CohortQueue(3, 2, 2_000, np.array([5.0, 8.0]))
    for day in range(2_000):
        q.arrive(day, np.full((3, 2), 2.0))  # 26 minutes of work a day, 30 minutes of staff
        served, _, window = q.serve_window(day, np.full(3, 30.0))
        assert window.shape == (3, 1) and q.window_start == day
        np.testing.assert_allclose(served, 2.0)
        np.testing.assert_allclose(q.days_waited(day, window), 0.0)


def test_a_backlog_keeps_the_window_open_from_its_oldest_cohort() -> None:
    q = CohortQueue(1, 1, 10, np.array([10.0]))
    q.arrive(0, np.array([[3.0]]))  # 30 minutes of work, 10 a day: three days to clear
    for day in range(3):
        served, _, window = q.serve_window(day, np.array([10.0]))
        assert q.window_start == 0 and window.shape == (1, day + 1)
        assert served[0, 0] == 1.0 and window[0, 0] == 1.0
        assert q.days_waited(day, window)[0] == day  # the job finished today arrived on day 0
    served, _, window = q.serve_window(3, np.array([10.0]))
    assert q.window_start == 3 and served[0, 0] == 0.0 and window.shape == (1, 1)


def test_jobs_that_carry_nothing_report_nothing_carried() -> None:
    q = CohortQueue(2, 1, 5, np.array([1.0]))
    q.arrive(0, np.array([[4.0], [1.0]]))
    served, carried, _ = q.serve(0, np.array([2.0, 2.0]))
    np.testing.assert_allclose(served, [[2.0], [1.0]])
    np.testing.assert_array_equal(carried, np.zeros((2, 1)))
    assert q.carry is None  # no array the size of the horizon is kept for nothing
