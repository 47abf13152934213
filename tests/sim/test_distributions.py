"""Service-time distributions: the mean they promise, the spread they are given, the seed they obey."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin.sim.distributions import Deterministic, Distribution, Empirical, Exponential, Gamma, LogNormal

N = 200_000

CASES = [
    Exponential(0.25),
    LogNormal(mean=0.1, cv=0.8),
    Gamma.from_mean_cv(2.0, 0.5),
    Gamma(shape=3.0, scale=0.5),
    Deterministic(0.2),
    Empirical((0.1, 0.2, 0.7)),
    Empirical((1.0, 3.0), weights=(3.0, 1.0)),
]


@pytest.mark.parametrize("dist", CASES, ids=lambda d: type(d).__name__)
def test_sample_mean_is_within_four_standard_errors_of_mean(dist: Distribution) -> None:
    x = dist.sample(np.random.default_rng(7), N)
    assert x.shape == (N,) and np.all(x >= 0)
    se = x.std() / np.sqrt(N)
    assert abs(x.mean() - dist.mean) <= 4 * se + 1e-12


@pytest.mark.parametrize("dist", CASES, ids=lambda d: type(d).__name__)
def test_same_seed_same_samples(dist: Distribution) -> None:
    a = dist.sample(np.random.default_rng(3), 100)
    b = dist.sample(np.random.default_rng(3), 100)
    assert a.tobytes() == b.tobytes()
    assert isinstance(dist, Distribution)


@given(st.floats(0.01, 100), st.floats(0.05, 3))
def test_lognormal_and_gamma_from_mean_and_cv_have_that_mean_and_cv(mean: float, cv: float) -> None:
    ln = LogNormal(mean, cv)
    assert np.exp(ln.mu + ln.sigma**2 / 2) == pytest.approx(mean, rel=1e-12)
    assert np.sqrt(np.expm1(ln.sigma**2)) == pytest.approx(cv, rel=1e-12)
    g = Gamma.from_mean_cv(mean, cv)
    assert g.mean == pytest.approx(mean, rel=1e-12)
    assert 1 / np.sqrt(g.shape) == pytest.approx(cv, rel=1e-12)


def test_sample_spread_matches_the_requested_cv() -> None:
    x = LogNormal(mean=4.0, cv=1.5).sample(np.random.default_rng(1), 1_000_000)
    assert x.std() / x.mean() == pytest.approx(1.5, rel=0.05)


def test_empirical_weights_are_respected() -> None:
    x = Empirical((1.0, 3.0), weights=(3.0, 1.0)).sample(np.random.default_rng(2), N)
    assert np.mean(x == 1.0) == pytest.approx(0.75, abs=0.01)
    assert Empirical((1.0, 3.0), weights=(3.0, 1.0)).mean == 1.5


def test_distributions_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Exponential(1.0).mean = 2.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Exponential(0.0), r"Exponential.mean = 0.0: must be a finite number > 0"),
        (lambda: Exponential(float("inf")), r"Exponential.mean = inf"),
        (lambda: LogNormal(1.0, -0.2), r"LogNormal.cv = -0.2"),
        (lambda: Gamma(0.0, 1.0), r"Gamma.shape = 0.0"),
        (lambda: Deterministic(-1.0), r"Deterministic.value = -1.0: must be a finite number >= 0"),
        (lambda: Empirical(()), r"Empirical.values: need at least one"),
        (lambda: Empirical((1.0, -2.0)), r"Empirical.values: -2.0 is not a finite time >= 0"),
        (lambda: Empirical((1.0, 2.0), weights=(1.0,)), r"1 weights for 2 values"),
        (lambda: Exponential(1.0).sample(np.random.default_rng(0), -1), r"n = -1"),
    ],
)
def test_bad_parameters_are_named(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()
