"""Backtests: a fit that saw only the past forecasts the releases it did not see.

The cached fits in tests/rollout/data/ were made by ``twin calibrate scenarios/rollout_backtest_2020.yaml
--promote`` (MIC releases up to 2020-12-01) and ``... rollout_backtest_2021h1.yaml --promote`` (up to
2021-06-01), with the model as it is (holders age and die), age and prefecture raking as in the history,
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
@pytest.mark.xfail(strict=True, reason="known miss: the fit to 2020-12 forecasts 2021-01..08 within 5 % (+1.6, "
                   "+4.3, +4.9, +3.1, +2.3, +1.5, -2.2, -4.7 %) but runs low from September (-7.1 % .. -9.7 % in "
                   "2021-12): its window holds no deadline, so the April 2021 rush keeps its assumed default (2.0, "
                   "2.5M April applications), and the cards of 2021 H2 are that rush's backlog draining")  # fmt: skip
def test_fit_to_2020_12_forecasts_every_2021_release_within_5_percent() -> None:
    errs = forecast_errors("scenarios/rollout_backtest_2020.yaml", DATA / "fitted_to_2020-12.json")
    assert [d.isoformat() for d in errs][:2] == ["2021-01-01", "2021-02-01"] and len(errs) == 12
    worst = max(errs, key=lambda d: abs(errs[d]))
    assert all(abs(e) <= 0.05 for e in errs.values()), f"worst {worst}: {100 * errs[worst]:+.1f} %"


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="known miss: the fit to 2021-06 forecasts 2021-07..11 within 5 % (-1.4, "
                   "-2.4, -3.7, -4.0, -4.2 %) and 2021-12 at -5.1 %: its window sees the March 2021 record but "
                   "not the size of the April rush (5.9M applications at the fit), whose backlog is the cards of "
                   "2021 H2; test_the_2021h1_window_leaves_the_april_rush_open shows the range")  # fmt: skip
def test_fit_to_2021_06_forecasts_2021_07_to_12_within_5_percent() -> None:
    errs = forecast_errors("scenarios/rollout_backtest_2021h1.yaml", DATA / "fitted_to_2021-06.json")
    assert [d.isoformat() for d in errs] == [f"2021-{m:02d}-01" for m in range(7, 13)]
    worst = max(errs, key=lambda d: abs(errs[d]))
    assert all(abs(e) <= 0.05 for e in errs.values()), f"worst {worst}: {100 * errs[worst]:+.1f} %"


#: points on the ridge the 2021-06 fit cannot leave: rush width (days) -> strength that keeps the fitted run's March
#: 2021 applications (2.54M), found by brentq on that month with every other value at the fit (2026-12-05)
RIDGE = {10.0: 44.00, 20.0: 6.15}


@pytest.mark.slow
def test_the_2021h1_window_leaves_the_april_rush_open() -> None:
    """Why the 2021-06 backtest misses, measured: the rush's strength and width are fitted as 11.4 +- 186 and
    15.3 +- 108 days (correlation -0.9998), because the window sees the rush only through the March 2021
    applications; the April ones are mostly handed over after 2021-06-01. Moving along that ridge (same March,
    every other value at the fit) changes the in-window national RMS by under 0.02 points but the April
    applications from 4.4M to 12.7M, and so the 2021-12 forecast from -7.5 % to +5.9 %. A planner gets a range,
    not a number, from this window; the full history fit (which sees 2021 H2) is what pins the rush."""
    f, fit = "scenarios/rollout_backtest_2021h1.yaml", DATA / "fitted_to_2021-06.json"
    runs = {w: backtest_run(f, fit, **{"points.phase1.rush": rush, "points.phase1.rush_days": w})
            for w, rush in RIDGE.items()}  # fmt: skip
    runs[None] = backtest_run(f, fit)
    last = runs[None][0]
    march = {w: applications_in(r, 2021, 3) for w, (_, _, r) in runs.items()}
    april = {w: applications_in(r, 2021, 4) for w, (_, _, r) in runs.items()}
    inside = {}
    dec = {}
    for w, (_, obs, r) in runs.items():
        errs = relative_errors(obs, r)
        inside[w] = (sum(e * e for d, e in errs.items() if d <= last) / sum(d <= last for d in errs)) ** 0.5
        dec[w] = errs[dt.date(2021, 12, 1)]
    for w in RIDGE:  # on the ridge: the same March and an in-window fit as good as the optimum's
        assert march[w] == pytest.approx(march[None], rel=0.005)
        assert abs(inside[w] - inside[None]) < 0.0005, (w, inside)
    assert inside[None] < 0.01
    assert april[10.0] > 2.5 * april[20.0], april  # yet April, and the backlog it leaves, differ
    assert dec[10.0] > 0.05 and dec[20.0] < -0.05, dec  # the 2021-12 forecast spans the +-5 % band


if __name__ == "__main__":  # the per-month table for the report: python tests/rollout/test_rollout_backtest.py
    for f, fit in (("scenarios/rollout_backtest_2020.yaml", "fitted_to_2020-12.json"),
                   ("scenarios/rollout_backtest_2021h1.yaml", "fitted_to_2021-06.json")):  # fmt: skip
        for d, e in forecast_errors(f, DATA / fit).items():
            print(f"{fit}  {d}  {100 * e:+.2f} %")
