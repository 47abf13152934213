"""Agent against aggregate fidelity: holders by month, by age band and by prefecture, within sampling noise.

With ``agent_word_of_mouth: municipality`` the two tiers are the same model (the hazard, its word-of-mouth
term, the capacity chain), so a run of each on the same residents and levers may differ only by the
agents' sampling. The stated tolerance for a count of holders (a month's national holders, an age band's
or a prefecture's at a record day) is :data:`K_SE` standard errors of the difference, derived, not fitted:

- the agents are a Bernoulli sample of the residents (each cell's count is binomial) and each holds by its
  own draws, so the agents holding in a group of ``N`` residents with holding share ``p`` are about
  Binomial(N, sample x p): variance ``N p (1 - sample p) / sample`` once weighted up by ``1 / sample``;
- the aggregate tier draws each cell's applications binomially at 1:1: variance ``N p (1 - p)``;
- word of mouth feeds a fluctuation back: an excess ``d`` in a town's share raises the hazard of the rest
  by ``w d / (1 + w p)``, and the rest apply at most up to the share ``p`` reached, so the fluctuation has
  grown by at most ``1 + w p`` (``w``: ``hazard.word_of_mouth``); the standard error is widened by it;
- agents are whole: one agent's weight (``1 / sample``) is added for rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.models.rollout.hazard import N_BANDS, Cells
from twin.models.rollout.simulate import RolloutResult
from twin.population.statistics import AGE_BANDS

#: stated tolerance, in standard errors of the difference
K_SE = 4.0


@dataclass(frozen=True)
class Check:
    """One count of holders in both tiers: ``what`` (month, age band, prefecture), the day, the group."""

    what: str
    day: int
    group: str
    agent: float
    aggregate: float
    se: float
    slack: float

    @property
    def z(self) -> float:
        """The difference in standard errors (agent minus aggregate)."""
        return (self.agent - self.aggregate) / self.se

    @property
    def within(self) -> bool:
        return abs(self.agent - self.aggregate) <= K_SE * self.se + self.slack


def standard_error(residents: np.ndarray, holders: np.ndarray, sample: float, word_of_mouth: float) -> np.ndarray:
    """Standard error of agent minus aggregate holders in a group of ``residents`` (national counts)."""
    residents = np.asarray(residents, dtype=np.float64)
    p = np.clip(np.asarray(holders, dtype=np.float64) / np.maximum(residents, 1.0), 0.0, 1.0)
    var = residents * p * (1.0 - sample * p) / sample + residents * p * (1.0 - p)
    return np.sqrt(var) * (1.0 + word_of_mouth * p)


def compare(agg: RolloutResult, ag: RolloutResult, cells: Cells, sample: float, word_of_mouth: float,
            days: list[int]) -> list[Check]:  # fmt: skip
    """Holders by month (national, on ``days``), by age band and by prefecture (on the runs' record days)."""
    out: list[Check] = []
    slack = 1.0 / sample
    national = float(cells.population.sum())
    for d in days:
        a, g = float(ag.daily["holders"][d]), float(agg.daily["holders"][d])
        out.append(Check("month", d, "national", a, g, float(standard_error(national, g, sample, word_of_mouth)),
                         slack))  # fmt: skip
    band_pop = np.bincount(cells.band, weights=cells.population, minlength=N_BANDS)
    prefs = np.unique(cells.prefecture)
    pref_pop = np.array([cells.muni_population[cells.prefecture == k].sum() for k in prefs])
    for i, d in enumerate(agg.record_days):
        band_ag, band_agg = ag.issued_mix[i].sum(axis=1), agg.issued_mix[i].sum(axis=1)
        se = standard_error(band_pop, band_agg, sample, word_of_mouth)
        out += [Check("age band", d, AGE_BANDS[b], float(band_ag[b]), float(band_agg[b]), float(se[b]), slack)
                for b in range(N_BANDS) if band_pop[b] > 0]  # fmt: skip
        pref_ag = np.array([ag.holders_muni[i, cells.prefecture == k].sum() for k in prefs])
        pref_agg = np.array([agg.holders_muni[i, cells.prefecture == k].sum() for k in prefs])
        se = standard_error(pref_pop, pref_agg, sample, word_of_mouth)
        out += [Check("prefecture", d, f"{k + 1:02d}", float(pref_ag[j]), float(pref_agg[j]), float(se[j]), slack)
                for j, k in enumerate(prefs)]  # fmt: skip
    return out


def failures(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.within]


def worst(checks: list[Check]) -> dict[str, float]:
    """Per kind of count, the largest |z| (standard errors) and the largest relative difference."""
    out = {}
    for what in ("month", "age band", "prefecture"):
        cs = [c for c in checks if c.what == what and c.aggregate > 0]
        if cs:
            out[f"{what} |z|"] = max(abs(c.z) for c in cs)
            out[f"{what} relative"] = max(abs(c.agent / c.aggregate - 1.0) for c in cs)
    return out


__all__ = ["K_SE", "Check", "compare", "failures", "standard_error", "worst"]
