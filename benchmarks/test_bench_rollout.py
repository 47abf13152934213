"""Card rollout at national scale: every resident (1:1) decides daily, 2016-01-01 .. 2021-12-31.

Targets (rollout issue): the national 1:1 daily simulation in <= 60 s on 2 cores; calibration of up
to 8 parameters in <= 15 min on 2 cores. ``twin calibrate`` writes only to its --out folder (a
temporary one here) and the fit must converge.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from twin.models.rollout import record_days
from twin.models.rollout.params import Params
from twin.models.rollout.setup import cells_for, observed_for
from twin.models.rollout.simulate import Rollout

ROOT = Path(__file__).resolve().parent.parent
DAY0, END = dt.date(2016, 1, 1), dt.date(2021, 12, 31)


@pytest.fixture(scope="module")
def nation():  # noqa: ANN201
    obs = observed_for(Params(), DAY0, END)
    return obs, cells_for(obs, "20200120")


@pytest.mark.parametrize("mode", ["binomial", "expected"])
def test_rollout_national_1to1_daily_2016_2022(benchmark, nation, mode: str) -> None:  # noqa: ANN001
    obs, cells = nation
    n = (dt.date(2022, 12, 31) - DAY0).days + 1
    rec = record_days(obs.dates, DAY0, n)
    times = []

    def once() -> None:
        rng = np.random.default_rng(1) if mode == "binomial" else None
        t = time.perf_counter()
        r = Rollout(Params(), cells, DAY0, n, rng=rng, record_days=rec).run()
        times.append(time.perf_counter() - t)
        assert abs(r.conservation_gap()) < 1e-6 * r.totals["applied"]

    benchmark.pedantic(once, rounds=1, iterations=1)
    benchmark.extra_info["wall_time_s"] = times[-1]
    benchmark.extra_info["cells"] = len(cells.population)
    print(f"\nrollout 1:1 {mode}, {n} days x {len(cells.population):,} cells: {times[-1]:.1f} s")
    assert times[-1] <= 60


def test_rollout_history_scenario_end_to_end(benchmark, tmp_path: Path) -> None:  # noqa: ANN001
    def once() -> None:
        subprocess.run([sys.executable, "-m", "twin.cli", "run", "scenarios/rollout_history.yaml", "--out",
                        str(tmp_path)], check=True, cwd=ROOT, capture_output=True, text=True, timeout=1800)  # fmt: skip

    benchmark.pedantic(once, rounds=1, iterations=1)
    (man,) = tmp_path.glob("rollout_history/*/manifest.json")
    m = json.loads(man.read_text())
    benchmark.extra_info["wall_time_s"] = m["wall_time_s"]
    benchmark.extra_info["peak_rss_gib"] = m["peak_rss_bytes"] / 2**30
    print(f"\nrollout history run: {m['wall_time_s']:.1f} s, peak RSS {m['peak_rss_bytes'] / 2**30:.2f} GiB")


def test_rollout_calibration_to_convergence(benchmark, tmp_path: Path) -> None:  # noqa: ANN001
    scen = ROOT / "scenarios/rollout_history.yaml"
    t = []

    def once() -> None:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "twin.cli", "calibrate", str(scen), "--out", str(tmp_path)],
                       check=True, cwd=tmp_path, capture_output=True, text=True, timeout=3600,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
        t.append(time.perf_counter() - t0)

    benchmark.pedantic(once, rounds=1, iterations=1)
    (fit_file,) = tmp_path.glob("rollout_history/calib-*/fitted.json")
    fitted = json.loads(fit_file.read_text())
    benchmark.extra_info["wall_time_s"] = t[-1]
    benchmark.extra_info["parameters"] = len(fitted["fitted"])
    benchmark.extra_info["national_rms_relative_error"] = fitted["quality"]["national_rms"]
    print(f"\nrollout calibration: {len(fitted['fitted'])} parameters, {t[-1]:.0f} s, "
          f"national RMS error {100 * fitted['quality']['national_rms']:.1f} %")  # fmt: skip
    assert fitted["converged"] and len(fitted["fitted"]) <= 8
    assert t[-1] <= 15 * 60
