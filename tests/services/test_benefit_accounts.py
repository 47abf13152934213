"""Public benefit receipt accounts: what is accepted, why anything else is refused, and the dated history."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from payout_helpers import account_for, registry, to_half_width

from twin.services.accounts import (
    AccountProblem,
    AccountRejection,
    AccountType,
    BankAccount,
    PublicBenefitAccounts,
    Registration,
    check_account,
    holder_matches,
    normalize_kana,
    yucho_account,
)
from twin.services.store import MemoryStore

GOOD = BankAccount("0005", "123", "普通", "1234567", "ヤマダ　タロウ")


def test_a_well_formed_account_is_normalised() -> None:
    got = check_account(BankAccount("０００５", " 123 ", "ordinary", "1234567", "ﾔﾏﾀﾞ ﾀﾛｳ"))
    assert got == BankAccount("0005", "123", AccountType.ORDINARY, "1234567", "ヤマダタロウ")


@pytest.mark.parametrize(
    ("account", "reason", "message"),
    [
        (
            BankAccount("05", "123", "普通", "1234567", "ヤマダ"),
            AccountRejection.BANK_CODE,
            "bank code: '05' must be exactly 4",
        ),
        (BankAccount("0005", "12a", "普通", "1234567", "ヤマダ"), AccountRejection.BRANCH_CODE, "branch code: '12a'"),
        (
            BankAccount("0005", "123", "定期", "1234567", "ヤマダ"),
            AccountRejection.ACCOUNT_TYPE,
            "use 普通, 当座 or 貯蓄",
        ),
        (
            BankAccount("0005", "123", "普通", "123456", "ヤマダ"),
            AccountRejection.ACCOUNT_NUMBER,
            "pad with leading zeros",
        ),
        (BankAccount("0005", "123", "普通", "1234567", "  "), AccountRejection.HOLDER_EMPTY, "holder name: empty"),
        (BankAccount("0005", "123", "普通", "1234567", "山田太郎"), AccountRejection.HOLDER_NOT_KATAKANA, "katakana"),
        (BankAccount("0005", "123", "普通", "1234567", "やまだ"), AccountRejection.HOLDER_NOT_KATAKANA, "katakana"),
        (BankAccount("0005", "123", "普通", "1234567", "YAMADA"), AccountRejection.HOLDER_NOT_KATAKANA, "katakana"),
    ],
)
def test_each_malformed_field_gets_its_own_reason(account: BankAccount, reason: AccountRejection, message: str) -> None:
    got = check_account(account)
    assert isinstance(got, AccountProblem)
    assert got.reason is reason and message in got.message


@pytest.mark.parametrize(
    ("holder", "reading", "same"),
    [
        ("ﾔﾏﾀﾞ ｷﾖｳｺ", "ヤマダ　キョウコ", True),  # half-width, small kana written large as transfers do
        ("ヤマダキョウコ", "ヤマダ　キョウコ", True),
        ("ｻﾄｳ ｹﾝｲﾁ", "サトウ　ケンイチ", True),
        ("ｻﾄ- ﾕｳｺ", "サトー　ユウコ", True),  # a dash for the long-vowel mark
        ("ヤマダ　キヨコ", "ヤマダ　キョウコ", False),
        ("ヤマタ　キョウコ", "ヤマダ　キョウコ", False),  # a missing dakuten is a different name
    ],
)
def test_holder_names_match_as_bank_transfers_compare_them(holder: str, reading: str, same: bool) -> None:
    assert holder_matches(holder, reading) is same


@given(st.text(alphabet="アイウエオカガキギクグケゲコゴサザシジスズセゼソゾタダチヂッツヅテデトドナニヌネノハバパヒビピ"
               "フブプヘベペホボポマミムメモャヤュユョヨラリルレロワヲンー　", min_size=1, max_size=12))  # fmt: skip
def test_half_width_and_full_width_katakana_normalise_alike(name: str) -> None:
    if not name.strip("\u3000"):
        return
    assert normalize_kana(to_half_width(name)) == normalize_kana(name) is not None


def test_japan_post_bank_symbols_convert_to_branch_and_number() -> None:
    ordinary = yucho_account("12340", "12345671", "ﾕｳﾁﾖ ﾊﾅｺ")
    assert ordinary == BankAccount("9900", "238", AccountType.ORDINARY, "1234567", "ユウチヨハナコ")
    short = yucho_account("10170", "9871", "ユウチョ　ハナコ")
    assert short == BankAccount("9900", "018", AccountType.ORDINARY, "0000987", "ユウチヨハナコ")
    transfer = yucho_account("00120", "123456", "ユウチョ　ハナコ")
    assert transfer == BankAccount("9900", "019", AccountType.CURRENT, "0123456", "ユウチヨハナコ")


@pytest.mark.parametrize(
    ("symbol", "number", "reason"),
    [
        ("2340", "12345671", AccountRejection.YUCHO_SYMBOL),
        ("22340", "12345671", AccountRejection.YUCHO_SYMBOL),
        ("12340", "12345670", AccountRejection.YUCHO_NUMBER),  # 通常貯金 numbers end in 1
        ("12340", "123456781", AccountRejection.YUCHO_NUMBER),  # nine digits
        ("00120", "1234567", AccountRejection.YUCHO_NUMBER),  # 振替 numbers have at most six digits
        ("12340", "12-4561", AccountRejection.YUCHO_NUMBER),
    ],
)
def test_bad_japan_post_bank_details_are_refused(symbol: str, number: str, reason: AccountRejection) -> None:
    got = yucho_account(symbol, number, "ユウチョ")
    assert isinstance(got, AccountProblem) and got.reason is reason


def test_registration_history_answers_by_effective_date() -> None:
    reg = registry(3)
    accounts = PublicBenefitAccounts(MemoryStore(), reg.reading)
    first, second = account_for(reg, 0, 1111111), account_for(reg, 0, 2222222, half_width=True)
    assert isinstance(accounts.register(0, first, dt.date(2020, 3, 1)), Registration)
    assert isinstance(accounts.register(0, second, dt.date(2020, 6, 1)), Registration)
    assert accounts.account_on(0, dt.date(2020, 2, 28)) is None
    assert accounts.account_on(0, dt.date(2020, 5, 31)).number == "1111111"  # type: ignore[union-attr]
    assert accounts.account_on(0, dt.date(2020, 6, 1)).number == "2222222"  # type: ignore[union-attr]
    assert isinstance(accounts.withdraw(0, dt.date(2020, 7, 1)), Registration)
    assert accounts.account_on(0, dt.date(2020, 7, 2)) is None
    assert [h.effective for h in accounts.history(0)] == [dt.date(2020, 3, 1), dt.date(2020, 6, 1), dt.date(2020, 7, 1)]


def test_a_same_day_change_replaces_that_days_entry() -> None:
    reg = registry(2)
    accounts = PublicBenefitAccounts(MemoryStore(), reg.reading)
    accounts.register(0, account_for(reg, 0, 1), dt.date(2020, 3, 1))
    accounts.register(0, account_for(reg, 0, 2), dt.date(2020, 3, 1))
    assert len(accounts.history(0)) == 1 and accounts.account_on(0, dt.date(2020, 3, 1)).number == "0000002"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("act", "reason"),
    [
        (lambda a, reg: a.register(999, GOOD, dt.date(2020, 3, 1)), AccountRejection.UNKNOWN_RESIDENT),
        (lambda a, reg: a.register(0, GOOD, dt.date(2020, 3, 1)), AccountRejection.HOLDER_MISMATCH),
        (lambda a, reg: a.register(0, account_for(reg, 0, 5), dt.date(2020, 1, 1)), AccountRejection.DATE_ORDER),
        (lambda a, reg: a.withdraw(1, dt.date(2020, 3, 1)), AccountRejection.NOT_REGISTERED),
        (
            lambda a, reg: a.register(0, BankAccount("1", "1", "1", "1", "ア"), dt.date(2020, 3, 1)),
            AccountRejection.BANK_CODE,
        ),
    ],
)
def test_refused_registrations_name_the_reason_and_change_nothing(act, reason: AccountRejection) -> None:  # noqa: ANN001
    reg = registry(3)
    accounts = PublicBenefitAccounts(MemoryStore(), reg.reading)
    accounts.register(0, account_for(reg, 0, 1), dt.date(2020, 2, 1))
    before = {r: accounts.history(r) for r in range(3)}
    got = act(accounts, reg)
    assert isinstance(got, AccountProblem) and got.reason is reason
    assert {r: accounts.history(r) for r in range(3)} == before


def test_a_whole_sample_registers_in_one_transaction_and_refusals_are_returned() -> None:
    reg = registry(6)
    store = MemoryStore()
    accounts = PublicBenefitAccounts(store, reg.reading)
    entries = [(r, account_for(reg, r)) for r in range(4)] + [(1, GOOD), (999, GOOD)]
    commits = store.commits
    got = accounts.register_many(entries, dt.date(2020, 3, 1))
    assert store.commits == commits + 1
    assert [type(g).__name__ for g in got] == ["Registration"] * 4 + ["AccountProblem"] * 2
    assert [g.reason for g in got[4:]] == [AccountRejection.HOLDER_MISMATCH, AccountRejection.UNKNOWN_RESIDENT]  # type: ignore[union-attr]
    assert accounts.registered_count() == 4 and accounts.account_on(1, dt.date(2020, 3, 1)) is not None
