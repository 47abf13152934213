"""The payout's households as Mesa agents: they decide by the aggregate tier's rules, so one agent per
household, one agent per municipality and the aggregate's columns give the same plan byte for byte."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from twin.models.payout import households_from_nation
from twin.models.payout.behaviour import MAIL, NEVER, ONLINE, PUSH, Draws, plan_households
from twin.models.payout.households import Cohort, Household, HouseholdModel
from twin.models.payout.params import Params
from twin.population import build_nation
from twin.runs import stream_key

DAY0 = dt.date(2020, 4, 30)
SCALE = 0.0002  # about 11,500 households
FIELDS = ("route", "arrival_day", "extra_online", "dup_mail_day")


def streams(seed: int = 7):  # noqa: ANN201
    return lambda n: np.random.default_rng([seed, stream_key(n)])


@pytest.fixture(scope="module")
def sample() -> tuple:
    nation = build_nation(SCALE, np.random.default_rng(7), card_date=dt.date(2020, 4, 27))
    return households_from_nation(nation)


OPTIONS = {
    "baseline": Params(),
    "push": Params.model_validate({"channels": {"push": True}}),
    "online_only": Params.model_validate({"channels": {"mail": False}}),
}


def same(a, b) -> bool:  # noqa: ANN001
    return all(np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True) for f in FIELDS)


@pytest.mark.parametrize("option", list(OPTIONS))
def test_cohort_agents_decide_what_the_columns_decide(sample: tuple, option: str) -> None:
    hh, mun = sample
    p = OPTIONS[option]
    columns = plan_households(hh, mun, p, DAY0, streams(), SCALE)
    model = HouseholdModel(hh, mun, p, DAY0, streams(), SCALE)
    assert all(isinstance(a, Cohort) for a in model.agents)
    assert len(model.agents) == int(np.count_nonzero(np.bincount(hh.municipality)))
    agents = model.plan()
    assert same(columns, agents)
    assert model.steps == 1


def test_one_agent_per_household_is_the_reference(sample: tuple) -> None:
    hh, mun = sample
    p = OPTIONS["push"]
    model = HouseholdModel(hh, mun, p, DAY0, streams(), SCALE, per_household=True)
    assert len(model.agents) == len(hh)
    assert all(isinstance(a, Household) for a in model.agents)
    cohorts = HouseholdModel(hh, mun, p, DAY0, streams(), SCALE).plan()
    assert same(model.plan(), cohorts)
    # every route is taken by some household (else the comparison would be empty for it)
    assert {int(r) for r in np.unique(model.route)} == {NEVER, MAIL, ONLINE, PUSH}


def test_the_order_of_deciding_does_not_matter_but_comes_from_the_run_seed(sample: tuple) -> None:
    hh, mun = sample
    p = OPTIONS["baseline"]
    a = HouseholdModel(hh, mun, p, DAY0, streams(), SCALE)
    b = HouseholdModel(hh, mun, p, DAY0, streams(), SCALE)
    a.step()
    b.step()
    # the Model's stream is the run's: the same seed gives the same shuffle, another seed another
    assert a.rng.random() == b.rng.random()
    c = HouseholdModel(hh, mun, p, DAY0, lambda n: np.random.default_rng([7, stream_key(n), 1])
                       if n == "household_agents" else streams()(n), SCALE)  # fmt: skip
    assert c.rng.random() != HouseholdModel(hh, mun, p, DAY0, streams(), SCALE).rng.random()
    assert same(a.plan(), c.plan())
    # another run seed: other draws, other decisions
    assert not same(a.plan(), HouseholdModel(hh, mun, p, DAY0, streams(8), SCALE).plan())


def test_agents_report_by_type_and_select_card_holders(sample: tuple) -> None:
    hh, mun = sample
    model = HouseholdModel(hh, mun, OPTIONS["baseline"], DAY0, streams(), SCALE)
    model.step()
    by_type = model.online_by_type()
    assert sum(by_type.values()) == int(np.count_nonzero(model.goes_online))
    assert int((model.route == ONLINE).sum()) <= sum(by_type.values())  # never-appliers override a few
    holders = model.card_holders_deciding()
    assert sum(a.card_holders for a in holders) == int(hh.head_card.sum())
    # only card holders apply online
    assert not (model.route[~hh.head_card] == ONLINE).any()


def test_draws_of_a_subset_are_the_households_own(sample: tuple) -> None:
    hh, _ = sample
    p = OPTIONS["baseline"]
    kept = Draws.kept(hh, streams(), p)
    lazy = Draws(streams(), len(hh), p)
    rows = np.array([5, 17, 400])
    assert np.array_equal(kept.take(rows).uniform("mail_delay"), lazy.uniform("mail_delay")[rows])
    with pytest.raises(ValueError, match="kept"):
        lazy.take(rows)


def test_wiring_the_agent_run_plans_with_the_mesa_households(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    """`twin run` at agent fidelity takes the households' decisions from HouseholdModel (not the columns)."""
    from twin import runs
    from twin import scenario as sc
    from twin.experiments import InlineExecutor, partitions
    from twin.models.payout import households

    stepped: list[int] = []
    real_step = households.HouseholdModel.step

    def step(self) -> None:  # noqa: ANN001
        stepped.append(len(self.agents))
        real_step(self)

    monkeypatch.setattr(households.HouseholdModel, "step", step)
    text = """
name: mesa_wiring
kind: payout
seed: 3
population: {scale: 0.0001, statistics: "20200401"}
params: {fidelity: agent, agent: {partitions: 1}}
calendar: {start: 2020-04-30, end: 2021-03-31}
options:
  - {name: baseline_2020}
  - {name: push, params: {channels: {push: true}}}
"""
    with partitions.using(InlineExecutor()):
        runs.execute(sc.loads(text), out=tmp_path)
    assert len(stepped) == 2 and all(n > 100 for n in stepped)  # one step per design, a cohort per municipality
