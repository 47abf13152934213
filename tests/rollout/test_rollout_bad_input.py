"""Bad input stops the run before it starts, with a message naming file, row, column, value and what is allowed."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from twin import scenario
from twin.errors import InputError
from twin.models.rollout.observed import load_observed

DATA = Path("twin/data/card_issuance")
START, END = dt.date(2016, 1, 1), dt.date(2021, 12, 31)


@pytest.fixture
def releases(tmp_path: Path) -> Path:
    for name in ("20170308", "20170515"):
        shutil.copytree(DATA / name, tmp_path / name)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8-sig")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8-sig")


def test_the_bundled_releases_read_cleanly() -> None:
    obs = load_observed(DATA, START, END)
    assert len(obs.dates) == 34 and obs.national[-1] == 50_573_635
    assert len(obs.muni_code) == 1741 and sorted(set(obs.prefecture.tolist())) == list(range(1, 48))


def test_a_wrong_column_is_named_with_the_expected_columns(releases: Path) -> None:
    edit(releases / "20170515" / "all_localgovs.csv", '"交付枚数"', '"交付数"')
    with pytest.raises(InputError) as e:
        load_observed(releases, START, END)
    assert str(e.value) == (
        f"{releases}/20170515/all_localgovs.csv: column 5 is '交付数', expected '交付枚数' (columns must be: "
        "算出基準日, 都道府県名, 市区町村名, 総数（人口）, 交付枚数, 人口に対する交付枚数率, 人口算出基準日, "
        "交付件数基準日, 団体コード)"
    )


def test_a_gap_in_the_series_is_named_by_row_and_column(releases: Path) -> None:
    edit(releases / "20170515" / "all_localgovs.csv", "1941832,153494,", "1941832,,")
    with pytest.raises(InputError) as e:
        load_observed(releases, START, END)
    assert str(e.value) == (
        f"{releases}/20170515/all_localgovs.csv: row 2 (北海道 札幌市): column 交付枚数: the cell is empty "
        "(a gap in the series); a whole number >= 0 is required"
    )


def test_a_missing_municipality_is_a_gap_too(releases: Path) -> None:
    path = releases / "20170515" / "all_localgovs.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    path.write_text("".join(line for line in lines if "小樽市" not in line), encoding="utf-8-sig")
    with pytest.raises(InputError) as e:
        load_observed(releases, START, END)
    assert str(e.value) == (
        f"{releases}/20170515/all_localgovs.csv: 1740 municipality rows, expected 1741 as in the first release "
        "(missing: 北海道 小樽市)"
    )


def test_a_release_dated_outside_the_simulated_period_is_refused(releases: Path) -> None:
    with pytest.raises(InputError) as e:
        load_observed(releases, START, dt.date(2017, 4, 30))
    assert str(e.value) == (
        f"{releases}/20170515/all_localgovs.csv: row 2 (北海道 札幌市): column 算出基準日: 2017/05/15 is outside "
        "the simulated period 2016-01-01 .. 2017-04-30 (calendar.start .. calendar.end)"
    )


def test_a_row_dated_differently_from_its_folder_is_refused(releases: Path) -> None:
    path = releases / "20170515" / "all_localgovs.csv"
    edit(path, '"2017/05/15","北海道","函館市"', '"2017/05/16","北海道","函館市"')
    with pytest.raises(InputError, match=r"row 3 \(北海道 函館市\): column 算出基準日: 2017/05/16 is not the release "
                                         r"date 2017/05/15 of its folder"):  # fmt: skip
        load_observed(releases, START, END)


def test_cumulative_counts_may_not_fall(releases: Path) -> None:
    edit(releases / "20170308" / "all_localgovs.csv", "1941832,144447,", "1941832,9144447,")
    with pytest.raises(InputError) as e:
        load_observed(releases, START, END)
    assert str(e.value) == (
        f"{releases}/20170515/all_localgovs.csv: column 交付枚数: national total 11,474,475 is below the "
        "19,717,919 of the release before; cumulative counts cannot fall"
    )


def test_a_non_number_is_named(releases: Path) -> None:
    edit(releases / "20170515" / "demographics.csv", "2654125,", "n/a,")
    with pytest.raises(InputError) as e:
        load_observed(releases, START, END)
    assert str(e.value) == (
        f"{releases}/20170515/demographics.csv: row 3 (0～4歳): column 人口(男): 'n/a' is not a whole number >= 0"
    )


HEAD = """name: t
kind: rollout
population: {scale: 0.01, statistics: "20170515"}
calendar: {start: 2016-01-01, end: 2017-06-30}
"""


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("hazard: {base_per_year: 7}", "x.yaml: params.hazard.base_per_year: 7 is not in (0, 5]"),
        ("handover: {weekend_capacity: 1.5}", "x.yaml: params.handover.weekend_capacity: 1.5 is not in [0, 1]"),
        ("hazard: {age_log_rr: [0, 1]}", "x.yaml: params.hazard.age_log_rr: a list of 2 items has 2 values; 21 are "
         "required (one per age band 0-4 .. 100+)"),
        ("points: {phase1: {start: 2021-01-01, deadlines: [2020-12-31]}}",
         "x.yaml: params.points.phase1: a mapping {start, deadlines} deadlines must be in order and after start"),
        ("points: {phase1: {start: 2020-07-01, deadlines: [{date: 2021-03-31, announced: 2021-04-02}]}}",
         "x.yaml: params.points.phase1: a mapping {start, deadlines} each deadline must be announced before it "
         "falls, in order of announcement"),
        ("calibration: {fit: {hazard.base_per_year: [0.3, 0.1]}}",
         "x.yaml: params.calibration.fit: a mapping {hazard.base_per_year} hazard.base_per_year: lower bound 0.3 "
         "is not below upper bound 0.1"),
        ("calibration: {fit: {a: [0, 1], b: [0, 1], c: [0, 1], d: [0, 1], e: [0, 1], f: [0, 1], g: [0, 1], h: [0, 1], "
         "i: [0, 1], j: [0, 1], k: [0, 1], l: [0, 1], m: [0, 1]}}",
         "x.yaml: params.calibration.fit: a mapping {a, b, c, d, e…} names 13 parameters; at most 12 are allowed"),
        ("hazard: {word_of_mouth: -1}", "x.yaml: params.hazard.word_of_mouth: -1 is not in [0, 50]"),
        ("fidelity: cells", "x.yaml: params.fidelity: 'cells' is not one of: 'aggregate' or 'agent'"),
    ],
)  # fmt: skip
def test_parameters_outside_their_ranges_are_rejected_before_a_run(params: str, message: str) -> None:
    with pytest.raises(InputError) as e:
        scenario.loads(HEAD + f"params: {{{params}}}\n", "x.yaml")
    assert str(e.value) == message


def test_an_unknown_fitted_parameter_is_named_before_fitting(tmp_path: Path) -> None:
    from twin.calibration import calibrate_file

    f = tmp_path / "c.yaml"
    f.write_text(HEAD + "params:\n  calibration:\n    fit: {hazard.base_rate: [0.01, 0.2]}\n")
    with pytest.raises(InputError) as e:
        calibrate_file(f, out=tmp_path)
    assert str(e.value) == "calibration.fit: hazard.base_rate: is not a parameter path (e.g. hazard.base_per_year)"


def test_only_rollout_and_payout_scenarios_can_be_calibrated(tmp_path: Path) -> None:
    from twin.calibration import calibrate_file

    with pytest.raises(InputError, match="kind: 'nation' has no calibration \\(allowed: rollout, payout\\)"):
        calibrate_file("scenarios/nation.yaml", out=tmp_path)


def test_an_option_may_not_override_a_fitted_parameter(tmp_path: Path) -> None:
    from twin.models.rollout.params import Params
    from twin.models.rollout.setup import calibrated

    fitted = tmp_path / "f.json"
    fitted.write_text('{"converged": true, "fitted": {"hazard.base_per_year": 0.03}}')
    base = Params(calibrated_from=str(fitted))
    assert calibrated(base, base, "a").hazard.base_per_year == 0.03
    other = Params(calibrated_from=str(fitted), hazard={"base_per_year": 0.2})
    with pytest.raises(InputError) as e:
        calibrated(base, other, "b")
    assert str(e.value) == (
        f"options[b].params: hazard.base_per_year: is fitted in {fitted}; an option cannot override it"
    )
    with pytest.raises(InputError, match="no such file"):
        calibrated(Params(calibrated_from=str(tmp_path / "none.json")), base, "a")


def test_a_fit_made_with_the_staff_response_is_refused_by_a_scenario_without_it(tmp_path: Path) -> None:
    """The fitted target wait means nothing to counters with a fixed step: the run would silently ignore it."""
    from twin.models.rollout.params import Params
    from twin.models.rollout.setup import calibrated

    fitted = tmp_path / "f.json"
    fitted.write_text('{"converged": true, "fitted": {"handover.staff_response.target_wait_days": 40.0}}')
    off = Params(calibrated_from=str(fitted))
    with pytest.raises(InputError) as e:
        calibrated(off, off, "a")
    assert str(e.value) == (
        f"options[a].params: handover.staff_response.enabled: false, but {fitted} fits "
        "handover.staff_response.target_wait_days (a fit made with the staff response on); set "
        "handover.staff_response.enabled: true"
    )
    on = Params(calibrated_from=str(fitted), handover={"staff_response": {"enabled": True}})
    assert calibrated(on, on, "a").handover.staff_response.target_wait_days == 40.0


def test_a_fit_that_did_not_converge_is_refused_unless_the_scenario_accepts_it(tmp_path: Path) -> None:
    from twin.models.rollout.params import Params
    from twin.models.rollout.setup import calibrated

    fitted = tmp_path / "f.json"
    fitted.write_text('{"converged": false, "fitted": {"hazard.base_per_year": 0.03}}')
    base = Params(calibrated_from=str(fitted))
    with pytest.raises(InputError) as e:
        calibrated(base, base, "a")
    assert str(e.value) == (
        f"params.calibrated_from: {fitted}: converged: False; the fit did not converge (set "
        "params.allow_unconverged: true to run from it anyway, flagged)"
    )
    flagged = Params(calibrated_from=str(fitted), allow_unconverged=True)
    assert calibrated(flagged, flagged, "a").hazard.base_per_year == 0.03


def test_an_evaluation_cap_is_not_a_calibration_setting() -> None:
    with pytest.raises(InputError, match="params.calibration.max_evaluations: is not a known key"):
        scenario.loads(HEAD + "params: {calibration: {max_evaluations: 6}}\n", "x.yaml")
