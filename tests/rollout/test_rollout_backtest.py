"""Backtests: a fit that saw only the past forecasts the releases it did not see.

The cached fits in tests/rollout/data/ were made by ``twin calibrate scenarios/rollout_backtest_2020.yaml
--promote`` (MIC releases up to 2020-12-01) and ``... rollout_backtest_2021h1.yaml --promote`` (up to
2021-06-01), with the model as it is (holders age and die; J-LIS's 7-day line and the 45-minute hand-over of
2026-12-06; the phase-1 deadlines as FIGURES.md dates them: 2021-02-28 from the opening, 03-31 from 2020-11,
04-30 from 2021-03-24), age and prefecture raking as in the history,
and the sourced monthly application counts inside each window fitted; neither saw a later release.
Here the twin runs on from each fit, in expected values at national 1:1, and every held-out release of
2021 must be within 5 % of MIC's count (cards issued, dead holders' included).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from twin import scenario
from twin.models.rollout import record_days
from twin.models.rollout.observed import load_observed
from twin.models.rollout.setup import cells_for, mortality_for, read_fitted, with_values
from twin.models.rollout.simulate import Rollout

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
START, END = dt.date(2016, 1, 1), dt.date(2021, 12, 31)


def backtest_run(scenario_file: str, fitted_file: Path, **override: float) -> tuple[dt.date, object, object]:
    """The twin run on from a cached fit (values in ``override`` replace fitted ones): last release, obs, run."""
    doc = json.loads(fitted_file.read_text())
    assert doc["converged"] is True
    last = dt.date.fromisoformat(doc["releases"][1])
    s = scenario.load(ROOT / scenario_file)
    base = s.options[0].params
    assert base.calibration.last_release == last  # the fit saw nothing after this release
    params = with_values(base, {**read_fitted(str(fitted_file)), **override})
    obs = load_observed(ROOT / "twin/data/card_issuance", START, END)
    cells = cells_for(obs, s.spec.population.statistics)
    n = (END - START).days + 1
    r = Rollout(params, cells, START, n, rng=None, record_days=record_days(obs.dates, START, n),
                mortality=mortality_for(base)).run()  # fmt: skip  # tables up to the fit's last release
    return last, obs, r


def relative_errors(obs, r) -> dict[dt.date, float]:  # noqa: ANN001
    """The run's cards issued against MIC's count at every release (dead holders' cards included)."""
    return {d: float(r.daily["issued_cumulative"][(d - START).days] / obs.national[i] - 1.0)
            for i, d in enumerate(obs.dates)}  # fmt: skip


def forecast_errors(scenario_file: str, fitted_file: Path, **override: float) -> dict[dt.date, float]:
    """Relative error of the national cumulative at every release after the fit's last one."""
    last, obs, r = backtest_run(scenario_file, fitted_file, **override)
    return {d: e for d, e in relative_errors(obs, r).items() if d > last}


def applications_in(r, year: int, month: int) -> float:  # noqa: ANN001
    a = (dt.date(year, month, 1) - START).days
    b = (dt.date(year + month // 12, month % 12 + 1, 1) - START).days
    return float(r.daily["applications"][a:b].sum())


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="known miss: the fit to 2020-12 forecasts 2021-01..12 at +1.8, +4.5, "
                   "+5.1, +3.5, +3.1, +2.7, -0.9, -3.3, -5.6, -6.4, -7.1 and -8.2 %, 03-01 and 09-01..12-01 beyond "
                   "5 %: the QR-form mailing (from 2020-12-20) and the deadline rush fall after "
                   "its window and keep their assumed defaults (lift 1.0; rush 2.0 over 20 days), so it has 5.2M "
                   "applications in March and April 2021 against the sourced 10.7M (NHK), whose backlog is the cards "
                   "of 2021 H2; the 2021-06 window, which sees them, puts the rush at 4.3 over 33 days. Nor is the "
                   "rush all: the window's flat points pull has 7.9M applying from 2020-11 to 2021-02 against the 5.5M "
                   "the sources imply, and with the later window's rush and mailing put in the forecasts run +1.9 .. "
                   "+8.6 % (README). A rush rising "
                   "as 1 / time left, felt inside the window, is collinear there with the points lever (correlation "
                   "-1.00; README)")  # fmt: skip
def test_fit_to_2020_12_forecasts_every_2021_release_within_5_percent() -> None:
    errs = forecast_errors("scenarios/rollout_backtest_2020.yaml", DATA / "fitted_to_2020-12.json")
    assert [d.isoformat() for d in errs][:2] == ["2021-01-01", "2021-02-01"] and len(errs) == 12
    worst = max(errs, key=lambda d: abs(errs[d]))
    assert all(abs(e) <= 0.05 for e in errs.values()), f"worst {worst}: {100 * errs[worst]:+.1f} %"


@pytest.mark.slow
def test_fit_to_2021_06_forecasts_2021_07_to_12_within_5_percent() -> None:
    errs = forecast_errors("scenarios/rollout_backtest_2021h1.yaml", DATA / "fitted_to_2021-06.json")
    assert [d.isoformat() for d in errs] == [f"2021-{m:02d}-01" for m in range(7, 13)]
    worst = max(errs, key=lambda d: abs(errs[d]))
    assert all(abs(e) <= 0.05 for e in errs.values()), f"worst {worst}: {100 * errs[worst]:+.1f} %"


@pytest.mark.slow
def test_the_2021h1_window_pins_the_april_rush() -> None:
    """The window's sourced application counts (March, April and May 2021, NHK) and applied-but-not-issued
    stocks (2021-03-31 and 05-05) identify the deadline rush: its strength and width have standard errors
    under a tenth of their values and are not perfectly correlated. Before these figures were used (and with
    254万 cards issued in March taken for applications), the fit left them on a ridge (11.4 +- 186 and
    15.3 +- 108 days, correlation -0.9998) along which the 2021-12 forecast ran from -7.5 % to +5.9 %."""
    doc = json.loads((DATA / "fitted_to_2021-06.json").read_text())
    s = scenario.load(ROOT / "scenarios/rollout_backtest_2021h1.yaml")
    names = list(s.options[0].params.calibration.fit)  # the order of the covariance and correlation matrices
    assert sorted(names) == sorted(doc["fitted"])
    for k, name in enumerate(names):  # that order, checked against the standard errors
        assert doc["covariance"][k][k] ** 0.5 == pytest.approx(doc["stderr"][name], rel=1e-6)
    i, j = names.index("points.phase1.rush"), names.index("points.phase1.rush_days")
    for k in (i, j):
        value, se = doc["fitted"][names[k]], doc["stderr"][names[k]]
        assert se < 0.1 * value, (names[k], value, se)
    assert abs(doc["correlation"][i][j]) < 0.95, doc["correlation"][i][j]
    # and the run from the fit has the April applications the window saw
    _, _, r = backtest_run("scenarios/rollout_backtest_2021h1.yaml", DATA / "fitted_to_2021-06.json")
    assert applications_in(r, 2021, 4) == pytest.approx(3_840_000, rel=0.25)


if __name__ == "__main__":  # the per-month table for the report: python tests/rollout/test_rollout_backtest.py
    for f, fit in (("scenarios/rollout_backtest_2020.yaml", "fitted_to_2020-12.json"),
                   ("scenarios/rollout_backtest_2021h1.yaml", "fitted_to_2021-06.json")):  # fmt: skip
        for d, e in forecast_errors(f, DATA / fit).items():
            print(f"{fit}  {d}  {100 * e:+.2f} %")
