"""Capacity scenarios a planner gets wrong: one line naming the field, exit code 2, nothing run.

A pool with no workers, a negative client timeout, retries without a limit and an adoption share
above 1 are scenario errors, not features.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from twin.cli import app

BASE = """\
name: x
kind: capacity
seed: 1
population: {{scale: 1}}
calendar: {{start: 2024-07-08, end: 2024-07-09}}
params:
  {params}
"""


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("pools: {eligibility: {servers: 0}, ocsp: {servers: 2}, portal: {servers: 2}, ca: {servers: 2}}",
         "params.pools.eligibility.servers: 0 is not in [1, 1e+06]"),
        ("requests: {database: {servers: 0}}", "params.requests.database.servers: 0 is not in [1, 1e+06]"),
        ("requests: {timeout_seconds: -1}", "params.requests.timeout_seconds: -1 is not in (0, inf)"),
        ("requests: {retry: {max_retries: null}}",
         "params.requests.retry.max_retries: unbounded retries are refused; give a whole number 0-20"),
        ("facilities: {adoption: {clinic: [[2023-02-01, 1.2]]}}",
         "params.facilities.adoption.clinic[0][1]: 1.2 is not in [0, 1]"),
    ],
)
def test_bad_capacity_input_exits_2_naming_the_field(tmp_path: Path, params: str, message: str) -> None:
    f = tmp_path / "x.yaml"
    f.write_text(BASE.format(params=params), encoding="utf-8")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["run", str(f), "--out", str(out)])
    assert r.exit_code == 2
    assert message in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert not out.exists()
