"""Agent and aggregate fidelity agree: the same residents, the same levers, the same seed.

The two tiers share the hazard function and the capacity chain; they differ in how residents are
counted (cells of exchangeable residents vs Mesa agents in households) and in the word-of-mouth term
(the municipality's holding share vs the agent's own household). A small country (three prefectures,
nine municipalities, 1.2 million residents, 5 % of them agents) runs 2020-01..2021-06 through the
payout, points phase 1 with its deadline rush and the QR mailing, on one seed in both tiers.

Tolerances, stated and derived:
- word of mouth off, the tiers are the same model: holders agree by month within 4 sampling standard
  errors of the agents' count (binomial: sqrt(n p (1 - p)) for the agents' holders, n agents);
  by age band and by prefecture at the record days within 4 standard errors each, plus 1 % for the
  first-come-first-served hand-over (an agent holds once its municipality has handed over as many
  cards as there were sampled applications before it: a rounding of at most one agent per town hall);
  What this can tell apart (measured on this seed): agents answering the levers 25 % more weakly end 8.4 %
  lower, 8 standard errors off, and fail; 10 % more weakly, 1.8 % lower (1.8 standard errors), which 60,000
  agents cannot tell from noise;
- word of mouth on, the household term differs from the municipal one by design (an agent hears from
  its own household, a cell from its town): the national holders by month agree within 4 standard
  errors plus 2 % (households are drawn at random, so the two shares have the same mean; what differs
  is their spread, a second-order effect: measured within 0.7 % on this seed).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from twin.models.rollout.agents import run_agents
from twin.models.rollout.hazard import build_cells
from twin.models.rollout.params import Params
from twin.models.rollout.simulate import Rollout

DAY0, N_DAYS = dt.date(2020, 1, 1), 547  # to 2021-06-30
SAMPLE = 0.05
SEED = 20210401


#: deaths per person-year by band and sex: Gompertz's law near Japan's (men 0.7 % a year at 60, women half
#: that), times 20 (men: 1 % at 40, 50 % at 80) so that deaths move the holders by more than the agents'
#: sampling error in 18 months
_MID = 5.0 * np.arange(21) + 2.5
MORTALITY = np.minimum(20 * np.stack([np.exp(-10.9 + 0.1 * _MID), np.exp(-11.6 + 0.1 * _MID)], axis=1), 3.0)


def small_country():  # noqa: ANN201
    """Nine municipalities in three prefectures, a national-like age pyramid (fewer above 80)."""
    pop = np.array([300_000.0, 120_000, 40_000, 250_000, 90_000, 15_000, 200_000, 150_000, 35_000])
    mtype = np.array([1, 2, 3, 0, 2, 3, 2, 2, 3])
    pref = np.array([13, 13, 13, 27, 27, 27, 46, 46, 46])
    bands = np.linspace(1.0, 0.6, 21)
    bands[17:] = [0.45, 0.25, 0.1, 0.02]
    return build_cells(pop, mtype, np.stack([bands, bands * 1.1], axis=1), pref)


def month_ends() -> list[int]:
    out, d = [], DAY0
    while (d - DAY0).days < N_DAYS:
        nxt = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
        if (nxt - DAY0).days - 1 < N_DAYS:
            out.append((nxt - DAY0).days - 1)
        d = nxt
    return out


def both_tiers(word_of_mouth: float):  # noqa: ANN201
    cells = small_country()
    p = Params(initial_applications=50_000, agent_sample=SAMPLE, stochastic=True,
               hazard={"word_of_mouth": word_of_mouth, "base_per_year": 0.04},
               points={"phase1": {"start": "2020-07-01", "announced": "2019-12-05", "rush": 3.0, "lift_per_5000": 1.5,
                                  "deadlines": [{"date": "2021-03-31", "announced": "2020-07-01"},
                                                {"date": "2021-04-30", "announced": "2020-12-15"}]}})  # fmt: skip
    rec = month_ends()
    agg = Rollout(p, cells, DAY0, N_DAYS, rng=np.random.default_rng(SEED), record_days=rec, mortality=MORTALITY).run()
    ag = run_agents(p, cells, DAY0, N_DAYS, rng=np.random.default_rng(SEED), record_days=rec, mortality=MORTALITY)
    return cells, rec, agg, ag


def within(agent: np.ndarray, aggregate: np.ndarray, n_agents: np.ndarray, k: float = 4.0,
           extra: float = 0.0) -> np.ndarray:  # fmt: skip
    """Per entry: |agents - aggregate| <= k binomial standard errors of the agents' count (+ extra relative)."""
    share = np.clip(aggregate / np.maximum(n_agents / SAMPLE, 1.0), 1e-6, 1 - 1e-6)
    se = np.sqrt(n_agents * share * (1 - share)) / SAMPLE
    return np.abs(agent - aggregate) <= k * se + extra * aggregate + 1.0 / SAMPLE


def test_agents_and_cells_agree_on_holders_by_month_age_band_and_prefecture_without_word_of_mouth() -> None:
    cells, rec, agg, ag = both_tiers(word_of_mouth=0.0)
    n_agents = ag.totals["population"] * SAMPLE
    holders_agg, holders_ag = agg.daily["holders"][rec], ag.daily["holders"][rec]
    # the run exercises the chain: cards go from about 0 to more than 10 % of the residents
    assert holders_agg[-1] > 0.10 * agg.totals["population"] and holders_agg[0] < 0.05 * agg.totals["population"]
    ok = within(holders_ag, holders_agg, np.full(len(rec), n_agents))
    assert ok.all(), [(rec[i], holders_ag[i], holders_agg[i]) for i in np.flatnonzero(~ok)]
    # deaths are large enough here to be told apart: agents that never died would hold every card issued,
    # and that count is outside the tolerance by the last months
    assert not within(ag.daily["issued_cumulative"][rec], holders_agg, np.full(len(rec), n_agents))[-3:].any()
    # age bands (both sexes) at every record day
    band_agg, band_ag = agg.issued_mix.sum(axis=2), ag.issued_mix.sum(axis=2)
    band_pop = np.bincount(cells.band, weights=cells.population, minlength=21) * SAMPLE
    ok = within(band_ag, band_agg, np.broadcast_to(band_pop, band_agg.shape), extra=0.01)
    assert ok.all(), [(rec[i], b, band_ag[i, b], band_agg[i, b]) for i, b in zip(*np.nonzero(~ok), strict=True)]
    # prefectures at every record day
    pref_of = cells.prefecture
    pref_agg = np.stack([agg.holders_muni[:, pref_of == k].sum(axis=1) for k in np.unique(pref_of)], axis=1)
    pref_ag = np.stack([ag.holders_muni[:, pref_of == k].sum(axis=1) for k in np.unique(pref_of)], axis=1)
    pref_pop = np.array([cells.muni_population[pref_of == k].sum() for k in np.unique(pref_of)]) * SAMPLE
    ok = within(pref_ag, pref_agg, np.broadcast_to(pref_pop, pref_agg.shape), extra=0.01)
    assert ok.all(), [(rec[i], k, pref_ag[i, k], pref_agg[i, k]) for i, k in zip(*np.nonzero(~ok), strict=True)]


def test_with_household_word_of_mouth_the_tiers_still_agree_on_holders_by_month() -> None:
    _, rec, agg, ag = both_tiers(word_of_mouth=1.5)
    holders_agg, holders_ag = agg.daily["holders"][rec], ag.daily["holders"][rec]
    ok = within(holders_ag, holders_agg, np.full(len(rec), ag.totals["population"] * SAMPLE), extra=0.02)
    assert ok.all(), dict(zip(rec, (holders_ag / holders_agg - 1.0).round(4), strict=True))


def test_the_towns_decide_through_mesa_in_an_order_drawn_from_the_seed(monkeypatch) -> None:  # noqa: ANN001
    """Each day the model steps its Town agents with shuffle_do: every town once, in an order from the Model's
    random stream (the same for the same seed, not the towns' own order); each applicant gets the day it applied."""
    from twin.models.rollout.agents import RolloutAgents, Town

    cells = small_country()
    p = Params(agent_sample=SAMPLE)
    seen: list[list[int]] = []
    real = Town.decide

    def spy(self, day, common, support, wom, share):  # noqa: ANN001, ANN202
        seen[-1].append(self.muni)
        return real(self, day, common, support, wom, share)

    monkeypatch.setattr(Town, "decide", spy)
    orders = []
    for _ in range(2):
        model = RolloutAgents(p, cells, SAMPLE, np.random.default_rng(SEED))
        days = []
        for day in range(3):
            seen.append([])
            chosen = model.decide(day, 50.0, 0.0, 0.0)  # a strong lift: some apply every day
            assert len(chosen) > 0 and (model.applied_day[chosen] == day).all()
            assert (model.applied_day == day).sum() == len(chosen)  # today's applicants, no others
            assert sorted(seen[-1]) == list(range(cells.n_munis))  # every town, once
            days.append(seen[-1])
        orders.append(days)
    assert orders[0] == orders[1]  # the same seed, the same order
    assert any(o != sorted(o) for o in orders[0]) and orders[0][0] != orders[0][1]  # shuffled, anew each day
