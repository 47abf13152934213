"""公的個人認証サービス (JPKI): the two certificate authorities behind every My Number card.

The first lines a caller needs::

    from twin.services.jpki import Jpki, BasicInfo, KeySource
    jpki = Jpki.bootstrap(now, KeySource(seed=1))
    cert = jpki.issue_auth_certificate(card_key.public_key(), birth_date, now, municipality_code=13101)

Modules: :mod:`.profile` (what a certificate says), :mod:`.ca` (one authority), :mod:`.store`
(the ledger), :mod:`.ocsp` (the responder and its cache), :mod:`.validation` (typed verdicts),
:mod:`.service` (both CAs as one centre), :mod:`.smartphone` (the smartphone certificates, issued
on the card's signatures and lapsing with its certificates), :mod:`.keys` (**the only module that
holds private keys**), :mod:`.der` (the few DER codecs OCSP needs).
"""

from __future__ import annotations

from twin.services.jpki.ca import CertificateAuthority
from twin.services.jpki.errors import (
    AlreadyRevokedError,
    InvalidNameError,
    InvalidReasonError,
    InvalidTimeError,
    JpkiError,
    SerialReusedError,
    UnderageError,
    UnknownCertificateError,
    WeakKeyError,
)
from twin.services.jpki.keys import KeySource
from twin.services.jpki.ocsp import OcspResponder, ResponseCache, cert_id
from twin.services.jpki.profile import BasicInfo, CaKind, read_basic_info
from twin.services.jpki.service import Jpki
from twin.services.jpki.smartphone import (
    PhoneApplication,
    PhoneCertificates,
    PhoneIssuanceError,
    Platform,
    SmartphoneIssuer,
    TokenKind,
    token_kind,
)
from twin.services.jpki.store import IssuedCertificate, JpkiStore, MemoryStore, RevocationReason
from twin.services.jpki.validation import CertState, CertStatus, Outcome, ValidationResult

__all__ = [
    "AlreadyRevokedError",
    "BasicInfo",
    "CaKind",
    "CertState",
    "CertStatus",
    "CertificateAuthority",
    "InvalidNameError",
    "InvalidReasonError",
    "InvalidTimeError",
    "IssuedCertificate",
    "Jpki",
    "JpkiError",
    "JpkiStore",
    "KeySource",
    "MemoryStore",
    "OcspResponder",
    "PhoneApplication",
    "PhoneCertificates",
    "PhoneIssuanceError",
    "Platform",
    "SmartphoneIssuer",
    "TokenKind",
    "Outcome",
    "ResponseCache",
    "RevocationReason",
    "SerialReusedError",
    "UnderageError",
    "UnknownCertificateError",
    "ValidationResult",
    "WeakKeyError",
    "cert_id",
    "read_basic_info",
    "token_kind",
]
