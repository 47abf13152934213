"""The payout scenario end to end on the synthetic nation (small scale): the comparison report for
all four designs, what it says, and that it is reproducible."""

from __future__ import annotations

from pathlib import Path

import pytest

import twin


@pytest.fixture(scope="module")
def payout_run(tmp_path_factory: pytest.TempPathFactory) -> twin.runs.Run:
    return twin.run("scenarios/payout_2020.yaml", scale=0.002, out=tmp_path_factory.mktemp("reports"))


def test_all_four_designs_are_compared_in_one_report(payout_run) -> None:
    opts = payout_run.summary["option_order"]
    assert opts == ["baseline_2020", "automated_matching", "push_to_registered_accounts", "same_day"]
    html = payout_run.report.read_text()
    for name in opts:
        assert name in html
    assert "Scale 1:500" in html
    assert "assumed rather than sourced" in html
    assert {f.name for f in payout_run.figures} >= {"paid_share.png", "paid_share_by_type.png", "backlog.png"}


def test_the_2020_baseline_matches_the_public_record(payout_run) -> None:
    base = payout_run.summary["options"]["baseline_2020"]
    # 5,915万 households paid = 99.4 % (Jiji); 12.67 trillion yen
    assert base["paid_share"] == pytest.approx(0.994, abs=0.004)
    assert base["money_paid_yen"] / 1e12 == pytest.approx(12.67, rel=0.03)
    # online applications: 1.94M by 2020-05-24 and not many more afterwards
    assert 1.6e6 < base["applications_online"] < 2.8e6


def test_faster_designs_pay_sooner_and_cost_town_halls_less(payout_run) -> None:
    o = payout_run.summary["options"]
    assert o["same_day"]["days_to_50pct"] < o["push_to_registered_accounts"]["days_to_50pct"]
    assert o["push_to_registered_accounts"]["days_to_50pct"] < o["baseline_2020"]["days_to_50pct"]
    assert o["automated_matching"]["staff_hours"] < o["baseline_2020"]["staff_hours"]
    assert o["push_to_registered_accounts"]["paid_by_push"] > 0.5 * o["push_to_registered_accounts"]["paid_households"]
    assert o["baseline_2020"]["paid_by_push"] == 0


def test_metrics_are_tidy_and_national_totals_add_up(payout_run) -> None:
    df = payout_run.metrics
    paid = df[(df.metric == "paid_households") & (df.option == "baseline_2020")].value.sum()
    assert paid == pytest.approx(payout_run.summary["options"]["baseline_2020"]["paid_households"], rel=1e-9)
    assert set(df.option) == set(payout_run.summary["options"])


def test_same_seed_and_scale_give_identical_metrics(payout_run, tmp_path: Path) -> None:
    again = twin.run("scenarios/payout_2020.yaml", scale=0.002, out=tmp_path)
    assert (again.path / "metrics.parquet").read_bytes() == (payout_run.path / "metrics.parquet").read_bytes()
