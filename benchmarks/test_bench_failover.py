"""Failover model speed: one simulated year of a two-site deployment, and 100 replications.

Targets (the project's issue): <= 30 s per replication-year on one core at aggregate fidelity;
100 replications through twin.experiments. Run with ``make bench`` or
``.venv/bin/pytest benchmarks/test_bench_failover.py --benchmark-only -p no:randomly``.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
import pytest

from twin.models.failover.demand import hourly_demand
from twin.models.failover.engine import simulate_year
from twin.models.failover.params import Params
from twin.runs import stream_key
from twin.scenario import loads

START = dt.date(2025, 1, 1)

TWO_SITES = """
name: bench_failover
kind: failover
seed: 1
population: {scale: 1}
calendar: {start: 2025-01-01, end: 2025-12-31}
options:
  - name: hot_standby
  - name: active_active
    params:
      services:
        myna_portal: {deployment: active_active}
        eligibility: {deployment: active_active}
        payout: {deployment: active_active}
"""


def _year(seed: int) -> dict:
    p = Params()
    demand = hourly_demand(p.demand, START, 365)
    return simulate_year(
        p, START, 365, demand,
        lambda name: np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream_key(name),))),
    )  # fmt: skip


def test_one_year_two_sites_one_replication(benchmark: pytest.FixtureRequest) -> None:
    """The default topology (10 services, east/west hot standby), 8,760 hours, one core."""
    result = benchmark.pedantic(_year, args=(1,), rounds=5, iterations=1)
    assert set(result) == set(Params().services)
    assert benchmark.stats.stats.mean <= 30.0


def test_hundred_replications_through_experiments(benchmark: pytest.FixtureRequest, tmp_path: Path) -> None:
    """100 replications x 2 options of one year on 2 local worker processes (twin.experiments)."""
    from twin import experiments

    sc = loads(TWO_SITES)

    def run() -> float:
        t0 = time.perf_counter()
        sw = experiments.replicate(sc, 100, workers=2, out=tmp_path / f"run{time.perf_counter_ns()}")
        assert sw.computed == 100
        return time.perf_counter() - t0

    wall = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info["replications"] = 100
    benchmark.extra_info["seconds_per_replication"] = wall / 100
