"""The failover drill: the primary payout server is SIGKILLed mid-run; every household is still paid exactly once."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from real_backends.rig.failover import RigConfig, run_failover
from real_backends.rig.report import write_report


def _children() -> set[int]:
    """Live child processes of this test process (the rig must leave none behind)."""
    out = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for pid in (task / "children").read_text().split():
            status = Path(f"/proc/{pid}/status")
            if status.exists() and "zombie" not in status.read_text():
                out.add(int(pid))
    return out


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_killing_the_primary_mid_run_loses_nothing_and_pays_nobody_twice(tmp_path: Path) -> None:
    before = _children()
    config = RigConfig(households=100_000, seed=0, batch=500, kill_at=0.5)
    result = run_failover(config, f"sqlite:///{tmp_path / 'payout.db'}", tmp_path / "logs")
    assert _children() <= before, "the rig left server processes running"

    assert result.entitled > 99_000
    assert result.paid == result.entitled == result.payments_in_store
    assert result.transfers_per_household_max == 1, "a household appears in two transfer batches"
    assert result.unpaid == [] and result.invariants_ok
    assert result.exactly_once
    assert result.failures, "the kill landed while requests were in flight: some must have failed and been retried"
    assert min(f.ended for f in result.failures) >= result.killed_at, "nothing failed before the kill"
    assert result.failover_seconds is not None and result.failover_seconds > 0
    assert result.served["standby"] > 0 and any(b == "primary" and not up for _, b, up, _ in result.events)

    folder = write_report(result, tmp_path / "reports")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["exactly_once"] is True and summary["failed_requests"] == len(result.failures)
    assert summary["failover_s"] == round(result.failover_seconds, 4)
    html = (folder / "index.html").read_text()
    assert "failover time (kill to first answer from the standby)" in html and "Requests that failed" in html
    assert len(pd.read_csv(folder / "failures.csv")) == len(result.failures)
    assert (folder / "figures" / "latency.png").stat().st_size > 1000
    print(json.dumps(summary, indent=1))  # the measured figures, for the record (pytest -s)


def test_a_rig_configuration_that_cannot_work_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"batch: 501 must be in \[1, 500\]"):
        RigConfig(batch=501)
    with pytest.raises(ValueError, match=r"kill_at: 1.0 must be in \[0, 1\)"):
        RigConfig(kill_at=1.0)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_same_drill_on_postgresql_replicas_pays_everyone_once(tmp_path: Path, pg_url: str) -> None:
    before = _children()
    result = run_failover(RigConfig(households=5_000, seed=1, kill_at=0.4), pg_url, tmp_path / "logs")
    assert _children() <= before, "the rig left server processes running"
    assert result.store == "postgresql"
    assert result.exactly_once and result.paid == result.entitled == result.payments_in_store
    assert result.failover_seconds is not None and result.served["standby"] > 0
