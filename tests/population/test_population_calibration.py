"""Raking, alias draws and the household model: the fitted tables reproduce their targets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from twin.population.attributes import fit_holding
from twin.population.households import N_CELLS, household_model, single_year_pyramid, size_distribution
from twin.population.sampling import AliasTable, rake, random_bits, threshold
from twin.population.statistics import load_snapshot


@settings(max_examples=40, deadline=None)
@given(
    one=st.floats(0.2, 0.5),
    mean=st.floats(2.0, 2.8),
)
def test_size_distribution_hits_one_person_share_and_mean(one: float, mean: float):
    p = size_distribution(one, mean)
    assert p.sum() == pytest.approx(1.0)
    assert (p >= 0).all()
    assert p[0] == pytest.approx(one)
    assert p @ np.arange(1, 9) == pytest.approx(mean, abs=1e-9)


def test_census_household_sizes():
    p = size_distribution()
    assert p[0] == pytest.approx(0.380)
    assert p @ np.arange(1, 9) == pytest.approx(2.21)
    assert (np.diff(p[1:]) < 0).all()  # fewer households at every larger size


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (4, 6), elements=st.floats(0.01, 10)), st.data())
def test_raking_a_positive_table_matches_both_margins(seed: np.ndarray, data: st.DataObject):
    rows = data.draw(arrays(np.float64, 4, elements=st.floats(0.1, 10)))
    cols = data.draw(arrays(np.float64, 6, elements=st.floats(0.1, 10)))
    cols = cols / cols.sum() * rows.sum()
    t = rake(seed, rows, cols)
    assert np.allclose(t.sum(axis=1), rows)
    assert np.allclose(t.sum(axis=0), cols, rtol=1e-6)
    # odds ratios of the seed survive
    assert t[0, 0] * t[1, 1] / (t[0, 1] * t[1, 0]) == pytest.approx(
        seed[0, 0] * seed[1, 1] / (seed[0, 1] * seed[1, 0]), rel=1e-6
    )


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, (3, 7), elements=st.sampled_from([0.0, 0.5, 1.0, 2.0, 7.0])).filter(
    lambda w: (w.sum(axis=1) > 0).all()))
def test_alias_draws_follow_their_row_and_never_pick_a_zero_weight(w: np.ndarray):
    table = AliasTable.build(w)
    rng = np.random.default_rng(0)
    n = 60_000
    rows = rng.integers(0, 3, n)
    out = table.draw(rows, random_bits(rng, n))
    assert (w[rows, out] > 0).all()
    for r in range(3):
        freq = np.bincount(out[rows == r], minlength=7) / (rows == r).sum()
        assert np.abs(freq - w[r] / w[r].sum()).max() < 0.02


def test_alias_needs_32_bit_integers():
    with pytest.raises(TypeError, match="uint32"):
        AliasTable.build(np.ones((1, 3))).draw(0, np.random.default_rng(0).random(5))


@settings(max_examples=30, deadline=None)
@given(st.floats(0, 1))
def test_thresholds_turn_probabilities_into_bit_comparisons(p: float):
    bits = random_bits(np.random.default_rng(1), 200_000)
    assert (bits < threshold(p)).mean() == pytest.approx(p, abs=0.005)


def test_alias_refuses_an_empty_row():
    with pytest.raises(ValueError, match="positive sum"):
        AliasTable.build(np.array([[1.0, 2.0], [0.0, 0.0]]))


def test_household_roles_together_reproduce_the_age_pyramid():
    model = household_model("20200401")
    expected = model.expected_cells / model.expected_cells.sum()
    assert np.abs(expected - model.pyramid).max() < 1e-9
    assert model.expected_cells.sum() == pytest.approx(2.21)
    assert len(model.pyramid) == N_CELLS


def test_single_year_pyramid_keeps_band_totals():
    snap = load_snapshot("20200401")
    cells = single_year_pyramid(snap.band_population).reshape(-1, 2)
    share = snap.band_population / snap.band_population.sum()
    assert cells[20:25].sum(axis=0) == pytest.approx(share[4])
    assert cells[100:].sum(axis=0) == pytest.approx(share[20])


def test_holding_model_matches_both_published_margins():
    snap = load_snapshot("20200401")
    pop = snap.muni_population.astype(float)
    f = (snap.band_population / snap.band_population.sum()).reshape(-1)
    rm = snap.muni_cards / pop
    rb = (snap.band_cards / snap.band_population).reshape(-1)
    p = fit_holding(pop, rm, f, rb).astype(float)
    assert np.abs((p * f).sum(axis=1) - rm).max() < 2e-4
    assert np.abs((p * pop[:, None]).sum(axis=0) / pop.sum() - rb).max() < 2e-4
