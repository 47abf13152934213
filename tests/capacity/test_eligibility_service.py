"""The central eligibility service: by card through JPKI and OCSP, by insured number, and refusals.

A card answers only once it is registered as the insurance card (健康保険証利用登録); the reader may
register it on the spot (初回登録), through the qualification book's own rule."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest
from _jpki_fixtures import NOW  # the centre's founding instant, 09:30 JST

from emulators.demo import DEMO_AUTH_PIN
from emulators.jpki_client import JpkiClient
from twin.services.eligibility import Consent, EligibilityError, EligibilityService, QualificationBook
from twin.services.eligibility.qualifications import PersonFacts
from twin.services.jpki.profile import japan_date
from twin.services.store import MemoryStore


def _authenticate(card, challenge=b"reception-challenge-0001"):
    with card.reader() as reader:
        cert, sig = JpkiClient(reader).authenticate(DEMO_AUTH_PIN, challenge)
    return cert, sig, challenge


def test_a_card_with_a_pin_signature_gets_the_holders_current_qualification(world):
    _, _, svc, people = world
    _, _, q, card = people["p-1"]
    cert, sig, challenge = _authenticate(card)
    answer = svc.check_by_card(cert, NOW, challenge=challenge, signature=sig, facility_type="pharmacy")
    assert answer.insured == q.key and answer.limit_category == "ウ" and answer.method == "card"


def test_consent_given_on_the_reader_is_passed_on_and_nothing_is_shared_without_it(world):
    _, _, svc, people = world
    cert, _, _ = _authenticate(people["p-2"][3])
    shared = svc.check_by_card(cert, NOW, face_verified=True, consent=Consent(medication=True, checkup=False))
    assert (shared.share_medication, shared.share_checkup) == (True, False)
    none = svc.check_by_card(cert, NOW, face_verified=True)
    assert (none.share_medication, none.share_checkup) == (False, False)


def test_a_revoked_card_is_refused_through_ocsp(world):
    jpki, _, svc, people = world
    cert, sig, challenge = _authenticate(people["p-1"][3])
    jpki.revoke_person("p-1", "loss", NOW + timedelta(minutes=1))
    with pytest.raises(EligibilityError) as e:
        svc.check_by_card(cert, NOW + timedelta(minutes=2), challenge=challenge, signature=sig)
    assert e.value.code == "revoked"


def test_a_signature_over_another_challenge_is_refused(world):
    _, _, svc, people = world
    cert, sig, _ = _authenticate(people["p-1"][3])
    with pytest.raises(EligibilityError) as e:
        svc.check_by_card(cert, NOW, challenge=b"a different challenge", signature=sig)
    assert e.value.code == "bad_signature"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"certificate_der": b"not a certificate"}, "bad_certificate"),
        ({"certificate_der": b""}, "bad_certificate"),
        ({"facility_type": "veterinary"}, "bad_facility_type"),
        ({}, "identity_not_confirmed"),
    ],
)
def test_bad_card_requests_get_a_named_refusal(world, kwargs, code):
    _, _, svc, people = world
    cert, _, _ = _authenticate(people["p-1"][3])
    args = {"certificate_der": cert, **kwargs}
    with pytest.raises(EligibilityError) as e:
        svc.check_by_card(args.pop("certificate_der"), NOW, **args)
    assert e.value.code == code
    assert str(e.value)  # the message names the problem
    assert "1234" not in str(e.value)  # never a PIN


def test_an_expired_certificate_and_an_ended_qualification_are_refused(world):
    jpki, book, svc, people = world
    cert, _, _ = _authenticate(people["p-1"][3])
    with pytest.raises(EligibilityError) as e:
        svc.check_by_card(cert, NOW + timedelta(days=365 * 12), face_verified=True)
    assert e.value.code == "expired"
    book.end(people["p-1"][2].key, date(2026, 3, 31))
    with pytest.raises(EligibilityError) as e:
        svc.check_by_card(cert, NOW, face_verified=True)
    assert e.value.code == "no_qualification"


def test_the_answer_carries_the_qualifications_first_and_last_day_as_the_book_holds_them(world):
    """A qualification ending on day D (Japan time) is answered through D with valid_until == D and refused from
    the first instant of D+1, by card and by number; until it ends, the answer says so (valid_until None)."""
    _, book, svc, people = world
    _, facts, q, card = people["p-1"]
    cert, _, _ = _authenticate(card)
    checks = {"card": lambda at: svc.check_by_card(cert, at, face_verified=True),
              "number": lambda at: svc.check_by_number(*q.key, facts.birth_date, at)}  # fmt: skip
    for check in checks.values():
        open_ended = check(NOW)
        assert (open_ended.valid_from, open_ended.valid_until) == (date(2020, 4, 1), None)
    last_day = japan_date(NOW) + timedelta(days=2)
    book.end(q.key, last_day)
    jst = timezone(timedelta(hours=9))
    last_moment = datetime.combine(last_day, time(23, 59, 59), jst)
    for method, check in checks.items():
        answer = check(last_moment)
        assert answer.method == method and answer.insured == q.key
        assert (answer.valid_from, answer.valid_until) == (q.valid_from, last_day) == (
            book.get(q.key).valid_from, book.get(q.key).valid_until)  # fmt: skip
        with pytest.raises(EligibilityError) as e:
            check(last_moment + timedelta(seconds=1))  # 00:00 JST of the next day
        assert e.value.code == "no_qualification", method


def test_check_by_insured_number_needs_the_matching_birth_date_and_shares_nothing(world):
    _, _, svc, people = world
    _, facts, q, _ = people["p-2"]
    answer = svc.check_by_number(*q.key, facts.birth_date, NOW)
    assert answer.insured == q.key and not answer.share_medication and answer.method == "number"
    with pytest.raises(EligibilityError) as e:
        svc.check_by_number(*q.key, facts.birth_date + timedelta(days=1), NOW)
    assert e.value.code == "birth_date_mismatch"


@pytest.mark.parametrize(
    ("key", "code"),
    [
        (("0613001", "12340", "00"), "bad_insurer_number"),
        (("06130012", "", "00"), "bad_insured_number"),
        (("06130012", "12340", "0"), "bad_branch"),
        (("06130012", "99999", "00"), "unknown_insured"),
    ],
)
def test_bad_insured_numbers_get_a_named_refusal(world, key, code):
    _, _, svc, _ = world
    with pytest.raises(EligibilityError) as e:
        svc.check_by_number(*key, date(1970, 1, 1), NOW)
    assert e.value.code == code
    assert code.removeprefix("bad_").removeprefix("unknown_") in str(e.value)  # names the field


def test_a_mislinked_card_gets_someone_elses_qualification(world):
    """The failure the 2023 review looked for: p-2's qualification linked to p-1 answers for p-1."""
    _, book, svc, people = world
    q2 = people["p-2"][2]
    book.link(q2.key, "p-1")
    cert, _, _ = _authenticate(people["p-1"][3])
    answer = svc.check_by_card(cert, NOW, face_verified=True)
    assert answer.insured == q2.key  # a wrong answer: p-1's own is people["p-1"][2].key
    assert book.current_for("p-2", NOW.date()) is None
    report = book.detect_mislinks(lambda ref: people[ref][1], truth=[q2.key])
    assert report.flagged == (q2.key,) and report.recall == 1.0 and report.precision == 1.0


def test_facts_record_is_compared_item_by_item():
    a = PersonFacts("山田\u3000太郎", date(1980, 2, 17), "1")
    assert a != PersonFacts("山田\u3000太郎", date(1980, 2, 17), "2")


@pytest.fixture
def unregistered(world):
    """The same two people and cards, in a book where the insurer linked p-1's qualification (p-2's not) and
    neither has registered the card as the insurance card."""
    jpki, _, _, people = world
    book = QualificationBook(MemoryStore())
    for ref in ("p-1", "p-2"):
        book.register(people[ref][2])
    book.link(people["p-1"][2].key, "p-1")
    return book, EligibilityService(book, jpki), people


def test_a_card_not_registered_for_insurance_use_is_refused_and_nothing_is_recorded(unregistered):
    book, svc, people = unregistered
    cert, sig, challenge = _authenticate(people["p-1"][3])
    with pytest.raises(EligibilityError, match="not registered for use as the health-insurance card") as e:
        svc.check_by_card(cert, NOW, challenge=challenge, signature=sig)
    assert e.value.code == "card_not_registered"
    assert book.card_use("p-1") is None
    q = people["p-1"][2]  # the insurance-card route does not ask about the card
    assert svc.check_by_number(*q.key, people["p-1"][1].birth_date, NOW).insured == q.key


def test_the_reader_registers_the_card_on_the_spot_and_the_check_then_answers(unregistered):
    book, svc, people = unregistered
    cert, sig, challenge = _authenticate(people["p-1"][3])
    answer = svc.check_by_card(cert, NOW, challenge=challenge, signature=sig, registration_key="reader-1")
    assert answer.insured == people["p-1"][2].key and answer.registered_now
    assert answer.card_use_registered_on == date(2026, 4, 1)  # the day in Japan
    assert book.card_use_registered("p-1", date(2026, 4, 1)) and not book.card_use_registered("p-1", date(2026, 3, 31))
    again = svc.check_by_card(cert, NOW + timedelta(days=1), face_verified=True)  # no registration asked: answers
    assert not again.registered_now and again.card_use_registered_on == date(2026, 4, 1)
    later = svc.check_by_card(cert, NOW + timedelta(days=2), face_verified=True, registration_key="reader-2")
    assert not later.registered_now and book.card_use("p-1").on == date(2026, 4, 1), "registered once"


def test_registration_on_the_spot_follows_the_books_rule_and_the_certificates_validity(unregistered):
    book, svc, people = unregistered
    jpki = svc.jpki
    cert2, _, _ = _authenticate(people["p-2"][3])
    with pytest.raises(EligibilityError, match="no health-insurance qualification current") as e:
        svc.check_by_card(cert2, NOW, face_verified=True, registration_key="reader-1")
    assert e.value.code == "no_qualification" and book.card_use("p-2") is None
    cert1, _, _ = _authenticate(people["p-1"][3])
    with pytest.raises(EligibilityError) as e:  # an expired certificate registers nothing
        svc.check_by_card(cert1, NOW + timedelta(days=365 * 12), face_verified=True, registration_key="reader-2")
    assert e.value.code == "expired" and book.card_use("p-1") is None
    jpki.revoke_person("p-1", "loss", NOW + timedelta(minutes=1))
    with pytest.raises(EligibilityError) as e:  # nor does a revoked one
        svc.check_by_card(cert1, NOW + timedelta(minutes=2), face_verified=True, registration_key="reader-3")
    assert e.value.code == "revoked" and book.card_use("p-1") is None


def test_a_registration_made_later_in_the_portal_does_not_count_for_an_earlier_day(unregistered):
    book, svc, people = unregistered
    book.register_card_use("p-1", date(2026, 4, 2), key="portal")
    cert, _, _ = _authenticate(people["p-1"][3])
    with pytest.raises(EligibilityError) as e:
        svc.check_by_card(cert, NOW, face_verified=True)
    assert e.value.code == "card_not_registered"
    with pytest.raises(EligibilityError, match="already registered") as e:  # nor can the reader register again
        svc.check_by_card(cert, NOW, face_verified=True, registration_key="reader-1")
    assert e.value.code == "already_registered"
    next_day = svc.check_by_card(cert, NOW + timedelta(days=1), face_verified=True)
    assert next_day.card_use_registered_on == date(2026, 4, 2)
