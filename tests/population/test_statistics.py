"""The bundled MIC releases as the nation reads them: parsed once, typed, dated and checked."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from twin.errors import InputError
from twin.population.municipalities import MUNICIPALITY_TYPES, build_municipalities, municipality_type, type_totals
from twin.population.statistics import (
    CARD_ISSUANCE_DIR,
    PREF_COLUMNS,
    account_share_of_holders,
    available_snapshots,
    holding_targets,
    load_snapshot,
    parse_count,
    parse_date,
    read_table,
)


def test_every_release_parses_into_1741_municipalities_whose_types_add_up_to_mic_totals():
    for name in available_snapshots():
        snap = load_snapshot(name)
        munis = build_municipalities(snap)
        assert len(munis) == 1741
        assert snap.total_population == snap.by_type["全国"][0]
        assert int(snap.prefecture_population.sum()) == snap.total_population
        counts = {t: int((munis.type == t).sum()) for t in MUNICIPALITY_TYPES}
        assert counts["special_ward"] == 23 and counts["designated_city"] == 20
        assert counts["city"] + counts["designated_city"] + counts["special_ward"] + counts["town_village"] == 1741


def test_from_2020_04_the_derived_types_match_summary_by_types_exactly():
    snap = load_snapshot("20200401")
    munis = build_municipalities(snap)
    for t, (pop, _) in type_totals(snap).items():
        assert int(munis.population[munis.type == t].sum()) == pop
    assert munis.notes == ()
    assert dict(zip(MUNICIPALITY_TYPES, np.bincount(munis.type_index), strict=True)) == {
        "special_ward": 23, "designated_city": 20, "city": 772, "town_village": 926,
    }  # fmt: skip


def test_codes_keep_the_files_six_digit_form_and_missing_codes_are_recovered():
    snap = load_snapshot("20211201")  # prints <NA> for 三宅村 and 八丈町
    names = dict(zip(snap.muni_name, snap.muni_code.tolist(), strict=True))
    assert names["三宅村"] == 133817 and names["八丈町"] == 134015
    assert names["札幌市"] == 11002
    munis = build_municipalities(snap)
    assert set(np.unique(munis.prefecture).tolist()) == set(range(1, 48))


@pytest.mark.parametrize(
    ("code", "name", "expected"),
    [(131016, "千代田区", "special_ward"), (141003, "横浜市", "designated_city"), (12025, "函館市", "city"),
     (473758, "宮古郡多良間村", "town_village"), (94111, "那須郡那珂川町", "town_village")],
)  # fmt: skip
def test_municipality_type_rules(code: int, name: str, expected: str):
    assert municipality_type(code, name) == expected


def test_a_name_without_a_municipal_suffix_is_refused_with_its_code():
    with pytest.raises(InputError, match=r"99999 '架空'"):
        municipality_type(99999, "架空")


def test_unknown_snapshot_names_the_allowed_range():
    with pytest.raises(InputError, match=r"'20200402' is not bundled \(allowed: YYYYMMDD dates 20170308 .. 20211201"):
        load_snapshot("20200402")


def test_the_release_without_demographics_borrows_the_nearest_one():
    assert load_snapshot("20170308").demographics_from == "20170515"


def test_holding_rates_are_interpolated_between_releases_and_zero_before_the_card():
    snap = load_snapshot("20200401")
    apr, may = holding_targets(snap, dt.date(2020, 4, 1)), holding_targets(snap, dt.date(2020, 5, 1))
    mid = holding_targets(snap, dt.date(2020, 4, 16))
    assert np.allclose(mid.muni_rate, (apr.muni_rate + may.muni_rate) / 2)
    assert np.allclose(apr.muni_rate, snap.muni_cards / snap.muni_population)
    assert holding_targets(snap, dt.date(2015, 12, 1)).muni_rate.max() == 0
    late = holding_targets(snap, dt.date(2026, 1, 1))
    national = (late.muni_rate * snap.muni_population).sum() / snap.muni_population.sum()
    assert national == pytest.approx(0.803, abs=0.01)


def test_accounts_exist_only_after_registration_opened():
    assert account_share_of_holders(dt.date(2022, 3, 28)) == 0.0
    assert account_share_of_holders(dt.date(2020, 4, 27)) == 0.0
    assert 0 < account_share_of_holders(dt.date(2022, 9, 4)) < 0.604
    assert account_share_of_holders(dt.date(2024, 1, 1)) == pytest.approx(0.604)


# ---- the one reader of MIC's tables (the rollout's observed series reads them too) -------------


def test_a_table_is_read_as_its_data_rows_under_mics_header():
    rows = read_table(CARD_ISSUANCE_DIR / "20200401" / "all_prefectures.csv", PREF_COLUMNS)
    assert len(rows) == 47 and rows[0][:2] == ["2020/04/01", "北海道"]
    assert [int(r[2]) for r in rows] == load_snapshot("20200401").prefecture_population.tolist()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "{f}: the file is empty"),
        ('"算出基準日","都道府県","総数（人口）","交付枚数"\n', "{f}: column 2 is '都道府県', expected '都道府県名' "
         "(columns must be: 算出基準日, 都道府県名, 総数（人口）, 交付枚数)"),
        ('"算出基準日","都道府県名"\n', "{f}: column 3 is null, expected '総数（人口）' "
         "(columns must be: 算出基準日, 都道府県名, 総数（人口）, 交付枚数)"),
        ('"算出基準日","都道府県名","総数（人口）","交付枚数"\n', "{f}: has no data rows"),
        ('"算出基準日","都道府県名","総数（人口）","交付枚数"\n"2020/04/01","北海道",5250049\n',
         "{f}: row 2: 3 cells, expected 4"),
    ],
)  # fmt: skip
def test_a_damaged_table_is_named_with_what_is_wrong(tmp_path: Path, text: str, message: str):
    f = tmp_path / "all_prefectures.csv"
    f.write_text(text, encoding="utf-8-sig")
    with pytest.raises(InputError) as e:
        read_table(f, PREF_COLUMNS)
    assert str(e.value) == message.format(f=f)


def test_a_missing_table_is_named(tmp_path: Path):
    with pytest.raises(InputError, match=r"demographics.csv: file is missing from the release folder"):
        read_table(tmp_path / "demographics.csv", PREF_COLUMNS)


def test_cells_are_counts_and_dates_or_an_error_naming_where_and_what_is_allowed():
    where = "x.csv: row 5 (北海道 札幌市)"
    assert parse_count("1941832", where, "交付枚数") == 1941832
    assert parse_date("2020/04/01", where, "算出基準日") == dt.date(2020, 4, 1)
    refusals = [
        ("", "the cell is empty (a gap in the series); a whole number >= 0 is required"),
        ("1.5", "'1.5' is not a whole number >= 0"),
        ("-3", "-3 is not a whole number >= 0"),
    ]
    for text, why in refusals:
        with pytest.raises(InputError) as e:
            parse_count(text, where, "交付枚数")
        assert str(e.value) == f"{where}: column 交付枚数: {why}"
    with pytest.raises(InputError) as e:
        parse_date("2020-04-01", where, "算出基準日")
    assert str(e.value) == f"{where}: column 算出基準日: '2020-04-01' is not a date (YYYY/MM/DD)"
