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


def _fifo_over_the_whole_horizon(waiting: np.ndarray, carry: np.ndarray, minutes: np.ndarray, day: int,
                                 cap: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The definition, with no window and no blocks: every station spends its minutes on its cohorts
    0..day oldest first, and a cohort it cannot finish is served in proportion."""
    jobs = waiting[:, : day + 1, :]
    work = jobs[:, :, 0] * minutes[0]
    for c in range(1, len(minutes)):
        work = work + jobs[:, :, c] * minutes[c]
    before = np.cumsum(work, axis=1) - work
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(work > 0, np.clip((cap[:, None] - before) / work, 0.0, 1.0), 0.0)
    served_by_cohort = jobs * frac[:, :, None]
    carried_by_cohort = carry[:, : day + 1, :] * frac[:, :, None]
    waiting[:, : day + 1, :] = np.maximum(jobs - served_by_cohort, 0.0)
    carry[:, : day + 1, :] = np.maximum(carry[:, : day + 1, :] - carried_by_cohort, 0.0)
    return served_by_cohort.sum(axis=1), carried_by_cohort.sum(axis=1), served_by_cohort.sum(axis=2)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_a_few_lagging_stations_are_served_as_if_every_station_looked_back_as_far(seed: int, n_slow: int) -> None:
    """A village whose counter is nearly shut keeps a sliver of last year's work; the other town halls
    are then served in a block that looks back only to their own oldest work. What every station
    serves, carries and waits must be what the whole horizon gives, to the last bit."""
    rng = np.random.default_rng(seed)
    n, horizon, minutes = 30, 300, np.array([7.0, 12.0, 20.0])
    q = CohortQueue(n, 3, horizon, minutes)
    waiting, carry = np.zeros((n, horizon, 3)), np.zeros((n, horizon, 3))
    slow = rng.choice(n, n_slow, replace=False)
    split_seen = False
    for day in range(horizon):
        jobs = rng.exponential(3.0, (n, 3)) * (rng.random((n, 3)) < 0.7)
        persons = jobs * rng.uniform(1.0, 3.0, (n, 3))
        q.arrive(day, jobs, persons)
        waiting[:, day, :] += jobs
        carry[:, day, :] += persons
        cap = rng.uniform(60.0, 200.0, n)
        cap[slow] = rng.uniform(0.0, 30.0, n_slow)  # these fall behind and stay behind
        want = _fifo_over_the_whole_horizon(waiting, carry, minutes, day, cap)
        start = int((q._head.clip(max=day)).min())
        split_seen |= len(q._blocks(np.minimum(q._head, day), start, day + 1)) == 2
        served, carried, window = q.serve_window(day, cap)
        np.testing.assert_array_equal(served, want[0])
        np.testing.assert_array_equal(carried, want[1])
        assert q.window_start == start
        np.testing.assert_array_equal(window, want[2][:, start:])
        assert not want[2][:, :start].any()
    np.testing.assert_array_equal(q.waiting, waiting)
    q.check_conservation()
    assert split_seen, "the lagging stations never made a block of their own: the test did not test the split"


def test_work_that_arrives_in_an_old_cohort_is_still_served() -> None:
    """A station that has cleared its in-tray looks back from today; work booked into an earlier
    cohort (a returned application dated when it first came) must make it look back again."""
    q = CohortQueue(2, 1, 50, np.array([10.0]))
    for day in range(40):
        q.serve_window(day, np.full(2, 100.0))
    q.arrive(5, np.array([[2.0], [0.0]]))
    served, _, window = q.serve_window(40, np.full(2, 100.0))
    assert served[0, 0] == 2.0 and q.window_start == 5
    assert q.days_waited(40, window)[0] == 70.0  # two jobs, 35 days each
