"""Push payouts (プッシュ型給付): nobody applies; heads with a registered account are told, may opt out, are paid.

The design Japan's working group asked for after 2020: the town hall sends a notice to every household
whose head has a public benefit receipt account (公金受取口座) registered, waits out an opt-out window,
then pays that account without an application. :class:`PushPayments` adds these three steps to the
payout ledger (it is a part of :class:`~twin.services.payout.ledger.PayoutLedger`, sharing its store,
idempotency keys and payment queue); a household that opts out, or whose payment bounces, can still
apply by mail or online.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from twin.services.accounts import PublicBenefitAccounts
from twin.services.payout.books import FILES, NOTIFIED, count
from twin.services.payout.programme import EntitlementRoll, Programme, ProgrammeError
from twin.services.payout.records import Channel, Decision, HouseholdFile, Outcome, Reason, Status, reject
from twin.services.store import Store, Transaction

UNTOUCHED = HouseholdFile(Status.ENTITLED)


class PushPayments:
    """The push steps of the payout ledger (mixed into PayoutLedger, which provides the attributes below)."""

    store: Store
    programme: Programme
    roll: EntitlementRoll
    accounts: PublicBenefitAccounts | None
    _idempotent: Callable[[str, str, Callable[[Transaction], Decision]], Decision]
    _count_only: Callable[[Decision], Decision]
    _enqueue: Callable[[Transaction, int, HouseholdFile], None]

    def notify_push(self, on: dt.date, households: Iterable[int] | None = None) -> int:
        """Send push notices to untouched households whose head has a registered account; returns how many."""
        if Channel.PUSH not in self.programme.channels:
            raise ProgrammeError(f"programme {self.programme.name}: push is not among its channels")
        if self.accounts is None:
            raise ProgrammeError("push payments need the public benefit accounts (accounts=...)")
        deadline = on + dt.timedelta(days=self.programme.opt_out_days)
        ids = range(len(self.roll)) if households is None else households
        n = 0
        with self.store.transaction() as tx:
            for h in map(int, ids):
                if not self.roll.entitled(h) or tx.get(FILES, h) is not None:
                    continue
                account = self.accounts.account_on(self.roll.head_of(h), on)
                if account is None:
                    continue
                tx.put(FILES, h, HouseholdFile(Status.NOTIFIED, account=account, deadline=deadline))
                tx.put(NOTIFIED, h, deadline)
                n += 1
            count(tx, "push:notified", n)
        return n

    def opt_out(self, household: int, key: str, on: dt.date) -> Decision:
        """The head declines the push payment (within the window); idempotent under ``key``."""
        household = int(household)

        def act(tx: Transaction) -> Decision:
            f: HouseholdFile = tx.get(FILES, household) or UNTOUCHED  # type: ignore[assignment]
            if f.status is not Status.NOTIFIED:
                return reject(
                    household, Reason.NOT_NOTIFIED, f"household {household}: no push notice open ({f.status})"
                )
            if on > f.deadline:  # type: ignore[operator]
                return reject(household, Reason.OPT_OUT_CLOSED, f"household {household}: window closed {f.deadline}")
            tx.put(FILES, household, HouseholdFile(Status.OPTED_OUT))
            tx.delete(NOTIFIED, household)
            return Decision(Outcome.OPTED_OUT, household, None, "opted out of the push payment")

        fp = f"opt_out:{household}"
        if not isinstance(key, str) or not key:
            return self._count_only(reject(household, Reason.BAD_KEY, "idempotency key: must be a non-empty string"))
        return self._idempotent(key, fp, act)

    def release_push(self, on: dt.date) -> int:
        """Households whose opt-out window ended before ``on`` become payable to the account registered on ``on``."""
        n = 0
        with self.store.transaction() as tx:
            for h, deadline in list(tx.scan(NOTIFIED)):
                if on <= deadline:  # type: ignore[operator]
                    continue
                tx.delete(NOTIFIED, h)
                account = self.accounts.account_on(self.roll.head_of(h), on)  # type: ignore[union-attr,arg-type]
                if account is None:  # withdrawn meanwhile: the household must apply
                    tx.put(FILES, h, HouseholdFile(Status.ENTITLED))
                    count(tx, "push:no_account")
                    continue
                self._enqueue(tx, h, HouseholdFile(Status.VERIFIED, account=account))  # type: ignore[arg-type]
                n += 1
            count(tx, "push:released", n)
        return n
