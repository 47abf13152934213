"""The central eligibility service: by card through JPKI and OCSP, by insured number, and refusals."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from _jpki_fixtures import NOW  # the centre's founding instant, 09:30 JST

from emulators.demo import DEMO_AUTH_PIN
from emulators.jpki_client import JpkiClient
from twin.services.eligibility import Consent, EligibilityError
from twin.services.eligibility.qualifications import PersonFacts


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
