"""Reading replications: bands are the quantiles they claim, paired differences are taken replication
by replication, and Morris screening finds the knob that matters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.errors import InputError
from twin.experiments import bands, headline_table, morris_design, paired
from twin.experiments.analysis import band_text
from twin.experiments.sensitivity import elementary_effects
from twin.experiments.space import Param, ParamSpace

values = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=30)


def frame(rows: list[tuple[int, int, str, str, float]]) -> pd.DataFrame:
    """Headline rows (point, replication, option, metric, value)."""
    df = pd.DataFrame(rows, columns=["point", "replication", "option", "metric", "value"])
    df["origin"] = "summary"
    df["labels"] = ""
    df["time"] = pd.Series([pd.NaT] * len(df), dtype="datetime64[s]")
    return df


@settings(max_examples=25, deadline=None)
@given(a=values)
def test_bands_are_ordered_quantiles_of_the_replications(a: list[float]) -> None:
    df = frame([(0, r, "x", "m", v) for r, v in enumerate(a)])
    b = bands(df).iloc[0]
    assert b.n == len(a)
    assert min(a) <= b.q10 <= b.q50 <= b.q90 <= max(a)
    assert b.q50 == pytest.approx(np.median(a))
    assert b["mean"] == pytest.approx(np.mean(a))


def test_missing_values_are_left_out_of_a_band_and_counted() -> None:
    df = frame([(0, 0, "x", "m", 1.0), (0, 1, "x", "m", float("nan")), (0, 2, "x", "m", 3.0)])
    b = bands(df).iloc[0]
    assert (b.n, b.q50) == (2, 2.0)


@settings(max_examples=25, deadline=None)
@given(a=values, shift=st.floats(-1e3, 1e3, allow_nan=False))
def test_paired_differences_of_a_shifted_option_are_exactly_the_shift(a: list[float], shift: float) -> None:
    rows = [(0, r, "ref", "m", v) for r, v in enumerate(a)] + [(0, r, "alt", "m", v + shift) for r, v in enumerate(a)]
    d = paired(frame(rows)).iloc[0]
    assert (d.option, d.reference, d.n) == ("alt", "ref", len(a))
    tol = 1e-9 * (1 + max(abs(x) for x in a) + abs(shift))
    assert d.q10 == pytest.approx(shift, abs=tol) and d.q90 == pytest.approx(shift, abs=tol)


def test_paired_differences_pair_by_replication_not_by_order() -> None:
    # replication 1 is the bad day for both: the pairs say "always 1 lower", the marginals overlap
    rows = [(0, 0, "ref", "days", 10.0), (0, 1, "ref", "days", 30.0), (0, 2, "ref", "days", 20.0)]
    rows += [(0, 2, "alt", "days", 19.0), (0, 0, "alt", "days", 9.0), (0, 1, "alt", "days", 29.0)]
    d = paired(frame(rows)).iloc[0]
    assert (d.q10, d.q50, d.q90, d.share_lower) == (-1.0, -1.0, -1.0, 1.0)


def test_paired_names_an_unknown_reference() -> None:
    with pytest.raises(ValueError, match="reference option 'nope' is not in the results \\(options: a\\)"):
        paired(frame([(0, 0, "a", "m", 1.0)]), "nope")


def test_headline_table_is_median_and_band_per_option() -> None:
    rows = [(0, r, o, "days", v + (5 if o == "b" else 0)) for r, v in enumerate([1.0, 2.0, 3.0]) for o in "ab"]
    t = headline_table(bands(frame(rows)))
    assert list(t.columns) == ["metric", "a", "b"]
    assert t.iloc[0].tolist() == ["days", "2 [1.2, 2.8]", "7 [6.2, 7.8]"]
    assert band_text(4.0, 4.0, 4.0) == "4" and band_text(1.0, float("nan"), 2.0) == "–"


@settings(max_examples=30, deadline=None)
@given(k=st.integers(1, 5), r=st.integers(2, 8), seed=st.integers(0, 2**32 - 1))
def test_morris_trajectories_move_one_param_by_delta_per_step(k: int, r: int, seed: int) -> None:
    space = ParamSpace(tuple(Param(f"p{i}", 0.0, 2.0) for i in range(k)))
    pts = morris_design(space, r, np.random.default_rng(seed), levels=4)
    assert len(pts) == r * (k + 1)
    for t in range(r):
        traj = pts[t * (k + 1) : (t + 1) * (k + 1)]
        moved = []
        for a, b in zip(traj, traj[1:], strict=False):
            diff = [n for n in a if a[n] != b[n]]
            assert len(diff) == 1
            assert abs(b[diff[0]] - a[diff[0]]) == pytest.approx(2.0 * 2 / 3)  # delta = 4 / (2 * 3) of the range
            moved.append(diff[0])
        assert sorted(moved) == sorted(space.names)  # every param moves once per trajectory
        assert all(0.0 <= v <= 2.0 for p in traj for v in p.values())


def test_morris_finds_the_knob_that_matters() -> None:
    space = ParamSpace((Param("staff", 1.0, 11.0), Param("colour", 0.0, 1.0), Param("speed", 0.0, 4.0)))
    pts = morris_design(space, 10, np.random.default_rng(3))
    y = np.array([3.0 * p["staff"] - 0.5 * p["speed"] ** 2 for p in pts])
    ee = elementary_effects(space, pts, y)
    assert np.allclose(ee["staff"], 30.0)  # linear: every effect is slope x range
    assert np.allclose(ee["colour"], 0.0)
    assert np.std(ee["speed"]) > 0  # non-linear: its effects depend on where it is


def test_morris_refuses_designs_it_cannot_read() -> None:
    with pytest.raises(InputError, match="--morris: give at least one --param"):
        morris_design(ParamSpace(()), 4, np.random.default_rng(0))
    with pytest.raises(InputError, match="--morris: 1 trajectories are too few"):
        morris_design(ParamSpace((Param("a", 0.0, 1.0),)), 1, np.random.default_rng(0))
