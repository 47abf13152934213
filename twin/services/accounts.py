"""Public benefit receipt accounts (公金受取口座): the bank account each person registers for payouts.

Since 2022 a resident can register one bank account with the Digital Agency, through Myna Portal,
for every public payment: a push payout sends the money there without an application. This module
checks what people type on forms and screens (bank code 4 digits, branch code 3 digits, account
type 普通/当座/貯蓄, account number 7 digits, holder name in katakana, full- or half-width) and
keeps each person's registration history with effective dates, so "which account did this person
have registered on date D?" has one answer.

Holder names are compared the way bank transfers compare them: after Unicode NFKC (half-width ｶﾞ
becomes ガ), with spaces removed, small kana written large (ｷﾖｳｺ matches キョウコ) and any dash as
the long-vowel mark ー. Japan Post Bank (ゆうちょ銀行, bank code 9900) accounts are written as a
symbol (記号, 5 digits) and number (番号); :func:`yucho_account` converts them to the branch and
account number used for transfers (rule in its docstring). Bad input never raises: validators return
an :class:`AccountProblem` with a reason code and a message naming the field and the value.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from twin.services.store import Store, Transaction

YUCHO_BANK_CODE = "9900"
_SMALL_TO_LARGE = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")
_DASHES = str.maketrans({"-": "ー", "‐": "ー", "−": "ー", "―": "ー", "—": "ー"})


class AccountRejection(StrEnum):
    """Why an account or a registration was refused."""

    BANK_CODE = "bank_code"
    BRANCH_CODE = "branch_code"
    ACCOUNT_TYPE = "account_type"
    ACCOUNT_NUMBER = "account_number"
    HOLDER_EMPTY = "holder_empty"
    HOLDER_NOT_KATAKANA = "holder_not_katakana"
    HOLDER_MISMATCH = "holder_mismatch"
    YUCHO_SYMBOL = "yucho_symbol"
    YUCHO_NUMBER = "yucho_number"
    UNKNOWN_RESIDENT = "unknown_resident"
    DATE_ORDER = "date_order"
    NOT_REGISTERED = "not_registered"


@dataclass(frozen=True, slots=True)
class AccountProblem:
    """A refusal: a reason code to count and a message to show (naming the field and what is allowed)."""

    reason: AccountRejection
    message: str


class AccountType(StrEnum):
    """預金種目, with the Zengin (全銀) codes 1, 2, 4."""

    ORDINARY = "普通"
    CURRENT = "当座"
    SAVINGS = "貯蓄"

    @classmethod
    def parse(cls, value: object) -> AccountType | None:
        if isinstance(value, AccountType):
            return value
        if isinstance(value, str) and value in _TYPE_NAMES:
            return _TYPE_NAMES[value]
        text = unicodedata.normalize("NFKC", str(value)).strip().lower()
        return _TYPE_NAMES.get(text)


_TYPE_NAMES = {
    "普通": AccountType.ORDINARY, "ordinary": AccountType.ORDINARY, "1": AccountType.ORDINARY,
    "当座": AccountType.CURRENT, "current": AccountType.CURRENT, "2": AccountType.CURRENT,
    "貯蓄": AccountType.SAVINGS, "savings": AccountType.SAVINGS, "4": AccountType.SAVINGS,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class BankAccount:
    """A bank account as typed (strings) or as checked by :func:`check_account` (normalised)."""

    bank_code: str
    branch_code: str
    account_type: AccountType | str
    number: str
    holder: str


@functools.lru_cache(maxsize=65536)
def normalize_kana(text: str) -> str | None:
    """A holder name in the form transfers compare: full-width katakana, no spaces, small kana large.

    Returns None when the name holds anything but katakana, the long-vowel mark and spaces.
    """
    t = unicodedata.normalize("NFKC", text).translate(_DASHES)
    t = "".join(t.split()).translate(_SMALL_TO_LARGE)
    if not t or not all("\u30a1" <= c <= "\u30fa" or c == "ー" for c in t):
        return None
    return t


def holder_matches(holder: str, reading: str) -> bool:
    """Does the account holder name match a register reading (both normalised)?"""
    a, b = normalize_kana(holder), normalize_kana(reading)
    return a is not None and a == b


def _digits(field: str, value: object, n: int) -> str | AccountProblem:
    if type(value) is str and len(value) == n and value.isascii() and value.isdigit():
        return value  # the common case, without Unicode normalisation
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if len(text) != n or not text.isascii() or not text.isdigit():
        reason = {
            "bank code": AccountRejection.BANK_CODE,
            "branch code": AccountRejection.BRANCH_CODE,
            "account number": AccountRejection.ACCOUNT_NUMBER,
        }[field]
        hint = " (pad with leading zeros)" if field == "account number" else ""
        return AccountProblem(reason, f"{field}: {str(value)[:20]!r} must be exactly {n} digits{hint}")
    return text


def check_account(account: BankAccount) -> BankAccount | AccountProblem:
    """The account with every field normalised, or the first problem found (fields in form order)."""
    bank = _digits("bank code", account.bank_code, 4)
    if isinstance(bank, AccountProblem):
        return bank
    branch = _digits("branch code", account.branch_code, 3)
    if isinstance(branch, AccountProblem):
        return branch
    kind = AccountType.parse(account.account_type)
    if kind is None:
        return AccountProblem(
            AccountRejection.ACCOUNT_TYPE,
            f"account type: {str(account.account_type)[:20]!r} is not allowed; use 普通, 当座 or 貯蓄",
        )
    number = _digits("account number", account.number, 7)
    if isinstance(number, AccountProblem):
        return number
    if not account.holder or not account.holder.strip():
        return AccountProblem(AccountRejection.HOLDER_EMPTY, "holder name: empty; write it in katakana")
    holder = normalize_kana(account.holder)
    if holder is None:
        return AccountProblem(
            AccountRejection.HOLDER_NOT_KATAKANA,
            "holder name: must be katakana (full- or half-width), with spaces and ー allowed",
        )
    return BankAccount(bank, branch, kind, number, holder)


def yucho_account(symbol: str, number: str, holder: str) -> BankAccount | AccountProblem:
    """A Japan Post Bank symbol (記号) and number (番号) as the account other banks transfer to.

    The rule Japan Post Bank publishes for receiving transfers (振込用の店名・預金種目・口座番号):

    - 通常貯金 (symbol 1xxx0, number up to 8 digits ending in 1): branch = the symbol's 2nd and 3rd
      digits followed by 8 (記号 12340 -> 店番 238), type 普通, account number = the number without
      its last digit, zero-padded to 7 (番号 12345671 -> 1234567).
    - 振替口座 (symbol 0xxxx, number up to 6 digits): branch = the symbol's 2nd and 3rd digits followed
      by 9, type 当座, account number = the number zero-padded to 7.
    """
    sym = unicodedata.normalize("NFKC", str(symbol)).strip()
    num = unicodedata.normalize("NFKC", str(number)).strip()
    if len(sym) != 5 or not sym.isascii() or not sym.isdigit() or sym[0] not in "01":
        return AccountProblem(
            AccountRejection.YUCHO_SYMBOL, f"Japan Post Bank symbol: {sym[:20]!r} must be 5 digits starting with 1 or 0"
        )
    if not num.isascii() or not num.isdigit():
        return AccountProblem(AccountRejection.YUCHO_NUMBER, f"Japan Post Bank number: {num[:20]!r} must be digits")
    if sym[0] == "1":
        if not 2 <= len(num) <= 8 or num[-1] != "1":
            return AccountProblem(
                AccountRejection.YUCHO_NUMBER,
                f"Japan Post Bank number: {num!r} must be up to 8 digits ending in 1 for a symbol starting with 1",
            )
        raw = BankAccount(YUCHO_BANK_CODE, sym[1:3] + "8", AccountType.ORDINARY, num[:-1].zfill(7), holder)
    else:
        if not 1 <= len(num) <= 6:
            return AccountProblem(
                AccountRejection.YUCHO_NUMBER,
                f"Japan Post Bank number: {num!r} must be up to 6 digits for a symbol starting with 0",
            )
        raw = BankAccount(YUCHO_BANK_CODE, sym[1:3] + "9", AccountType.CURRENT, num.zfill(7), holder)
    return check_account(raw)


@dataclass(frozen=True, slots=True)
class Registration:
    """One line of a person's history: from ``effective`` on, ``account`` (None: registration withdrawn)."""

    effective: dt.date
    account: BankAccount | None


class PublicBenefitAccounts:
    """公金受取口座登録簿: each person's registered account over time, kept in the store.

    ``reading`` gives a resident's registered name reading (None for unknown residents); the holder
    name must match it. History is per resident, keyed by resident id in table ``accounts``.
    """

    TABLE = "accounts"

    def __init__(self, store: Store, reading: Callable[[int], str | None]) -> None:
        self._store = store
        self._reading = reading

    def register(self, resident: int, account: BankAccount, effective: dt.date) -> Registration | AccountProblem:
        """Register or change the account from ``effective`` on (same day: replaces that day's entry)."""
        checked = self._check(resident, account)
        if isinstance(checked, AccountProblem):
            return checked
        return self._append(resident, Registration(effective, checked))

    def register_many(
        self, entries: Iterable[tuple[int, BankAccount]], effective: dt.date
    ) -> list[Registration | AccountProblem]:
        """Register many residents' accounts from ``effective`` on, in one transaction (e.g. a whole sample).

        Each entry is checked as :meth:`register` checks it; refused entries are returned, not written.
        """
        results: list[Registration | AccountProblem] = []
        with self._store.transaction() as tx:
            for resident, account in entries:
                checked = self._check(resident, account)
                if isinstance(checked, BankAccount):
                    results.append(self._append_in(tx, resident, Registration(effective, checked)))
                else:
                    results.append(checked)
        return results

    def _check(self, resident: int, account: BankAccount) -> BankAccount | AccountProblem:
        reading = self._reading(resident)
        if reading is None:
            return AccountProblem(AccountRejection.UNKNOWN_RESIDENT, f"resident {resident}: not on the register")
        checked = check_account(account)
        if isinstance(checked, AccountProblem):
            return checked
        if not holder_matches(checked.holder, reading):
            return AccountProblem(
                AccountRejection.HOLDER_MISMATCH,
                f"resident {resident}: holder name does not match the name reading on the register",
            )
        return checked

    def withdraw(self, resident: int, effective: dt.date) -> Registration | AccountProblem:
        """抹消: no registered account from ``effective`` on."""
        if self.account_on(resident, effective) is None:
            return AccountProblem(
                AccountRejection.NOT_REGISTERED, f"resident {resident}: no account registered on {effective}"
            )
        return self._append(resident, Registration(effective, None))

    def _append(self, resident: int, entry: Registration) -> Registration | AccountProblem:
        with self._store.transaction() as tx:
            return self._append_in(tx, resident, entry)

    def _append_in(self, tx: Transaction, resident: int, entry: Registration) -> Registration | AccountProblem:
        history: tuple[Registration, ...] = tx.get(self.TABLE, resident) or ()  # type: ignore[assignment]
        if history and entry.effective < history[-1].effective:
            return AccountProblem(
                AccountRejection.DATE_ORDER,
                f"resident {resident}: effective date {entry.effective} is before the last change "
                f"({history[-1].effective}); changes are recorded in date order",
            )
        if history and entry.effective == history[-1].effective:
            history = history[:-1]
        tx.put(self.TABLE, resident, (*history, entry))
        return entry

    def history(self, resident: int) -> tuple[Registration, ...]:
        return self._store.get(self.TABLE, resident) or ()  # type: ignore[return-value]

    def account_on(self, resident: int, on: dt.date) -> BankAccount | None:
        """The account registered for ``resident`` on date ``on`` (None if none was)."""
        history = self.history(resident)
        i = bisect.bisect_right([h.effective for h in history], on)
        return history[i - 1].account if i else None

    def registered_count(self) -> int:
        return self._store.count(self.TABLE)
