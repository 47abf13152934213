"""The town-hall in-tray (CohortQueue): oldest work first, nothing lost, exact for whole jobs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.sim.fluid import CohortQueue


def fifo_by_hand(arrivals: list[int], capacity_jobs: list[int]) -> list[list[int]]:
    """Reference: a list of whole jobs served oldest-first, ``capacity_jobs[d]`` per day.

    Returns, per day, the arrival days of the jobs served that day.
    """
    queue: list[int] = []
    out = []
    for d, (a, c) in enumerate(zip(arrivals, capacity_jobs, strict=True)):
        queue.extend([d] * a)
        out.append(queue[:c])
        del queue[:c]
    return out


@given(
    st.lists(st.tuples(st.integers(0, 20), st.integers(0, 15)), min_size=1, max_size=30),
)
@settings(max_examples=200, deadline=None)
def test_whole_jobs_match_a_fifo_queue_by_hand(days: list[tuple[int, int]]) -> None:
    arrivals = [a for a, _ in days]
    caps = [c for _, c in days]
    q = CohortQueue(1, 1, len(days), np.array([5.0]))
    expected = fifo_by_hand(arrivals, caps)
    for d in range(len(days)):
        q.arrive(d, np.array([[arrivals[d]]]))
        served, _, by_cohort = q.serve(d, np.array([caps[d] * 5.0]))
        assert served[0, 0] == pytest.approx(len(expected[d]))
        want = np.bincount(expected[d], minlength=d + 1)[: d + 1] if expected[d] else np.zeros(d + 1)
        np.testing.assert_allclose(by_cohort[0], want, atol=1e-9)
    q.check_conservation()


@given(
    st.integers(1, 6),
    st.integers(1, 3),
    st.integers(1, 25),
    st.integers(0, 2**32 - 1),
)
@settings(max_examples=100, deadline=None)
def test_nothing_is_lost_and_carried_quantities_follow_their_jobs(
    n_stations: int, n_classes: int, horizon: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    minutes = rng.uniform(0.5, 10, n_classes)
    q = CohortQueue(n_stations, n_classes, horizon, minutes)
    served_total = np.zeros((n_stations, n_classes))
    carried_total = np.zeros((n_stations, n_classes))
    for d in range(horizon):
        jobs = rng.poisson(5, (n_stations, n_classes)).astype(float)
        q.arrive(d, jobs, carry=jobs * 3)  # three persons per application
        served, carried, _ = q.serve(d, rng.uniform(0, 60, n_stations))
        served_total += served
        carried_total += carried
        assert np.all(served >= -1e-12)
    q.check_conservation()
    np.testing.assert_allclose(carried_total, 3 * served_total, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(served_total + q.backlog(), q.arrived_total, rtol=1e-9, atol=1e-9)


def test_capacity_is_spent_on_the_oldest_cohort_first() -> None:
    q = CohortQueue(1, 2, 3, np.array([1.0, 4.0]))
    q.arrive(0, np.array([[2.0, 1.0]]))  # 6 minutes of work from day 0
    q.arrive(1, np.array([[10.0, 0.0]]))  # 10 minutes from day 1
    served, _, by_cohort = q.serve(1, np.array([7.0]))
    assert by_cohort[0].tolist() == pytest.approx([3.0, 1.0])  # day 0 finished, 1 of day 1
    assert served[0].tolist() == pytest.approx([3.0, 1.0])


def test_bad_shapes_are_rejected() -> None:
    with pytest.raises(ValueError, match="minutes_per_job has shape"):
        CohortQueue(2, 2, 3, np.array([1.0]))
    q = CohortQueue(2, 1, 3, np.array([1.0]))
    with pytest.raises(ValueError, match="jobs has shape"):
        q.arrive(0, np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=">= 0"):
        q.arrive(0, np.array([[1.0], [-1.0]]))
