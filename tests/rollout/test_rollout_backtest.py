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


def forecast_errors(scenario_file: str, fitted_file: Path) -> dict[dt.date, float]:
    """Relative error of the national cumulative at every release after the fit's last one."""
    doc = json.loads(fitted_file.read_text())
    assert doc["converged"] is True
    last = dt.date.fromisoformat(doc["releases"][1])
    s = scenario.load(ROOT / scenario_file)
    base = s.options[0].params
    assert base.calibration.last_release == last  # the fit saw nothing after this release
    params = with_values(base, read_fitted(str(fitted_file)))
    obs = load_observed(ROOT / "twin/data/card_issuance", START, END)
    cells = cells_for(obs, s.spec.population.statistics)
    n = (END - START).days + 1
    r = Rollout(params, cells, START, n, rng=None, record_days=record_days(obs.dates, START, n),
                mortality=mortality_for(base)).run()  # fmt: skip  # tables up to the fit's last release
    out = {}
    for i, d in enumerate(obs.dates):
        if d > last:  # MIC counts cards issued, dead holders' included
            out[d] = float(r.daily["issued_cumulative"][(d - START).days] / obs.national[i] - 1.0)
    return out


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="known miss: the fit to 2020-12 forecasts 2021-01..08 within 5 % (+1.6, "
                   "+4.3, +4.9, +3.1, +2.3, +1.5, -2.2, -4.7 %) but runs low from September (-7.1 % .. -9.7 % in "
                   "2021-12): after the phase-1 deadline (2021-04-30) its applications fall to about 0.3M a month, "
                   "while the flat issuance of 2021-10..12 (about 1M a month) implies about 1M; the deadline rush "
                   "and the QR mailing keep their defaults (no deadline or mailing in these releases to fit "
                   "them on)")  # fmt: skip
def test_fit_to_2020_12_forecasts_every_2021_release_within_5_percent() -> None:
    errs = forecast_errors("scenarios/rollout_backtest_2020.yaml", DATA / "fitted_to_2020-12.json")
    assert [d.isoformat() for d in errs][:2] == ["2021-01-01", "2021-02-01"] and len(errs) == 12
    worst = max(errs, key=lambda d: abs(errs[d]))
    assert all(abs(e) <= 0.05 for e in errs.values()), f"worst {worst}: {100 * errs[worst]:+.1f} %"


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="known miss: the fit to 2021-06 forecasts 2021-07..11 within 5 % (-1.4, "
                   "-2.4, -3.7, -4.0, -4.2 %) and 2021-12 at -5.1 %: it sees the March 2021 record (254万) and "
                   "drains an April rush of about 5.9M, but after the deadline its applications stay at about "
                   "0.3M a month against about 1M implied by the flat issuance of 2021-10..12")  # fmt: skip
def test_fit_to_2021_06_forecasts_2021_07_to_12_within_5_percent() -> None:
    errs = forecast_errors("scenarios/rollout_backtest_2021h1.yaml", DATA / "fitted_to_2021-06.json")
    assert [d.isoformat() for d in errs] == [f"2021-{m:02d}-01" for m in range(7, 13)]
    worst = max(errs, key=lambda d: abs(errs[d]))
    assert all(abs(e) <= 0.05 for e in errs.values()), f"worst {worst}: {100 * errs[worst]:+.1f} %"


if __name__ == "__main__":  # the per-month table for the report: python tests/rollout/test_rollout_backtest.py
    for f, fit in (("scenarios/rollout_backtest_2020.yaml", "fitted_to_2020-12.json"),
                   ("scenarios/rollout_backtest_2021h1.yaml", "fitted_to_2021-06.json")):  # fmt: skip
        for d, e in forecast_errors(f, DATA / fit).items():
            print(f"{fit}  {d}  {100 * e:+.2f} %")
