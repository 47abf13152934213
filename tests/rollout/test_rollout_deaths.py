"""Holders die and grow older; MIC's releases count cards issued, aged at the age table's own steps.

- The bundled releases are cumulative counts of cards issued (MIC, 2023; twin/data/FIGURES.md): no
  municipality's count ever falls, and the age table always adds up to the national count.
- The age table recomputes ages only at some releases (bands fall there): read from the tables.
- Death rates by age band come from the releases' own population tables (cohort survival, Gompertz
  smoothing): they must rise with age, be higher for men, and have the order of Japan's life tables.
- In the chain, a dead holder's card leaves the cards held and stays in the cards issued; the living
  holders age day by day, so deaths follow the age they have reached, not the age at hand-over.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from twin.models.rollout.hazard import build_cells
from twin.models.rollout.observed import age_reference_dates, load_observed, mortality_by_band
from twin.models.rollout.params import Params
from twin.models.rollout.simulate import Rollout, aged_mix

ROOT = Path(__file__).resolve().parents[2]
START, END = dt.date(2016, 1, 1), dt.date(2021, 12, 31)


@pytest.fixture(scope="module")
def releases():  # noqa: ANN201
    return load_observed(ROOT / "twin/data/card_issuance", START, END)


def test_the_releases_count_cards_issued_no_municipality_ever_falls(releases) -> None:  # noqa: ANN001
    assert np.all(np.diff(releases.muni_cards, axis=0) >= 0)  # 1,741 towns, 33 steps: not one fall
    has_age = ~np.isnan(releases.band_cards[:, 0, 0])
    assert np.array_equal(releases.band_cards[has_age].sum(axis=(1, 2)), releases.national[has_age])


def test_the_age_table_recomputes_ages_at_the_releases_where_bands_fall(releases) -> None:  # noqa: ANN001
    refs = age_reference_dates(releases)
    with_table = {r for r, b in zip(refs, releases.band_cards, strict=True) if not np.isnan(b).any()}
    steps = [dt.date(2018, 12, 1), dt.date(2019, 9, 16), dt.date(2020, 9, 1), dt.date(2021, 6, 1)]
    assert sorted(with_table) == [dt.date(2017, 5, 15), *steps]
    # at each step some band fell: the 0-4 band (children turning 5) falls at every one
    for s in steps:
        i = releases.dates.index(s)
        assert releases.band_cards[i, 0].sum() < releases.band_cards[i - 1, 0].sum()


def test_death_rates_from_the_population_tables_rise_with_age_and_have_the_life_tables_order(releases) -> None:  # noqa: ANN001
    m = mortality_by_band(releases)
    assert m.shape == (21, 2) and np.all(m > 0)
    assert np.all(np.diff(m[8:], axis=0) > 0)  # from 40-44 up, each band dies faster than the one below
    assert np.all(m[8:, 0] > m[8:, 1])  # men die sooner than women
    # Japan's life tables of the late 2010s, to within a factor of about 1.5: men 60-64 near 0.7 % a year,
    # men 80-84 near 5-6 %, women 90-94 near 10-14 %
    assert 0.004 < m[12, 0] < 0.011
    assert 0.035 < m[16, 0] < 0.09
    assert 0.07 < m[18, 1] < 0.2
    # a backtest's fit sees only the tables up to its last release (2016 -> 2020, 4 years): the same order,
    # higher below 70 (measured: at most 1.61 times, women 50-54) where cohort sizes differ most
    early = mortality_by_band(load_observed(ROOT / "twin/data/card_issuance", START, dt.date(2020, 12, 1),
                                            only_inside=True))  # fmt: skip
    assert np.all(np.abs(np.log(early[10:20] / m[10:20])) < np.log(1.7))


def test_aged_mix_moves_cohorts_up_the_bands_by_elapsed_time() -> None:
    handed = np.zeros((3, 42))
    handed[0, 3 * 2] = 100.0  # 100 men aged 15-19 at hand-over, day 0
    handed[1, 19 * 2 + 1] = 10.0  # 10 women aged 95-99, day 0
    handed[2, 3 * 2] = 7.0  # 7 men 15-19 handed over after the reference day
    day = np.array([0.0, 0.0, 2000.0])
    out = aged_mix(handed, day, 365.25 * 2.5)  # half a band later
    assert np.allclose(out[3, 0], 50 + 7) and np.allclose(out[4, 0], 50)
    assert np.allclose(out[19, 1], 5) and np.allclose(out[20, 1], 5)
    out = aged_mix(handed[:2], day[:2], 365.25 * 12)  # 2.4 bands later; everyone stops at 100+
    assert np.allclose(out[5, 0], 60) and np.allclose(out[6, 0], 40) and np.allclose(out[20, 1], 10)
    assert np.isclose(out.sum(), handed[:2].sum())


def test_in_the_age_table_dead_holders_stay_at_the_band_they_died_in() -> None:
    handed = np.zeros((1, 42))
    handed[0, 19 * 2] = 100.0  # 100 men aged 95-99 at hand-over
    rate = np.full((21, 2), 0.2)
    out = aged_mix(handed, np.array([0.0]), 365.25 * 2.5, rate)  # half a band later
    alive = 100 * np.exp(-0.2 * 2.5)  # 60.7: half of them now 100+
    dead = 100 - alive  # 39.3, taken a quarter of a band on: a quarter of them 100+ when they died
    assert np.isclose(out[20, 0], alive / 2 + dead / 4) and np.isclose(out[19, 0], alive / 2 + 3 * dead / 4)
    assert np.isclose(out.sum(), 100.0)


def _one_band_country(band: int) -> object:
    shares = np.zeros((21, 2))
    shares[band] = [1.0, 1.0]
    return build_cells(np.array([200_000.0, 50_000.0]), np.array([2, 3]), shares, np.array([13, 13]))


def test_a_dead_holders_card_leaves_the_cards_held_and_stays_in_the_cards_issued() -> None:
    cells = _one_band_country(10)
    p = Params(initial_applications=20_000, hazard={"base_per_year": 0.05, "word_of_mouth": 0.0})
    n = 400
    rate = np.full((21, 2), 0.2)
    r = Rollout(p, cells, dt.date(2019, 1, 1), n, mortality=rate).run()
    d = r.daily
    assert d["issued_cumulative"][-1] > 10_000
    assert np.allclose(d["holders"], d["issued_cumulative"] - np.cumsum(d["holder_deaths"]))
    alive = d["holders"] + d["holder_deaths"]  # living holders of the day, before its deaths
    k = alive > 0
    assert np.allclose(d["holder_deaths"][k] / alive[k], -np.expm1(-0.2 / 365.25), rtol=1e-9)
    assert np.all(np.diff(d["issued_cumulative"]) >= 0)
    no = Rollout(p, cells, dt.date(2019, 1, 1), n).run()  # no mortality: nobody dies
    assert np.allclose(no.daily["holders"], no.daily["issued_cumulative"]) and no.daily["holder_deaths"].sum() == 0


def test_holders_die_at_the_age_they_have_reached_not_the_age_at_hand_over() -> None:
    cells = _one_band_country(19)  # everyone 95-99; only 100+ die
    p = Params(initial_applications=40_000, hazard={"base_per_year": 0.001, "word_of_mouth": 0.0})
    rate = np.zeros((21, 2))
    rate[20] = 0.5
    n = 3 * 365
    r = Rollout(p, cells, dt.date(2019, 1, 1), n, mortality=rate).run()
    share = r.daily["holder_deaths"] / np.maximum(r.daily["holders"], 1.0)
    early, late = share[30:60].mean(), share[-60:].mean()
    assert early < 0.05 * late  # at first almost nobody has turned 100
    # two and a half years on, about half the holders have crossed into 100+ (a fifth of a band a year),
    # fewer for the deaths among them: the daily rate is below 0.5 / 365 x 1/2
    assert 0.2 * 0.5 / 365.25 < late < 0.6 * 0.5 / 365.25
