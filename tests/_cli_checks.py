"""One check for bad scenario input through the real CLI: exit 2, one line naming the problem, nothing written."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from twin.cli import app


def assert_run_refused(tmp_path: Path, scenario_text: str, message: str) -> None:
    """``twin run`` on ``scenario_text`` exits 2 with one line containing ``message`` and writes no folder."""
    f = tmp_path / "x.yaml"
    f.write_text(scenario_text, encoding="utf-8")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["run", str(f), "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert not out.exists()
