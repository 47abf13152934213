"""Small synthetic nations and a scripted bank for the service tests (deterministic from a seed)."""

from __future__ import annotations

import datetime as dt
import unicodedata

import numpy as np

from twin.services.accounts import BankAccount, PublicBenefitAccounts
from twin.services.payout import (
    Application,
    BankConfirmation,
    BankOutcome,
    BankReason,
    Batch,
    Channel,
    EntitlementRoll,
    PayoutLedger,
    Programme,
)
from twin.services.registry import ResidentRegistry
from twin.services.store import MemoryStore

AS_OF = dt.date(2020, 1, 1)
REFERENCE = dt.date(2020, 4, 27)
DAY = dt.date(2020, 5, 11)


def nation(households: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Columns like the synthetic nation's: 1-5 persons per household, the first one the head."""
    rng = np.random.default_rng(seed)
    size = rng.integers(1, 6, households)
    hh = np.repeat(np.arange(households), size)
    head = np.r_[True, hh[1:] != hh[:-1]]
    muni = rng.choice([13101, 13102, 27100, 1100], households)[hh]
    age = np.where(head, rng.integers(20, 90, len(hh)), rng.integers(0, 90, len(hh)))
    return {"municipality": muni, "age": age, "sex": rng.integers(1, 3, len(hh)), "household": hh, "is_head": head}


def registry(households: int, seed: int = 0, store: MemoryStore | None = None) -> ResidentRegistry:
    return ResidentRegistry.load(
        store or MemoryStore(), as_of=AS_OF, rng=np.random.default_rng(seed + 1), **nation(households, seed)
    )


def account_for(
    reg: ResidentRegistry, resident: int, number: int | None = None, half_width: bool = False
) -> BankAccount:
    """A well-formed account in the resident's name (half-width katakana if asked)."""
    reading = reg.reading(resident) or ""
    if half_width:
        reading = to_half_width(reading)
    return BankAccount("0001", "123", "普通", f"{(resident if number is None else number) % 10**7:07d}", reading)


def to_half_width(text: str) -> str:
    """Full-width katakana as a bank's half-width form (ガ -> ｶﾞ), built from Unicode's own NFKC table."""
    out = []
    for c in unicodedata.normalize("NFD", text):
        out.append({"\u3099": "ﾞ", "\u309a": "ﾟ", "\u3000": " "}.get(c, _HALF.get(c, c)))
    return "".join(out)


_HALF = {unicodedata.normalize("NFKC", chr(c)): chr(c) for c in range(0xFF66, 0xFF9E)}


def build(households: int = 40, seed: int = 0, programme: Programme | None = None):  # noqa: ANN201
    """A registry, accounts and a ledger on one store."""
    store = MemoryStore()
    reg = registry(households, seed, store)
    prog = programme or Programme(channels=frozenset({Channel.MAIL, Channel.ONLINE, Channel.PUSH}))
    roll = EntitlementRoll.from_registry(reg, prog)
    accounts = PublicBenefitAccounts(store, reg.reading)
    ledger = PayoutLedger(store, prog, roll, accounts=accounts)
    return store, reg, roll, accounts, ledger


def mail_form(reg: ResidentRegistry, roll: EntitlementRoll, h: int, **kw: object) -> Application:
    head = roll.head_of(h)
    return Application(h, head, Channel.MAIL, account_for(reg, head), **kw)  # type: ignore[arg-type]


def bank_answers(batch: Batch, bounce: set[int] = frozenset()) -> list[BankConfirmation]:  # type: ignore[assignment]
    return [
        BankConfirmation(t.household, BankOutcome.REJECTED, t.amount, BankReason.ACCOUNT_CLOSED)
        if t.household in bounce
        else BankConfirmation(t.household, BankOutcome.CONFIRMED, t.amount)
        for t in batch.transfers
    ]


def ledger_on(store: MemoryStore, reg: ResidentRegistry, prog: Programme) -> PayoutLedger:
    """A fresh ledger object on an existing store: what a restarted process would build."""
    roll = EntitlementRoll.from_registry(ResidentRegistry(store), prog)
    return PayoutLedger(store, prog, roll, accounts=PublicBenefitAccounts(store, reg.reading))
