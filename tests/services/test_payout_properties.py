"""Whatever order applications, retries, duplicates, checks, batches, bank answers and crashes come in,
no verified household is lost, none is paid twice, and every yen paid is a yen owed."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from payout_helpers import AS_OF, DAY, account_for, build, ledger_on

from twin.services.payout import (
    Application,
    BankConfirmation,
    BankOutcome,
    BankReason,
    Channel,
    Outcome,
    Programme,
    Reason,
    Status,
)
from twin.services.store import SimulatedCrash

pytestmark = pytest.mark.slow  # about 5-10 s: 100 random runs of up to 40 steps

HOUSEHOLDS = 8
VARIANTS = ("good", "good", "good", "online", "wrong_head", "bad_account", "holder_mismatch", "members_wrong")


class PayoutMachine(RuleBasedStateMachine):
    """Drives the ledger like a town hall under load, with a bank that answers late, twice or not at all."""

    @initialize(seed=st.integers(0, 3), match_at_intake=st.booleans())
    def start(self, seed: int, match_at_intake: bool) -> None:
        programme = Programme(channels=frozenset(Channel), match_at_intake=match_at_intake)
        self.store, self.reg, self.roll, self.accounts, self.ledger = build(HOUSEHOLDS, seed, programme)
        self.programme = self.ledger.programme
        self.first: dict[str, tuple[Application, object]] = {}  # key -> (payload, first decision)
        self.verified: set[int] = set()  # households that had an application verified
        self.next_key = 0
        self.corrections = 0
        for h in range(0, HOUSEHOLDS, 2):  # half the heads registered a public benefit account
            head = self.roll.head_of(h)
            assert self.accounts.register(head, account_for(self.reg, head, half_width=True), AS_OF) is not None

    def application(self, h: int, variant: str) -> Application:
        if h >= len(self.roll):
            return Application(h, 0, Channel.MAIL, account_for(self.reg, 0))
        head = self.roll.head_of(h)
        account = account_for(self.reg, head, number=head + 1000 * self.corrections)
        if variant == "online":
            return Application(h, head, Channel.ONLINE, account, signature_verified=True)
        if variant == "wrong_head":
            others = [m for m in self.roll.members(h) if m != head]
            return Application(h, others[0] if others else head + 1, Channel.MAIL, account)
        if variant == "bad_account":
            return Application(h, head, Channel.MAIL, dataclasses.replace(account, number="12-4567"))
        if variant == "holder_mismatch":
            return Application(h, head, Channel.MAIL, dataclasses.replace(account, holder="ダレカ　ベツジン"))
        if variant == "members_wrong":
            return Application(h, head, Channel.MAIL, account, members=(head,) + tuple(range(10_000, 10_003)))
        return Application(h, head, Channel.MAIL, account)

    def submit(self, app: Application, key: str) -> None:
        d = self.ledger.submit(app, key, DAY)
        if key in self.first:
            payload, first = self.first[key]
            if payload == app:
                assert d == first, "a retry with the same key and payload must get the first answer"
            else:
                assert d.reason is Reason.KEY_REUSED
        else:
            self.first[key] = (app, d)
            if app.household >= len(self.roll):
                assert d.reason is Reason.UNKNOWN_HOUSEHOLD
            if app.account is not None and app.account.number == "12-4567":
                assert d.reason is Reason.BAD_ACCOUNT and d.detail == "account_number"

    @rule(h=st.integers(0, HOUSEHOLDS), variant=st.sampled_from(VARIANTS))
    def new_application(self, h: int, variant: str) -> None:
        self.next_key += 1
        self.submit(self.application(h, variant), f"key-{self.next_key}")

    @precondition(lambda self: bool(self.first))
    @rule(data=st.data(), change=st.booleans())
    def retry(self, data: st.DataObject, change: bool) -> None:
        key = data.draw(st.sampled_from(sorted(self.first)))
        app = self.first[key][0]
        if change:  # the same key with another payload (a client bug): must be refused
            app = dataclasses.replace(app, applicant=app.applicant + 1)
        self.submit(app, key)

    @precondition(lambda self: bool(self.ledger.pending_verification()))
    @rule(data=st.data())
    def verify(self, data: st.DataObject) -> None:
        aid = data.draw(st.sampled_from(self.ledger.pending_verification()))
        d = self.ledger.verify(aid, DAY)
        rec = self.ledger.application(aid)
        assert rec is not None and rec.status is d.outcome
        if d.outcome is Outcome.VERIFIED:
            self.verified.add(d.household)
        assert self.ledger.verify(aid, DAY).outcome is d.outcome, "verifying again changes nothing"

    @rule()
    def town_hall_day(self) -> None:
        """A day's work: every waiting application checked, one batch to the bank."""
        for aid in self.ledger.pending_verification():
            d = self.ledger.verify(aid, DAY)
            if d.outcome is Outcome.VERIFIED:
                self.verified.add(d.household)
        self.ledger.make_batch(DAY, True)

    @rule(limit=st.sampled_from([None, 1, 3]))
    def batch(self, limit: int | None) -> None:
        self.ledger.make_batch(DAY, True, limit)

    @precondition(lambda self: bool(self.ledger.open_batches()))
    @rule(data=st.data())
    def bank_answers(self, data: st.DataObject) -> None:
        bid = data.draw(st.sampled_from(self.ledger.open_batches()))
        batch = self.ledger.batch(bid)
        lines = []
        for t in batch.transfers:  # type: ignore[union-attr]
            answer = data.draw(st.sampled_from(["confirm", "confirm", "bounce", "late", "twice"]))
            if answer == "late":
                continue
            bounce = answer == "bounce"
            outcome = BankOutcome.REJECTED if bounce else BankOutcome.CONFIRMED
            lines.append(
                BankConfirmation(
                    t.household, outcome, t.amount, BankReason.ACCOUNT_CLOSED if bounce else BankReason.NONE
                )
            )
            if answer == "twice":
                lines.append(lines[-1])
        before = self.ledger.totals().paid
        report = self.ledger.record_bank_results(bid, lines, DAY)
        assert self.ledger.totals().paid == before + len(report.confirmed)
        assert set(report.missing).isdisjoint(report.confirmed + report.rejected)

    @precondition(lambda self: self.ledger.totals().paid > 0)
    @rule(data=st.data())
    def bank_contradicts(self, data: st.DataObject) -> None:
        """A bank file that says "bounced" for a transfer it already confirmed is flagged, not applied."""
        paid = [h for h in range(HOUSEHOLDS) if self.ledger.status(h) is Status.PAID]
        h = data.draw(st.sampled_from(paid))
        bid, amount, _ = self.store.get("payout.payments", h)  # type: ignore[misc]
        report = self.ledger.record_bank_results(
            bid, [BankConfirmation(h, BankOutcome.REJECTED, amount, BankReason.NO_SUCH_ACCOUNT)], DAY
        )
        assert report.conflicts == (h,) and self.ledger.status(h) is Status.PAID

    @rule()
    def push_notices(self) -> None:
        self.ledger.notify_push(DAY)

    @rule(h=st.integers(0, HOUSEHOLDS - 1))
    def opt_out(self, h: int) -> None:
        d = self.ledger.opt_out(h, f"opt-out-{h}", DAY)
        assert d.ok or d.reason in (Reason.NOT_NOTIFIED, Reason.OPT_OUT_CLOSED)

    @rule()
    def push_window_ends(self) -> None:
        notified = [h for h in range(HOUSEHOLDS) if self.ledger.status(h) is Status.NOTIFIED]
        self.ledger.release_push(DAY + timedelta(days=self.programme.opt_out_days + 1))
        self.verified.update(h for h in notified if self.ledger.status(h) is Status.VERIFIED)

    @rule()
    def restart(self) -> None:
        """The process dies between two steps: a new ledger on the same store carries on."""
        self.ledger = ledger_on(self.store, self.reg, self.programme)

    @rule(h=st.integers(0, HOUSEHOLDS - 1), step=st.sampled_from(["submit", "verify", "batch", "bank"]))
    def crash_during(self, h: int, step: str) -> None:
        """The process dies inside a step: nothing of that step is written."""
        before = (self.ledger.totals(), self.ledger.counts(), self.ledger.pending_verification())
        self.store.crash_on_commit(0)
        try:
            if step == "submit":
                self.ledger.submit(self.application(h, "good"), f"crash-{self.next_key}", DAY)
            elif step == "verify" and self.ledger.pending_verification():
                self.ledger.verify(self.ledger.pending_verification()[0], DAY)
            elif step == "batch":
                self.ledger.make_batch(DAY, True)
            elif step == "bank" and self.ledger.open_batches():
                bid = self.ledger.open_batches()[0]
                b = self.ledger.batch(bid)
                self.ledger.record_bank_results(
                    bid, [BankConfirmation(t.household, BankOutcome.CONFIRMED, t.amount) for t in b.transfers], DAY
                )  # type: ignore[union-attr]
            else:
                raise SimulatedCrash("nothing to do: crash anyway")
        except SimulatedCrash:
            pass
        self.store.crash_on_commit(None)  # disarm if the step did not commit
        self.ledger = ledger_on(self.store, self.reg, self.programme)
        assert (self.ledger.totals(), self.ledger.counts(), self.ledger.pending_verification()) == before

    @invariant()
    def books_balance(self) -> None:
        if hasattr(self, "ledger"):
            self.ledger.check_invariants(full=True)

    def teardown(self) -> None:
        """Disbursement completes: every answer arrives, every bounced household corrects its account."""
        if not hasattr(self, "ledger"):
            return
        self.store.crash_on_commit(None)
        lg = self.ledger
        for _ in range(4):
            for aid in lg.pending_verification():
                if lg.verify(aid, DAY).outcome is Outcome.VERIFIED:
                    self.verified.add(lg.application(aid).household)  # type: ignore[union-attr]
            while lg.make_batch(DAY, True) is not None:
                pass
            for bid in lg.open_batches():
                b = lg.batch(bid)
                lg.record_bank_results(
                    bid, [BankConfirmation(t.household, BankOutcome.CONFIRMED, t.amount) for t in b.transfers], DAY
                )  # type: ignore[union-attr]
            self.corrections += 1
            for h in range(HOUSEHOLDS):
                if lg.status(h) in (Status.BANK_REJECTED, Status.RETURNED):
                    self.next_key += 1
                    assert lg.submit(self.application(h, "good"), f"fix-{self.next_key}", DAY).ok
        lg.check_invariants(full=True)
        paid = {h for h in range(HOUSEHOLDS) if lg.status(h) is Status.PAID}
        assert self.verified <= paid, f"verified but never paid: {sorted(self.verified - paid)}"
        t = lg.totals()
        assert t.paid == len(paid) == self.store.count("payout.payments")
        assert t.paid_amount == sum(self.roll.amount_of(h) for h in paid)
        assert t.in_flight == 0 and t.queued == 0


PayoutMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestPayoutLedgerUnderInterleavings = PayoutMachine.TestCase
