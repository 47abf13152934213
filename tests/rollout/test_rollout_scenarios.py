"""Both rollout scenarios run end to end (shortened to 17 months so the suite stays fast)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from twin import runs, scenario
from twin.models.rollout.hazard import build_cells
from twin.models.rollout.params import Params
from twin.models.rollout.simulate import Rollout

SHORT = {"end: 2021-12-31": "end: 2017-05-31", "end: 2023-03-31": "end: 2017-05-31", '"20200120"': '"20170515"'}


def shortened(path: str, extra: dict[str, str] | None = None) -> scenario.Scenario:
    text = Path(path).read_text()
    for old, new in {**SHORT, **(extra or {})}.items():
        text = text.replace(old, new)
    return scenario.loads(text, path)


@pytest.mark.slow
def test_history_runs_end_to_end_and_reports_its_fit(tmp_path: Path) -> None:
    run = runs.execute(shortened("scenarios/rollout_history.yaml"), out=tmp_path)
    s = run.summary
    base = s["options"]["base"]
    assert 0 < base["holders_end"] < base["applications"] < 128e6
    assert 0 <= s["fit_rms_relative_error"] < 1
    df = run.metrics
    issued = df[(df.metric == "issued_cumulative")].value.to_numpy()
    holders = df[(df.metric == "holders")].value.to_numpy()
    assert np.all(np.diff(issued) >= -1e-6)  # cards handed over never fall (MIC's count)
    dead = issued - holders  # holders die: cards held fall behind, by about 1 % of the cards a year at most
    assert np.all(dead >= -1e-6) and dead[-1] > 0 and dead[-1] < 0.01 * 6 * issued[-1]
    assert {"holding_rate_prefecture", "holders_age_band", "holding_rate", "backlog_counter_handover"} <= set(df.metric)
    assert (run.path / "figures" / "fit_age_prefecture.png").exists()
    assert "Fit: national cumulative cards vs MIC" in run.report.read_text()


@pytest.mark.slow
def test_options_run_forward_from_the_fitted_values_with_replications(tmp_path: Path) -> None:
    fitted = json.loads(Path("scenarios/rollout_fitted.json").read_text())["fitted"]
    s = shortened("scenarios/rollout_options.yaml", {"replications: 3": "replications: 2"})
    run = runs.execute(s, out=tmp_path)
    heads = run.summary["options"]
    assert set(heads) == {"phase2_as_announced", "deadline_2022_09_30", "deadline_2022_12_31",
                          "no_phase2_mailing_only", "as_announced_plus_production"}
    assert all(h["replications"] == 2 for h in heads.values())
    assert all(h["holders_end_min"] <= h["holders_end"] <= h["holders_end_max"] for h in heads.values())
    # the replications differ (binomial draws) but the options share random numbers
    df = run.metrics
    reps = df[(df.metric == "holders_replication") & (df.option == "phase2_as_announced")]
    ends = reps.groupby("labels").value.last()
    assert ends.nunique() == 2
    # every option states what it assumes and when it was known, and the report shows it
    opts = scenario.loads(Path("scenarios/rollout_options.yaml").read_text()).options
    assert all(o.params.policy.known_on and o.params.policy.assumes for o in opts)
    assert "What each option assumes and when it was known" in run.report.read_text()
    # the fitted values were applied, from a converged fit
    assert opts[0].params.calibrated_from == "scenarios/rollout_fitted.json" and fitted
    assert run.summary["calibrated_from"]["converged"] is True


@pytest.mark.slow
def test_agent_fidelity_runs_the_same_chain_with_mesa_agents(tmp_path: Path) -> None:
    s = shortened("scenarios/rollout_history.yaml", {"stochastic: false": "stochastic: true\n  fidelity: agent\n  "
                                                     "agent_sample: 0.0001"})  # fmt: skip
    run = runs.execute(s, out=tmp_path)
    base = run.summary["options"]["base"]
    assert base["holders_end"] > 1e6 and run.summary["fidelity"] == "agent"


def test_the_same_seed_gives_the_same_rollout() -> None:
    cells = build_cells(np.array([20_000.0, 90_000.0]), np.array([0, 3]), np.ones((21, 2)))
    p = Params(initial_applications=1_000)
    runs_ = [Rollout(p, cells, dt.date(2016, 1, 1), 90, rng=np.random.default_rng(5)).run() for _ in range(2)]
    other = Rollout(p, cells, dt.date(2016, 1, 1), 90, rng=np.random.default_rng(6)).run()
    assert all(np.array_equal(runs_[0].daily[k], runs_[1].daily[k], equal_nan=True) for k in runs_[0].daily)
    assert not np.array_equal(runs_[0].daily["applications"], other.daily["applications"])


@pytest.mark.slow
def test_wiring_the_agent_scenario_runs_one_resident_in_100_as_agents_at_the_fitted_values(tmp_path: Path) -> None:
    """rollout_agents.yaml: agent fidelity at 1:100 on the promoted fit (shortened to 17 months and to a
    1:2000 sample here; the full run is measured in the README)."""
    s = shortened("scenarios/rollout_agents.yaml")
    p = s.options[0].params
    assert p.fidelity == "agent" and p.calibrated_from == "scenarios/rollout_fitted.json"
    assert Path("scenarios/rollout_agents.yaml").read_text().count("agent_sample: 0.01\n") == 1
    run = runs.execute(shortened("scenarios/rollout_agents.yaml", {"agent_sample: 0.01": "agent_sample: 0.0005"}),
                       out=tmp_path)  # fmt: skip
    assert run.summary["fidelity"] == "agent"
    issued = run.metrics[run.metrics.metric == "issued_cumulative"].value.to_numpy()
    assert np.all(np.diff(issued) >= -1e-6) and issued[-1] > 1e6
