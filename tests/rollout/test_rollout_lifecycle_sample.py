"""The rollout's cards through the real card lifecycle and JPKI (issue 16 item 4): a sample drawn by the run's
hand-overs is issued, has its PINs reset and its holders die at the run's own rates, and the lifecycle's and the
CA's counts agree with what the run expects for the same cards."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from scipy.stats import poisson

sys.path.insert(0, str(Path(__file__).parent))
from test_rollout_backtest import DATA, backtest_run  # noqa: E402

from twin.models.rollout import issuance_sample  # noqa: E402
from twin.services.card_lifecycle import CardState  # noqa: E402

N = 400


@pytest.fixture(scope="module")
def run():  # noqa: ANN201
    return backtest_run("scenarios/rollout_backtest_2021h1.yaml", DATA / "fitted_to_2021-06.json")[2]


def _within(observed: int, expected: float) -> bool:
    """Inside the central 99.8 % of a Poisson count with that mean."""
    lo, hi = poisson.ppf(0.001, expected), poisson.ppf(0.999, expected)
    return lo <= observed <= hi


@pytest.mark.slow
def test_the_sample_lives_through_the_lifecycle_at_the_runs_rates(run) -> None:  # noqa: ANN001
    s = issuance_sample.of_run(run, shipping_days=5, sample=N, seed=11)
    assert s is not None and s.violations == []
    assert s.cards == N and s.per_card("certificates_issued") == 2.0  # adults: auth and signature
    assert s.active_at_end + s.deaths == N
    # the CA revoked both certificates of every dead holder, but for those that had expired before the death
    assert s.revoked_death + s.expired_before_death == 2 * s.deaths
    assert s.expected_pin_resets > 5 and s.expected_deaths > 5, (s.expected_pin_resets, s.expected_deaths)
    assert _within(s.pin_resets, s.expected_pin_resets), (s.pin_resets, s.expected_pin_resets)
    assert _within(s.deaths, s.expected_deaths), (s.deaths, s.expected_deaths)
    assert s.issued_total == pytest.approx(float(run.daily["issued"].sum() / run.scale))
    states = [c.state for c in s.life]
    assert states.count(CardState.ACTIVE) == s.active_at_end
    again = issuance_sample.of_run(run, shipping_days=5, sample=N, seed=11)
    assert (again.pin_resets, again.deaths, again.certificates_issued) == (s.pin_resets, s.deaths,
                                                                           s.certificates_issued)
