"""The project's working tree, for tests that check a command leaves it as it was."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def git_status() -> str:
    """``git status --porcelain`` of the working tree, untracked files included."""
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout  # fmt: skip


def optimiser_gives_up(monkeypatch, status: int = 0, message: str = "") -> None:  # noqa: ANN001
    """Make scipy's least_squares report that it stopped without converging (after doing its work), so
    that a test sees how a calibration treats a fit that did not converge."""
    import scipy.optimize

    real = scipy.optimize.least_squares

    def gives_up(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        res = real(*args, **kwargs)
        res.status = status
        res.message = message or "The maximum number of function evaluations is exceeded."
        return res

    monkeypatch.setattr(scipy.optimize, "least_squares", gives_up)


def calibrate_leaves_tree_clean(scenario_file: Path, name: str, tmp_path: Path) -> tuple[dict, Path]:
    """Run ``twin calibrate`` on ``scenario_file`` (which promotes to ``promoted.json`` relative to
    ``tmp_path``) without and then with --promote; check the working tree is untouched both times and
    that only --promote writes the promoted file, with the fit of the run. Returns the fit and its folder."""
    import json
    import sys

    before = git_status()
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "twin.cli", "calibrate", str(scenario_file), "--out", str(out), "--workers", "1"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert git_status() == before  # nothing in the working tree changed
    (folder,) = (out / name).iterdir()
    doc = json.loads((folder / "fitted.json").read_text())
    assert doc["converged"] is True
    assert not (tmp_path / "promoted.json").exists()
    done = subprocess.run([*cmd, "--promote"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "promoted.json").read_text())["fitted"] == doc["fitted"]
    assert git_status() == before
    return doc, folder
