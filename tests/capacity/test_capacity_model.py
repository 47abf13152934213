"""The capacity scenario end to end: the agent sample agrees with the aggregate, runs are repeatable."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from twin import runs
from twin import scenario as sc
from twin.models.capacity.agent import run_agent
from twin.models.capacity.aggregate import simulate
from twin.models.capacity.demand import build_demand
from twin.models.capacity.params import Params

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def agent_world():
    p = Params(
        fidelity="agent",
        reception={"match_rate": 0.5, "knows_pin": 0.5, "visual_check": 0.5},
        demand={"card_share": [(dt.date(2024, 7, 1), 0.4)]},
        agent={"patients": 1500, "revoked_share": 0.05, "cards": 3},
    )
    return p, simulate(p, build_demand(p, dt.date(2024, 7, 8), 7))


def test_the_agent_sample_agrees_with_the_aggregate_shares(agent_world):
    p, agg = agent_world
    out = run_agent(p, agg, np.random.default_rng(5))
    n = p.agent.patients
    for k, expected in out["expected"].items():
        seen = out["counts"][k]
        sd = np.sqrt(max(expected * (1 - expected / n), 1.0))
        assert abs(seen - expected) <= 4.5 * sd + 1, (k, seen, expected)
    assert out["counts"]["refused_revoked"] > 0  # revoked cards are refused through OCSP, not answered
    assert sum(out["counts"][k] for k in ("number", "face", "pin", "visual", "fallback_number")) == n


def test_mislinked_qualifications_give_wrong_answers_that_are_counted(agent_world):
    p, agg = agent_world
    p = p.model_copy(update={"agent": p.agent.model_copy(update={"mislink_rate": 1.0, "patients": 200})})
    out = run_agent(p, agg, np.random.default_rng(6))
    assert out["mislinked"] == p.agent.cards + 1
    assert out["counts"]["wrong_answer"] == out["counts"]["answered"] > 0


def test_the_same_seed_gives_the_same_agent_counts(agent_world):
    p, agg = agent_world
    small = p.model_copy(update={"agent": p.agent.model_copy(update={"patients": 150})})
    a = run_agent(small, agg, np.random.default_rng(9))
    assert a == run_agent(small, agg, np.random.default_rng(9))
    assert a != run_agent(small, agg, np.random.default_rng(10))


SMALL = """
name: capacity_small
kind: capacity
title: small
seed: 7
population: {scale: 1}
calendar: {start: 2024-07-08, end: 2024-07-09}
params: {fidelity: agent, agent: {patients: 40, cards: 2}}
options:
  - name: ocsp
  - name: crl
    params: {revocation: {mode: crl}}
"""


@pytest.mark.slow
def test_a_run_writes_the_peak_and_knees_and_repeats_byte_for_byte(tmp_path):
    first = runs.execute(sc.loads(SMALL), out=tmp_path / "a")
    second = runs.execute(sc.loads(SMALL), out=tmp_path / "b")
    assert (first.path / "metrics.parquet").read_bytes() == (second.path / "metrics.parquet").read_bytes()
    s = first.summary
    assert s["options"]["ocsp"]["peak_checks_per_second"] > 100
    assert s["options"]["crl"]["revocation_visible_after_hours"] == 1.0
    assert set(s["options"]["ocsp"]["pools"]) == {"eligibility", "ocsp", "portal", "ca", "linkage"}
    assert s["agent"]["counts"] == second.summary["agent"]["counts"]


def test_the_committed_scenario_validates():
    scen = sc.load(ROOT / "scenarios" / "capacity_2024.yaml")
    assert [o.name for o in scen.options][:2] == ["ocsp_baseline", "ocsp_cdn"]


def test_a_misspelt_parameter_in_a_scenario_is_named():
    with pytest.raises(Exception, match="cdn_hit_rte"):
        sc.loads(SMALL.replace("{mode: crl}", "{cdn_hit_rte: 0.9}"))
