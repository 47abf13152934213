"""The `nation` scenario end to end."""

from __future__ import annotations

import json

import pytest

import twin
from twin.errors import InputError


@pytest.mark.slow
def test_nation_scenario_writes_its_run_folder_and_repeats_byte_for_byte(tmp_path):
    first = twin.run("scenarios/nation.yaml", out=tmp_path / "a")
    second = twin.run("scenarios/nation.yaml", out=tmp_path / "b")
    assert (first.path / "metrics.parquet").read_bytes() == (second.path / "metrics.parquet").read_bytes()
    for name in ("manifest.json", "summary.json", "index.html"):
        assert (first.path / name).exists()
    assert {p.name for p in first.figures} == {"age_pyramid.png", "card_holding_by_age.png", "literacy_by_age.png"}
    s = json.loads((first.path / "summary.json").read_text())
    assert s["scale"] == 0.01
    assert s["persons_per_household"] == pytest.approx(2.21, abs=0.01)
    assert s["one_person_share"] == pytest.approx(0.38, abs=0.005)
    assert s["residents"] == pytest.approx(s["residents_official"], rel=0.005)
    df = first.metrics
    pref = df[(df.metric == "population") & df.labels.str.contains("prefecture=")]
    assert len(pref) == 94  # 47 prefectures x (synthetic, official)
    assert set(df.metric) >= {"population", "population_error_pct", "card_holding_rate", "household_share",
                              "digital_literacy_mean", "persons_per_household"}  # fmt: skip
    page = first.report.read_text(encoding="utf-8")
    assert "1:100" in page and "Residents by prefecture (47)" in page and "鳥取県" in page


def test_scenario_params_reach_the_nation(tmp_path):
    from twin import runs, scenario

    sc = scenario.loads(
        "name: later\nkind: nation\nseed: 3\npopulation: {scale: 0.001, card_date: 2023-07-01}\n"
        "params: {account_share: 0.5, literacy_concentration: 8}\n"
    )
    run = runs.execute(sc, out=tmp_path)
    s = run.summary
    assert s["card_date"] == "2023-07-01"
    assert s["account_share_of_holders"] == pytest.approx(0.5, abs=0.02)
    assert s["holding_rate"] > 0.5  # 2021-12 release extrapolated towards 80.3 % (2025-12)


def test_an_unknown_release_in_a_scenario_is_named_with_the_allowed_range():
    from twin import scenario

    with pytest.raises(InputError, match=r"population.statistics: '20200402' is not a bundled snapshot"):
        scenario.loads("name: x\nkind: nation\npopulation: {statistics: '20200402'}\n")
