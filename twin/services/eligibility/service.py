"""The central online eligibility confirmation service (オンライン資格確認等システム).

A patient at a clinic's reception puts a My Number card on the face-authentication reader. The
reader sends the card's user-authentication certificate (利用者証明用電子証明書) to the central
service with either the reader's word that the face matched or a signature the card made over a
challenge after the patient keyed the PIN. The service checks the certificate chains to the JPKI
root and is in date, asks the JPKI OCSP responder whether it is revoked, finds the person the
certificate was issued to and that person's current qualification, and answers: insurer, insured
number, high-cost limit category, the qualification's first and last day (資格取得年月日, and the day
before 資格喪失年月日; none while it lasts), and whether the patient consented on the reader to share
past medication and check-up data (薬剤情報・特定健診情報の提供同意). A patient who brings the old paper
insurance card instead is checked by insured number and birth date; no consent can be given that
way, so nothing is shared.

The card answers for the qualification only once the person has registered it as the
health-insurance card (健康保険証利用登録). A card not registered on the day is refused
(``card_not_registered``), unless the reader asked to register it on the spot: the reader offers
the first registration (初回登録) to a patient whose card is not registered, she agrees, and the
registration is made with the same certificate, already checked valid at that moment and matched to
her face or PIN, through :meth:`QualificationBook.register_card_use` (the one place of the rule: once
per person, a linked qualification current that day); then the check answers. A phone's
certificate (スマホ保険証) answers for a registered person but cannot make the registration: that is
done with the card itself.

:class:`EligibilityService` is clock-free (time is an argument) and keeps no state of its own:
qualifications live in :class:`QualificationBook`, certificates in :class:`twin.services.jpki.Jpki`.
Every refusal is an :class:`EligibilityError` whose ``code`` names the rule (``revoked``,
``bad_signature``, ``card_not_registered``, ``no_qualification`` ...). The API is deliberately small:
two checks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import ocsp

from twin.services.assurance import AssuranceRefused, AuthResult, Method, for_certificate, require
from twin.services.eligibility.qualifications import (
    EligibilityError,
    InsuredKey,
    Qualification,
    QualificationBook,
    insured_key,
)
from twin.services.jpki import Jpki, JpkiError, cert_id, der
from twin.services.jpki.profile import aware, japan_date

FACILITY_TYPES = ("hospital", "clinic", "dental", "pharmacy")


@dataclass(frozen=True)
class Consent:
    """What the patient agreed on the reader's screen to let this facility see."""

    medication: bool = False  # past prescriptions and dispensing (薬剤情報)
    checkup: bool = False  # specific health check-up results (特定健診情報)


@dataclass(frozen=True)
class EligibilityAnswer:
    """The service's answer to one check (no My Number in it)."""

    insured: InsuredKey
    insurer_kind: str
    limit_category: str
    valid_from: dt.date  # the qualification's first day (資格取得年月日)
    valid_until: dt.date | None  # its last day, answered on it and refused the day after; None while it lasts
    share_medication: bool
    share_checkup: bool
    method: str  # "card" or "number"
    assurance: AuthResult | None = None  # how the patient authenticated, with IAL and AAL (twin.services.assurance)
    card_use_registered_on: dt.date | None = None  # card route: the day the card was registered for insurance use
    registered_now: bool = False  # card route: this check made that registration (初回登録 at the reader)


class EligibilityService:
    """Answers eligibility checks by card (via JPKI and OCSP) or by insured number."""

    def __init__(self, book: QualificationBook, jpki: Jpki) -> None:
        self.book = book
        self.jpki = jpki

    def check_by_card(
        self,
        certificate_der: bytes,
        now: datetime,
        *,
        face_verified: bool = False,
        challenge: bytes | None = None,
        signature: bytes | None = None,
        consent: Consent = Consent(),
        facility_type: str = "clinic",
        registration_key: str | None = None,
    ) -> EligibilityAnswer:
        """Certificate -> chain and time -> OCSP -> person -> registered for insurance use -> current qualification.

        ``registration_key``: the patient agreed on the reader to register the card as the insurance card
        (初回登録); if it is not registered yet, it is registered now, on ``now``'s day in Japan, with this
        idempotency key (the book's rules). None: a card not registered on that day is refused
        ``card_not_registered``.
        """
        now = aware(now)
        _facility(facility_type)
        if not isinstance(certificate_der, bytes | bytearray) or not certificate_der:
            raise EligibilityError("bad_certificate", "certificate_der: expected the DER bytes of a certificate")
        try:
            cert = x509.load_der_x509_certificate(bytes(certificate_der))
        except ValueError:
            raise EligibilityError("bad_certificate", "certificate_der: not a DER X.509 certificate") from None
        if not face_verified:
            _verify_signature(cert, challenge, signature)
        verdict = self.jpki.validate(cert, now, kind="auth")
        if verdict.outcome.value not in ("valid", "revoked"):
            code = verdict.outcome.value
            raise EligibilityError(code, f"certificate {cert.serial_number:#x}: {code} ({verdict.detail})")
        if self.ocsp_status(cert, now) != ocsp.OCSPCertStatus.GOOD:
            raise EligibilityError("revoked", f"certificate {cert.serial_number:#x}: OCSP says it is not good")
        try:  # a card with PIN or face, or a phone (スマホ保険証); a phone has no card photo to match
            level = require("eligibility.check_by_card", for_certificate(cert, face_verified=face_verified))
        except (AssuranceRefused, JpkiError) as exc:
            raise EligibilityError("assurance", str(exc)) from None
        record = self.jpki.store.get(cert.serial_number)
        if record is None or record.person_ref is None:
            raise EligibilityError("unknown_person", f"certificate {cert.serial_number:#x} names no registered person")
        day = japan_date(now)
        registered_now = False
        registration = self.book.card_use_by(record.person_ref, day)  # one read; the answer names its day
        if registration is None:
            if registration_key is None:
                raise EligibilityError("card_not_registered", "this card is not registered for use as the "
                                       "health-insurance card (健康保険証利用登録); register it on the reader "
                                       "or in Myna Portal, or show the insurance card")  # fmt: skip
            if level.token != "card":
                raise EligibilityError("card_not_registered", "the card is not registered for use as the health-"
                                       "insurance card; register it with the card itself, not the phone")  # fmt: skip
            try:
                registration = self.book.register_card_use(record.person_ref, day, registration_key)
                registered_now = True
            except EligibilityError as exc:  # another reader registered her a moment ago: go on
                registration = self.book.card_use_by(record.person_ref, day)
                if exc.code != "already_registered" or registration is None:
                    raise
        q = self.book.current_for(record.person_ref, day)
        if q is None:
            raise EligibilityError("no_qualification", "no current qualification is linked to this card's holder")
        return replace(_answer(q, consent, "card", level), registered_now=registered_now,
                       card_use_registered_on=registration.on)

    def check_by_number(
        self,
        insurer_number: str,
        insured_number: str,
        branch: str,
        birth_date: dt.date,
        now: datetime,
        *,
        facility_type: str = "clinic",
    ) -> EligibilityAnswer:
        """The insurance-card route: insured number plus birth date; nothing is shared."""
        now = aware(now)
        _facility(facility_type)
        key = insured_key(insurer_number, insured_number, branch)
        if not isinstance(birth_date, dt.date):
            raise EligibilityError("bad_birth_date", f"birth_date: {birth_date!r} is not a date")
        q = self.book.get(key)
        if q.holder.birth_date != birth_date:
            raise EligibilityError("birth_date_mismatch", "birth_date does not match the insurer's record")
        if not q.current(japan_date(now)):
            raise EligibilityError("no_qualification", f"insured number {key} is not current on {japan_date(now)}")
        level = require("eligibility.check_by_number", AuthResult.of(Method.INSURANCE_CARD))
        return _answer(q, Consent(), "number", level)

    def ocsp_status(self, cert: x509.Certificate, now: datetime) -> ocsp.OCSPCertStatus:
        """Ask the JPKI OCSP responder (the real DER exchange) about ``cert``.

        The request is the one OpenSSL sends (one SHA-1 CertID, no nonce), so the responder can
        answer from its pre-signed cache.
        """
        request = der.seq(der.seq(der.seq(der.seq(cert_id(self.jpki.auth_ca.certificate, cert.serial_number)))))
        resp = ocsp.load_der_ocsp_response(self.jpki.ocsp.respond(request, now))
        if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise EligibilityError("ocsp_unavailable", f"OCSP responder answered {resp.response_status.name}")
        return resp.certificate_status


def _facility(facility_type: object) -> None:
    if facility_type not in FACILITY_TYPES:
        raise EligibilityError(
            "bad_facility_type", f"facility_type: {facility_type!r}; allowed: {', '.join(FACILITY_TYPES)}"
        )


def _verify_signature(cert: x509.Certificate, challenge: bytes | None, signature: bytes | None) -> None:
    if not challenge or not signature:
        raise EligibilityError(
            "identity_not_confirmed", "neither a face match nor a PIN signature over a challenge was given"
        )
    try:
        cert.public_key().verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg,arg-type]
    except InvalidSignature:
        raise EligibilityError("bad_signature", "the signature over the challenge does not verify") from None


def _answer(q: Qualification, consent: Consent, method: str, level: AuthResult) -> EligibilityAnswer:
    return EligibilityAnswer(
        insured=q.key,
        insurer_kind=q.kind.value,
        limit_category=q.limit_category,
        valid_from=q.valid_from,
        valid_until=q.valid_until,
        share_medication=consent.medication,
        share_checkup=consent.checkup,
        method=method,
        assurance=level,
    )
