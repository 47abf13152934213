"""`twin calibrate` writes only to its --out folder, promotes only on request, and fails loudly.

A tiny history (2016-01 .. 2017-05, two releases, one parameter) keeps each fit to seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _tree import ROOT, calibrate_leaves_tree_clean, optimiser_gives_up

from twin import scenario
from twin.calibration import NotConverged, calibrate

TINY = """name: rollout_tiny
kind: rollout
population: {{scale: 1.0, statistics: "20170515"}}
calendar: {{start: 2016-01-01, end: 2017-05-31}}
params:
  stochastic: false
  holder_deaths: false   # one population table (2016-01-01) up to 2017-05-15: no death rates to derive
  calibration:
    observed: {observed}
    last_release: 2017-05-15
    promote_to: {promote}
    rake: []
    sensitivity: [handover.notice_days]
    fit: {{initial_applications: [0.0, 20000000.0]}}
"""


def tiny(tmp_path: Path) -> Path:
    f = tmp_path / "tiny.yaml"
    # promote_to is a relative path (a scenario may not name an absolute one): it resolves against the
    # working directory, which the tests set to tmp_path
    f.write_text(TINY.format(observed=ROOT / "twin/data/card_issuance", promote="promoted.json"))
    return f


@pytest.mark.slow
def test_calibrate_writes_only_its_out_folder_and_promotes_only_when_asked(tmp_path: Path) -> None:
    doc, folder = calibrate_leaves_tree_clean(tiny(tmp_path), "rollout_tiny", tmp_path)
    assert "initial_applications" in doc["fitted"]
    assert doc["stderr"]["initial_applications"] > 0 and doc["correlation"] == [[1.0]]
    page = (folder / "index.html").read_text()
    assert "Converged" in page and "Sensitivity of the fixed parameters" in page and "Correlation matrix" in page


@pytest.mark.slow
def test_a_fit_that_does_not_converge_is_flagged_exits_non_zero_and_is_not_promoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    optimiser_gives_up(monkeypatch, -1, "improper input parameters status returned from MINPACK.")
    monkeypatch.chdir(tmp_path)
    s = scenario.load(tiny(tmp_path))
    with pytest.raises(NotConverged, match="the fit did not converge"):
        calibrate(s, out=tmp_path / "out", workers=0, promote=True)
    (folder,) = (tmp_path / "out" / "rollout_tiny").iterdir()
    assert json.loads((folder / "fitted.json").read_text())["converged"] is False
    assert "NOT CONVERGED" in (folder / "index.html").read_text()
    assert not (tmp_path / "promoted.json").exists()
    assert NotConverged.exit_code == 1
