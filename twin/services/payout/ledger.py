"""The payout ledger (給付台帳): every household paid once, ever, and every yen accounted for.

A town hall in 2020 received the same household's claim online, again online, and by mail (one
person sent 15); staff re-keyed, retried and corrected. The ledger is where none of that can pay
twice. Every submission carries an idempotency key: the same key with the same payload gets the first
answer again; the same key with another payload is refused. A household moves through one file
(:class:`~twin.services.payout.records.Status`): applied -> verified (or returned for correction)
-> in a transfer batch -> paid (or bounced by the bank, back to correction). Payments are keyed by
household in the store, so a second payment is a duplicate primary key, not a business rule.

All state lives in the store and every step is one transaction: drop a :class:`PayoutLedger` at
any point and open a new one on the same store to continue exactly after the last committed step.
:meth:`PayoutLedger.check_invariants` checks that money is conserved (cheap: running totals against
table sizes; ``full=True`` recomputes everything from the records).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable, Iterator

from twin.services.accounts import AccountProblem, PublicBenefitAccounts, check_account, holder_matches
from twin.services.payout import books
from twin.services.payout.books import (
    APPS,
    BATCHES,
    COUNTERS,
    FILES,
    IN_FLIGHT,
    KEYS,
    META,
    PAYMENTS,
    PENDING,
    QUEUE,
    SETTLED,
    TOTALS,
    InvariantViolation,
    Prefetched,
    count,
    flush,
)
from twin.services.payout.programme import EntitlementRoll, Programme, ProgrammeError
from twin.services.payout.push import UNTOUCHED, PushPayments
from twin.services.payout.reconciliation import BankConfirmation, BankOutcome, ReconciliationReport, classify
from twin.services.payout.records import (
    Application,
    ApplicationRecord,
    Batch,
    Channel,
    Decision,
    HouseholdFile,
    Outcome,
    Reason,
    Status,
    Totals,
    Transfer,
    label,
    reject,
)
from twin.services.store import DuplicateKeyError, Store, Transaction, bulk

_OPEN_TO_APPLY = {Status.ENTITLED, Status.OPTED_OUT, Status.RETURNED, Status.BANK_REJECTED}


class NotBusinessDayError(ValueError):
    """Transfer batches go to the bank on business days only."""


class PayoutLedger(PushPayments):
    """給付台帳: applications, verification, push payments, transfer batches and bank answers for one programme.

    ``accounts`` (公金受取口座) supplies registered accounts for applications without one and for push;
    ``verify_signature`` decides online applications' signatures when given (e.g.
    :class:`~twin.services.payout.signatures.SignatureCheck`: real RSA against the JPKI signature CA),
    otherwise the application's ``signature_verified`` flag is trusted.
    """

    def __init__(
        self,
        store: Store,
        programme: Programme,
        roll: EntitlementRoll,
        *,
        accounts: PublicBenefitAccounts | None = None,
        verify_signature: Callable[[Application], bool] | None = None,
    ) -> None:
        self.store, self.programme, self.roll = store, programme, roll
        self.accounts, self.verify_signature = accounts, verify_signature
        meta = (programme, roll.digest())
        with store.transaction() as tx:
            existing = tx.get(META, "terms")
            if existing is None:
                tx.put(META, "terms", meta)
                tx.put(TOTALS, "t", Totals())
            elif existing != meta:
                raise ProgrammeError("this store holds a ledger for other programme terms or another entitlement roll")

    # -- reading ---------------------------------------------------------------------------------

    def totals(self) -> Totals:
        return self.store.get(TOTALS, "t")  # type: ignore[return-value]

    def file(self, household: int) -> HouseholdFile:
        return self.store.get(FILES, household) or UNTOUCHED  # type: ignore[return-value]

    def status(self, household: int) -> Status:
        return self.file(household).status

    def application(self, application_id: int) -> ApplicationRecord | None:
        return self.store.get(APPS, application_id)  # type: ignore[return-value]

    def pending_verification(self, limit: int | None = None) -> list[int]:
        """Application ids waiting for municipal verification, oldest first."""
        return [int(k) for k, _ in self.store.scan(PENDING, limit)]  # type: ignore[arg-type]

    def open_batches(self) -> list[int]:
        """Batches with at least one transfer still waiting for the bank's answer."""
        return sorted({int(b) for _, b in self.store.scan(IN_FLIGHT)})  # type: ignore[call-overload]

    def batch(self, batch_id: int) -> Batch | None:
        return self.store.get(BATCHES, batch_id)  # type: ignore[return-value]

    def status_counts(self) -> dict[Status, int]:
        """Households of the roll by status (O(files touched): for daily metrics, not every event)."""
        out = dict.fromkeys(Status, 0)
        for _, f in self.store.scan(FILES):
            out[f.status] += 1  # type: ignore[attr-defined]
        out[Status.ENTITLED] += self.roll.households - self.store.count(FILES)
        return out

    def counts(self) -> dict[str, int]:
        """How many decisions of each kind, e.g. ``{"rejected:duplicate": 14, "replayed": 3}``."""
        return {str(k): int(v) for k, v in self.store.scan(COUNTERS)}  # type: ignore[call-overload]

    # -- applications ----------------------------------------------------------------------------

    def submit(self, application: Application, key: str, on: dt.date) -> Decision:
        """Receive an application under an idempotency ``key`` on date ``on``. Never raises for bad data."""
        tally: dict[str, int] = {}
        with self.store.transaction() as tx:
            d = self._submit_in(tx, application, key, on, tally)
            flush(tx, tally)
        return d

    def submit_many(self, items: Iterable[tuple[Application, str]], on: dt.date) -> list[Decision]:
        """Receive many ``(application, key)`` pairs on date ``on`` in one transaction (a day's intake file).

        Each item gets exactly the decision :meth:`submit` would give it if the items were submitted
        one by one in this order (the same rule functions run for both); the counters are added once.
        """
        items = list(items)
        tally: dict[str, int] = {}
        with self._batch_transaction() as tx:
            if isinstance(tx, Prefetched):
                tx.prefetch(KEYS, [k for _, k in items if isinstance(k, str) and k])
                tx.prefetch(FILES, [a.household for a, _ in items if isinstance(a.household, int)])
            out = [self._submit_in(tx, app, key, on, tally) for app, key in items]  # type: ignore[arg-type]
            flush(tx, tally)  # type: ignore[arg-type]
        return out

    @contextlib.contextmanager
    def _batch_transaction(self) -> Iterator[Transaction | Prefetched]:
        """One transaction for a batch. On a store with bulk reads (the SQL stores) it is nested in an
        outer one, so the batch's writes are buffered in memory (a record written many times, like the
        running totals, is written once) and land with one ``executemany``, and the records the batch
        will read are fetched in one query per table (:class:`Prefetched`). A memory store's reads and
        writes cost nothing: it gets the plain transaction."""
        if not hasattr(self.store, "get_many"):
            with bulk(), self.store.transaction() as tx:
                yield tx
            return
        with bulk(), self.store.transaction(), self.store.transaction() as tx:
            yield Prefetched(tx)

    def _submit_in(self, tx: Transaction, app: Application, key: str, on: dt.date, tally: dict[str, int]) -> Decision:
        if not isinstance(key, str) or not key:
            d = Decision(Outcome.REJECTED, app.household, Reason.BAD_KEY, "idempotency key: must be a non-empty string")
            tally[label(d)] = tally.get(label(d), 0) + 1
            return d
        # the date is part of what was submitted: the same form under the same key on another day is
        # another submission (refused as key_reused), not a retry to be answered from the first decision
        fingerprint = f"{app.fingerprint()}|on={on}"
        return self._idempotent_in(tx, key, fingerprint, lambda t: self._intake(t, app, key, on), tally)

    def _idempotent(self, key: str, fingerprint: str, act: Callable[[Transaction], Decision]) -> Decision:
        tally: dict[str, int] = {}
        with self.store.transaction() as tx:
            d = self._idempotent_in(tx, key, fingerprint, act, tally)
            flush(tx, tally)
        return d

    @staticmethod
    def _idempotent_in(
        tx: Transaction, key: str, fingerprint: str, act: Callable[[Transaction], Decision], tally: dict[str, int]
    ) -> Decision:
        """The idempotency rule: a seen key with the same payload replays the first answer; with another
        payload it is refused; a new key runs ``act`` and remembers its answer. Counts into ``tally``."""
        seen = tx.get(KEYS, key)
        if seen is not None:
            first_fp, first = seen  # type: ignore[misc]
            if first_fp == fingerprint:
                tally["replayed"] = tally.get("replayed", 0) + 1
                return first
            d = Decision(
                Outcome.REJECTED,
                first.household,
                Reason.KEY_REUSED,
                f"idempotency key {key!r} was already used for a different submission",
            )
        else:
            d = act(tx)
            tx.put(KEYS, key, (fingerprint, d))
        name = label(d)
        tally[name] = tally.get(name, 0) + 1
        return d

    def _count_only(self, d: Decision) -> Decision:
        with self.store.transaction() as tx:
            count(tx, label(d))
        return d

    def _intake(self, tx: Transaction, app: Application, key: str, on: dt.date) -> Decision:
        h, p = app.household, self.programme
        if not isinstance(h, int) or not self.roll.entitled(h):
            return reject(
                h, Reason.UNKNOWN_HOUSEHOLD, f"household {h}: not on the entitlement roll of {p.reference_date}"
            )
        if app.channel is Channel.PUSH or not p.accepts(app.channel, on):
            return reject(
                h,
                Reason.CHANNEL_CLOSED,
                f"channel {app.channel}: not accepting applications on {on} (open {p.opens}..{p.closes})",
            )
        if app.channel is Channel.ONLINE:
            check = self.verify_signature
            if check is None:
                ok = app.signature_verified
            else:
                ok = check(app, on) if getattr(check, "takes_date", False) else check(app)  # type: ignore[call-arg]
            if not ok:
                return reject(h, Reason.SIGNATURE_INVALID, "online application: the signature certificate check failed")
        if app.account is not None:
            account = check_account(app.account)
            if isinstance(account, AccountProblem):
                return reject(h, Reason.BAD_ACCOUNT, account.message, detail=account.reason.value)
        else:
            account = self.accounts.account_on(app.applicant, on) if self.accounts is not None else None
            if account is None:
                return reject(h, Reason.NO_ACCOUNT, f"applicant {app.applicant}: no account given and none registered")
        f: HouseholdFile = tx.get(FILES, h) or UNTOUCHED  # type: ignore[assignment]
        if f.status is Status.PAID:
            return reject(h, Reason.ALREADY_PAID, f"household {h}: already paid")
        if f.status not in _OPEN_TO_APPLY:
            return reject(
                h, Reason.DUPLICATE, f"household {h}: already {f.status.value}; this application is a duplicate"
            )
        if p.match_at_intake:
            problem = self._register_check(app, account)
            if problem is not None:
                return reject(h, *problem)
        t: Totals = tx.get(TOTALS, "t")  # type: ignore[assignment]
        aid = t.next_application
        if f.status is Status.RETURNED and f.application >= 0:  # a corrected resubmission supersedes the returned one
            old: ApplicationRecord = tx.get(APPS, f.application)  # type: ignore[assignment]
            tx.put(APPS, old.id, old._replace(status=Outcome.REJECTED, reason=Reason.DUPLICATE, decided_on=on))
        tx.put(APPS, aid, ApplicationRecord(aid, key, h, app, on, Outcome.ACCEPTED, account, f.status))
        tx.put(PENDING, aid, h)
        tx.put(FILES, h, f._replace(status=Status.APPLIED, application=aid, account=account))
        tx.put(TOTALS, "t", t._replace(next_application=aid + 1))
        return Decision(Outcome.ACCEPTED, h, None, "received; waiting for verification", aid)

    def _register_check(self, app: Application, account: object) -> tuple[Reason, str] | None:
        """The municipal checks against the register on the reference date: head, members, account holder."""
        h = app.household
        if app.applicant != self.roll.head_of(h):
            return (
                Reason.NOT_HEAD,
                f"applicant {app.applicant}: not the head of household {h} on {self.roll.reference_date}",
            )
        if app.members is not None and tuple(sorted(app.members)) != self.roll.members(h):
            return Reason.MEMBER_MISMATCH, f"household {h}: the members listed differ from the register"
        reading = self.roll.head_reading(h)
        if reading is None or not holder_matches(account.holder, reading):  # type: ignore[attr-defined]
            return Reason.HOLDER_MISMATCH, f"household {h}: the account holder is not the head (name reading differs)"
        return None

    def verify(self, application_id: int, on: dt.date) -> Decision:
        """Municipal verification of one application; idempotent (a decided application returns its decision)."""
        tally: dict[str, int] = {}
        with self.store.transaction() as tx:
            d = self._verify_in(tx, int(application_id), on, tally)
            flush(tx, tally)
        return d

    def verify_many(self, application_ids: Iterable[int], on: dt.date) -> list[Decision]:
        """Verify many applications against the register in one transaction (a town hall's day of checks).

        Each gets exactly the decision :meth:`verify` would give it, one by one in this order.
        """
        ids = [int(a) for a in application_ids]
        tally: dict[str, int] = {}
        with self._batch_transaction() as tx:
            if isinstance(tx, Prefetched):
                tx.prefetch(APPS, ids)
                tx.prefetch(FILES, [r.household for a in ids if (r := tx.get(APPS, a)) is not None])  # type: ignore[attr-defined]
                t: Totals = tx.get(TOTALS, "t")  # type: ignore[assignment]
                # the queue keys the verified households will take: known absent after one read
                tx.prefetch(QUEUE, range(t.next_queue, t.next_queue + len(ids)))
            out = [self._verify_in(tx, a, on, tally) for a in ids]  # type: ignore[arg-type]
            flush(tx, tally)  # type: ignore[arg-type]
        return out

    def _verify_in(self, tx: Transaction, application_id: int, on: dt.date, tally: dict[str, int]) -> Decision:
        rec: ApplicationRecord | None = tx.get(APPS, application_id)  # type: ignore[assignment]
        if rec is None:
            d = reject(-1, Reason.UNKNOWN_APPLICATION, f"application {application_id}: not received")
            name = "verify:" + label(d)
            tally[name] = tally.get(name, 0) + 1
            return d
        if rec.status is not Outcome.ACCEPTED:
            return Decision(rec.status, rec.household, rec.reason, "already decided", rec.id)
        h = rec.household
        f: HouseholdFile = tx.get(FILES, h)  # type: ignore[assignment]
        problem = self._register_check(rec.payload, rec.account)
        tx.delete(PENDING, rec.id)
        if problem is None:
            tx.put(APPS, rec.id, rec._replace(status=Outcome.VERIFIED, decided_on=on))
            self._enqueue(tx, h, f._replace(status=Status.VERIFIED, account=rec.account))
            d = Decision(Outcome.VERIFIED, h, None, "verified; queued for the next transfer batch", rec.id)
        elif problem[0] is Reason.NOT_HEAD:  # not correctable by this applicant: the head may still apply
            tx.put(APPS, rec.id, rec._replace(status=Outcome.REJECTED, reason=problem[0], decided_on=on))
            tx.put(FILES, h, f._replace(status=rec.prior, application=-1, account=None))
            d = Decision(Outcome.REJECTED, h, problem[0], problem[1], rec.id)
        else:  # returned to the applicant for correction (rework)
            tx.put(APPS, rec.id, rec._replace(status=Outcome.RETURNED, reason=problem[0], decided_on=on))
            tx.put(FILES, h, f._replace(status=Status.RETURNED, reworks=f.reworks + 1))
            d = Decision(Outcome.RETURNED, h, problem[0], problem[1], rec.id)
        name = "verify:" + label(d)
        tally[name] = tally.get(name, 0) + 1
        return d

    def _enqueue(self, tx: Transaction, h: int, f: HouseholdFile) -> None:
        t: Totals = tx.get(TOTALS, "t")  # type: ignore[assignment]
        tx.insert(QUEUE, t.next_queue, h)
        tx.put(FILES, h, f)
        amount = self.roll.amount_of(h)
        tx.put(
            TOTALS,
            "t",
            t._replace(next_queue=t.next_queue + 1, queued=t.queued + 1, queued_amount=t.queued_amount + amount),
        )

    # -- disbursement ----------------------------------------------------------------------------

    def make_batch(
        self, on: dt.date, business_day: bool | Callable[[dt.date], bool], limit: int | None = None
    ) -> Batch | None:
        """Put verified households (oldest first, at most ``limit``) into one transfer batch; None if none wait."""
        if not (business_day(on) if callable(business_day) else business_day):
            raise NotBusinessDayError(f"{on} is not a business day: transfer batches go out on business days only")
        with self._batch_transaction() as tx:
            queued = list(tx.scan(QUEUE, limit))
            if not queued:
                return None
            if isinstance(tx, Prefetched):
                for table in (FILES, PAYMENTS, IN_FLIGHT):
                    tx.prefetch(table, [h for _, h in queued])
            t: Totals = tx.get(TOTALS, "t")  # type: ignore[assignment]
            bid, transfers = t.next_batch, []
            for qkey, h in queued:
                f: HouseholdFile = tx.get(FILES, h)  # type: ignore[assignment]
                if f.status is not Status.VERIFIED or tx.get(PAYMENTS, h) is not None:
                    raise InvariantViolation(f"household {h} is queued for payment but is {f.status.value}")
                try:
                    tx.insert(IN_FLIGHT, h, bid)
                except DuplicateKeyError:
                    raise InvariantViolation(f"household {h} already has a transfer in flight") from None
                tx.delete(QUEUE, qkey)
                tx.put(FILES, h, f._replace(status=Status.IN_BATCH, batch=bid))
                transfers.append(Transfer(h, self.roll.amount_of(h), f.account))  # type: ignore[arg-type, call-arg]
            batch = Batch(bid, on, tuple(transfers))
            total, n = batch.total, len(transfers)
            tx.insert(BATCHES, bid, batch)
            tx.put(
                TOTALS,
                "t",
                t._replace(
                    next_batch=bid + 1,
                    queued=t.queued - n,
                    queued_amount=t.queued_amount - total,
                    in_flight=t.in_flight + n,
                    in_flight_amount=t.in_flight_amount + total,
                    disbursed_amount=t.disbursed_amount + total,
                ),
            )
        return batch

    def record_bank_results(
        self, batch_id: int, confirmations: Iterable[BankConfirmation], on: dt.date
    ) -> ReconciliationReport:
        """Apply the bank's answers for a batch (duplicates ignored, conflicts flagged) and report what is missing."""
        with self._batch_transaction() as tx:
            batch: Batch | None = tx.get(BATCHES, batch_id)  # type: ignore[assignment]
            if batch is None:
                batch = Batch(batch_id, on, ())
            confirmations = list(confirmations)
            if isinstance(tx, Prefetched):
                hs = [int(c.household) for c in confirmations if isinstance(c.household, int)]
                tx.prefetch(SETTLED, [(batch_id, h) for h in hs])
                tx.prefetch(FILES, hs)
                tx.prefetch(PAYMENTS, hs)
            report, apply = classify(batch, confirmations, lambda h: tx.get(SETTLED, (batch_id, h)))  # type: ignore[arg-type,return-value]
            paid = paid_amount = paid_entitlement = flight_amount = bounced = 0
            for c in apply:
                h, amount = int(c.household), int(c.amount)
                f: HouseholdFile = tx.get(FILES, h)  # type: ignore[assignment]
                tx.put(SETTLED, (batch_id, h), c.outcome)
                tx.delete(IN_FLIGHT, h)
                flight_amount += amount
                if c.outcome is BankOutcome.CONFIRMED:
                    try:
                        tx.insert(PAYMENTS, h, (batch_id, amount, on))
                    except DuplicateKeyError:
                        raise InvariantViolation(f"household {h}: a second payment (batch {batch_id})") from None
                    tx.put(FILES, h, f._replace(status=Status.PAID))
                    paid += 1
                    paid_amount += amount
                    paid_entitlement += self.roll.amount_of(h)
                else:
                    tx.put(FILES, h, f._replace(status=Status.BANK_REJECTED, application=-1, account=None,
                                                reworks=f.reworks + 1))  # fmt: skip
                    bounced += amount
            t: Totals = tx.get(TOTALS, "t")  # type: ignore[assignment]
            t = t._replace(
                in_flight=t.in_flight - len(apply), in_flight_amount=t.in_flight_amount - flight_amount,
                paid=t.paid + paid, paid_amount=t.paid_amount + paid_amount,
                paid_entitlement=t.paid_entitlement + paid_entitlement,
                bank_rejected_amount=t.bank_rejected_amount + bounced,
            )  # fmt: skip
            tx.put(TOTALS, "t", t)
            for name, hs in (
                ("confirmed", report.confirmed),
                ("rejected", report.rejected),
                ("conflict", report.conflicts),
                ("amount_mismatch", report.amount_mismatches),
                ("unexpected", report.unexpected),
                ("duplicate", report.duplicates),
            ):
                if hs:
                    count(tx, f"bank:{name}", len(hs))
        return report

    # -- invariants ------------------------------------------------------------------------------

    def check_invariants(self, full: bool = False) -> None:
        """Raise :class:`InvariantViolation` if money is not conserved or a household could be paid twice.

        The default check is O(1) (running totals against table sizes), cheap enough for every simulated
        hour; ``full=True`` re-adds every record (O(records)).
        """
        books.check(self.store, self.roll, full)
