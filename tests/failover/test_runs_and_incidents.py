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
    # the operators' status checks and the linkage messages checked for a My Number are outputs of every run
    assert "Platform status checks" in html and "messages checked" in html
    for o, r in r1.summary["linkage_messages"].items():
        assert r["messages_checked"] >= r["queries"] > 0 and r["violations"] == 0, o
    assert set(r1.summary["status_checks"]) == set(r1.summary["options"])


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


def test_wiring_2019_release_defect_lasts_its_detection_plus_rollback_inputs() -> None:
    """Wiring: 48 h down is the scenario's detection (60 min) plus rollback (2,820 min), not a result."""
    s = _summary("scenarios/incident_2019_renewal.yaml")
    assert s["as_2019"]["card_issuance"]["minutes_down"] == pytest.approx(48 * 60)
    assert s["canary_rollback"]["card_issuance"]["minutes_down"] == 0


def test_2019_the_defect_fails_the_renewal_wave_and_a_canary_fails_a_hundredth_of_it() -> None:
    """Outputs: failed requests follow from the renewal demand that met the defect, and a 5 % canary
    caught in 15 min fails far fewer than 5 % of them (the wave's requests are not inputs)."""
    s = _summary("scenarios/incident_2019_renewal.yaml")
    as_2019, canary = s["as_2019"]["card_issuance"], s["canary_rollback"]["card_issuance"]
    assert 0 < as_2019["requests_failed"] <= as_2019["requests"]
    assert as_2019["availability"] < canary["availability"] <= 1
    assert canary["requests_failed"] < as_2019["requests_failed"] / 100
    assert canary["requests"] == pytest.approx(as_2019["requests"], rel=0.01)  # same demand, other design


def test_wiring_2020_the_four_hour_surge_window_is_the_portal_outage_and_payouts_follow_it() -> None:
    """Wiring: 240 min is the length of the injected 13:00-17:00 surge, an input of the scenario."""
    s = _summary("scenarios/incident_2020_payout.yaml")
    assert s["as_2020"]["myna_portal"]["minutes_down"] == pytest.approx(240)
    assert s["as_2020"]["payout"]["minutes_by_cause"]["dependency"] == pytest.approx(240)


def test_2020_overload_fails_and_retries_requests_and_the_sized_design_fails_none() -> None:
    """Outputs: which services go down (the counters overload days later, from the card surge meeting
    their capacity), how many requests fail and are retried, and that the sized design with a waiting
    room serves every request."""
    s = _summary("scenarios/incident_2020_payout.yaml")
    portal, payout = s["as_2020"]["myna_portal"], s["as_2020"]["payout"]
    assert s["as_2020"]["card_issuance"]["minutes_by_cause"]["overload"] > 0
    assert 0 < portal["requests_failed"] < portal["requests"] / 2
    assert portal["requests_retried"] > 0 and payout["requests_failed"] > 0
    for svc in ("myna_portal", "payout", "card_issuance"):
        sized = s["sized_with_waiting_room"][svc]
        assert sized["minutes_down"] == 0 and sized["requests_failed"] == 0


def test_2024_portal_overload_lasts_the_working_day_and_active_active_absorbs_it() -> None:
    s = _summary("scenarios/incident_2024_portal.yaml")
    assert 7 * 60 <= s["as_2024"]["myna_portal"]["minutes_down"] <= 9 * 60
    assert s["as_2024"]["myna_portal"]["incidents_by_cause"]["overload"] == 1
    assert s["active_active_waiting_room"]["myna_portal"]["requests_failed"] == 0
