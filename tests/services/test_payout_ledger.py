"""The payout ledger step by step: each refusal reason, rework, push, batches, bank answers, restarts."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from payout_helpers import AS_OF, DAY, MemoryStore, account_for, bank_answers, build, ledger_on, mail_form

from twin.services.payout import (
    Application,
    BankConfirmation,
    BankOutcome,
    Channel,
    EntitlementRoll,
    InvariantViolation,
    NotBusinessDayError,
    Outcome,
    PayoutLedger,
    Programme,
    ProgrammeError,
    Reason,
    Status,
)
from twin.services.store import SimulatedCrash


def pay_all(ledger: PayoutLedger, on: dt.date = DAY) -> None:
    for aid in ledger.pending_verification():
        ledger.verify(aid, on)
    while ledger.make_batch(on, True) is not None:
        pass
    for bid in ledger.open_batches():
        ledger.record_bank_results(bid, bank_answers(ledger.batch(bid)), on)  # type: ignore[arg-type]


def multi_member_household(roll: EntitlementRoll) -> int:
    return next(h for h in range(len(roll)) if len(roll.members(h)) >= 2)


def test_the_roll_pays_every_registered_resident_through_the_head() -> None:
    _, reg, roll, _, _ = build(30)
    snap = reg.snapshot(roll.reference_date)
    assert roll.households == 30 and roll.total == len(reg) * 100_000
    for h in range(30):
        assert roll.head_of(h) == snap.head_of(h)
        assert roll.amount_of(h) == 100_000 * len(roll.members(h))


def test_an_accepted_verified_household_is_paid_its_entitlement_once() -> None:
    _, reg, roll, _, ledger = build(10)
    d = ledger.submit(mail_form(reg, roll, 3), "form-3", DAY)
    assert d.outcome is Outcome.ACCEPTED and ledger.status(3) is Status.APPLIED
    assert ledger.verify(d.application, DAY).outcome is Outcome.VERIFIED  # type: ignore[arg-type]
    batch = ledger.make_batch(DAY, True)
    assert batch is not None and [t.household for t in batch.transfers] == [3]
    assert batch.total == roll.amount_of(3)
    report = ledger.record_bank_results(batch.id, bank_answers(batch), DAY)
    assert report.confirmed == (3,) and report.complete and report.clean
    assert ledger.status(3) is Status.PAID and ledger.totals().paid_amount == roll.amount_of(3)
    ledger.check_invariants(full=True)


def test_numpy_integers_from_a_model_are_plain_household_ids() -> None:
    import numpy as np

    _, reg, roll, _, ledger = build(5)
    plain = mail_form(reg, roll, 2)
    from_numpy = dataclasses.replace(plain, household=np.int64(2), applicant=np.int32(plain.applicant))
    assert from_numpy == plain and from_numpy.fingerprint() == plain.fingerprint()
    assert ledger.submit(from_numpy, "k", DAY).ok and ledger.submit(plain, "k", DAY).ok


def test_the_same_key_and_payload_returns_the_first_answer() -> None:
    _, reg, roll, _, ledger = build(5)
    first = ledger.submit(mail_form(reg, roll, 1), "k", DAY)
    again = ledger.submit(mail_form(reg, roll, 1), "k", DAY)
    assert again == first and ledger.counts()["replayed"] == 1
    assert ledger.totals().next_application == 1
    # the date is part of the submission (issue 19): the same key and form on another day is refused
    later = ledger.submit(mail_form(reg, roll, 1), "k", DAY + dt.timedelta(days=3))
    assert later.reason is Reason.KEY_REUSED and ledger.counts()["rejected:key_reused"] == 1


def test_fifteen_applications_for_one_household_pay_once() -> None:
    _, reg, roll, _, ledger = build(5)
    decisions = [ledger.submit(mail_form(reg, roll, 2), f"attempt-{i}", DAY) for i in range(15)]
    assert decisions[0].ok and all(d.reason is Reason.DUPLICATE for d in decisions[1:])
    pay_all(ledger)
    later = ledger.submit(mail_form(reg, roll, 2), "attempt-16", DAY)
    assert later.reason is Reason.ALREADY_PAID
    assert ledger.totals().paid == 1 and ledger.counts()["rejected:duplicate"] == 14
    ledger.check_invariants(full=True)


def rejection_cases():  # noqa: ANN201
    def reused_key(ledger, reg, roll):  # noqa: ANN001, ANN202
        ledger.submit(mail_form(reg, roll, 0), "k", DAY)
        return ledger.submit(mail_form(reg, roll, 1), "k", DAY)

    def online_unsigned(ledger, reg, roll):  # noqa: ANN001, ANN202
        return ledger.submit(dataclasses.replace(mail_form(reg, roll, 0), channel=Channel.ONLINE), "k", DAY)

    def bad_account(ledger, reg, roll):  # noqa: ANN001, ANN202
        app = mail_form(reg, roll, 0)
        return ledger.submit(dataclasses.replace(app, account=dataclasses.replace(app.account, number="12")), "k", DAY)

    def no_account(ledger, reg, roll):  # noqa: ANN001, ANN202
        return ledger.submit(dataclasses.replace(mail_form(reg, roll, 0), account=None), "k", DAY)

    return [
        ("", lambda lg, reg, roll: lg.submit(mail_form(reg, roll, 0), "", DAY), Reason.BAD_KEY),
        ("reused key", reused_key, Reason.KEY_REUSED),
        ("unknown household", lambda lg, reg, roll: lg.submit(Application(99, 0, Channel.MAIL), "k", DAY),
         Reason.UNKNOWN_HOUSEHOLD),
        ("before opening", lambda lg, reg, roll: lg.submit(mail_form(reg, roll, 0), "k", dt.date(2020, 4, 30)),
         Reason.CHANNEL_CLOSED),
        ("push is no application", lambda lg, reg, roll: lg.submit(
            dataclasses.replace(mail_form(reg, roll, 0), channel=Channel.PUSH), "k", DAY), Reason.CHANNEL_CLOSED),
        ("online unsigned", online_unsigned, Reason.SIGNATURE_INVALID),
        ("bad account", bad_account, Reason.BAD_ACCOUNT),
        ("no account", no_account, Reason.NO_ACCOUNT),
        ("unknown application", lambda lg, reg, roll: lg.verify(42, DAY), Reason.UNKNOWN_APPLICATION),
        ("opt-out without notice", lambda lg, reg, roll: lg.opt_out(0, "k", DAY), Reason.NOT_NOTIFIED),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "act", "reason"), rejection_cases(), ids=[c[0] or "empty key" for c in rejection_cases()]
)
def test_each_malformed_submission_is_refused_and_counted(case: str, act, reason: Reason) -> None:  # noqa: ANN001
    _, reg, roll, _, ledger = build(5)
    d = act(ledger, reg, roll)
    assert d.outcome is Outcome.REJECTED and d.reason is reason and d.message
    assert ledger.counts()[f"{'verify:' if case == 'unknown application' else ''}rejected:{reason.value}"] == 1
    assert ledger.totals().queued == 0
    ledger.check_invariants(full=True)


def test_a_bad_account_names_the_field() -> None:
    _, reg, roll, _, ledger = build(5)
    app = mail_form(reg, roll, 0)
    d = ledger.submit(dataclasses.replace(app, account=dataclasses.replace(app.account, branch_code="1")), "k", DAY)
    assert d.reason is Reason.BAD_ACCOUNT and d.detail == "branch_code" and "branch code: '1'" in d.message


def test_a_signature_verifier_decides_online_applications() -> None:
    store, reg, roll, accounts, _ = build(5)
    seen: list[int] = []

    def verifier(app: Application) -> bool:
        seen.append(app.household)
        return app.household != 1

    ledger = PayoutLedger(MemoryStore(), Programme(), roll, accounts=accounts, verify_signature=verifier)
    online = [dataclasses.replace(mail_form(reg, roll, h), channel=Channel.ONLINE) for h in (0, 1)]
    assert ledger.submit(online[0], "a", DAY).ok
    assert ledger.submit(online[1], "b", DAY).reason is Reason.SIGNATURE_INVALID
    assert seen == [0, 1]


def test_a_non_head_application_is_rejected_and_the_head_may_still_apply() -> None:
    _, reg, roll, _, ledger = build(20)
    h = multi_member_household(roll)
    other = next(m for m in roll.members(h) if m != roll.head_of(h))
    d = ledger.submit(Application(h, other, Channel.MAIL, account_for(reg, other)), "child", DAY)
    assert d.ok, "intake does not check the register in the 2020 design"
    v = ledger.verify(d.application, DAY)  # type: ignore[arg-type]
    assert v.outcome is Outcome.REJECTED and v.reason is Reason.NOT_HEAD
    assert ledger.status(h) is Status.ENTITLED
    assert ledger.submit(mail_form(reg, roll, h), "head", DAY).ok


def test_matching_at_intake_refuses_at_once() -> None:
    _, reg, roll, accounts, _ = build(20)
    prog = Programme(match_at_intake=True)

    ledger = PayoutLedger(MemoryStore(), prog, roll, accounts=accounts)
    h = multi_member_household(roll)
    other = next(m for m in roll.members(h) if m != roll.head_of(h))
    assert (
        ledger.submit(Application(h, other, Channel.MAIL, account_for(reg, other)), "a", DAY).reason is Reason.NOT_HEAD
    )
    wrong_members = dataclasses.replace(mail_form(reg, roll, h), members=(roll.head_of(h),))
    assert ledger.submit(wrong_members, "b", DAY).reason is Reason.MEMBER_MISMATCH
    right_members = dataclasses.replace(mail_form(reg, roll, h), members=roll.members(h)[::-1])
    assert ledger.submit(right_members, "c", DAY).ok


def test_a_returned_application_is_corrected_and_resubmitted() -> None:
    _, reg, roll, _, ledger = build(5)
    app = mail_form(reg, roll, 4)
    wrong = dataclasses.replace(app, account=dataclasses.replace(app.account, holder="ベツジン"))
    first = ledger.submit(wrong, "form", DAY)
    returned = ledger.verify(first.application, DAY)  # type: ignore[arg-type]
    assert returned.outcome is Outcome.RETURNED and returned.reason is Reason.HOLDER_MISMATCH
    assert ledger.status(4) is Status.RETURNED and ledger.file(4).reworks == 1
    second = ledger.submit(app, "form-corrected", DAY)
    assert second.ok
    assert ledger.application(first.application).status is Outcome.REJECTED  # type: ignore[arg-type,union-attr]
    pay_all(ledger)
    assert ledger.status(4) is Status.PAID and ledger.totals().paid == 1


def test_a_bounced_transfer_goes_back_to_rework_and_is_paid_after_correction() -> None:
    _, reg, roll, _, ledger = build(5)
    for h in range(5):
        ledger.submit(mail_form(reg, roll, h), f"f{h}", DAY)
        ledger.verify(h, DAY)
    batch = ledger.make_batch(DAY, True)
    report = ledger.record_bank_results(batch.id, bank_answers(batch, bounce={2}), DAY)  # type: ignore[union-attr]
    assert report.rejected == (2,) and report.rejected_amount == roll.amount_of(2)
    assert ledger.status(2) is Status.BANK_REJECTED
    ledger.check_invariants(full=True)
    fixed = dataclasses.replace(mail_form(reg, roll, 2), account=account_for(reg, roll.head_of(2), number=7654321))
    assert ledger.submit(fixed, "f2-new-account", DAY).ok
    pay_all(ledger)
    t = ledger.totals()
    assert ledger.status(2) is Status.PAID and t.paid == 5 and t.paid_amount == roll.total
    assert t.disbursed_amount == roll.total + roll.amount_of(2), "the bounced transfer went out once more"
    ledger.check_invariants(full=True)


def test_reconciliation_sorts_duplicates_conflicts_mismatches_strangers_and_missing() -> None:
    _, reg, roll, _, ledger = build(4)
    for h in range(4):
        ledger.submit(mail_form(reg, roll, h), f"f{h}", DAY)
        ledger.verify(h, DAY)
    batch = ledger.make_batch(DAY, True)
    t = {x.household: x for x in batch.transfers}  # type: ignore[union-attr]
    ok = BankConfirmation(0, BankOutcome.CONFIRMED, t[0].amount)
    lines = [
        ok,
        ok,
        BankConfirmation(0, BankOutcome.REJECTED, t[0].amount),
        BankConfirmation(1, BankOutcome.CONFIRMED, t[1].amount + 1),
        BankConfirmation(77, BankOutcome.CONFIRMED, 1),
    ]
    report = ledger.record_bank_results(batch.id, lines, DAY)  # type: ignore[union-attr]
    assert report.confirmed == (0,) and report.duplicates == (0,) and report.conflicts == (0,)
    assert report.amount_mismatches == (1,) and report.unexpected == (77,) and report.missing == (1, 2, 3)
    assert not report.clean and not report.complete
    late = ledger.record_bank_results(batch.id, bank_answers(batch), DAY)  # type: ignore[union-attr,arg-type]
    assert late.confirmed == (1, 2, 3) and late.duplicates == (0,) and late.complete
    assert ledger.open_batches() == [] and ledger.totals().paid == 4
    ledger.check_invariants(full=True)


def test_push_pays_registered_accounts_after_the_opt_out_window() -> None:
    _, reg, roll, accounts, ledger = build(6)
    for h in range(4):
        accounts.register(roll.head_of(h), account_for(reg, roll.head_of(h), half_width=True), AS_OF)
    assert ledger.notify_push(DAY) == 4
    assert ledger.opt_out(1, "no-thanks", DAY).outcome is Outcome.OPTED_OUT
    assert ledger.opt_out(1, "no-thanks", DAY).outcome is Outcome.OPTED_OUT, "replayed"
    assert ledger.opt_out(2, "late", DAY + dt.timedelta(days=15)).reason is Reason.OPT_OUT_CLOSED
    assert ledger.submit(mail_form(reg, roll, 0), "form", DAY).reason is Reason.DUPLICATE
    assert ledger.release_push(DAY + dt.timedelta(days=14)) == 0, "the window is still open on its last day"
    assert ledger.release_push(DAY + dt.timedelta(days=15)) == 3
    assert ledger.submit(mail_form(reg, roll, 1), "form-after-opt-out", DAY).ok
    pay_all(ledger)
    assert [ledger.status(h) for h in range(6)] == [Status.PAID] * 4 + [Status.ENTITLED] * 2
    counts = ledger.status_counts()
    assert counts[Status.PAID] == 4 and counts[Status.ENTITLED] == 2 and sum(counts.values()) == 6
    ledger.check_invariants(full=True)


def test_push_needs_the_programme_to_offer_it() -> None:
    store, _, roll, accounts, _ = build(3)

    with pytest.raises(ProgrammeError, match="push is not among its channels"):
        PayoutLedger(MemoryStore(), Programme(), roll, accounts=accounts).notify_push(DAY)


def test_batches_go_out_on_business_days_only() -> None:
    _, reg, roll, _, ledger = build(3)
    ledger.submit(mail_form(reg, roll, 0), "f", DAY)
    ledger.verify(0, DAY)
    saturday = dt.date(2020, 5, 16)
    with pytest.raises(NotBusinessDayError, match="2020-05-16 is not a business day"):
        ledger.make_batch(saturday, lambda d: d.weekday() < 5)
    assert ledger.make_batch(saturday + dt.timedelta(days=2), lambda d: d.weekday() < 5) is not None
    assert ledger.make_batch(DAY, True) is None, "nothing left to send"


def test_a_restarted_ledger_continues_where_the_last_commit_left_off() -> None:
    store, reg, roll, _, ledger = build(6)
    prog = ledger.programme
    for h in range(6):
        ledger.submit(mail_form(reg, roll, h), f"f{h}", DAY)
    ledger.verify(0, DAY)
    ledger.verify(1, DAY)
    batch = ledger.make_batch(DAY, True)
    del ledger
    ledger = ledger_on(store, reg, prog)
    assert ledger.pending_verification() == [2, 3, 4, 5] and ledger.open_batches() == [batch.id]  # type: ignore[union-attr]
    assert ledger.submit(mail_form(reg, roll, 0), "f0", DAY).ok, "the first answer survives the restart"
    pay_all(ledger)
    assert ledger.totals().paid == 6
    ledger.check_invariants(full=True)


def test_a_crash_inside_a_step_leaves_no_trace_and_the_retry_succeeds() -> None:
    store, reg, roll, _, ledger = build(3)
    store.crash_on_commit(0)
    with pytest.raises(SimulatedCrash):
        ledger.submit(mail_form(reg, roll, 0), "f0", DAY)
    ledger = ledger_on(store, reg, ledger.programme)
    assert ledger.totals().next_application == 0 and ledger.counts() == {}
    assert ledger.submit(mail_form(reg, roll, 0), "f0", DAY).outcome is Outcome.ACCEPTED


def test_a_ledger_refuses_a_store_kept_for_other_terms() -> None:
    store, _, roll, accounts, ledger = build(3)
    with pytest.raises(ProgrammeError, match="other programme terms"):
        PayoutLedger(store, dataclasses.replace(ledger.programme, amount_per_resident=50_000), roll, accounts=accounts)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"amount_per_resident": 0}, "amount_per_resident: 0 must be > 0 yen"),
        ({"amount_per_resident": 1.5}, "must be a whole number of yen"),
        ({"opens": dt.date(2020, 6, 1), "closes": dt.date(2020, 5, 1)}, "closes: 2020-05-01 is before opens"),
        ({"opt_out_days": -1}, r"opt_out_days: -1 is not in \[0, 365\]"),
        ({"channels": frozenset({"fax"})}, "channels: .*fax.* use one or more of mail, online, push"),
    ],
)
def test_impossible_programme_terms_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ProgrammeError, match=message):
        Programme(**kwargs)


def test_tampered_books_fail_the_invariant_check_with_the_amount() -> None:
    store, reg, roll, _, ledger = build(3)
    ledger.submit(mail_form(reg, roll, 0), "f", DAY)
    pay_all(ledger)
    with store.transaction() as tx:  # a bug that pays without recording the payment
        t = tx.get("payout.totals", "t")
        tx.put("payout.totals", "t", t._replace(paid_amount=t.paid_amount + 100_000))  # type: ignore[union-attr]
    with pytest.raises(
        InvariantViolation, match=r"disbursed = in flight \+ paid \+ bank-rejected: .*\(off by -100,000\)"
    ):
        ledger.check_invariants()


def test_a_payment_record_that_disagrees_with_the_roll_is_caught_by_the_full_audit() -> None:
    store, reg, roll, _, ledger = build(3)
    ledger.submit(mail_form(reg, roll, 0), "f", DAY)
    pay_all(ledger)
    with store.transaction() as tx:
        bid, amount, on = tx.get("payout.payments", 0)  # type: ignore[misc]
        tx.put("payout.payments", 0, (bid, amount + 1, on))
    ledger.check_invariants()  # the running totals alone cannot see it
    with pytest.raises(InvariantViolation, match="household 0: paid .* yen, entitled to"):
        ledger.check_invariants(full=True)
