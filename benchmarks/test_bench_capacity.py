"""Capacity model speed: one simulated week of national demand (about 50 million checks) in aggregate
mode, and the real code paths the pools' service times come from.

Target (the project's issue): one week in aggregate mode <= 60 s on 2 cores. Run with ``make bench``
or ``.venv/bin/pytest benchmarks/test_bench_capacity.py --benchmark-only -p no:randomly``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from twin.models.capacity.agent import run_agent
from twin.models.capacity.aggregate import simulate
from twin.models.capacity.demand import build_demand, cards_held_history
from twin.models.capacity.params import Params

WEEK = dt.date(2024, 7, 8)


@pytest.fixture(scope="module")
def warm():
    cards_held_history()  # the issuance CSVs are read once per process


def test_one_week_of_national_demand_in_aggregate_mode(benchmark, warm):
    p = Params()

    def week():
        d = build_demand(p, WEEK, 7)
        return d, simulate(p, d)

    d, r = benchmark.pedantic(week, rounds=3, iterations=1)
    benchmark.extra_info["checks"] = float(d.checks.sum())
    benchmark.extra_info["peak_checks_per_second"] = float(d.checks.max() / 3600)
    assert d.checks.sum() > 40e6 and set(r.pools) == {"eligibility", "ocsp", "portal", "ca"}


def test_one_year_of_hours_in_aggregate_mode(benchmark, warm):
    p = Params()
    out = benchmark.pedantic(lambda: simulate(p, build_demand(p, dt.date(2024, 1, 1), 366)), rounds=1, iterations=1)
    assert out.pools["eligibility"].arrivals.shape == (366 * 24,)


def test_agent_sample_of_200_patients_through_the_real_code(benchmark, warm):
    p = Params(fidelity="agent", agent={"patients": 200}, demand={"card_share": [(WEEK, 0.5)]})
    agg = simulate(p, build_demand(p, WEEK, 7))
    out = benchmark.pedantic(lambda: run_agent(p, agg, np.random.default_rng(1)), rounds=3, iterations=1)
    assert sum(out["counts"][k] for k in ("number", "face", "pin", "visual", "fallback_number")) == 200


def test_the_national_peak_day_at_request_level(benchmark, warm):
    """Issue 15's speed target: a national peak day at request level (about 9.7M checks and their OCSP
    requests from every facility, through the batch stations) <= 60 s on 2 cores. The same day as
    ``twin run scenarios/capacity_peak_day.yaml`` without the report."""
    from twin.models.capacity.requests import run_day
    from twin.scenario import load

    p = load(Path(__file__).resolve().parents[1] / "scenarios/capacity_peak_day.yaml").options[0].params
    out = benchmark.pedantic(lambda: run_day(p, WEEK, np.random.default_rng(20240708), agents=False, seed=1),
                             rounds=1, iterations=1)
    benchmark.extra_info["patients"] = out.day.patients
    benchmark.extra_info["first_attempts"] = int(out.result.first.sum())
    assert out.day.patients > 9e6 and out.day.facilities_operating > 150_000
