"""The JPKI centre (公的個人認証サービス) as one object: two CAs, their ledger, CRLs and OCSP.

A municipal counter clerk hands a new My Number card's public keys to the centre and gets back two
certificates; later the centre hears that the card was lost, that the holder died, moved or changed
name, and takes certificates back. Relying parties download CRLs or ask the OCSP responder.
:class:`Jpki` is that centre: :meth:`Jpki.bootstrap` founds both authorities and their delegated
OCSP responders from a :class:`~twin.services.jpki.keys.KeySource`, and every operation takes the
current time as an argument (the services own no clock).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp as x509_ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from twin.services.jpki import profile
from twin.services.jpki.ca import CertificateAuthority, _key_usage
from twin.services.jpki.errors import (
    InvalidNameError,
    InvalidReasonError,
    InvalidTimeError,
    UnderageError,
    UnknownCertificateError,
)
from twin.services.jpki.keys import KeySource, Signer
from twin.services.jpki.ocsp import DelegatedResponder, OcspResponder
from twin.services.jpki.profile import BasicInfo, CaKind, aware, japan_date
from twin.services.jpki.store import IssuedCertificate, JpkiStore, MemoryStore, RevocationReason, Role
from twin.services.jpki.validation import CertState, CertStatus, Outcome, ValidationResult, time_verdict


class Jpki:
    """Both JPKI authorities over one ledger: issue, revoke, publish CRLs, answer OCSP, validate."""

    def __init__(
        self,
        auth_ca: CertificateAuthority,
        sign_ca: CertificateAuthority,
        ocsp: OcspResponder,
        store: JpkiStore,
        *,
        crl_validity: timedelta = timedelta(hours=24),
    ) -> None:
        self.auth_ca = auth_ca
        self.sign_ca = sign_ca
        self.ocsp = ocsp
        self.store = store
        self.crl_validity = crl_validity
        self._by_name = {auth_ca.name: auth_ca, sign_ca.name: sign_ca}

    @classmethod
    def bootstrap(
        cls,
        now: datetime,
        keys: KeySource,
        base_url: str = "http://jpki.example",
        *,
        store: JpkiStore | None = None,
        root_years: int = 20,
        ocsp_validity: timedelta = timedelta(hours=24),
        crl_validity: timedelta = timedelta(hours=24),
    ) -> Jpki:
        """Found both CAs at ``now`` (roots valid ``root_years``) with their delegated OCSP responders.

        CA and responder keys are ``keys.named(...)`` keys, so they never take a card's key.
        """
        if not isinstance(keys, KeySource):
            raise TypeError(f"keys: a KeySource is required, got {type(keys).__name__}")
        if not isinstance(crl_validity, timedelta) or crl_validity <= timedelta(0):
            raise InvalidTimeError(f"crl_validity: {crl_validity!r} is not allowed; use a positive timedelta")
        store = MemoryStore() if store is None else store
        cas = {
            kind: CertificateAuthority.create(
                kind, keys.named(f"{kind.value}-ca"), now, store, base_url, years=root_years
            )
            for kind in (CaKind.AUTH, CaKind.SIGN)
        }
        responders = {}
        for kind, ca in cas.items():
            key = keys.named(f"{kind.value}-ocsp")
            cert = ca.issue_responder(key.public_key(), now)
            responders[kind] = DelegatedResponder(kind, ca.certificate, cert, Signer(f"{kind.value} OCSP", key))
        ocsp = OcspResponder(responders, store.get, validity=ocsp_validity)
        return cls(cas[CaKind.AUTH], cas[CaKind.SIGN], ocsp, store, crl_validity=crl_validity)

    def authority(self, kind: CaKind | str) -> CertificateAuthority:
        return self.auth_ca if CaKind.parse(kind) is CaKind.AUTH else self.sign_ca

    # ---- issuing ---------------------------------------------------------------------------
    def issue_auth_certificate(
        self,
        public_key: object,
        holder_birth_date: date,
        now: datetime,
        municipality_code: int,
        *,
        person_ref: str | None = None,
        serial: int | None = None,
    ) -> x509.Certificate:
        """利用者証明用電子証明書: subject ``C=JP, CN=<opaque id>``, until the 5th birthday after issuance.

        ``serial``: the CA's next serial when omitted; a given one must be unused (never reused).
        """
        now = aware(now)
        code = profile.municipality(municipality_code)
        _check_birth_date(holder_birth_date, now)
        ca = self.auth_ca
        serial = self.store.next_serial() if serial is None else serial
        subject = profile.holder_name(profile.opaque_id(CaKind.AUTH, serial, code))
        extensions = [
            (_key_usage(digital_signature=True), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
            (x509.CertificatePolicies([x509.PolicyInformation(profile.AUTH_POLICY, None)]), True),
            *ca.holder_extensions(code),
        ]
        not_after = profile.certificate_not_after(holder_birth_date, now)
        return ca.issue(
            public_key,
            subject,
            now,
            not_after,
            extensions,
            serial=serial,
            person_ref=_ref(person_ref),
            municipality_code=code,
        )

    def issue_sign_certificate(
        self,
        public_key: object,
        info: BasicInfo,
        now: datetime,
        municipality_code: int,
        *,
        person_ref: str | None = None,
        serial: int | None = None,
    ) -> x509.Certificate:
        """署名用電子証明書: the four basic items in subjectAltName; refused under age 15 (``serial`` as above)."""
        now = aware(now)
        if not isinstance(info, BasicInfo):
            raise InvalidNameError(f"info: a BasicInfo is required, got {type(info).__name__}")
        code = profile.municipality(municipality_code)
        _check_birth_date(info.birth_date, now)
        today = japan_date(now)
        age = profile.age_on(info.birth_date, today)
        if age < profile.SIGN_MIN_AGE:
            raise UnderageError(
                f"digital-signature certificate: the holder is {age} on {today.isoformat()}; "
                f"it is issued only from age {profile.SIGN_MIN_AGE}"
            )
        ca = self.sign_ca
        serial = self.store.next_serial() if serial is None else serial
        subject = profile.holder_name(profile.opaque_id(CaKind.SIGN, serial, code), code)
        extensions = [
            (_key_usage(digital_signature=True, content_commitment=True), True),
            (x509.SubjectAlternativeName(info.other_names()), False),
            (x509.CertificatePolicies([x509.PolicyInformation(profile.SIGN_POLICY, None)]), True),
            *ca.holder_extensions(code),
        ]
        not_after = profile.certificate_not_after(info.birth_date, now)
        return ca.issue(
            public_key,
            subject,
            now,
            not_after,
            extensions,
            serial=serial,
            person_ref=_ref(person_ref),
            municipality_code=code,
        )

    # ---- revocation ------------------------------------------------------------------------
    def revoke(
        self, cert_or_serial: x509.Certificate | int, reason: RevocationReason | str, now: datetime
    ) -> IssuedCertificate:
        """Revoke one holder certificate at ``now``; drops its cached OCSP answers."""
        now = aware(now)
        why = RevocationReason.parse(reason)
        record = self._record(cert_or_serial)
        if record.role is not Role.HOLDER:
            raise InvalidReasonError(
                f"serial {record.serial:#x}: {record.role.value} certificates are not revoked here"
            )
        if why is RevocationReason.BASIC_INFO_CHANGED and record.ca is CaKind.AUTH:
            raise InvalidReasonError(
                f"serial {record.serial:#x}: the user-authentication certificate carries no basic items; "
                "'basic_info_changed' applies to signature certificates only"
            )
        if now < record.not_before:
            raise InvalidTimeError(
                f"revocation at {now.isoformat()} is before issuance {record.not_before.isoformat()}"
            )
        updated = self.store.mark_revoked(record.serial, now, why)
        self.ocsp.invalidate(record.serial)
        for child in self.linked_to(record):  # smartphone certificates lapse with the card's (連動失効)
            if child.revoked_at is None and child.not_before <= now:
                self.revoke(child.serial, RevocationReason.CARD_REVOKED, now)
        return updated

    def linked_to(self, record: IssuedCertificate) -> list[IssuedCertificate]:
        """The holder's certificates recorded as lapsing with ``record`` (read from the ledger, fresh)."""
        if record.person_ref is None:
            return []
        out = []
        for listed in self.store.of_person(record.person_ref):
            current = self.store.get(listed.serial) or listed
            if record.serial in current.linked_to:
                out.append(current)
        return out

    def revoke_person(
        self,
        person_ref: str,
        reason: RevocationReason | str,
        now: datetime,
        kinds: Iterable[CaKind | str] = (CaKind.AUTH, CaKind.SIGN),
    ) -> list[int]:
        """Revoke every live certificate of ``person_ref`` of the given kinds; returns the serials."""
        now = aware(now)
        wanted = {CaKind.parse(k) for k in kinds}
        done = []
        for listed in self.store.of_person(_ref(person_ref)):  # type: ignore[arg-type]
            record = self.store.get(listed.serial) or listed  # a linked revocation may have come first
            live = record.revoked_at is None and record.not_before <= now <= record.not_after
            if record.ca in wanted and live:
                self.revoke(record.serial, reason, now)
                done.append(record.serial)
        return done

    def on_basic_info_changed(self, person_ref: str, now: datetime) -> list[int]:
        """A name, address, birth date or sex changed: the signature certificates lapse automatically."""
        return self.revoke_person(person_ref, RevocationReason.BASIC_INFO_CHANGED, now, kinds=(CaKind.SIGN,))

    def same_holder(self, serial_a: int, serial_b: int) -> bool:
        """Whether two user-authentication certificates are the same holder's (the old-new serial
        correspondence J-LIS gives platform operators, 新旧シリアル番号の紐付け): a yes or no that
        names nobody. False when either is unknown or has no holder on record."""
        a, b = self.store.get(serial_a), self.store.get(serial_b)
        if a is None or b is None or a.person_ref is None or a.ca is not b.ca:
            return False
        return a.person_ref == b.person_ref

    def auth_refusal(self, serial: int, at: datetime) -> str | None:
        """Why the card whose user-authentication certificate has ``serial`` cannot be used at ``at``, from the
        ledger: unknown, not a user-authentication certificate, not yet valid, expired or revoked (None: it is
        good then). Whose card it is, the record's ``person_ref`` says; the points ledger's card check and the
        portal's insurance-card registration both ask here."""
        record = self.store.get(serial)
        if record is None:
            return "no certificate of the JPKI centre has this serial"
        if record.ca is not CaKind.AUTH:
            return "not a user-authentication certificate (the card's signature certificate cannot be used here)"
        if at < record.not_before:
            return f"the certificate is valid only from {record.not_before:%Y-%m-%d}"
        if at > record.not_after:
            return f"the certificate expired on {record.not_after:%Y-%m-%d}; renew it at the town hall"
        status = self.status(serial, at)
        if status.state is not CertState.GOOD:
            when = "" if status.revoked_at is None else f" on {status.revoked_at:%Y-%m-%d}"
            why = "" if status.reason is None else f" ({status.reason.value})"
            return f"the certificate was revoked{when}{why}"
        return None

    def certificates_of(self, person_ref: str) -> list[IssuedCertificate]:
        return self.store.of_person(person_ref)

    # ---- status, CRL, validation -------------------------------------------------------------
    def status(self, cert_or_serial: x509.Certificate | int, now: datetime) -> CertStatus:
        """Good, revoked (with time and reason) or unknown, at ``now``, from the ledger."""
        now = aware(now)
        try:
            record = self._record(cert_or_serial)
        except UnknownCertificateError:
            return CertStatus(CertState.UNKNOWN)
        if record.not_before > now:
            return CertStatus(CertState.UNKNOWN)
        if record.revoked_by(now):
            return CertStatus(CertState.REVOKED, record.revoked_at, record.reason)
        return CertStatus(CertState.GOOD)

    def crl(
        self, kind: CaKind | str, now: datetime, municipality_code: int | None = None
    ) -> x509.CertificateRevocationList:
        """A freshly signed CRL of one CA (CRL number +1, nextUpdate = now + crl_validity).

        The full CRL by default; with ``municipality_code``, the partition served at that
        municipality's CRL distribution point (only holder certificates issued there).
        """
        code = None if municipality_code is None else profile.municipality(municipality_code)
        return self.authority(kind).crl(now, self.crl_validity, code)

    def validate(self, cert: x509.Certificate, now: datetime, kind: CaKind | str | None = None) -> ValidationResult:
        """Chain to the right root, time, then revocation; ``kind`` demands a particular CA."""
        now = aware(now)
        if not isinstance(cert, x509.Certificate):
            raise UnknownCertificateError(f"certificate: {type(cert).__name__} is not an x509.Certificate")
        serial = cert.serial_number
        ca = self._by_name.get(cert.issuer)
        if ca is None:
            return ValidationResult(Outcome.UNKNOWN_ISSUER, serial, detail=f"issuer {cert.issuer.rfc4514_string()}")
        if kind is not None and ca.kind is not CaKind.parse(kind):
            return ValidationResult(Outcome.WRONG_CA, serial, ca.kind, detail=f"issued by the {ca.kind.value} CA")
        if not ca.signed_this(cert):
            return ValidationResult(Outcome.BAD_SIGNATURE, serial, ca.kind, detail="signature does not verify")
        verdict = time_verdict(cert, now)
        if verdict is not None:
            return ValidationResult(
                verdict,
                serial,
                ca.kind,
                detail=f"valid {cert.not_valid_before_utc.isoformat()} .. {cert.not_valid_after_utc.isoformat()}",
            )
        record = self.store.get(serial)
        if record is None or record.ca is not ca.kind or record.der != cert.public_bytes(Encoding.DER):
            return ValidationResult(Outcome.NOT_IN_LEDGER, serial, ca.kind, detail="not in the CA's ledger")
        status = self.status(serial, now)
        if status.state is CertState.REVOKED:
            return ValidationResult(Outcome.REVOKED, serial, ca.kind, status, detail=f"revoked ({status.reason.value})")  # type: ignore[union-attr]
        return ValidationResult(Outcome.VALID, serial, ca.kind, status)

    def check_invariants(self, now: datetime, serials: Iterable[int]) -> None:
        """Assert what must always hold, for simulations to call every simulated hour.

        For each serial: the ledger holds a certificate of its CA with that serial, signature and
        validity, and once revoked, no cached OCSP answer about it still says good. Raises
        AssertionError naming the first broken rule. Changes nothing (no CRL number is used up).
        """
        now = aware(now)
        for serial in serials:
            record = self.store.get(serial)
            assert record is not None, f"serial {serial:#x}: missing from the ledger"
            cert = x509.load_der_x509_certificate(record.der)
            ca = self.authority(record.ca)
            assert cert.serial_number == serial and cert.issuer == ca.name, f"serial {serial:#x}: wrong certificate"
            assert ca.signed_this(cert), f"serial {serial:#x}: not signed by the {ca.kind.value} CA"
            assert cert.not_valid_after_utc == record.not_after, f"serial {serial:#x}: validity differs from ledger"
            if record.revoked_by(now):
                for raw in self.ocsp.cache.answers_for(serial):
                    status = x509_ocsp.load_der_ocsp_response(raw).certificate_status
                    assert status is not x509_ocsp.OCSPCertStatus.GOOD, f"serial {serial:#x}: cached answer says good"

    def _record(self, cert_or_serial: x509.Certificate | int) -> IssuedCertificate:
        if isinstance(cert_or_serial, x509.Certificate):
            serial = cert_or_serial.serial_number
            record = self.store.get(serial)
            if record is None or record.der != cert_or_serial.public_bytes(Encoding.DER):
                raise UnknownCertificateError(f"serial {serial:#x}: this certificate was not issued by this JPKI")
            return record
        if not isinstance(cert_or_serial, int) or isinstance(cert_or_serial, bool):
            raise UnknownCertificateError(f"certificate: {cert_or_serial!r} is neither a Certificate nor a serial")
        record = self.store.get(cert_or_serial)
        if record is None:
            raise UnknownCertificateError(f"serial {cert_or_serial:#x}: no certificate with this serial was issued")
        return record


def _check_birth_date(birth_date: object, now: datetime) -> None:
    if not isinstance(birth_date, date) or isinstance(birth_date, datetime):
        raise InvalidTimeError(f"birth date: {birth_date!r} is not a date")
    if birth_date > japan_date(now):
        raise InvalidTimeError(f"birth date: {birth_date.isoformat()} is after the issue date {japan_date(now)}")
    profile.era_digit(birth_date)


def _ref(person_ref: object) -> str | None:
    if person_ref is None:
        return None
    if not isinstance(person_ref, str) or not person_ref or len(person_ref) > 64:
        raise InvalidNameError("person_ref: use a non-empty string of at most 64 characters (an opaque id)")
    return person_ref
