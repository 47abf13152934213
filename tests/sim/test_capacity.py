"""The capacity plan: positions, roster, opening hours and breakdowns as one step function."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.sim import Calendar, Exponential, Failures, LogNormal, StaffSchedule, capacity_plan

CAL = Calendar(dt.date(2020, 4, 1), dt.date(2020, 4, 14))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), st.integers(0, 2**32 - 1), st.lists(st.floats(0, 24 * 14), min_size=1, max_size=50))
def test_the_plan_is_the_minimum_of_positions_and_roster_and_zero_when_closed_or_down(
    servers: int, seed: int, probes: list[float]
) -> None:
    staff = StaffSchedule.daily(CAL, [("00:00", 1), ("09:00", 6), ("12:00", 2), ("13:00", 9)])
    down = Failures(Exponential(20.0), LogNormal(2.0, 0.5), in_progress="finish").down_intervals(
        np.random.default_rng(seed), CAL.horizon
    )
    plan = capacity_plan(servers, calendar=CAL, staff=staff, down=down)
    t = np.array(probes)
    i = np.searchsorted(down[0], t, side="right") - 1
    is_down = (i >= 0) & (t < down[1][np.maximum(i, 0)])
    expected = np.where(CAL.is_open(t) & ~is_down, np.minimum(servers, staff.at(t)), 0)
    assert plan.at(t).tolist() == expected.tolist()
    assert plan.times[0] == 0.0 and np.all(np.diff(plan.servers) != 0)


def test_breakdowns_alternate_with_up_times_from_the_given_distributions() -> None:
    f = Failures(Exponential(10.0), Exponential(2.0), in_progress="finish")
    down, up = f.down_intervals(np.random.default_rng(1), 200_000.0)
    assert np.all(up > down) and np.all(down[1:] > up[:-1])
    assert (up - down).mean() == pytest.approx(2.0, rel=0.05)
    assert (down[1:] - up[:-1]).mean() == pytest.approx(10.0, rel=0.05)
    again = f.down_intervals(np.random.default_rng(1), 200_000.0)
    assert down.tobytes() == again[0].tobytes()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: StaffSchedule((1.0,), (2,)), r"StaffSchedule.times\[0\] = 1.0: the schedule must start at time 0.0"),
        (lambda: StaffSchedule((0.0, 5.0), (2,)), "2 times and 1 server counts"),
        (lambda: StaffSchedule((0.0, 5.0, 5.0), (2, 1, 3)), "strictly increasing"),
        (lambda: StaffSchedule((0.0,), (-1,)), "-1 is not a whole number of servers >= 0"),
        (lambda: StaffSchedule.daily(CAL, [("12:00", 2), ("09:00", 1)]), "must be increasing within the day"),
        (lambda: capacity_plan(2.5), r"servers = 2.5"),
        (
            lambda: Failures(Exponential(1.0), Exponential(1.0), "finish").down_intervals(
                np.random.default_rng(0), float("inf")
            ),
            "failures need a finite simulation horizon",
        ),
    ],
)
def test_bad_capacity_inputs_are_named(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()
