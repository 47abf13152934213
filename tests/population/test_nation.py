"""The synthetic nation at 1:100 and on a small 1:1 case: it reproduces the statistics it was built
from within sampling error, its households are sound, and it is deterministic."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.errors import InputError
from twin.population import Heads, build_heads, build_nation
from twin.population import nation as nation_module
from twin.population.attributes import band_of_age, literacy_mean
from twin.population.households import HOUSEHOLD_TYPES
from twin.population.municipalities import MUNICIPALITY_TYPES, TYPE_LABELS_JA, municipality_type, type_totals
from twin.population.statistics import load_snapshot

SCALE = 0.01


@pytest.fixture(scope="module")
def nation():
    return build_nation(SCALE, np.random.default_rng(7))


def sampling_sd(households_full: np.ndarray, scale: float, size_moments: tuple[float, float]) -> np.ndarray:
    """sd of a scaled-back person count when each of H households is kept with probability ``scale``."""
    m1, m2 = size_moments
    return np.sqrt(households_full * (scale * m2 - scale**2 * m1**2)) / scale


def size_moments(nation) -> tuple[float, float]:
    s = nation.households.size.astype(float)
    return float(s.mean()), float((s**2).mean())


def test_population_by_prefecture_within_sampling_error(nation):
    m = nation.municipalities
    synthetic = np.bincount(m.prefecture[nation.residents.municipality], minlength=48)[1:] * nation.weight
    official = nation.snapshot.prefecture_population
    full = np.bincount(m.prefecture, weights=np.rint(m.population / 2.21), minlength=48)[1:]
    z = (synthetic - official) / sampling_sd(full, SCALE, size_moments(nation))
    assert len(official) == 47
    assert np.abs(z).max() < 4.5, z


def test_population_by_municipality_type_within_sampling_error(nation):
    m = nation.municipalities
    totals = type_totals(nation.snapshot)
    mt = m.type[nation.residents.municipality]
    for t in MUNICIPALITY_TYPES:
        synthetic = (mt == t).sum() * nation.weight
        full = np.rint(m.population[m.type == t] / 2.21).sum()
        sd = sampling_sd(np.array(full), SCALE, size_moments(nation))
        assert abs(synthetic - totals[t][0]) < 4.5 * sd, t


def test_age_and_sex_margins_match_the_pyramid(nation):
    r = nation.residents
    bs = band_of_age()[r.age].astype(int) * 2 + r.sex
    synthetic = np.bincount(bs, minlength=42).reshape(-1, 2)
    official = nation.snapshot.band_population / nation.snapshot.band_population.sum() * len(r)
    sd = np.sqrt(official * 3.0)  # members of one household are correlated: design effect <= 3
    assert np.abs((synthetic - official) / sd).max() < 5


def test_household_sizes_match_the_census(nation):
    h = nation.households
    one = (h.size == 1).mean()
    assert abs(one - 0.380) < 5 * np.sqrt(0.38 * 0.62 / len(h))
    assert len(nation) / len(h) == pytest.approx(2.21, abs=0.01)
    assert h.size.max() <= 8


def test_every_household_has_one_adult_head_first_and_its_members_contiguous(nation):
    r, h = nation.residents, nation.households
    heads = np.flatnonzero(r.is_head)
    assert np.array_equal(heads, h.head)
    assert np.array_equal(r.household[heads], np.arange(len(h)))
    assert np.array_equal(np.bincount(r.household, minlength=len(h)), h.size)
    assert (np.diff(r.household) >= 0).all()
    assert r.age[h.head].min() >= 18
    assert np.array_equal(r.municipality[h.head], h.municipality)
    assert np.array_equal(r.municipality, h.municipality[r.household])


def test_members_ages_are_plausible_given_the_head(nation):
    r, h = nation.residents, nation.households
    pos = np.arange(len(r)) - h.head[r.household]
    htype = h.type[r.household]
    head_age = r.age[h.head][r.household].astype(int)
    age = r.age.astype(int)
    child = ((htype == HOUSEHOLD_TYPES.index("couple_children")) & (pos >= 2)) | (
        (htype == HOUSEHOLD_TYPES.index("lone_parent")) & (pos >= 1)
    )
    gap = head_age[child] - age[child]
    assert gap.min() >= 16 and gap.max() <= 50
    spouse = (htype == HOUSEHOLD_TYPES.index("couple")) & (pos == 1)
    assert np.abs(head_age[spouse] - age[spouse]).max() <= 20
    assert (r.sex[spouse] != r.sex[h.head][r.household][spouse]).all()  # couples are a man and a woman
    family_spouse = (htype == HOUSEHOLD_TYPES.index("couple_children")) & (pos == 1)
    assert 0.5 < (head_age[family_spouse] - age[family_spouse]).mean() < 4  # husbands a little older
    # nobody under 18 lives alone or heads a household
    assert (age[r.is_head] >= 18).all()
    elderly_couples = (h.type == HOUSEHOLD_TYPES.index("couple")) & (r.age[h.head] >= 65)
    assert elderly_couples.mean() > 0.08


def test_card_holding_by_age_band_and_sex_matches_the_release(nation):
    r = nation.residents
    bs = band_of_age()[r.age].astype(int) * 2 + r.sex
    n = np.bincount(bs, minlength=42)
    holders = np.bincount(bs, weights=r.has_card, minlength=42)
    p = nation.holding.band_rate.reshape(-1)
    z = (holders - n * p) / np.sqrt(np.maximum(n * p * (1 - p) * 2.0, 1))
    assert np.abs(z).max() < 5
    assert r.has_card.mean() == pytest.approx(nation.snapshot.muni_cards.sum() / nation.snapshot.total_population,
                                              abs=0.002)  # fmt: skip


def test_card_holding_by_municipality_matches_the_release(nation):
    r, m = nation.residents, nation.municipalities
    n = np.bincount(r.municipality, minlength=len(m))
    holders = np.bincount(r.municipality, weights=r.has_card, minlength=len(m))
    p = nation.holding.muni_rate
    big = n >= 2000
    assert big.sum() > 100
    z = (holders[big] - n[big] * p[big]) / np.sqrt(n[big] * p[big] * (1 - p[big]) * 2.0)
    assert np.abs(z).max() < 5
    # the spread between municipalities is real, not averaged away
    assert np.corrcoef(holders[big] / n[big], p[big])[0, 1] > 0.8


def test_literacy_follows_internet_use_by_age_and_sex(nation):
    r = nation.residents
    assert r.literacy.min() >= 0 and r.literacy.max() <= 1
    target = literacy_mean()
    for lo, hi in ((30, 39), (70, 79), (85, 95)):
        for s in (0, 1):
            sel = (r.age >= lo) & (r.age <= hi) & (r.sex == s)
            assert r.literacy[sel].mean() == pytest.approx(target[lo:hi + 1, s].mean(), abs=0.01)
    assert r.literacy[(r.age >= 30) & (r.age < 40)].std() > 0.05  # individual spread


def test_no_accounts_before_registration_and_only_card_holders_after():
    before = build_nation(0.002, np.random.default_rng(1), card_date=dt.date(2021, 12, 1))
    assert not before.residents.has_account.any()
    after = build_nation(0.002, np.random.default_rng(1), card_date=dt.date(2023, 7, 1))
    r = after.residents
    assert not (r.has_account & ~r.has_card).any()
    assert r.has_account.sum() / r.has_card.sum() == pytest.approx(0.604, abs=0.01)
    assert r.has_card.mean() > before.residents.has_card.mean() + 0.1


def test_same_seed_same_arrays_different_seed_different_nation():
    a = build_nation(0.002, np.random.default_rng(3))
    b = build_nation(0.002, np.random.default_rng(3))
    c = build_nation(0.002, np.random.default_rng(4))
    for part in ("residents", "households"):
        for f in dataclasses.fields(getattr(a, part)):
            x, y = getattr(getattr(a, part), f.name), getattr(getattr(b, part), f.name)
            assert x.dtype == y.dtype and np.array_equal(x, y), f.name
    assert len(a) != len(c) or not np.array_equal(a.residents.age, c.residents.age)


@pytest.mark.parametrize("chunk", [nation_module.CHUNK_HOUSEHOLDS, 10_007])
def test_heads_are_the_nations_heads_byte_for_byte(monkeypatch, chunk):
    """build_heads makes the same draws as build_nation and keeps only the heads: same households,
    same head attributes, across chunk boundaries (an odd chunk size leaves half a 64-bit draw over)."""
    monkeypatch.setattr(nation_module, "CHUNK_HOUSEHOLDS", chunk)
    full = Heads.of(build_nation(0.002, np.random.default_rng(12), card_date=dt.date(2023, 7, 1)))
    heads = build_heads(0.002, np.random.default_rng(12), card_date=dt.date(2023, 7, 1))
    assert len(heads) == len(full) > 50_000
    for f in ("age", "sex", "literacy", "has_card", "has_account"):
        x, y = getattr(full, f), getattr(heads, f)
        assert x.dtype == y.dtype and np.array_equal(x, y), f
    for f in dataclasses.fields(full.households):
        x, y = getattr(full.households, f.name), getattr(heads.households, f.name)
        assert x.dtype == y.dtype and np.array_equal(x, y), f.name
    assert heads.has_account.any() and heads.has_card.any() and not heads.has_card.all()
    other = build_heads(0.002, np.random.default_rng(13), card_date=dt.date(2023, 7, 1))
    assert len(other) != len(heads) or not np.array_equal(other.literacy, heads.literacy)


def test_compact_dtypes(nation):
    r, h = nation.residents, nation.households
    assert (r.municipality.dtype, r.age.dtype, r.household.dtype, r.literacy.dtype) == (
        np.int16, np.uint8, np.int32, np.float32)  # fmt: skip
    assert r.is_head.dtype == r.has_card.dtype == r.has_account.dtype == np.bool_
    assert (h.municipality.dtype, h.size.dtype, h.head.dtype) == (np.int16, np.uint8, np.int32)


def test_scale_samples_whole_households_and_counts_scale_back():
    small = build_nation(0.005, np.random.default_rng(11))
    large = build_nation(0.02, np.random.default_rng(11))
    assert small.weight == pytest.approx(200) and large.weight == pytest.approx(50)
    assert len(large.households) / len(small.households) == pytest.approx(4, rel=0.02)
    official = small.snapshot.total_population
    for n in (small, large):
        assert len(n) * n.weight == pytest.approx(official, rel=0.005)
        assert len(n) / len(n.households) == pytest.approx(2.21, abs=0.02)  # structure kept at any scale


def _tottori(monkeypatch: pytest.MonkeyPatch):
    """A small case: Tottori prefecture (19 municipalities, about 560,000 residents) alone."""
    snap = load_snapshot("20200401")
    keep = np.flatnonzero(snap.muni_code // 10000 == 31)
    types = [municipality_type(int(c), snap.muni_name[i]) for i, c in zip(keep, snap.muni_code[keep], strict=True)]
    by_type = {"全国": (int(snap.muni_population[keep].sum()), int(snap.muni_cards[keep].sum()))}
    for t, label in TYPE_LABELS_JA.items():
        sel = keep[[x == t for x in types]]
        by_type[label] = (int(snap.muni_population[sel].sum()), int(snap.muni_cards[sel].sum()))
    small = dataclasses.replace(
        snap,
        muni_code=snap.muni_code[keep],
        muni_name=tuple(snap.muni_name[i] for i in keep),
        muni_prefecture_name=tuple(snap.muni_prefecture_name[i] for i in keep),
        muni_population=snap.muni_population[keep],
        muni_cards=snap.muni_cards[keep],
        by_type=by_type,
    )
    monkeypatch.setattr(nation_module, "load_snapshot", lambda name: small)
    return small


def test_small_case_at_1_to_1_has_every_household(monkeypatch: pytest.MonkeyPatch):
    small = _tottori(monkeypatch)
    n = build_nation(1.0, np.random.default_rng(5))
    assert n.weight == 1.0
    full = np.rint(small.muni_population / 2.21)
    assert np.array_equal(np.bincount(n.households.municipality, minlength=len(full)), full)
    persons = np.bincount(n.residents.municipality, minlength=len(full))
    sd = np.sqrt(full * (size_moments(n)[1] - size_moments(n)[0] ** 2))  # at 1:1 only sizes vary
    assert np.abs((persons - small.muni_population) / sd).max() < 4.5
    rate = n.residents.has_card.mean()
    assert rate == pytest.approx(small.muni_cards.sum() / small.muni_population.sum(), abs=0.003)


@pytest.mark.parametrize("scale", [0, -0.1, 1.5, float("nan"), True, "0.5"])
def test_scale_out_of_range_is_refused(scale: object):
    with pytest.raises(InputError, match=r"scale .* is not in \(0, 1\]: the share of households sampled"):
        build_nation(scale, np.random.default_rng(0))  # type: ignore[arg-type]


def test_unknown_snapshot_and_bad_rng_are_refused():
    with pytest.raises(InputError, match=r"statistics snapshot '19990101' is not bundled"):
        build_nation(0.01, np.random.default_rng(0), snapshot="19990101")
    with pytest.raises(InputError, match="not a numpy.random.Generator"):
        build_nation(0.01, np.random.RandomState(0))  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"account_share 1.2 is not in \[0, 1\]"):
        build_nation(0.01, np.random.default_rng(0), account_share=1.2)


def test_card_holding_by_municipality_type_matches_summary_by_types(nation):
    r, m = nation.residents, nation.municipalities
    totals = type_totals(nation.snapshot)
    mt = m.type_index[r.municipality]
    for i, t in enumerate(MUNICIPALITY_TYPES):
        sel = mt == i
        rate, official = r.has_card[sel].mean(), totals[t][1] / totals[t][0]
        sd = np.sqrt(official * (1 - official) / sel.sum() * 2.0)
        assert abs(rate - official) < 5 * sd, t


def test_progress_reports_fractions_that_add_up_to_one():
    seen: list[float] = []
    build_nation(0.001, np.random.default_rng(0), progress=seen.append)
    assert len(seen) >= 2 and all(f > 0 for f in seen)
    assert sum(seen) == pytest.approx(1.0)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(0.0003, 0.002))
def test_household_invariants_hold_for_any_seed_and_scale(seed: int, scale: float):
    n = build_nation(scale, np.random.default_rng(seed))
    r, h = n.residents, n.households
    assert np.array_equal(np.flatnonzero(r.is_head), h.head)  # exactly one head, first in its household
    assert np.array_equal(np.bincount(r.household, minlength=len(h)), h.size)
    assert r.age[h.head].min() >= 18
    assert not (r.has_account & ~r.has_card).any()
    assert len(n) == int(h.size.sum()) and n.weight == pytest.approx(1 / scale)
