"""Checking a presented certificate the way a relying party must (証明書の有効性確認).

A bank, a hospital reader or the Myna Portal is handed a certificate and must decide: was it issued
by the right JPKI root, is it inside its validity period, and has it been revoked? The answer is a
:class:`ValidationResult` naming which check failed, so callers branch on ``result.outcome``
instead of parsing messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cryptography import x509

from twin.services.jpki.profile import CaKind
from twin.services.jpki.store import RevocationReason


class CertState(StrEnum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CertStatus:
    """Revocation status of one certificate at one time, as the CA's ledger says."""

    state: CertState
    revoked_at: datetime | None = None
    reason: RevocationReason | None = None

    @property
    def is_good(self) -> bool:
        return self.state is CertState.GOOD


class Outcome(StrEnum):
    VALID = "valid"
    UNKNOWN_ISSUER = "unknown_issuer"  # not issued under either JPKI root
    WRONG_CA = "wrong_ca"  # chains to the other JPKI root than the one required
    BAD_SIGNATURE = "bad_signature"  # names a JPKI issuer but its signature does not verify
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    NOT_IN_LEDGER = "not_in_ledger"  # signed by the CA key but absent from the ledger (or different bytes)


@dataclass(frozen=True)
class ValidationResult:
    """The verdict on a certificate: ``ok`` only when ``outcome`` is VALID."""

    outcome: Outcome
    serial: int
    ca: CaKind | None = None
    status: CertStatus | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.VALID

    def __bool__(self) -> bool:
        return self.ok


def time_verdict(cert: x509.Certificate, now: datetime) -> Outcome | None:
    if now < cert.not_valid_before_utc:
        return Outcome.NOT_YET_VALID
    if now > cert.not_valid_after_utc:
        return Outcome.EXPIRED
    return None


class SignedCheck(StrEnum):
    """Which check a signed answer failed (:func:`check_signed`); the portal's and the platform
    operator's refusal codes use the same values."""

    MALFORMED = "malformed"  # the certificate is not DER X.509
    CERTIFICATE = "certificate"  # not valid at the centre (outcome in the message), or not an RSA key
    BAD_SIGNATURE = "bad_signature"  # the signature does not verify over the bytes


class SignedCheckError(ValueError):
    def __init__(self, check: SignedCheck, message: str) -> None:
        self.check = check
        super().__init__(message)


def check_signed(jpki: object, certificate_der: bytes, data: bytes, signature: bytes, now: datetime,
                 kind: CaKind | str, what: str = "certificate") -> x509.Certificate:  # fmt: skip
    """The certificate, if it is valid at the centre (``jpki.validate`` for ``kind``) and its RSA key
    signed exactly ``data`` (PKCS #1 v1.5, SHA-256); else :class:`SignedCheckError` naming the first
    failed check. ``what`` names the certificate in the messages."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    try:
        cert = x509.load_der_x509_certificate(certificate_der)
    except (ValueError, TypeError):
        raise SignedCheckError(SignedCheck.MALFORMED, f"{what}: not a DER X.509 certificate") from None
    result = jpki.validate(cert, now, kind)  # type: ignore[attr-defined]
    if result.outcome is not Outcome.VALID:
        detail = f" ({result.detail})" if result.detail and result.detail != result.outcome.value else ""
        raise SignedCheckError(SignedCheck.CERTIFICATE, f"{what}: {result.outcome.value}{detail}")
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignedCheckError(SignedCheck.CERTIFICATE, f"{what}: not an RSA key")
    try:
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, TypeError):
        raise SignedCheckError(SignedCheck.BAD_SIGNATURE, "signature: does not verify over the signed bytes") from None
    return cert
