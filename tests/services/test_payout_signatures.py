"""The ledger's JPKI check of online applications, with real RSA: a card's signature over the form
verifies; an altered form, a certificate from another CA, an expired or revoked certificate and an
unsigned form are refused, each counted by kind; a sample is chosen by hash, the same every time."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from payout_helpers import DAY, account_for, build

from twin.models.payout.cards import ApplicantCards
from twin.services.payout import Application, Channel, Outcome, Reason, SignatureCheck
from twin.services.payout.signatures import sample_selected


@pytest.fixture(scope="module")
def world() -> dict:
    store, reg, roll, accounts, _ = build(30)
    cards = ApplicantCards(reg, dt.date(2020, 4, 27))
    forms = []
    for h in range(6):
        head = roll.head_of(h)
        forms.append(Application(h, head, Channel.ONLINE, account_for(reg, head), roll.members(h)))
    return {"reg": reg, "roll": roll, "cards": cards, "forms": forms, "signed": [cards.sign(f) for f in forms]}


def test_a_card_signature_verifies_and_an_altered_form_does_not(world: dict) -> None:
    check = SignatureCheck(world["cards"].issuer)
    for form, signed in zip(world["forms"], world["signed"], strict=True):
        assert check(signed, DAY)
        assert not check(form, DAY)  # unsigned
        altered = dataclasses.replace(signed, account=dataclasses.replace(signed.account, number="7654321"))
        assert not check(altered, DAY)
        swapped = dataclasses.replace(signed, members=signed.members[:-1] or (10**6,))
        assert check.problem(swapped, DAY) == "bad_signature"
    # problem() only looks; calls count
    assert check.counts["valid"] == 6 and check.counts["unsigned"] == 6 and check.counts["bad_signature"] == 6


def test_certificates_from_another_ca_expired_or_revoked_are_refused(world: dict) -> None:
    signed = world["signed"][0]
    # deriving another CA's key costs seconds: the JPKI authentication CA serves as the stranger
    stranger = SignatureCheck(world["cards"].jpki.auth_ca.certificate)  # the wrong anchor
    assert stranger.problem(signed, DAY) == "untrusted_certificate"
    check = SignatureCheck(world["cards"].issuer)
    assert check.problem(signed, dt.date(2060, 1, 1)) == "expired"
    assert check.problem(signed, dt.date(2015, 1, 1)) == "not_yet_valid"
    revoked = SignatureCheck(world["cards"].issuer, revoked=lambda cert, on: True)
    assert revoked.problem(signed, DAY) == "revoked"
    junk = dataclasses.replace(signed, signature=dataclasses.replace(signed.signature, certificate=b"\x30\x03abc"))
    assert check.problem(junk, DAY) == "malformed_certificate"


def test_the_ledger_refuses_a_bad_signature_and_counts_it(world: dict) -> None:
    from twin.services.payout import EntitlementRoll, PayoutLedger, Programme
    from twin.services.store import MemoryStore

    prog = Programme(channels=frozenset({Channel.MAIL, Channel.ONLINE}))
    roll = EntitlementRoll.from_registry(world["reg"], prog)
    check = SignatureCheck(world["cards"].issuer)
    ledger = PayoutLedger(MemoryStore(), prog, roll, verify_signature=check)
    signed = world["signed"]
    altered = dataclasses.replace(signed[1], account=dataclasses.replace(signed[1].account, holder="スズキ ハナコ"))
    d = ledger.submit_many([(signed[0], "a"), (altered, "b"), (world["forms"][2], "c")], DAY)
    assert [x.outcome for x in d] == [Outcome.ACCEPTED, Outcome.REJECTED, Outcome.REJECTED]
    assert d[1].reason is Reason.SIGNATURE_INVALID and d[2].reason is Reason.SIGNATURE_INVALID
    assert ledger.counts()["rejected:signature_invalid"] == 2
    assert check.counts["bad_signature"] == 1 and check.counts["unsigned"] == 1


def test_the_sample_is_chosen_by_hash_and_has_the_share_asked() -> None:
    picks = [sample_selected(h, h + 7, 0.1, "opt") for h in range(20_000)]
    assert picks == [sample_selected(h, h + 7, 0.1, "opt") for h in range(20_000)]
    assert abs(sum(picks) / len(picks) - 0.1) < 0.01
    assert all(sample_selected(h, 1, 1.0) for h in range(100))
    assert not any(sample_selected(h, 1, 0.0) for h in range(100))


def test_a_child_born_after_the_runs_card_date_gets_a_card_but_no_signature(world: dict) -> None:
    """At national scale a form from a baby born after 2020-02-03 (the run's card date) stopped a partition
    with "birth date ... is after the issue date": the card is now issued after the birth, and the child's form
    goes unsigned like any child's."""
    from twin.services.jpki.errors import UnderageError

    form = world["forms"][0]
    r = world["reg"].resident(form.applicant, dt.date(2020, 4, 27))
    baby = dataclasses.replace(r, birth_date=dt.date(2020, 2, 27))

    class OneResident:
        def resident(self, resident: int, on: dt.date) -> object:
            return baby

    cards = ApplicantCards(OneResident(), dt.date(2020, 4, 27))  # type: ignore[arg-type]
    with pytest.raises(UnderageError):  # what the agent run counts as a child's unsigned form (cards:underage)
        cards.sign(form)
