"""The services accept either JPKI token, card or phone, and grade each login by assurance level.

One holder (``p-1``) has a card and, issued from it, an Android phone. Myna Portal login, a signed
portal act, the eligibility check at a clinic and the payout ledger's signature check are run with
each token; each authentication carries IAL and AAL (DS-500 / NIST SP 800-63); a route refuses a
lower level with the level it needs; once the card is revoked, the phone is refused everywhere.
"""

from __future__ import annotations

import base64
from datetime import date, timedelta

import pytest
from _jpki_fixtures import NOW, holder_keys, infra_keys, jpki
from _phone_fixtures import phone_for, phone_keys

from emulators.demo import DEMO_AUTH_PIN, DEMO_SIGN_PASSWORD
from emulators.jpki_client import CardToken
from real_backends.portal_api import CardAuthenticator, LoginRefused
from twin.services.assurance import Aal, AssuranceRefused, AuthResult, Ial, Method, require
from twin.services.eligibility import (
    EligibilityError,
    EligibilityService,
    InsurerKind,
    PersonFacts,
    Qualification,
    QualificationBook,
)
from twin.services.jpki import PhoneApplication, PhoneIssuanceError, Platform, SmartphoneIssuer
from twin.services.payout import Application, Channel, SignatureCheck
from twin.services.payout.records import OnlineSignature
from twin.services.portal.signatures import PortalRefusal, signing_bytes, verify_signed
from twin.services.store import MemoryStore

__all__ = ["holder_keys", "infra_keys", "jpki", "phone_keys"]
LATER = NOW + timedelta(minutes=10)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.fixture
def tokens(jpki, holder_keys, phone_keys):
    card, issued = phone_for(jpki, holder_keys, phone_keys, NOW)
    return {"card": CardToken(card), "phone": issued.token, "phone_certs": issued.certificates}


@pytest.fixture
def authenticator(jpki):
    return CardAuthenticator(jpki, b"0123456789abcdef0123", clock=lambda: LATER.timestamp())


def login(authenticator, token):
    challenge = authenticator.challenge().token
    auth = token.authenticate(challenge.encode(), pin=DEMO_AUTH_PIN)
    return authenticator.authenticate(challenge, b64(auth.certificate), b64(auth.signature))


def test_portal_login_accepts_both_tokens_and_grades_each(tokens, authenticator):
    card_cert, card_level = login(authenticator, tokens["card"])
    phone_cert, phone_level = login(authenticator, tokens["phone"])
    assert (card_level.method, card_level.ial, card_level.aal) == (Method.CARD_PIN, Ial.IAL3, Aal.AAL3)
    assert (phone_level.method, phone_level.ial, phone_level.aal) == (Method.PHONE_PIN, Ial.IAL3, Aal.AAL2)
    assert phone_level.serial == tokens["phone_certs"].auth.serial_number != card_cert.serial_number


def test_a_phone_is_refused_at_login_once_its_card_was_revoked(tokens, authenticator, jpki):
    login(authenticator, tokens["phone"])
    jpki.revoke(tokens["phone_certs"].card_auth_serial, "loss", NOW + timedelta(minutes=6))
    with pytest.raises(LoginRefused, match=r"certificate: revoked \(card_revoked\)") as refused:
        login(authenticator, tokens["phone"])
    assert refused.value.status == 403


def test_a_signed_portal_act_verifies_with_either_tokens_signature_certificate(tokens, jpki):
    document = signing_bytes("account_registration", {"bank": "0001", "number": "1234567"})
    for name in ("card", "phone"):
        cert, signature = tokens[name].sign_document(document, DEMO_SIGN_PASSWORD)
        assert verify_signed(jpki, document, signature, cert, LATER) == "p-1", name
    jpki.on_basic_info_changed("p-1", NOW + timedelta(minutes=6))  # moved house: both signature certs lapse
    cert, signature = tokens["phone"].sign_document(document, DEMO_SIGN_PASSWORD)
    with pytest.raises(PortalRefusal, match="signature certificate: revoked"):
        verify_signed(jpki, document, signature, cert, LATER)


@pytest.fixture
def clinic(jpki):
    book = QualificationBook(MemoryStore())
    facts = PersonFacts("番号\u3000太郎", date(1980, 2, 17), "1")
    q = Qualification("06130012", "12340", "00", InsurerKind.SOCIETY, facts, date(2020, 4, 1), limit_category="ウ")
    book.register(q)
    book.link(q.key, "p-1")
    return EligibilityService(book, jpki)


def test_the_phone_cannot_register_the_card_as_the_insurance_card_the_card_can(tokens, clinic):
    phone = tokens["phone"].authenticate(b"c1", pin=DEMO_AUTH_PIN)
    with pytest.raises(EligibilityError, match="register it with the card itself") as e:
        clinic.check_by_card(phone.certificate, LATER, challenge=b"c1", signature=phone.signature,
                             registration_key="reader-1")  # fmt: skip
    assert e.value.code == "card_not_registered" and clinic.book.card_use("p-1") is None
    card = tokens["card"].authenticate(b"c2", pin=DEMO_AUTH_PIN)
    assert clinic.check_by_card(card.certificate, LATER, challenge=b"c2", signature=card.signature,
                                registration_key="reader-2").registered_now  # fmt: skip


def test_the_eligibility_check_accepts_the_card_and_the_phone(tokens, clinic):
    clinic.book.register_card_use("p-1", date(2021, 10, 20), key="portal")
    for name, levels in (("card", "IAL3/AAL3"), ("phone", "IAL3/AAL2")):
        auth = tokens[name].authenticate(b"reception-challenge", pin=DEMO_AUTH_PIN)
        answer = clinic.check_by_card(auth.certificate, LATER, challenge=b"reception-challenge",
                                      signature=auth.signature)  # fmt: skip
        assert answer.insured == ("06130012", "12340", "00") and answer.assurance.levels == levels, name
    phone = tokens["phone"].authenticate(b"c", pin=DEMO_AUTH_PIN)
    with pytest.raises(EligibilityError, match="a smartphone certificate has no card photo to match"):
        clinic.check_by_card(phone.certificate, LATER, face_verified=True)


def test_the_payout_ledger_checks_phone_signed_forms_as_card_signed_ones(tokens, jpki):
    def revoked(cert, on):
        return not jpki.status(cert, LATER).is_good

    check = SignatureCheck(jpki.sign_ca.certificate, revoked=revoked)
    form = Application(7, 70, Channel.ONLINE, None, (70, 71))
    signed = {}
    for name in ("card", "phone"):
        cert, value = tokens[name].sign_document(form.signed_bytes(), DEMO_SIGN_PASSWORD)
        signed[name] = Application(7, 70, Channel.ONLINE, None, (70, 71), signature=OnlineSignature(cert, value))
        assert check.problem(signed[name], LATER.date()) is None, name
    jpki.revoke(tokens["phone_certs"].card_sign_serial, "loss", NOW + timedelta(minutes=6))
    assert check.problem(signed["phone"], LATER.date()) == "revoked"


# ---- levels below a route's requirement: refused with the level needed -----------------------------


def test_an_id_and_password_is_refused_where_the_portal_needs_aal2():
    with pytest.raises(AssuranceRefused) as refused:
        require("portal.login", AuthResult.of("id+password"))
    assert str(refused.value) == (
        "portal.login: requires IAL2/AAL2 (own tax, benefit and medical records through the linkage); "
        "id+password gives IAL1/AAL1 (identity assurance IAL1 < IAL2; authenticator assurance AAL1 < AAL2)"
    )
    assert require("eligibility.check_by_number", AuthResult.of(Method.INSURANCE_CARD)).levels == "IAL1/AAL1"


def test_a_phone_cannot_stand_in_for_the_card_when_issuing_another_phone(tokens, jpki, phone_keys):
    app = PhoneApplication(Platform.ANDROID, phone_keys.key(0).public_key(), phone_keys.key(1).public_key(), "D2")
    auth = tokens["phone"].authenticate(app.signing_bytes(), pin=DEMO_AUTH_PIN)
    sign_cert, sign_sig = tokens["phone"].sign_document(app.signing_bytes(), DEMO_SIGN_PASSWORD)
    with pytest.raises(PhoneIssuanceError, match=r"requires IAL3/AAL3 .* phone\+pin gives IAL3/AAL2 "
                                                 r"\(authenticator assurance AAL2 < AAL3\)"):  # fmt: skip
        SmartphoneIssuer(jpki).issue(app, auth.certificate, auth.signature, sign_cert, sign_sig, LATER)
    assert len(jpki.certificates_of("p-1")) == 4  # the card's two and the phone's two: nothing was issued


def test_an_unknown_method_or_route_is_named():
    with pytest.raises(AssuranceRefused, match="authentication method: 'sms' is not known; use one of card\\+pin"):
        AuthResult.of("sms")
    with pytest.raises(AssuranceRefused, match="route 'portal.nowhere': no assurance requirement is declared"):
        require("portal.nowhere", AuthResult.of("card+pin"))


def test_the_portal_login_route_over_http_takes_the_phone_and_refuses_it_after_the_card(tokens, authenticator, jpki):
    import asyncio

    import httpx
    from fastapi import FastAPI

    from real_backends.portal_api import add_login_routes, install_common

    app = FastAPI()
    install_common(app)
    add_login_routes(app, authenticator)

    async def post_login(token) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as c:
            challenge = (await c.get("/portal/challenge")).json()["challenge"]
            auth = token.authenticate(challenge.encode(), pin=DEMO_AUTH_PIN)
            return await c.post("/portal/login", json={"challenge": challenge, "certificate": b64(auth.certificate),
                                                       "signature": b64(auth.signature)})  # fmt: skip

    for name in ("card", "phone"):
        answer = asyncio.run(post_login(tokens[name]))
        assert answer.status_code == 200 and answer.json()["session"], (name, answer.text)
    assert answer.json()["serial"] == f"{tokens['phone_certs'].auth.serial_number:x}"
    jpki.revoke(tokens["phone_certs"].card_auth_serial, "loss", NOW + timedelta(minutes=6))
    refused = asyncio.run(post_login(tokens["phone"]))
    assert refused.status_code == 403 and "revoked (card_revoked)" in refused.json()["detail"], refused.text
