"""Who applies for a card today: one hazard function for a cell of residents or for one agent.

Each day every resident without a card (and without a pending application) decides whether to
apply (交付申請). The daily hazard depends on age band, sex, digital literacy (the share of the
age band and sex using the internet: 通信利用動向調査), municipality type, the levers active that
day, and word of mouth (a term that rises with the share of the people one hears from who already
hold a card: the municipality's holding share, which is what the fitted values assume).

Aggregate fidelity works on *cells*: municipality x 5-year age band x sex (1,741 x 21 x 2 =
73,122 cells). Because every input of the hazard is a function of the cell (literacy by age band
and sex, type by municipality, word of mouth through the municipality's holding share), the 73,122
cells carry exactly the same information as 126 million rows for this hazard model: residents of
one cell are exchangeable, so counting them per cell loses nothing. Agent fidelity (Mesa) calls
:func:`daily_probability` with per-agent arrays instead, with the same municipal share, or (an option
that is another model: ``agent_word_of_mouth: household``) the share of the agent's own household.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.models.rollout.params import Hazard
from twin.population.municipalities import MUNICIPALITY_TYPES
from twin.population.statistics import AGE_BANDS

N_BANDS = len(AGE_BANDS)
#: literacy of the reference resident the base hazard refers to
REFERENCE_LITERACY = 0.9
#: internet use 2014 of people 65+ (通信利用動向調査 2014): (first band, last band, male, female)
_OLDER = ((13, 13, 0.619, 0.525), (14, 15, 0.435, 0.313), (16, 20, 0.204, 0.110))
#: internet use 2023: above 90 % in every band 13-69; children apply through their parents
_YOUNGER = 0.90


def literacy_table() -> np.ndarray:
    """Digital literacy by (age band, sex): the share using the internet (FIGURES.md)."""
    lit = np.full((N_BANDS, 2), _YOUNGER)
    for a0, a1, male, female in _OLDER:
        lit[a0 : a1 + 1] = (male, female)
    return lit


@dataclass(frozen=True)
class Cells:
    """Residents counted by municipality x age band x sex, flattened to one axis (c = (m*21 + a)*2 + s)."""

    population: np.ndarray  # (C,) residents
    muni: np.ndarray  # (C,) municipality index
    band: np.ndarray  # (C,)
    sex: np.ndarray  # (C,) 0 male, 1 female
    literacy: np.ndarray  # (C,)
    muni_type: np.ndarray  # (M,) index into MUNICIPALITY_TYPES
    muni_population: np.ndarray  # (M,)
    prefecture: np.ndarray  # (M,) 0..46 (JIS code - 1)

    @property
    def n_munis(self) -> int:
        return len(self.muni_population)


def build_cells(muni_population: np.ndarray, muni_type: np.ndarray, band_sex_population: np.ndarray,
                prefecture: np.ndarray | None = None) -> Cells:  # fmt: skip
    """Cells from municipal populations and the national age-sex structure (the releases give no
    municipal age tables, so each municipality gets the national shares: an assumption)."""
    mp = np.asarray(muni_population, dtype=np.float64)
    share = np.asarray(band_sex_population, dtype=np.float64)
    share = share / share.sum()
    pop = (mp[:, None, None] * share[None]).reshape(-1)
    m, a, s = np.meshgrid(np.arange(len(mp)), np.arange(N_BANDS), np.arange(2), indexing="ij")
    band, sex = a.reshape(-1), s.reshape(-1)
    return Cells(
        population=pop,
        muni=m.reshape(-1),
        band=band,
        sex=sex,
        literacy=literacy_table()[band, sex],
        muni_type=np.asarray(muni_type),
        muni_population=mp,
        prefecture=np.zeros(len(mp), dtype=np.int64) if prefecture is None else np.asarray(prefecture) - 1,
    )


def static_log_hazard(
    h: Hazard, band: np.ndarray, sex: np.ndarray, literacy: np.ndarray, mtype: np.ndarray,
    prefecture: np.ndarray | int = 0,
) -> np.ndarray:  # fmt: skip
    """Log daily hazard before levers and word of mouth, per cell or per agent (arrays broadcast)."""
    type_rr = np.array([h.type_log_rr[t] for t in MUNICIPALITY_TYPES])
    return (
        np.log(h.base_per_year / 365.0)
        + np.asarray(h.age_log_rr)[band]
        + h.male_log_rr * (sex == 0)
        + h.literacy_effect * (literacy - REFERENCE_LITERACY)
        + type_rr[mtype]
        + np.asarray(h.prefecture_log_rr)[prefecture]
    )


def lever_response(h: Hazard, band: np.ndarray, prefecture: np.ndarray | int = 0) -> np.ndarray:
    """How strongly a resident answers the levers, relative to the reference (arrays broadcast)."""
    return np.exp(np.asarray(h.lever_age_log_rr)[band] + np.asarray(h.lever_prefecture_log_rr)[prefecture])


def daily_probability(
    static_log: np.ndarray,
    literacy: np.ndarray,
    holder_share: np.ndarray,
    common_lift: float,
    support_lift: float,
    word_of_mouth: float,
    response: np.ndarray | float = 1.0,
) -> np.ndarray:
    """P(apply today) = 1 - exp(-h), h = exp(static) (1 + levers x response + support (1 - literacy)) (1 + wom share).

    ``static_log`` may be given already exponentiated as ``static_rate`` by :func:`daily_probability_rate`.
    Arrays broadcast: the aggregate tier passes (municipality, age-sex) grids, the agents one row each."""
    return daily_probability_rate(np.exp(static_log), literacy, holder_share, common_lift, support_lift, word_of_mouth,
                                  response)  # fmt: skip


def daily_probability_rate(
    static_rate: np.ndarray,
    literacy: np.ndarray,
    holder_share: np.ndarray,
    common_lift: float,
    support_lift: float,
    word_of_mouth: float,
    response: np.ndarray | float = 1.0,
) -> np.ndarray:
    """:func:`daily_probability` with ``exp(static_log)`` precomputed (the per-day hot path)."""
    lift = (1.0 + support_lift * (1.0 - literacy)) + common_lift * response
    h = static_rate * lift * (1.0 + word_of_mouth * holder_share)
    return -np.expm1(-h)
