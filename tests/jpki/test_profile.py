"""The certificate profile rules: birthdays, eras, municipality codes, the four basic items."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin.services.jpki import BasicInfo, InvalidNameError, InvalidTimeError
from twin.services.jpki.profile import (
    CaKind,
    age_on,
    birth_date_value,
    era_digit,
    municipality,
    nth_birthday_after,
    opaque_id,
)

births = st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31))
days = st.dates(min_value=date(2016, 1, 1), max_value=date(2060, 12, 31))


def _is_birthday(birth: date, day: date) -> bool:
    if (birth.month, birth.day) == (2, 29) and not (day.year % 4 == 0 and (day.year % 100 or day.year % 400 == 0)):
        return (day.month, day.day) == (2, 28)
    return (day.month, day.day) == (birth.month, birth.day)


@given(births, days, st.integers(1, 10))
def test_the_nth_birthday_after_is_a_birthday_with_n_minus_1_birthdays_in_between(birth, day, n):
    end = nth_birthday_after(birth, day, n)
    assert end > day and _is_birthday(birth, end)
    between = sum(_is_birthday(birth, day + timedelta(d)) for d in range(1, (end - day).days))
    assert between == n - 1


@given(births, days)
def test_age_grows_by_one_on_each_birthday(birth, day):
    if day < birth:
        return
    birthday = nth_birthday_after(birth, day, 1)
    assert age_on(birth, birthday) == age_on(birth, birthday - timedelta(days=1)) + 1


def test_the_test_card_from_the_protocol_notes_runs_to_its_fifth_birthday():
    # a card issued on 2025-10-27 to someone born on 17 February is valid until 2030-02-17
    assert nth_birthday_after(date(1990, 2, 17), date(2025, 10, 27), 5) == date(2030, 2, 17)


def test_a_birthday_on_the_issue_day_does_not_count():
    assert nth_birthday_after(date(1990, 4, 1), date(2026, 4, 1), 1) == date(2027, 4, 1)


@pytest.mark.parametrize(
    ("day", "digit"),
    [
        (date(1912, 7, 29), "1"),
        (date(1912, 7, 30), "2"),
        (date(1926, 12, 24), "2"),
        (date(1926, 12, 25), "3"),
        (date(1989, 1, 7), "3"),
        (date(1989, 1, 8), "4"),
        (date(2019, 4, 30), "4"),
        (date(2019, 5, 1), "5"),
    ],
)
def test_era_digits_change_on_the_first_day_of_each_era(day, digit):
    assert era_digit(day) == digit


def test_the_birth_date_item_is_the_era_digit_then_yyyymmdd():
    assert birth_date_value(date(1980, 1, 1)) == "319800101"
    with pytest.raises(InvalidTimeError, match="before the Meiji era"):
        era_digit(date(1850, 1, 1))


@pytest.mark.parametrize(("code", "five"), [(13101, 13101), (131016, 13101), (11002, 11002), (1100, 1100)])
def test_municipality_codes_with_and_without_check_digit(code, five):
    assert municipality(code) == five


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (131017, "check digit 7, expected 6"),
        (48000, "not allowed"),
        (999, "not allowed"),
        ("13101", "not allowed; use an integer"),
        (True, "not allowed; use an integer"),
    ],
)
def test_bad_municipality_codes_are_refused_with_the_rule(code, message):
    with pytest.raises(InvalidNameError, match=message):
        municipality(code)


@given(st.sampled_from(list(CaKind)), st.integers(1, 2**64), st.integers(1000, 47999))
def test_opaque_ids_are_23_characters_of_digits_and_capitals(kind, serial, code):
    cn = opaque_id(kind, serial, code)
    assert len(cn) == 23 and cn.isalnum() and cn == cn.upper() and cn.isascii()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": " "}, "BasicInfo.name: empty"),
        ({"name": "a" * 101}, "BasicInfo.name: 101 characters, at most 100"),
        ({"address": "東京都\x00"}, "BasicInfo.address: contains control .* U\\+0000"),
        ({"sex": "M"}, "BasicInfo.sex: 'M' is not allowed"),
        ({"birth_date": "1980-01-01"}, "BasicInfo.birth_date: '1980-01-01' is not a date"),
        ({"name": 5}, "BasicInfo.name: int is not allowed"),
    ],
)
def test_bad_basic_items_are_refused_naming_the_field(fields, message):
    base = {"name": "山田太郎", "address": "東京都", "birth_date": date(1980, 1, 1), "sex": "1"}
    with pytest.raises((InvalidNameError, InvalidTimeError), match=message):
        BasicInfo(**{**base, **fields})
