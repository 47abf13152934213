"""Availability against closed forms: one repairable unit, a standby pair, failover with detection delay."""

from __future__ import annotations

import math

import numpy as np
from failover_helpers import params, quiet_service, year

from twin.models.failover.faults import alternating_renewal, stress_multiplier
from twin.models.failover.intervals import intersect

MTBF, MTTR = 100.0, 5.0
UNIT = {"mtbf_hours": MTBF, "mttr_hours": MTTR}
DAYS = 3650  # ten years: about 830 failure cycles per unit


def se_unavailability(mtbf: float, mttr: float, horizon: float) -> float:
    """Standard error of the down-time share of an exponential alternating renewal process over ``horizon``."""
    return math.sqrt(2 * mtbf**2 * mttr**2 / ((mtbf + mttr) ** 3 * horizon))


def test_single_unit_availability_is_mtbf_over_mtbf_plus_mttr() -> None:
    p = params({"x": quiet_service(failure={"mtbf_hours": MTBF, "mttr_hours": MTTR})})
    y = year(p, DAYS)["x"]
    expected = MTBF / (MTBF + MTTR)
    assert abs(y.availability - expected) < 4 * se_unavailability(MTBF, MTTR, DAYS * 24)
    assert y.incidents["component"] > 700


def test_instant_hot_standby_pair_is_down_only_when_both_are() -> None:
    # two independent units, detection and takeover instant: unavailability (MTTR/(MTBF+MTTR))^2
    p = params(
        {"x": quiet_service(deployment="hot", sites=["east", "west"], failure=UNIT)},
        failover={"detection_minutes": 0, "rto_minutes": {"hot": 0}},
    )
    y = year(p, DAYS)["x"]
    u = MTTR / (MTBF + MTTR)
    # the product of two unavailabilities: its error is dominated by the rarer overlaps; allow 15 %
    assert abs((1 - y.availability) - u**2) < 0.15 * u**2


def test_hot_standby_with_detection_and_takeover_time() -> None:
    # each primary failure costs min(repair, d + rto) = E[min(X, tau)] = MTTR (1 - exp(-tau/MTTR)); after
    # the takeover the service is down only while the standby is down too (u of the rest of the outage)
    tau = (6 + 12) / 60
    p = params(
        {"x": quiet_service(deployment="hot", sites=["east", "west"], failure=UNIT)},
        failover={"detection_minutes": 6, "rto_minutes": {"hot": 12}},
    )
    y = year(p, DAYS)["x"]
    u = MTTR / (MTBF + MTTR)
    expected = u * (1 - math.exp(-tau / MTTR)) + u * u * math.exp(-tau / MTTR)
    assert abs((1 - y.availability) - expected) < 0.08 * expected


def test_active_active_loses_only_overlaps_and_half_the_traffic_during_detection() -> None:
    p = params(
        {"x": quiet_service(deployment="active_active", sites=["east", "west"],
                            failure={"mtbf_hours": MTBF, "mttr_hours": MTTR})},
        failover={"detection_minutes": 6},
    )  # fmt: skip
    y = year(p, DAYS)["x"]
    u = MTTR / (MTBF + MTTR)
    assert abs((1 - y.availability) - u**2) < 0.15 * u**2
    # degraded: each of ~2 x 830 failures costs 6 minutes at half traffic (outside full outages)
    assert 0.8 * 2 * DAYS * 24 / (MTBF + MTTR) * 6 < y.minutes_degraded < 1.2 * 2 * DAYS * 24 / (MTBF + MTTR) * 6


def test_renewal_process_matches_exponential_moments() -> None:
    rng = np.random.default_rng(7)
    iv = alternating_renewal(1 / MTBF, MTTR, 1e6, rng)
    up = iv.starts[1:] - iv.ends[:-1]
    down = iv.ends - iv.starts
    assert abs(up.mean() - MTBF) < 4 * MTBF / math.sqrt(up.size)
    assert abs(down[:-1].mean() - MTTR) < 4 * MTTR / math.sqrt(down.size)


def test_stress_raises_the_failure_rate_only_above_the_threshold() -> None:
    u = np.array([0.0, 0.5, 0.7, 0.85, 1.0])
    np.testing.assert_allclose(stress_multiplier(u, 10.0, 0.7), [1, 1, 1, 6, 11])
    horizon = 200_000.0
    calm = alternating_renewal(np.full(int(horizon), 1 / MTBF), 1.0, horizon, np.random.default_rng(1))
    hot = alternating_renewal(np.full(int(horizon), 11 / MTBF), 1.0, horizon, np.random.default_rng(1))
    assert 9 < len(hot) / len(calm) < 12


def test_independent_instances_overlap_rarely() -> None:
    a = alternating_renewal(1 / MTBF, MTTR, 1e6, np.random.default_rng(1))
    b = alternating_renewal(1 / MTBF, MTTR, 1e6, np.random.default_rng(2))
    u = MTTR / (MTBF + MTTR)
    assert abs(intersect(a, b).total / 1e6 - u * u) < 0.15 * u * u
