"""The payout side of the agent run: households apply, town halls verify, a bank pays, on a replicated ledger.

A town hall's payout desk (給付担当) receives mail forms; each is acknowledged with an application
number, verified against the register, put in the afternoon's transfer batch and paid by the bank
the next morning. Here the real :class:`twin.services.payout.PayoutLedger` does the desk's work on a
:class:`.replication.ReplicatedStore`; the world outside (who was told "accepted", what the bank
paid out) is kept apart, so that after a takeover the ledger can be checked against it: nothing
acknowledged may vanish, no household may be paid twice, and the ledger's own books must add up.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from twin.models.failover.params import Params
from twin.models.failover.replication import Clock, ReplicatedStore


class PayoutWorld:
    """Households, the payout ledger on a replicated store, and a bank that pays what it is sent."""

    def __init__(self, p: Params, start: dt.date, clock: Clock, rng: np.random.Generator, res: Any) -> None:
        from twin.services.accounts import PublicBenefitAccounts
        from twin.services.payout import Channel, EntitlementRoll, PayoutLedger, Programme
        from twin.services.registry import ResidentRegistry
        from twin.services.store import MemoryStore

        n = p.agent.households
        size = rng.integers(1, 5, n)
        hh = np.repeat(np.arange(n), size)
        head = np.r_[True, hh[1:] != hh[:-1]]
        store = MemoryStore()
        self.reg = ResidentRegistry.load(
            store, as_of=start - dt.timedelta(days=30), municipality=np.full(hh.size, 13101),
            age=np.where(head, rng.integers(20, 90, hh.size), rng.integers(0, 90, hh.size)),
            sex=rng.integers(1, 3, hh.size), household=hh, is_head=head, rng=rng,
        )  # fmt: skip
        self.programme = Programme(
            reference_date=start - dt.timedelta(days=1), opens=start, closes=start + dt.timedelta(days=400),
            channels=frozenset({Channel.MAIL}),
        )  # fmt: skip
        self.roll = EntitlementRoll.from_registry(self.reg, self.programme)
        rep = p.services["payout"].replication
        self.store = ReplicatedStore(store, rep.mode, clock, lag_hours=rep.lag_seconds / 3600,
                                     backup_hours=rep.backup_interval_hours)  # fmt: skip
        self._accounts = lambda: PublicBenefitAccounts(self.store, self.reg.reading)
        self._Ledger = PayoutLedger
        self.ledger = PayoutLedger(self.store, self.programme, self.roll, accounts=self._accounts())
        self.order = [int(h) for h in rng.permutation(n)]
        self.acknowledged: dict[int, float] = {}  # household -> hour the client was told "accepted"
        self.bank_paid: dict[int, int] = {}
        self.bank_inbox: list[tuple[float, Any]] = []
        self.res = res
        self.rng = rng

    def restart(self) -> None:
        """A new ledger process on the (new) active store: it knows only what the store holds."""
        self.ledger = self._Ledger(self.store, self.programme, self.roll, accounts=self._accounts())

    def apply(self, day: dt.date, t: float) -> None:
        from twin.services.accounts import BankAccount
        from twin.services.payout import Application, Channel, Outcome

        if not self.order:
            return
        h = self.order.pop()
        head = self.roll.head_of(h)
        account = BankAccount("0001", "123", "普通", f"{head % 10**7:07d}", self.reg.reading(head) or "")
        key = f"form-{h}"
        d = self.ledger.submit(Application(h, head, Channel.MAIL, account), key=key, on=day)
        if self.rng.random() < 0.05:  # the client did not see the answer and sends the same form again
            d2 = self.ledger.submit(Application(h, head, Channel.MAIL, account), key=key, on=day)
            if d2.outcome is not d.outcome:
                self.res.violations.append(f"household {h}: a retried submission changed its answer")
        if d.outcome is Outcome.ACCEPTED:
            self.acknowledged[h] = t
            self.res.applications_acknowledged += 1

    def office_hour(self, day: dt.date, hour: int, t: float) -> None:
        from twin.services.payout import BankConfirmation, BankOutcome

        for aid in self.ledger.pending_verification():
            self.ledger.verify(aid, day)
        if hour == 9:
            due = [b for when, b in self.bank_inbox if when <= t]
            self.bank_inbox = [(w, b) for w, b in self.bank_inbox if w > t]
            for batch in due:
                for tr in batch.transfers:
                    self.bank_paid[tr.household] = self.bank_paid.get(tr.household, 0) + 1
                    self.res.transfers_by_bank += 1
                answers = [BankConfirmation(tr.household, BankOutcome.CONFIRMED, tr.amount) for tr in batch.transfers]
                self.ledger.record_bank_results(batch.id, answers, day)
        if hour == 15:
            batch = self.ledger.make_batch(day, True)
            if batch is not None:
                self.bank_inbox.append((t + 18.0, batch))  # paid by the bank at 09:00 the next day

    def check(self, full: bool = False) -> None:
        from twin.services.payout import InvariantViolation, Status

        lost_commits = self.store.shipper.lost
        try:
            self.ledger.check_invariants(full=full)
        except InvariantViolation as e:
            if not lost_commits:
                self.res.violations.append(f"payout ledger: {e}")
        missing = [h for h in self.acknowledged if self.ledger.status(h) is Status.ENTITLED]
        lost_times = {round(t, 9) for tk in self.store.shipper.takeovers for t, _ in tk.lost}
        for h in missing:
            if round(self.acknowledged[h], 9) not in lost_times:
                self.res.violations.append(f"household {h}: acknowledged application lost although it was shipped")
            self.acknowledged.pop(h)
            self.res.applications_lost += 1
        if full:  # money the bank paid out must be on the books: paid, or still waiting for the bank's answer
            booked = {Status.PAID, Status.IN_BATCH}
            unbooked = [h for h in self.bank_paid if self.ledger.status(h) not in booked]
            if unbooked and not lost_commits:
                self.res.violations.append(f"{len(unbooked)} households paid by the bank but not on the books")
            self.res.payments_unrecorded = len(unbooked)
        twice = sum(1 for v in self.bank_paid.values() if v > 1)
        if twice > self.res.households_paid_twice and not lost_commits:
            self.res.violations.append(f"{twice} households paid twice with no commit lost")
        self.res.households_paid_twice = twice
        self.res.payout_commits_lost = lost_commits


