"""Determinism, the run folder, and the incident replays: the past reproduced, the better design better."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from failover_helpers import params, quiet_service, year

from twin.runs import RunContext, execute
from twin.scenario import load


def test_same_seed_same_year_other_seed_other_year() -> None:
    p = params({"x": quiet_service(deployment="hot", sites=["east", "west"],
                                   failure={"mtbf_hours": 50, "mttr_hours": 3})})  # fmt: skip
    a, b, c = year(p, 60, seed=1)["x"], year(p, 60, seed=1)["x"], year(p, 60, seed=2)["x"]
    assert a.minutes_down == b.minutes_down and a.incidents == b.incidents
    assert a.minutes_down != c.minutes_down


def test_run_folder_is_byte_identical_for_the_same_inputs(tmp_path: Path) -> None:
    sc = load("scenarios/incident_2024_portal.yaml")
    r1 = execute(sc, tmp_path / "a")
    r2 = execute(sc, tmp_path / "b")
    assert (r1.path / "metrics.parquet").read_bytes() == (r2.path / "metrics.parquet").read_bytes()
    assert r1.summary == r2.summary
    assert {f.stem for f in r1.figures} == {"topology", "availability_nines", "downtime_by_cause", "failed_requests"}
    html = r1.report.read_text()
    assert "Incidents by cause" in html and "active_active_waiting_room" in html


def _summary(path: str) -> dict:
    from twin.models.failover import run

    return json.loads(json.dumps(run(RunContext(load(path))).summary, default=float))["options"]


@pytest.mark.slow
def test_2016_relay_servers_fail_about_six_times_in_two_weeks_and_headroom_prevents_it() -> None:
    s = _summary("scenarios/incident_2016_relay.yaml")
    as_2016, better = s["as_2016"]["relay_servers"], s["headroom_admission"]["relay_servers"]
    assert 4 <= as_2016["incidents_by_cause"]["component"] <= 8
    assert better["incidents_by_cause"]["component"] < 1
    assert better["requests_failed"] < as_2016["requests_failed"] / 20


def test_2019_renewals_fail_for_two_days_and_a_canary_contains_it() -> None:
    s = _summary("scenarios/incident_2019_renewal.yaml")
    assert s["as_2019"]["card_issuance"]["minutes_down"] == pytest.approx(48 * 60)
    assert s["canary_rollback"]["card_issuance"]["minutes_down"] == 0
    failed = {o: s[o]["card_issuance"]["requests_failed"] for o in ("as_2019", "canary_rollback")}
    assert failed["canary_rollback"] < failed["as_2019"] / 100


def test_2020_portal_is_down_four_hours_on_the_first_afternoon_and_payouts_with_it() -> None:
    s = _summary("scenarios/incident_2020_payout.yaml")
    assert s["as_2020"]["myna_portal"]["minutes_down"] == pytest.approx(240)
    assert s["as_2020"]["payout"]["minutes_by_cause"]["dependency"] == pytest.approx(240)
    assert s["as_2020"]["card_issuance"]["minutes_by_cause"]["overload"] > 0
    for svc in ("myna_portal", "payout", "card_issuance"):
        assert s["sized_with_waiting_room"][svc]["minutes_down"] == 0


def test_2024_portal_overload_lasts_the_working_day_and_active_active_absorbs_it() -> None:
    s = _summary("scenarios/incident_2024_portal.yaml")
    assert 7 * 60 <= s["as_2024"]["myna_portal"]["minutes_down"] <= 9 * 60
    assert s["as_2024"]["myna_portal"]["incidents_by_cause"]["overload"] == 1
    assert s["active_active_waiting_room"]["myna_portal"]["requests_failed"] == 0
