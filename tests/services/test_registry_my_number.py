"""My Number (個人番号): 12 digits, the last one the check digit of 施行令第8条, never shown."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from payout_helpers import registry

from twin.services.registry import (
    check_digits,
    generate_my_numbers,
    is_valid_my_number,
    mask_my_number,
    my_number_check_digit,
)


def reference_check_digit(first11: str) -> int:
    """The rule as the order words it, written independently: P_n is the n-th digit from the right,
    Q_n = n + 1 for 1 <= n <= 6 and n - 5 for 7 <= n <= 11; 11 - (sum P_n Q_n mod 11), or 0 if that
    remainder is 0 or 1."""
    total = 0
    for n in range(1, 12):
        p = int(first11[11 - n])
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


@pytest.mark.parametrize(
    "number",
    # worked by hand from the rule: 1*6+2*5+3*4+4*3+5*2+6*7+7*6+8*5+9*4+0*3+1*2 = 212, 212 mod 11 = 3 -> 8
    ["123456789018", "000000000000", "111111111118", "999999999996"],
)
def test_known_numbers_are_valid(number: str) -> None:
    assert is_valid_my_number(number)
    assert my_number_check_digit(number[:11]) == int(number[-1]) == reference_check_digit(number[:11])


@pytest.mark.parametrize(
    "number",
    ["123456789012", "12345678901", "1234567890188", "12345678901a", "１２３４５６７８９０１８", "", None]
    + [123456789018],
)
def test_malformed_or_wrong_check_digit_is_invalid(number: object) -> None:
    assert not is_valid_my_number(number)  # type: ignore[arg-type]


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_check_digit_matches_the_independent_implementation(first11: str) -> None:
    d = my_number_check_digit(first11)
    assert d == reference_check_digit(first11)
    assert check_digits(np.array([int(first11)]))[0] == d
    assert is_valid_my_number(first11 + str(d))
    assert not is_valid_my_number(first11 + str((d + 1) % 10))


def test_remainders_zero_and_one_share_check_digit_zero() -> None:
    # 00000000000: remainder 0 -> 0; 00000000005: 5*Q1 = 10 -> 1; 00000000006: 12 mod 11 = 1 -> 0 as well;
    # 00000100000: the 1 is P6, Q6 = 7 -> 11 - 7 = 4
    assert my_number_check_digit("00000000000") == 0
    assert reference_check_digit("00000000005") == 11 - 10 == 1
    assert my_number_check_digit("00000000005") == 1
    assert my_number_check_digit("00000000006") == 0  # 6*2 = 12, remainder 1 -> 0
    assert my_number_check_digit("00000100000") == 11 - 7


def test_generated_numbers_are_valid_distinct_and_reproducible() -> None:
    a = generate_my_numbers(np.random.default_rng(3), 5000)
    b = generate_my_numbers(np.random.default_rng(3), 5000)
    assert np.array_equal(a, b)
    assert len(np.unique(a)) == 5000
    assert all(is_valid_my_number(f"{x:012d}") for x in a[:500])
    c = generate_my_numbers(np.random.default_rng(4), 100, exclude=a)
    assert not np.isin(c, a).any()


def test_the_number_is_never_shown() -> None:
    reg = registry(5)
    resident = reg.resident(0, dt.date(2020, 4, 27))
    assert resident is not None and is_valid_my_number(resident.my_number)
    assert resident.my_number not in repr(resident) and resident.my_number not in str(resident)
    assert mask_my_number(resident.my_number) == "************"
    assert reg.find_by_my_number(resident.my_number) == 0
    assert reg.find_by_my_number("123456789012") is None


def test_no_record_the_registry_stores_shows_a_number() -> None:
    from twin.services.registry import ResidentRegistry
    from twin.services.store import MemoryStore

    store = MemoryStore()
    reg = registry(4, store=store)
    baby = reg.record_birth(dt.date(2020, 2, 1), 0, 1, np.random.default_rng(9))
    numbers = [f"{x:012d}" for x in reg._statics()[0]]
    shown = repr(store.get("registry.base", "base")) + repr(list(store.scan("registry.events")))
    shown += repr(ResidentRegistry(store).resident(baby, dt.date(2020, 2, 1)))
    assert not any(n in shown or n.lstrip("0") in shown for n in numbers)
