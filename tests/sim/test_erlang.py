"""Erlang C: the closed forms the stations are checked against."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin.sim import erlang


def test_single_server_reduces_to_the_mm1_formulas() -> None:
    lam, mu = 0.8, 1.0
    assert erlang.p_wait(lam, mu, 1) == pytest.approx(0.8)
    assert erlang.mean_wait(lam, mu, 1) == pytest.approx(0.8 / (1.0 - 0.8))
    assert erlang.mean_response(lam, mu, 1) == pytest.approx(1 / (1.0 - 0.8))


def test_two_servers_with_one_erlang_wait_with_probability_one_third() -> None:
    assert erlang.p_wait(1.0, 1.0, 2) == pytest.approx(1 / 3)
    assert erlang.mean_wait(1.0, 1.0, 2) == pytest.approx(1 / 3)
    assert erlang.mean_queue_length(1.0, 1.0, 2) == pytest.approx(1 / 3)


def test_erlang_b_is_stable_for_large_systems() -> None:
    p = erlang.p_wait(950.0, 1.0, 1000)
    assert 0 < p < 0.2 and np.isfinite(erlang.mean_wait(950.0, 1.0, 1000))


@given(st.integers(1, 50), st.floats(0.05, 0.98), st.floats(0.1, 10))
def test_wait_distribution_is_consistent_with_its_mean_and_quantiles(c: int, rho: float, mu: float) -> None:
    lam = rho * c * mu
    pw = erlang.p_wait(lam, mu, c)
    assert 0 < pw < 1
    assert erlang.wait_cdf(0.0, lam, mu, c) == pytest.approx(1 - pw)
    # mean = integral of the tail
    rate = c * mu - lam
    assert erlang.mean_wait(lam, mu, c) == pytest.approx(pw / rate)
    for q in (0.5, 0.9, 0.99):
        t = erlang.wait_quantile(q, lam, mu, c)
        assert erlang.wait_cdf(t, lam, mu, c) == pytest.approx(max(q, 1 - pw), abs=1e-9)
    ts = np.linspace(0, 10 / rate, 20)
    assert np.all(np.diff(erlang.wait_cdf(ts, lam, mu, c)) >= 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((3.0, 1.0, 3), r"utilisation lam/\(c\*mu\) = 1 >= 1"),
        ((0.0, 1.0, 3), r"lam = 0.0: the arrival rate"),
        ((1.0, -1.0, 3), r"mu = -1.0: the service rate"),
        ((1.0, 1.0, 0), r"c = 0: the number of servers"),
    ],
)
def test_unstable_or_meaningless_queues_are_refused(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        erlang.mean_wait(*args)
