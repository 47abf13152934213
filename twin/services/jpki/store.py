"""The CA's ledger of issued certificates (発行・失効情報), behind a small store interface.

Whatever the CA signs it writes down first: serial, which authority, whose card, when it runs out,
and later whether and why it was revoked. CRLs, OCSP answers and validation all read this ledger,
never the certificates themselves. :class:`JpkiStore` is the interface (a handful of methods, all
keyed by serial number, so a SQL table with a primary key on ``serial`` implements it directly);
:class:`MemoryStore` is the default, a dict per concern.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from cryptography import x509

from twin.services.jpki.errors import (
    AlreadyRevokedError,
    InvalidReasonError,
    SerialReusedError,
    UnknownCertificateError,
)
from twin.services.jpki.profile import CaKind


class RevocationReason(StrEnum):
    """Why a certificate stopped being valid, and the RFC 5280 CRLReason the CRL and OCSP carry."""

    LOSS = "loss"  # 紛失: the card (and its keys) may be in someone else's hands
    SUSPENSION = "suspension"  # 一時停止: the card is suspended, e.g. while a loss is investigated
    DEATH = "death"  # 死亡
    CARD_RETURN = "card_return"  # 返納: card handed back (moved abroad, renounced)
    BASIC_INFO_CHANGED = "basic_info_changed"  # 基本4情報の変更: automatic, signature certificate only
    RENEWAL = "renewal"  # 更新: replaced by a new certificate
    CARD_REVOKED = "card_revoked"  # a smartphone certificate whose card certificate was revoked (連動失効)
    UNSPECIFIED = "unspecified"

    @classmethod
    def parse(cls, value: object) -> RevocationReason:
        if isinstance(value, RevocationReason):
            return value
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(r.value for r in cls)
            raise InvalidReasonError(f"revocation reason: {value!r} is not allowed; use one of {allowed}") from None

    @property
    def crl_reason(self) -> x509.ReasonFlags:
        return _CRL_REASONS[self]


_CRL_REASONS = {
    RevocationReason.LOSS: x509.ReasonFlags.key_compromise,
    RevocationReason.SUSPENSION: x509.ReasonFlags.key_compromise,
    RevocationReason.DEATH: x509.ReasonFlags.cessation_of_operation,
    RevocationReason.CARD_RETURN: x509.ReasonFlags.cessation_of_operation,
    RevocationReason.BASIC_INFO_CHANGED: x509.ReasonFlags.affiliation_changed,
    RevocationReason.RENEWAL: x509.ReasonFlags.superseded,
    RevocationReason.CARD_REVOKED: x509.ReasonFlags.cessation_of_operation,
    RevocationReason.UNSPECIFIED: x509.ReasonFlags.unspecified,
}
# CRLReason ENUMERATED values (RFC 5280 §5.3.1) for hand-built OCSP answers
CRL_REASON_CODES = {
    x509.ReasonFlags.unspecified: 0,
    x509.ReasonFlags.key_compromise: 1,
    x509.ReasonFlags.ca_compromise: 2,
    x509.ReasonFlags.affiliation_changed: 3,
    x509.ReasonFlags.superseded: 4,
    x509.ReasonFlags.cessation_of_operation: 5,
    x509.ReasonFlags.certificate_hold: 6,
}


class Role(StrEnum):
    """What an issued certificate is for."""

    ROOT = "root"
    OCSP_RESPONDER = "ocsp_responder"
    HOLDER = "holder"


@dataclass(frozen=True)
class IssuedCertificate:
    """One line of the ledger."""

    serial: int
    ca: CaKind
    role: Role
    der: bytes
    not_before: datetime
    not_after: datetime
    person_ref: str | None = None
    municipality_code: int | None = None
    revoked_at: datetime | None = None
    reason: RevocationReason | None = None
    #: serials this certificate lapses with (a smartphone certificate -> its card's two certificates)
    linked_to: tuple[int, ...] = ()

    def revoked_by(self, now: datetime) -> bool:
        return self.revoked_at is not None and self.revoked_at <= now


class JpkiStore(Protocol):
    """Where the CA keeps its ledger. Implementations must be keyed by serial (unique across both CAs)."""

    def next_serial(self) -> int: ...

    def add(self, record: IssuedCertificate) -> None: ...

    def get(self, serial: int) -> IssuedCertificate | None: ...

    def mark_revoked(self, serial: int, at: datetime, reason: RevocationReason) -> IssuedCertificate: ...

    def revoked(self, ca: CaKind) -> Iterable[IssuedCertificate]: ...

    def of_person(self, person_ref: str) -> list[IssuedCertificate]: ...

    def next_crl_number(self, ca: CaKind) -> int: ...


def revoked_record(
    record: IssuedCertificate | None, serial: int, at: datetime, reason: RevocationReason
) -> IssuedCertificate:
    """``record`` revoked at ``at`` for ``reason``; the error a ledger gives for an unknown or revoked serial."""
    if record is None:
        raise UnknownCertificateError(f"serial {serial:#x}: no certificate with this serial was issued")
    if record.revoked_at is not None:
        raise AlreadyRevokedError(
            f"serial {serial:#x}: already revoked at {record.revoked_at.isoformat()} ({record.reason.value})"  # type: ignore[union-attr]
        )
    return replace(record, revoked_at=at, reason=reason)


class MemoryStore:
    """The default ledger: plain dicts, serials handed out from 0x1000 upwards."""

    FIRST_SERIAL = 0x1000

    def __init__(self) -> None:
        self._records: dict[int, IssuedCertificate] = {}
        self._revoked: dict[CaKind, dict[int, None]] = {CaKind.AUTH: {}, CaKind.SIGN: {}}
        self._by_person: dict[str, list[int]] = {}
        self._crl_numbers = {CaKind.AUTH: 0, CaKind.SIGN: 0}
        self._serial = self.FIRST_SERIAL

    def __len__(self) -> int:
        return len(self._records)

    def next_serial(self) -> int:
        while self._serial in self._records:
            self._serial += 1
        return self._serial

    def add(self, record: IssuedCertificate) -> None:
        if record.serial in self._records:
            raise SerialReusedError(
                f"serial {record.serial:#x} is already used by a {self._records[record.serial].ca.value} certificate"
            )
        self._records[record.serial] = record
        if record.person_ref is not None:
            self._by_person.setdefault(record.person_ref, []).append(record.serial)
        if record.revoked_at is not None:
            self._revoked[record.ca][record.serial] = None

    def get(self, serial: int) -> IssuedCertificate | None:
        return self._records.get(serial)

    def mark_revoked(self, serial: int, at: datetime, reason: RevocationReason) -> IssuedCertificate:
        record = self._records.get(serial)
        updated = revoked_record(record, serial, at, reason)
        self._records[serial] = updated
        self._revoked[record.ca][serial] = None
        return updated

    def revoked(self, ca: CaKind) -> Iterable[IssuedCertificate]:
        return [self._records[s] for s in self._revoked[ca]]

    def of_person(self, person_ref: str) -> list[IssuedCertificate]:
        return [self._records[s] for s in self._by_person.get(person_ref, [])]

    def next_crl_number(self, ca: CaKind) -> int:
        self._crl_numbers[ca] += 1
        return self._crl_numbers[ca]
