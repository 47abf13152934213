"""The batch entry points (submit_many, verify_many) give exactly what the per-household calls give, on
the memory store and on SQLite: the same decisions in the same order and the same records in every
table. Checked on a messy stream: duplicates, client retries, reused keys, bad keys, unknown
households, malformed accounts, wrong applicants, missing members, unsigned and altered online forms."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from payout_helpers import DAY, account_for, bank_answers, registry

from real_backends.stores.sqlite import SqliteStore
from twin.services.accounts import PublicBenefitAccounts
from twin.services.payout import Application, Channel, EntitlementRoll, PayoutLedger, Programme
from twin.services.store import MemoryStore

PROG = Programme(channels=frozenset({Channel.MAIL, Channel.ONLINE}))


def stream(seed: int, households: int = 120) -> tuple[list[tuple[Application, str]], object]:
    """A day's intake file with every kind of trouble, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    reg = registry(households, seed)
    roll = EntitlementRoll.from_registry(reg, PROG)
    items: list[tuple[Application, str]] = []
    for k in range(households * 2):
        h = int(rng.integers(0, households + 3))  # a few unknown households
        head = roll.head_of(h) if h < households else 10**6 + h
        members = roll.members(h) if h < households else ()
        acct = account_for(reg, head if h < households else 0)
        channel = Channel.ONLINE if rng.random() < 0.4 else Channel.MAIL
        trouble = rng.integers(0, 10)
        app = Application(h, head, channel, acct, members, signature_verified=channel is Channel.ONLINE)
        if trouble == 1 and len(members) > 1:
            app = dataclasses.replace(app, members=members[:-1])
        elif trouble == 2:
            app = dataclasses.replace(app, account=dataclasses.replace(acct, number="12"))
        elif trouble == 3 and len(members) > 1:
            app = dataclasses.replace(app, applicant=members[-1])
        elif trouble == 4:
            app = dataclasses.replace(app, signature_verified=False)
        key = f"k{k}"
        if trouble == 5 and items:  # a client retry: the same key, the same form
            app, key = items[-1]
        elif trouble == 6 and items:  # a reused key with another form
            key = items[-1][1]
        elif trouble == 7:
            key = ""
        items.append((app, key))
    return items, reg


def tables(store: object) -> dict[str, list]:
    return {t: list(store.scan(t)) for t in store.tables()}  # type: ignore[attr-defined]


def fresh(kind: str, reg: object) -> tuple[object, PayoutLedger]:
    store = MemoryStore() if kind == "memory" else SqliteStore(":memory:")
    roll = EntitlementRoll.from_registry(reg, PROG)  # type: ignore[arg-type]
    return store, PayoutLedger(store, PROG, roll, accounts=PublicBenefitAccounts(store, reg.reading))  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batch_and_per_household_paths_agree_to_the_record(kind: str, seed: int) -> None:
    items, reg = stream(seed)
    (s1, one), (s2, many) = fresh(kind, reg), fresh(kind, reg)
    half = len(items) // 2
    d1 = [one.submit(app, key, DAY) for app, key in items]
    d2 = many.submit_many(items[:half], DAY) + many.submit_many(items[half:], DAY)
    assert d1 == d2
    assert {d.outcome for d in d1} >= {"accepted", "rejected"}
    assert len({d.reason for d in d1}) >= 6  # the stream exercised many rules
    pending = one.pending_verification()
    assert pending == many.pending_verification()
    day2 = DAY + dt.timedelta(days=1)
    v1 = [one.verify(a, day2) for a in [*pending, 10**6]]  # and an unknown application
    v2 = many.verify_many([*pending, 10**6], day2)
    assert v1 == v2
    assert many.verify_many(pending[:3], day2) == [one.verify(a, day2) for a in pending[:3]]  # already decided
    for ledger in (one, many):
        batch = ledger.make_batch(day2, True)
        ledger.record_bank_results(batch.id, bank_answers(batch, {batch.transfers[0].household}), day2)
        ledger.check_invariants(full=True)
    assert tables(s1) == tables(s2)
    assert one.counts() == many.counts()


def test_a_failed_batch_writes_nothing() -> None:
    items, reg = stream(4, 30)
    store, ledger = fresh("memory", reg)
    before = tables(store)
    bad = [*items[:10], (object(), "k-bad")]  # not an application: the batch raises
    with pytest.raises(AttributeError):
        ledger.submit_many(bad, DAY)  # type: ignore[arg-type]
    assert tables(store) == before
