"""The person's registration of the card as the health-insurance card (健康保険証利用登録), in the service core.

Specification: a person to whom an insurer has linked a qualification current on the day registers her card once;
the insurers' qualification book records the day and the qualification, and says from that day on (not before)
that she had registered, which is the one rule phase 2's insurance part of My Number Points asks. The same
idempotency key returns the first registration; the same key for another person is refused; a second registration
under a new key is refused naming the day of the first; a person without a current linked qualification is refused
and nothing is recorded, the key left unused. Through Myna Portal the registration needs the person's own
user-authentication certificate, valid at that moment: an expired, revoked or another person's one is refused.
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509

from real_backends.load.deployment import Deployment, DeploymentSpec
from real_backends.points_api import OPERATORS
from real_backends.portal_hub import build_portal
from twin.services.eligibility import EligibilityError, InsurerKind, PersonFacts, Qualification, QualificationBook
from twin.services.jpki import RevocationReason
from twin.services.points import Part, Phase, PointsLedger
from twin.services.portal import PortalRefusal, Problem
from twin.services.store import MemoryStore

JULY = dt.date(2022, 7, 1)


def book_with(*people: str, linked: bool = True, until: dt.date | None = None) -> QualificationBook:
    book = QualificationBook(MemoryStore())
    for i, person in enumerate(people):
        q = Qualification("01130012", f"Q{i:05d}", "00", InsurerKind.ASSOCIATION,
                          PersonFacts("ミナ", dt.date(1980, 1, 1), "1"), dt.date(2015, 4, 1), until)  # fmt: skip
        book.register(q)
        if linked:
            book.link(q.key, person)
    return book


def test_a_registration_is_recorded_once_with_its_day_and_counts_from_that_day():
    book = book_with("p-1")
    r = book.register_card_use("p-1", JULY, key="k1")
    assert (r.person_ref, r.on, r.qualification) == ("p-1", JULY, ("01130012", "Q00000", "00"))
    assert book.card_use("p-1") == r
    assert not book.card_use_registered("p-1", JULY - dt.timedelta(days=1))
    assert book.card_use_registered("p-1", JULY) and book.card_use_registered("p-1", dt.date(2030, 1, 1))
    assert not book.card_use_registered("p-2", dt.date(2030, 1, 1))


def test_the_same_key_replays_the_first_registration_and_a_new_key_is_refused_naming_the_first_day():
    book = book_with("p-1", "p-2")
    first = book.register_card_use("p-1", JULY, key="k1")
    assert book.register_card_use("p-1", JULY + dt.timedelta(days=3), key="k1") == first  # a retry: the first answer
    with pytest.raises(EligibilityError) as again:
        book.register_card_use("p-1", JULY + dt.timedelta(days=3), key="k2")
    assert again.value.code == "already_registered" and "since 2022-07-01" in str(again.value)
    with pytest.raises(EligibilityError) as reused:
        book.register_card_use("p-2", JULY, key="k1")  # another person's request under a used key
    assert reused.value.code == "key_reused" and book.card_use("p-2") is None
    assert book.card_use("p-1") == first  # nothing was written twice


@pytest.mark.parametrize("case", ["unlinked", "ended", "unknown"])
def test_without_a_current_linked_qualification_nothing_is_recorded_and_the_key_stays_unused(case):
    book = book_with("p-1", linked=case != "unlinked", until=dt.date(2021, 3, 31) if case == "ended" else None)
    person = "p-9" if case == "unknown" else "p-1"
    with pytest.raises(EligibilityError) as refused:
        book.register_card_use(person, JULY, key="k1")
    assert refused.value.code == "no_qualification" and "2022-07-01" in str(refused.value)
    assert book.card_use(person) is None and not book.card_use_registered(person, dt.date(2099, 1, 1))
    if case == "unlinked":  # the insurer links it later: the same key now registers
        book.link(("01130012", "Q00000", "00"), "p-1")
        assert book.register_card_use("p-1", JULY, key="k1").on == JULY


BAD = [("", "k", "bad_person"), (None, "k", "bad_person"), ("p-1", "", "bad_key"), ("p-1", "x" * 201, "bad_key")]


@pytest.mark.parametrize(("person", "key", "code"), BAD)
def test_bad_input_is_refused_naming_the_field(person, key, code):
    book = book_with("p-1")
    with pytest.raises(EligibilityError) as refused:
        book.register_card_use(person, JULY, key)
    assert refused.value.code == code
    assert book.card_use("p-1") is None


def test_phase_2s_insurance_part_asks_the_book_so_it_follows_the_registration_day():
    book = book_with("resident-1")
    pl = PointsLedger(MemoryStore(), OPERATORS, {Phase.ONE: 10**6, Phase.TWO: 10**6}, b"k" * 32,
                      insurance_linked=book.card_use_registered)  # fmt: skip
    mykey = pl.reserve("resident-1")
    assert pl.apply(mykey, Phase.TWO, "suica", "s-1", dt.date(2020, 3, 1), dt.date(2022, 1, 5), "a").ok
    before = pl.grant_linking(mykey, Part.INSURANCE, JULY, "i-1")
    assert before.reason is not None and before.reason.value == "not_eligible"  # linked, but not registered
    book.register_card_use("resident-1", dt.date(2022, 7, 10), key="reg")
    assert pl.grant_linking(mykey, Part.INSURANCE, dt.date(2022, 7, 9), "i-2").reason.value == "not_eligible"
    granted = pl.grant_linking(mykey, Part.INSURANCE, dt.date(2022, 7, 10), "i-3")
    assert granted.ok and granted.points == 7_500
    pl.check_invariants()


# -- through Myna Portal's core, with the deployment's cards ------------------------------------------------

SPEC = DeploymentSpec(seed=20261204, holders=7, revoked_every=0, key_pool=2)  # holder 6's qualification ended
NOW = dt.datetime(2026, 9, 21, 14, 13, 20, tzinfo=dt.UTC)  # 23:13 in Japan: the day is Japan's


@pytest.fixture
def portal():
    d = Deployment.build(SPEC)  # each test its own centre: some revoke a certificate
    return d, build_portal(d, MemoryStore())


def serial(d: Deployment, i: int) -> int:
    return d.holders[i].auth_certificate.serial_number


def test_the_portal_registers_with_the_persons_own_valid_card_on_the_day_in_japan(portal):
    d, hub = portal
    late = NOW + dt.timedelta(hours=1)  # 2026-09-22 00:13 in Japan, still the 21st in UTC
    r = hub.register_insurance_card("holder-0", serial(d, 0), "k", late)
    assert r.on == dt.date(2026, 9, 22)
    q, reg = hub.insurance_card("holder-0", r.on)
    assert q is not None and q.insurer_number == "01130012" and reg == r
    assert hub.qualifications is not None and hub.qualifications.card_use_registered("holder-0", r.on)
    with pytest.raises(PortalRefusal) as again:
        hub.register_insurance_card("holder-0", serial(d, 0), "k2", late)
    assert again.value.problem is Problem.CONFLICT and "since 2026-09-22" in str(again.value)


def test_the_portal_refuses_another_persons_a_revoked_or_an_expired_certificate(portal):
    d, hub = portal
    with pytest.raises(PortalRefusal) as theirs:
        hub.register_insurance_card("holder-0", serial(d, 1), "k", NOW)
    assert theirs.value.problem is Problem.NOT_YOURS
    with pytest.raises(PortalRefusal) as expired:
        hub.register_insurance_card("holder-0", serial(d, 0), "k", dt.datetime(2032, 1, 5, tzinfo=dt.UTC))
    assert expired.value.problem is Problem.CERTIFICATE and "expired" in str(expired.value)
    sign = x509.load_der_x509_certificate(d.holders[0].perso.sign_certificate).serial_number
    with pytest.raises(PortalRefusal) as wrong_kind:
        hub.register_insurance_card("holder-0", sign, "k", NOW)
    assert wrong_kind.value.problem is Problem.CERTIFICATE and "not a user-authentication" in str(wrong_kind.value)
    d.jpki.revoke(d.holders[0].auth_certificate, RevocationReason.LOSS, NOW - dt.timedelta(minutes=5))
    with pytest.raises(PortalRefusal) as revoked:
        hub.register_insurance_card("holder-0", serial(d, 0), "k", NOW)
    assert revoked.value.problem is Problem.CERTIFICATE and "revoked on 2026-09-21 (loss)" in str(revoked.value)
    assert hub.insurance_card("holder-0", NOW.date())[1] is None  # nothing recorded by any refusal


def test_the_portal_refuses_a_person_without_a_qualification_and_records_nothing(portal):
    d, hub = portal
    with pytest.raises(PortalRefusal) as refused:
        hub.register_insurance_card("holder-6", serial(d, 6), "k", NOW)  # hers ended on 2025-03-31
    assert refused.value.problem is Problem.REFUSED and "no health-insurance qualification" in str(refused.value)
    assert hub.insurance_card("holder-6", NOW.date()) == (None, None)
