"""The parameter space: names are checked against the scenario's model before anything runs, with
one clear message; designs put their points where they promise (grid ends, LHS strata, overrides
in every option)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin import experiments as xp
from twin import scenario as sc
from twin.errors import InputError
from twin.experiments.space import Param, ParamSpace


@pytest.fixture
def toy(toy_file: Path) -> sc.Scenario:
    return sc.load(toy_file)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("rate", "--param 'rate': expected NAME=LO:HI"),
        ("=1:2", "--param '=1:2': expected NAME=LO:HI"),
        ("rate=a:2", "--param 'rate=a:2': 'a:2' is not LO:HI with two numbers"),
        ("rate=3:1", "--param 'rate=3:1': LO 3 is greater than HI 1"),
        ("rate=1:inf", "--param 'rate=1:inf': the range must be finite numbers"),
        ("speed=1:2", "--param speed: 'speed' is not a parameter of params (allowed: rate, counter, mode, sleep_s, "),
        (
            "counter.staf=1:2",
            "--param counter.staf: 'staf' is not a parameter of counter (allowed: staff, minutes_per_form)",
        ),
        ("rate.x=1:2", "--param rate.x: rate is a single value; it has no parameter 'x'"),
        ("counter=1:2", "--param counter: is a block of parameters, not a number; name one of its fields"),
        ("mode=1:2", "--param mode: is one of 'mail', 'online', not a number; only numeric parameters can be swept"),
        ("rate=1:11", "--param rate=1:11: 11.0 is not in [0, 10]"),
        ("counter.staff=0:5", "--param counter.staff=0:5: 0 is not in [1, 100]"),
        ("counter.staff=1.5:5", "--param counter.staff=1.5:5: counter.staff is an integer parameter"),
        ("counter.minutes_per_form=0:2", "--param counter.minutes_per_form=0:2: 0.0 is not in (0, inf)"),
    ],
)
def test_bad_params_are_refused_with_the_name_and_what_is_allowed(toy: sc.Scenario, spec: str, message: str) -> None:
    with pytest.raises(InputError) as e:
        xp.param_space(toy, [spec])
    assert str(e.value).startswith(message), str(e.value)


def test_a_param_given_twice_is_refused(toy: sc.Scenario) -> None:
    with pytest.raises(InputError, match="--param rate: given twice"):
        xp.param_space(toy, ["rate=1:2", "rate=2:3"])


def test_a_range_needs_a_design_and_only_one(toy: sc.Scenario) -> None:
    space = xp.param_space(toy, ["rate=1:2"])
    with pytest.raises(InputError, match="needs a design: --grid N, --lhs N or --morris R"):
        xp.design_points(space, seed=1)
    with pytest.raises(InputError, match="--grid and --lhs: choose one design"):
        xp.design_points(space, seed=1, grid=2, lhs=3)


def test_grid_covers_both_ends_of_every_range(toy: sc.Scenario) -> None:
    space = xp.param_space(toy, ["rate=1:3", "counter.minutes_per_form=2:4", "sleep_s=0"])
    points = space.grid(3)
    assert len(points) == 9
    assert {p["rate"] for p in points} == {1.0, 2.0, 3.0}
    assert {p["counter.minutes_per_form"] for p in points} == {2.0, 3.0, 4.0}
    assert {p["sleep_s"] for p in points} == {0.0}


def test_integer_grid_levels_are_whole_and_distinct(toy: sc.Scenario) -> None:
    points = xp.param_space(toy, ["counter.staff=2:4"]).grid(5)  # 2, 2.5, 3, 3.5, 4 round to 2, 2, 3, 4, 4
    assert [p["counter.staff"] for p in points] == [2.0, 3.0, 4.0]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_latin_hypercube_uses_every_stratum_of_every_param_once(n: int, k: int, seed: int) -> None:
    space = ParamSpace(tuple(Param(f"p{i}", 10.0 * i, 10.0 * i + 5.0) for i in range(k)))
    points = space.lhs(n, np.random.default_rng(seed))
    assert len(points) == n
    for p in space.params:
        units = np.array([(pt[p.name] - p.lo) / (p.hi - p.lo) for pt in points])
        strata = np.minimum((units * n).astype(int), n - 1)
        assert sorted(strata) == list(range(n))


def test_the_same_seed_places_the_same_design(toy: sc.Scenario) -> None:
    space = xp.param_space(toy, ["rate=1:3", "counter.staff=2:8"])
    a, _ = xp.design_points(space, seed=5, lhs=7)
    b, _ = xp.design_points(space, seed=5, lhs=7)
    c, _ = xp.design_points(space, seed=6, lhs=7)
    assert a == b
    assert a != c
    assert all(float(p["counter.staff"]).is_integer() for p in a)


def test_a_swept_value_overrides_every_option_and_leaves_the_rest(toy: sc.Scenario) -> None:
    swept = xp.with_params(toy, {"counter.staff": 9, "rate": 1.5})
    staffs = {o.name: o.params.counter.staff for o in swept.options}
    assert staffs == {"base": 9, "more_staff": 9}  # more_staff's own 6 is overridden by the sweep
    assert {o.params.rate for o in swept.options} == {1.5}
    assert {o.params.counter.minutes_per_form for o in swept.options} == {3.0}
    assert swept.digest() != toy.digest()
    assert [o.params.counter.staff for o in toy.options] == [4, 6]  # the original is untouched


def test_dict_params_are_reached_by_their_keys() -> None:
    payout = sc.load(Path("scenarios/payout_2020.yaml"))
    space = xp.param_space(payout, ["intake.mail_out.city.spread_days=5:20"])
    assert space.params[0].name == "intake.mail_out.city.spread_days"
    with pytest.raises(InputError, match="'town' is not a key of intake.mail_out \\(allowed: special_ward"):
        xp.param_space(payout, ["intake.mail_out.town.spread_days=5:20"])


def test_the_brief_example_param_is_accepted_on_the_payout_scenario() -> None:
    payout = sc.load(Path("scenarios/payout_2020.yaml"))
    space = xp.param_space(payout, ["verification.staff_minutes_per_1000_households=120:480"])
    assert space.params[0].lo == 120 and space.params[0].hi == 480
