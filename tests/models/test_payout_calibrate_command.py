"""`twin calibrate` on a payout scenario follows the rollout's rule: it writes only under --out,
updates the tracked fitted file only with --promote, and fails loudly when the fit does not converge.

A small nation (1:2000) and one fitted parameter keep each fit to seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _tree import calibrate_leaves_tree_clean, optimiser_gives_up

from twin import scenario
from twin.calibration import NotConverged, calibrate_file

TINY = """name: payout_tiny
kind: payout
seed: 20200427
population: {scale: 0.0005, statistics: "20200401"}
calendar: {start: 2020-04-30, end: 2021-03-31}
params:
  calibration:
    scale: 0.0005
    train_until: 2020-06-19
    promote_to: promoted.json
    fit:
      disbursement.setup_days: [1, 40]
options:
  - name: baseline_2020
"""


def tiny(tmp_path: Path) -> Path:
    f = tmp_path / "tiny.yaml"
    f.write_text(TINY)
    return f


@pytest.mark.slow
def test_payout_calibrate_writes_only_its_out_folder_and_promotes_only_when_asked(tmp_path: Path) -> None:
    doc, _ = calibrate_leaves_tree_clean(tiny(tmp_path), "payout_tiny", tmp_path)
    assert "disbursement.setup_days" in doc["fitted"] and doc["stderr"]["disbursement.setup_days"] > 0


@pytest.mark.slow
def test_a_payout_fit_that_does_not_converge_is_flagged_and_not_promoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    optimiser_gives_up(monkeypatch)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotConverged, match="did not converge"):
        calibrate_file(tiny(tmp_path), out=tmp_path / "out", workers=0, promote=True)
    (folder,) = (tmp_path / "out" / "payout_tiny").iterdir()
    assert json.loads((folder / "fitted.json").read_text())["converged"] is False
    assert not (tmp_path / "promoted.json").exists()


def test_promote_to_must_be_a_relative_json_path(tmp_path: Path) -> None:
    for bad in ("/tmp/evil.json", "../evil.json", "scenarios/fitted.txt"):
        f = tmp_path / "x.yaml"
        f.write_text(TINY.replace("promote_to: promoted.json", f"promote_to: {bad}"))
        with pytest.raises(Exception, match="params.calibration.promote_to"):
            scenario.load(f)
