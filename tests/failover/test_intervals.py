"""Downtime algebra: union, intersection, "k of n down" and per-hour sums agree with a brute-force grid."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.models.failover.intervals import Intervals, at_least, complement, intersect, minus, union

# intervals on a grid of quarter hours, so a boolean grid is an exact reference
spans = st.lists(st.tuples(st.integers(0, 95), st.integers(0, 12)), max_size=8)


def make(raw: list[tuple[int, int]]) -> Intervals:
    return Intervals.of([a / 4 for a, _ in raw], [(a + n) / 4 for a, n in raw])


def grid(raw: list[tuple[int, int]]) -> np.ndarray:
    g = np.zeros(120, bool)
    for a, n in raw:
        g[a : a + n] = True
    return g


@settings(max_examples=150, deadline=None)
@given(st.lists(spans, min_size=1, max_size=4), st.integers(1, 4))
def test_at_least_k_matches_grid(sets: list, k: int) -> None:
    got = at_least(k, [make(s) for s in sets])
    expected = np.stack([grid(s) for s in sets]).sum(axis=0) >= k
    assert got.total == expected.sum() / 4
    assert np.all(np.diff(got.starts) > 0) and np.all(got.ends > got.starts)
    assert np.all(got.starts[1:] > got.ends[:-1]), "touching intervals are merged"


@settings(max_examples=100, deadline=None)
@given(spans, spans)
def test_minus_union_intersect_complement(a: list, b: list) -> None:
    ia, ib = make(a), make(b)
    ga, gb = grid(a), grid(b)
    assert union(ia, ib).total == (ga | gb).sum() / 4
    assert intersect(ia, ib).total == (ga & gb).sum() / 4
    assert minus(ia, ib, 30.0).total == (ga & ~gb).sum() / 4
    assert complement(ia, 30.0).total == 30.0 - ia.clip(0, 30).total


@settings(max_examples=100, deadline=None)
@given(spans)
def test_per_bin_sums_each_hour(a: list) -> None:
    per_hour = make(a).per_bin(np.arange(31.0))
    expected = grid(a)[:120].reshape(30, 4).sum(axis=1) / 4
    np.testing.assert_allclose(per_hour, expected, atol=1e-12)


def test_interval_ending_before_start_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match=r"interval 1: ends at 2.0 before it starts at 3.0"):
        Intervals.of([0, 3], [1, 2])


def test_shifted_ends_cut_long_outages_only() -> None:
    iv = Intervals.of([0, 10], [0.1, 15]).shifted_ends(0.5)
    assert list(iv.starts) == [0, 10] and list(iv.ends) == [0.1, 10.5]
