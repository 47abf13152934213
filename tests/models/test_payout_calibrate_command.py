"""`twin calibrate` on a payout scenario follows the rollout's rule: it writes only under --out,
updates the tracked fitted file only with --promote, and fails loudly when the fit does not converge.

A small nation (1:2000) and one fitted parameter keep each fit to seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _tree import git_status

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
    before = git_status()
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "twin.cli", "calibrate", str(tiny(tmp_path)), "--out", str(out), "--workers", "1"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert git_status() == before  # nothing in the working tree changed
    (folder,) = (out / "payout_tiny").iterdir()
    doc = json.loads((folder / "fitted.json").read_text())
    assert doc["converged"] is True and "disbursement.setup_days" in doc["fitted"]
    assert not (tmp_path / "promoted.json").exists()
    done = subprocess.run([*cmd, "--promote"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "promoted.json").read_text())["fitted"] == doc["fitted"]
    assert git_status() == before


@pytest.mark.slow
def test_a_payout_fit_that_does_not_converge_is_flagged_and_not_promoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scipy.optimize

    real = scipy.optimize.least_squares

    def gives_up(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        res = real(*args, **kwargs)
        res.status, res.message = 0, "The maximum number of function evaluations is exceeded."
        return res

    monkeypatch.setattr(scipy.optimize, "least_squares", gives_up)
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
