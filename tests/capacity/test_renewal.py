"""The FY2025 renewal wave (kind ``renewal``): small runs that could fail.

A subset of town halls keeps the runs fast; J-LIS keeps its national capacity scaled to the
subset's share of the due cards.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from twin.models.renewal.params import Params
from twin.models.renewal.reference import play
from twin.models.renewal.wave import TownCounters, simulate, towns

#: 40 town halls of every size and type (every 43rd by file order)
SUBSET = np.arange(0, 1741, 43)


def _run(**update) -> object:  # noqa: ANN003
    return simulate(Params.model_validate(update), towns(), subset=SUBSET)


@pytest.fixture(scope="module")
def base():  # noqa: ANN201
    return _run()


def test_everyone_is_accounted_for(base) -> None:  # noqa: ANN001
    """due = renewed + in process + lapsed + acting after the horizon, and the cited totals scale."""
    t = base.totals
    assert t["due"] > 0 and t["renewed"] > 0 and t["in_process"] > 0
    assert t["renewed"] + t["in_process"] + t["lapsed"] + t["not_started"] == pytest.approx(t["due"], rel=1e-9)
    # every day's backlog by type sums to what was started and is not yet renewed
    started = base.acted.sum()
    assert t["renewed"] + t["in_process"] == pytest.approx(started, rel=1e-9)


def test_more_counters_shorten_the_waits(base) -> None:  # noqa: ANN001
    more = _run(counters={"factor": 1.5})
    w0 = base.counter_days.sum() / base.counter_served.sum()
    w1 = more.counter_days.sum() / more.counter_served.sum()
    assert w1 < 0.7 * w0
    assert more.backlog_daily.sum(axis=0).max() < base.backlog_daily.sum(axis=0).max()


def test_a_longer_window_flattens_the_backlog_peak(base) -> None:  # noqa: ANN001
    """Expiries are already spread by birthdays, so a 12-month window thins the starts a little; but
    the counters then work through the rush over a year instead of three months."""
    longer = _run(window_days=365)

    def peak_week(w) -> float:  # noqa: ANN001
        return float(np.convolve(w.acted.sum(axis=0), np.ones(7), "valid").max())
    assert peak_week(longer) < peak_week(base)
    assert longer.backlog_daily.sum(axis=0).max() < 0.8 * base.backlog_daily.sum(axis=0).max()


def test_smartphone_renewals_skip_the_counter(base) -> None:  # noqa: ANN001
    phone = _run(smartphone_share=0.5)
    assert phone.smartphone > 0
    assert phone.counter_served.sum() < base.counter_served.sum()
    assert phone.totals["due"] == pytest.approx(base.totals["due"])


def test_the_batch_counters_agree_with_one_simpy_process_per_visitor() -> None:
    """Three town halls, 60 days with a rush in weeks 2-5: served per fortnight and days waited."""
    rng = np.random.default_rng(5)
    day0 = dt.date(2025, 4, 7)
    n_days, hours = 60, 7.0
    pos = np.array([2.0, 4.0, 6.0])
    minutes = np.array([15.0, 10.0])
    from twin.sim import Calendar

    business = Calendar(day0, day0 + dt.timedelta(days=n_days)).business_day_mask()[:n_days]
    cap = pos * hours * 60 / 2  # minutes a day for each half (appointments, walk-ins)
    rush = np.where((np.arange(n_days) >= 10) & (np.arange(n_days) < 35), 1.4, 0.6)
    lam = (cap[:, None] * rush[None, :] / minutes.mean() / 2)  # per class, per half
    half = rng.poisson(lam[:, :, None] * np.ones(2)) * business[None, :, None]
    ref = play(day0, n_days, [int(p / 2) for p in pos], list(cap), minutes, half, half, hours, rng)
    tc = TownCounters(pos, n_days + 200, hours, 1.0, 0.5, 0.5, minutes)
    served = np.zeros((3, n_days + 200))
    waited = np.zeros(3)
    later = Calendar(day0, day0 + dt.timedelta(days=n_days + 200)).business_day_mask()
    for d in range(n_days + 200):
        if not later[d]:
            continue
        if d < n_days:
            tc.arrive(d, 2.0 * half[:, d, :])
        s = tc.serve(d)
        served[:, d] = (s["res"] + s["walk"]).sum(axis=1)
        waited += s["days_res"] + s["days_walk"]
    n = half.sum(axis=(1, 2)) * 2
    assert served.sum(axis=1) == pytest.approx(n, rel=1e-6)  # everyone served in the end, in both
    assert ref["served"].sum(axis=1) == pytest.approx(n)
    for k in range(0, n_days, 14):
        a, b = served[:, : k + 14].sum(axis=1), ref["served"][:, : k + 14].sum(axis=1)
        assert a == pytest.approx(b, rel=0.02, abs=10)
    # 3-4 days waited on average in the rush; the two agree within 5 %
    assert waited / n == pytest.approx(ref["waited"] / n, rel=0.05)


BASE = """\
name: x
kind: renewal
seed: 1
calendar: {{start: 2025-04-01, end: 2026-03-31}}
params:
  {params}
"""


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("counters: {minimum: 0}", "params.counters.minimum: 0 is not in [1, 1,000]"),
        ("counters: {factor: 0}", "params.counters.factor: 0 is not in (0, 100]"),
        ("window_days: -30", "params.window_days: -30 is not in [1, 730]"),
        ("smartphone_share: 1.5", "params.smartphone_share: 1.5 is not in [0, 1]"),
        ("due: {fiscal_year: 2024}", "calendar: 2025-04-01 .. 2026-03-31 is not fiscal year 2024"),
    ],
)
def test_bad_renewal_input_exits_2_naming_the_field(tmp_path, params: str, message: str) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from twin.cli import app

    f = tmp_path / "x.yaml"
    f.write_text(BASE.format(params=params), encoding="utf-8")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["run", str(f), "--out", str(out)])
    assert r.exit_code == 2
    assert message in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert not out.exists()
