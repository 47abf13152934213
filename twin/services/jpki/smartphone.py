"""スマホ用電子証明書: the JPKI certificates held by a smartphone, issued on the strength of the card.

Picture a holder at home with an Android phone and the My Number card. The Myna Portal app asks the
phone's secure element to make two key pairs, then has the holder put the card on the phone: the card
signs the application (the new public keys, the platform, a device id) with its user-authentication
key after the 4-digit auth PIN, and with its signature key after the signature password. J-LIS checks
both card certificates (right CA, in their validity period, in the ledger, not revoked, one holder)
and both signatures, then issues two certificates for the phone: a user-authentication one and a
signature one that carries the same four basic items as the card's. From then on the phone logs in
and signs without the card.

What ties the phone to the card (all held here, in :class:`SmartphoneIssuer`):

* the phone certificates lapse when the card's do: a lost card, a suspended or returned card, a change
  of the four basic items (which ends the card's signature certificate) or the holder's death revoke
  the phone certificates too (reason ``card_revoked``): each phone certificate's ledger line names the
  card serials it hangs on (``IssuedCertificate.linked_to``), and :meth:`Jpki.revoke` follows them, so
  the link lives wherever the ledger does (memory, SQLite, PostgreSQL);
* losing the phone revokes only the phone's certificates (:meth:`SmartphoneIssuer.report_phone_loss`);
* the phone certificates end when the card certificates end (their ``not_after`` is copied);
* the service starts on the platform's date: Android 2023-05-11, iPhone 2025-06-24 (sources in
  docs/CARD_PROTOCOL.md §12); an application before that date is refused.

Sourced: issuance goes through the card's signature certificate and its password. Assumed: the card
also signs with its auth key after the auth PIN (so both card certificates are checked).

The CA is the same pair of J-LIS authorities (assumed: the public record names J-LIS as issuer of the
smartphone certificates but this twin could not confirm whether separate CA keys are used); what marks a
smartphone certificate is its **own certificate policy OID** (:data:`PHONE_AUTH_POLICY`,
:data:`PHONE_SIGN_POLICY`). The OID values are **assumed** (the J-LIS smartphone profile was not
retrievable here); they sit on the card policies' arc with a distinct last-but-one component.
The token labels in the secure element (``JPKIAPGPSETOKEN`` Android, ``JPKIAPIOSTOKEN`` iPhone) are
sourced from public client code (docs/CARD_PROTOCOL.md §5).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from twin.services.jpki import profile
from twin.services.jpki.ca import _key_usage, check_public_key
from twin.services.jpki.errors import JpkiError
from twin.services.jpki.profile import CaKind, aware, japan_date
from twin.services.jpki.store import RevocationReason
from twin.services.jpki.validation import Outcome

#: ASSUMED policy OIDs of the smartphone profile (the card's are .1.3.30 and .1.1.20)
PHONE_AUTH_POLICY: Final = ObjectIdentifier("1.2.392.200149.8.5.1.3.40")
PHONE_SIGN_POLICY: Final = ObjectIdentifier("1.2.392.200149.8.5.1.1.40")


class Platform(StrEnum):
    """The two phone platforms J-LIS issues to, with their secure element's token label."""

    ANDROID = "android"
    IPHONE = "iphone"

    @classmethod
    def parse(cls, value: object) -> Platform:
        try:
            return cls(value)
        except ValueError:
            raise PhoneIssuanceError(f"platform: {value!r} is not allowed; use 'android' or 'iphone'") from None

    @property
    def token_label(self) -> str:
        return "JPKIAPGPSETOKEN" if self is Platform.ANDROID else "JPKIAPIOSTOKEN"


#: first day the smartphone certificates could be issued (sourced: docs/CARD_PROTOCOL.md §12)
SERVICE_START: Final = {Platform.ANDROID: date(2023, 5, 11), Platform.IPHONE: date(2025, 6, 24)}


class PhoneIssuanceError(JpkiError):
    """A smartphone-certificate application the centre refuses (the message names the check)."""


class TokenKind(StrEnum):
    """Which token holds a JPKI certificate, read from its certificate policy."""

    CARD = "card"
    PHONE = "phone"


def token_kind(cert: x509.Certificate) -> TokenKind:
    """``phone`` for a certificate under the smartphone profile, ``card`` for the card's profile."""
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        raise PhoneIssuanceError("certificate: no certificatePolicies; not a JPKI holder certificate") from None
    oids = {p.policy_identifier for p in policies}
    if oids & {PHONE_AUTH_POLICY, PHONE_SIGN_POLICY}:
        return TokenKind.PHONE
    if oids & {profile.AUTH_POLICY, profile.SIGN_POLICY}:
        return TokenKind.CARD
    raise PhoneIssuanceError(f"certificate: policies {sorted(o.dotted_string for o in oids)} are not JPKI's")


@dataclass(frozen=True)
class PhoneApplication:
    """What the card signs to ask for smartphone certificates (both public keys, the platform, a device id)."""

    platform: Platform
    auth_public_key: rsa.RSAPublicKey
    sign_public_key: rsa.RSAPublicKey
    device_id: str  # an opaque id the app makes for this phone (no personal data)

    def signing_bytes(self) -> bytes:
        """The exact bytes both card keys sign: canonical JSON with the SHA-256 of each public key."""

        def fingerprint(key: rsa.RSAPublicKey) -> str:
            der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            return hashlib.sha256(der).hexdigest()

        body = {
            "act": "smartphone_certificates",
            "platform": self.platform.value,
            "auth_key": fingerprint(self.auth_public_key),
            "sign_key": fingerprint(self.sign_public_key),
            "device": self.device_id,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class PhoneCertificates:
    """The pair a phone receives, and the card certificates they hang on."""

    platform: Platform
    auth: x509.Certificate
    sign: x509.Certificate
    card_auth_serial: int
    card_sign_serial: int

    @property
    def serials(self) -> tuple[int, int]:
        return self.auth.serial_number, self.sign.serial_number


class SmartphoneIssuer:
    """The smartphone-certificate service of one JPKI centre (スマホ用電子証明書搭載サービス)."""

    def __init__(self, jpki: object) -> None:
        from twin.services.jpki.service import Jpki

        if not isinstance(jpki, Jpki):
            raise TypeError(f"jpki: a Jpki is required, got {type(jpki).__name__}")
        self.jpki = jpki

    def issue(
        self,
        application: PhoneApplication,
        card_auth_certificate: bytes,
        auth_signature: bytes,
        card_sign_certificate: bytes,
        sign_signature: bytes,
        now: datetime,
    ) -> PhoneCertificates:
        """Check the card's two certificates and signatures over ``application``; issue the phone pair."""
        now = aware(now)
        if not isinstance(application, PhoneApplication):
            raise PhoneIssuanceError(f"application: a PhoneApplication is required, got {type(application).__name__}")
        platform = Platform.parse(application.platform)
        start = SERVICE_START[platform]
        if japan_date(now) < start:
            raise PhoneIssuanceError(
                f"platform {platform.value}: smartphone certificates are issued from {start.isoformat()}, "
                f"not on {japan_date(now).isoformat()}"
            )
        for key in (application.auth_public_key, application.sign_public_key):
            check_public_key(key)
        document = application.signing_bytes()
        card_auth = self._card_certificate(card_auth_certificate, CaKind.AUTH, now)
        card_sign = self._card_certificate(card_sign_certificate, CaKind.SIGN, now)
        for cert, signature, what in ((card_auth, auth_signature, "auth PIN"), (card_sign, sign_signature,
                                                                                 "signature password")):  # fmt: skip
            try:
                cert.public_key().verify(signature, document, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr, call-arg, arg-type]
            except (InvalidSignature, TypeError, ValueError):
                raise PhoneIssuanceError(
                    f"application: the card's signature with its {what} key does not verify over the application"
                ) from None
        auth_record = self.jpki.store.get(card_auth.serial_number)
        sign_record = self.jpki.store.get(card_sign.serial_number)
        assert auth_record is not None and sign_record is not None  # validate() found both in the ledger
        if auth_record.person_ref is None or auth_record.person_ref != sign_record.person_ref:
            raise PhoneIssuanceError("card certificates: the auth and signature certificates are not one holder's")
        code = auth_record.municipality_code
        if code is None:
            raise PhoneIssuanceError("card auth certificate: the ledger names no municipality for it")
        not_after = min(card_auth.not_valid_after_utc, card_sign.not_valid_after_utc)
        person = auth_record.person_ref
        links = (card_auth.serial_number, card_sign.serial_number)
        phone_auth = self._issue_one(CaKind.AUTH, application.auth_public_key, card_sign, now, not_after, code,
                                     person, links)  # fmt: skip
        try:
            phone_sign = self._issue_one(CaKind.SIGN, application.sign_public_key, card_sign, now, not_after, code,
                                         person, links)  # fmt: skip
        except JpkiError:  # never leave half a pair usable: the ledger cannot unsign, so it revokes
            self.jpki.revoke(phone_auth.serial_number, RevocationReason.UNSPECIFIED, now)
            raise
        return PhoneCertificates(platform, phone_auth, phone_sign, card_auth.serial_number, card_sign.serial_number)

    def report_phone_loss(self, phone: PhoneCertificates, now: datetime) -> list[int]:
        """The phone is lost (or wiped, or replaced): its two certificates are revoked, the card's stay."""
        done = []
        for serial in phone.serials:
            record = self.jpki.store.get(serial)
            if record is not None and record.revoked_at is None:
                self.jpki.revoke(serial, RevocationReason.LOSS, now)
                done.append(serial)
        return done

    # ---- helpers -----------------------------------------------------------------------------
    def _card_certificate(self, der: bytes, kind: CaKind, now: datetime) -> x509.Certificate:
        try:
            cert = x509.load_der_x509_certificate(der)
        except (ValueError, TypeError):
            raise PhoneIssuanceError(f"card {kind.value} certificate: not a DER X.509 certificate") from None
        from twin.services.assurance import AssuranceRefused, for_certificate, require

        try:
            require("jpki.smartphone_issuance", for_certificate(cert))
        except AssuranceRefused as exc:
            raise PhoneIssuanceError(f"card {kind.value} certificate: {exc}") from None
        result = self.jpki.validate(cert, now, kind)
        if result.outcome is not Outcome.VALID:
            detail = f" ({result.detail})" if result.detail else ""
            raise PhoneIssuanceError(f"card {kind.value} certificate: {result.outcome.value}{detail}")
        return cert

    def _issue_one(
        self,
        kind: CaKind,
        public_key: rsa.RSAPublicKey,
        card_sign: x509.Certificate,
        now: datetime,
        not_after: datetime,
        code: int,
        person_ref: str,
        links: tuple[int, int],
    ) -> x509.Certificate:
        ca = self.jpki.authority(kind)
        serial = self.jpki.store.next_serial()
        if kind is CaKind.AUTH:
            subject = profile.holder_name(profile.opaque_id(kind, serial, code))
            extensions = [
                (_key_usage(digital_signature=True), True),
                (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
                (x509.CertificatePolicies([x509.PolicyInformation(PHONE_AUTH_POLICY, None)]), True),
            ]
        else:  # the same four basic items as the card's signature certificate
            san = card_sign.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            subject = profile.holder_name(profile.opaque_id(kind, serial, code), code)
            extensions = [
                (_key_usage(digital_signature=True, content_commitment=True), True),
                (san, False),
                (x509.CertificatePolicies([x509.PolicyInformation(PHONE_SIGN_POLICY, None)]), True),
            ]
        extensions += ca.holder_extensions(code)
        return ca.issue(
            public_key, subject, now, not_after, extensions, serial=serial, person_ref=person_ref,
            municipality_code=code, linked_to=links,
        )  # fmt: skip
