"""Calibration recovers parameters from data the model itself generated, and reports honest uncertainty."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from twin.calibration import Problem, fit, series_errors
from twin.models.rollout import record_days
from twin.models.rollout.hazard import build_cells
from twin.models.rollout.observed import Observed
from twin.models.rollout.params import Params
from twin.models.rollout.setup import with_values

DAY0 = dt.date(2016, 1, 1)
N = 400
RELEASES = tuple(DAY0 + dt.timedelta(days=d) for d in range(60, N, 30))


def synthetic_world(truth: dict[str, float]) -> tuple[Problem, Observed]:
    """Twelve municipalities in three prefectures, observed monthly, generated with ``truth``."""
    rng = np.random.default_rng(11)
    m = 12
    pop = rng.integers(5_000, 300_000, m).astype(float)
    band_sex = np.linspace(1.0, 2.0, 42).reshape(21, 2)
    cells = build_cells(pop, np.arange(m) % 4, band_sex)
    base = Params(stochastic=False, initial_applications=20_000,
                  calibration={"fit": {"hazard.base_per_year": (0.005, 0.5), "hazard.word_of_mouth": (0.0, 10.0)},
                               "weights": {"national": 4.0, "prefecture": 1.0, "age_band": 1.0}})  # fmt: skip
    codes = np.array([(10000 * (1 + k % 3)) + 100 + k for k in range(m)])
    s = len(RELEASES)
    obs = Observed(
        dates=RELEASES, muni_code=codes, muni_name=tuple(f"m{k}" for k in range(m)), prefecture=codes // 10000,
        prefecture_names=("a", "b", "c"), muni_type=np.arange(m) % 4, muni_population=np.tile(pop, (s, 1)),
        muni_cards=np.zeros((s, m)), band_population=np.tile(band_sex, (s, 1, 1)), band_cards=np.zeros((s, 21, 2)),
    )  # fmt: skip
    problem = Problem(base, cells, obs, DAY0, N, list(base.calibration.fit), [])
    r = problem.simulate(np.array([truth[p] for p in problem.paths]))
    idx = [r.record_days.index((d - DAY0).days) for d in RELEASES]
    seen = {"muni_cards": r.issued_muni[idx].copy(), "band_cards": r.issued_mix[idx].copy()}
    obs = Observed(**{**obs.__dict__, **seen})
    return Problem(base, cells, obs, DAY0, N, problem.paths, []), obs


def test_least_squares_recovers_the_parameters_that_generated_the_series() -> None:
    truth = {"hazard.base_per_year": 0.08, "hazard.word_of_mouth": 3.0}
    problem, obs = synthetic_world(truth)
    x0 = np.array([0.03, 0.5])
    res = fit(problem, x0, np.array([0.005, 0.0]), np.array([0.5, 10.0]), workers=2)
    assert res["converged"] and res["status"] > 0
    assert np.allclose(res["x"], [truth[p] for p in problem.paths], rtol=0.02)
    # a perfect fit leaves (almost) nothing: relative errors are tiny in every series family
    errs = series_errors(problem.simulate(res["x"]), obs)
    assert all(np.abs(e).max() < 1e-3 for k, e in errs.items() if k in ("national", "prefecture", "age_band"))
    # 2016 holds none of the dated backlog or application figures: those families are empty here
    assert errs["backlog"].size == 0 and errs["applications"].size == 0
    assert np.all(np.isfinite(res["stderr"])) and res["cov"].shape == (2, 2)
    assert np.allclose(np.diag(res["corr"]), 1.0) and abs(res["corr"][0, 1]) <= 1.0


def test_record_days_are_the_releases_inside_the_run_and_its_last_day() -> None:
    dates = (dt.date(2015, 12, 1), dt.date(2016, 1, 11), dt.date(2016, 3, 1))
    assert record_days(dates, DAY0, 40) == [10, 39]


def test_fitted_values_pass_the_same_bounds_as_the_scenario_file() -> None:
    from twin.errors import InputError

    p = with_values(Params(), {"hazard.base_per_year": 0.07, "handover.notice_days": 20.0,
                               "mailouts.qr_forms_2020.lift": 3.0})  # fmt: skip
    assert p.hazard.base_per_year == 0.07 and p.handover.notice_days == 20.0
    assert [m.lift for m in p.mailouts if m.name == "qr_forms_2020"] == [3.0]
    with pytest.raises(InputError, match=r"mailouts.qr_forms_1999.lift: mailouts has no entry named 'qr_forms_1999'"):
        with_values(Params(), {"mailouts.qr_forms_1999.lift": 1.0})
    with pytest.raises(InputError, match=r"calibration: hazard.base_per_year: 9.0 Value error, is not in \(0, 5\]"):
        with_values(Params(), {"hazard.base_per_year": 9.0})
    with pytest.raises(InputError, match=r"hazard.nope: hazard has no parameter 'nope' \(allowed: age_log_rr, "):
        with_values(Params(), {"hazard.nope": 1.0})


def test_the_backlog_family_compares_the_applied_but_not_issued_stock_with_the_dated_figure() -> None:
    """The one dated stock (538万 waiting on 2020-10-31) enters the residuals once a fit's releases span it."""
    from types import SimpleNamespace

    day0, n = dt.date(2020, 10, 1), 70
    dates = (dt.date(2020, 10, 1), dt.date(2020, 12, 1))
    stock = np.zeros(n)
    stock[30] = 5_380_000.0 * 1.25  # 2020-10-31: a quarter too many waiting
    apps = np.zeros(n)
    r = SimpleNamespace(day0=day0, n_days=n, scale=1.0, record_days=[0, 14, 61], issued_muni=np.ones((3, 1)),
                        issued_mix=np.ones((3, 21, 2)), daily={"backlog_applied_not_issued": stock,
                                                                "applications": apps})  # fmt: skip
    obs = SimpleNamespace(dates=dates, national=np.ones(2), muni_cards=np.ones((2, 1)),
                          band_cards=np.ones((2, 21, 2)), by_prefecture=lambda a: a)  # fmt: skip
    errs = series_errors(r, obs)
    assert np.allclose(errs["backlog"], [0.25])
    short = SimpleNamespace(**{**obs.__dict__, "dates": (dates[0], dt.date(2020, 10, 15))})
    assert series_errors(r, short)["backlog"].size == 0  # a backtest that ends before the figure does not see it


def test_the_two_oldest_bands_pool_their_lever_cards_and_the_others_stay_alone() -> None:
    """The 95-99 and 100+ bands get one pooled count of cards added (one lever-response step); no other band
    is touched."""
    from twin.calibration import _pool_oldest

    cards = np.arange(3 * 21, dtype=np.float64).reshape(3, 21) + 1.0
    cards[1] = np.nan  # a release without an age table stays without one
    pooled = _pool_oldest(cards)
    assert np.array_equal(pooled[:, :19], cards[:, :19], equal_nan=True)
    assert np.array_equal(pooled[:, 19], cards[:, 19] + cards[:, 20], equal_nan=True)
    assert np.array_equal(pooled[:, 20], pooled[:, 19], equal_nan=True)
    assert np.isnan(pooled[1]).all() and cards[0, 19] == 20.0  # the input is not changed
