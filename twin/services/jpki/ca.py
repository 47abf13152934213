"""One certificate authority (認証局): a root, a signing key, a ledger, and the rules it signs by.

J-LIS runs two of them, one per certificate kind. Each starts by signing its own root certificate,
then names a delegated OCSP responder, then spends its life issuing holder certificates that chain to
that root, and publishing the list of the ones it has taken back (the CRL). :class:`CertificateAuthority`
checks every request before signing (names, validity window, key strength, serial reuse) and
writes each certificate in the shared ledger (:mod:`twin.services.jpki.store`) before handing it out.
Its private key stays inside a :class:`~twin.services.jpki.keys.Signer`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from twin.services.jpki import profile
from twin.services.jpki.errors import InvalidNameError, InvalidTimeError, SerialReusedError, WeakKeyError
from twin.services.jpki.keys import PUBLIC_EXPONENT, Signer
from twin.services.jpki.profile import CaKind, aware
from twin.services.jpki.store import IssuedCertificate, JpkiStore, Role

MIN_KEY_BITS: Final = 2048
#: how many verified certificates a CA remembers (a verification costs an RSA operation, a lookup nothing)
VERIFIED_CACHE: Final = 200_000
MAX_SERIAL: Final = (1 << 159) - 1  # RFC 5280: at most 20 octets, positive

Extension = tuple[x509.ExtensionType, bool]  # (value, critical)


def check_public_key(public_key: object) -> rsa.RSAPublicKey:
    if isinstance(public_key, rsa.RSAPrivateKey):
        raise WeakKeyError(
            "public key: a private key was passed; pass key.public_key() (the CA never takes private keys)"
        )
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise WeakKeyError(f"public key: {type(public_key).__name__} is not allowed; JPKI uses RSA-2048")
    if public_key.key_size < MIN_KEY_BITS:
        raise WeakKeyError(f"public key: RSA-{public_key.key_size} is too small; at least {MIN_KEY_BITS} bits")
    e = public_key.public_numbers().e
    if e != PUBLIC_EXPONENT:
        raise WeakKeyError(f"public key: exponent {e} is not allowed; JPKI uses e = {PUBLIC_EXPONENT}")
    return public_key


class CertificateAuthority:
    """A JPKI CA: ``kind`` (auth or sign), its root ``certificate`` and the URLs it publishes."""

    def __init__(self, kind: CaKind, signer: Signer, certificate: x509.Certificate, store: JpkiStore, base_url: str):
        self.kind = kind
        self.name = certificate.subject
        self.certificate = certificate
        self.store = store
        self.base_url = base_url.rstrip("/")
        self._signer = signer
        self._key_id = x509.SubjectKeyIdentifier.from_public_key(signer.public_key())
        self._verified: dict[bytes, None] = {}  # DER of certificates whose signature verified, oldest first
        self._verified_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CertificateAuthority({self.kind.value}, serial={self.certificate.serial_number:#x})"

    @classmethod
    def create(
        cls,
        kind: CaKind,
        key: rsa.RSAPrivateKey,
        now: datetime,
        store: JpkiStore,
        base_url: str,
        *,
        years: int = 20,
    ) -> CertificateAuthority:
        """Found a CA: sign its self-signed root, valid from ``now`` for ``years`` years."""
        now = aware(now)
        if not isinstance(years, int) or not 1 <= years <= 50:
            raise InvalidTimeError(f"root validity: {years!r} years is not allowed; use 1-50")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise InvalidNameError(f"base_url: {base_url!r} is not allowed; use an http:// or https:// URL")
        check_public_key(key.public_key())
        signer = Signer(f"{kind.value} CA", key)
        name = profile.ca_name(kind)
        serial = store.next_serial()
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        not_after = (
            now.replace(year=now.year + years)
            if not (now.month == 2 and now.day == 29)
            else (now + timedelta(days=365 * years))
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(now)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
        )
        root = signer.sign_certificate(builder)
        store.add(IssuedCertificate(serial, kind, Role.ROOT, _der(root), now, not_after))
        return cls(kind, signer, root, store, base_url)

    # ---- what the CA publishes -------------------------------------------------------------
    @property
    def ocsp_url(self) -> str:
        return f"{self.base_url}/ocsp/{self.kind.value}"

    def crl_url(self, municipality_code: int) -> str:
        return f"{self.base_url}/crl/{self.kind.value}/{municipality_code:05d}.crl"

    @property
    def not_before(self) -> datetime:
        return self.certificate.not_valid_before_utc

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc

    def public_key(self) -> rsa.RSAPublicKey:
        return self._signer.public_key()

    # ---- issuing ---------------------------------------------------------------------------
    def issue(
        self,
        public_key: object,
        subject: x509.Name,
        not_before: datetime,
        not_after: datetime,
        extensions: Sequence[Extension] = (),
        *,
        serial: int | None = None,
        role: Role = Role.HOLDER,
        person_ref: str | None = None,
        municipality_code: int | None = None,
        linked_to: tuple[int, ...] = (),
    ) -> x509.Certificate:
        """Check, sign and record one certificate (the low-level door every issuance goes through).

        ``linked_to``: serials whose revocation revokes this certificate too (the ledger keeps the link).
        """
        key = check_public_key(public_key)
        if not isinstance(subject, x509.Name) or not subject.get_attributes_for_oid(NameOID.COMMON_NAME):
            raise InvalidNameError(f"subject: {subject!r} is not allowed; a Name with a CN is required")
        start = aware(not_before, "not_before")
        end = aware(not_after, "not_after")
        if end <= start:
            raise InvalidTimeError(f"validity: not_after {end.isoformat()} is not after not_before {start.isoformat()}")
        if start < self.not_before or end > self.not_after:
            raise InvalidTimeError(
                f"validity: {start.isoformat()} .. {end.isoformat()} lies outside the {self.kind.value} CA's "
                f"own validity {self.not_before.isoformat()} .. {self.not_after.isoformat()}"
            )
        if serial is None:
            serial = self.store.next_serial()
        elif not isinstance(serial, int) or isinstance(serial, bool) or not 1 <= serial <= MAX_SERIAL:
            raise InvalidNameError(f"serial: {serial!r} is not allowed; use an integer 1 .. 2**159-1")
        elif self.store.get(serial) is not None:
            raise SerialReusedError(f"serial {serial:#x} is already used; a CA never reuses a serial number")
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.name)
            .public_key(key)
            .serial_number(serial)
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(self._key_id), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), False)
        )
        for value, critical in extensions:
            builder = builder.add_extension(value, critical=critical)
        cert = self._signer.sign_certificate(builder)
        self.store.add(
            IssuedCertificate(
                serial, self.kind, role, _der(cert), start, end, person_ref, municipality_code,
                linked_to=tuple(int(s) for s in linked_to),
            )  # fmt: skip
        )
        return cert

    def issue_responder(self, public_key: object, now: datetime) -> x509.Certificate:
        """The delegated OCSP responder (EKU OCSPSigning, id-pkix-ocsp-nocheck), valid as long as the root."""
        subject = x509.Name([*self.name, x509.NameAttribute(NameOID.COMMON_NAME, "OCSP Responder")])
        return self.issue(
            public_key,
            subject,
            now,
            self.not_after,
            [
                (x509.BasicConstraints(ca=False, path_length=None), True),
                (_key_usage(digital_signature=True), True),
                (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False),
                (x509.OCSPNoCheck(), False),
            ],
            role=Role.OCSP_RESPONDER,
        )

    def holder_extensions(self, municipality_code: int) -> list[Extension]:
        """Extensions both holder certificates share: issuerAltName, CRL DP, AIA (OCSP and CA cert)."""
        return [
            (profile.ca_alt_name(self.kind), False),
            (
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            [x509.UniformResourceIdentifier(self.crl_url(municipality_code))], None, None, None
                        )
                    ]
                ),
                False,
            ),
            (
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            x509.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(self.ocsp_url)
                        ),
                        x509.AccessDescription(
                            x509.AuthorityInformationAccessOID.CA_ISSUERS,
                            x509.UniformResourceIdentifier(f"{self.base_url}/ca/{self.kind.value}.cer"),
                        ),
                    ]
                ),
                False,
            ),
        ]

    # ---- revocation list -------------------------------------------------------------------
    def crl(
        self, now: datetime, validity: timedelta, municipality_code: int | None = None
    ) -> x509.CertificateRevocationList:
        """The CRL at ``now``: revoked, unexpired certificates, with a fresh CRL number.

        Without ``municipality_code`` it is the full CRL (no issuingDistributionPoint: it covers
        every certificate). With one, it is the partition published at that municipality's CRL
        distribution point (the URL in its holders' certificates), marked by a critical
        issuingDistributionPoint naming that URL and listing only that municipality's certificates.
        """
        now = aware(now)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.name)
            .last_update(now)
            .next_update(now + validity)
            .add_extension(x509.CRLNumber(self.store.next_crl_number(self.kind)), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(self._key_id), False)
        )
        if municipality_code is not None:
            url = x509.UniformResourceIdentifier(self.crl_url(municipality_code))
            idp = x509.IssuingDistributionPoint([url], None, True, False, None, False, False)
            builder = builder.add_extension(idp, critical=True)
        for record in sorted(self.store.revoked(self.kind), key=lambda r: r.serial):
            if not record.revoked_by(now) or record.not_after < now:
                continue
            if municipality_code is not None and record.municipality_code != municipality_code:
                continue
            entry = x509.RevokedCertificateBuilder().serial_number(record.serial).revocation_date(record.revoked_at)
            flag = record.reason.crl_reason  # type: ignore[union-attr]
            if flag is not x509.ReasonFlags.unspecified:
                entry = entry.add_extension(x509.CRLReason(flag), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        return self._signer.sign_crl(builder)

    def signed_this(self, cert: x509.Certificate) -> bool:
        """Whether ``cert`` names this CA as issuer and carries a valid signature by its key.

        A verified certificate is remembered by its whole DER (signature included), so the next
        presentation of the same card costs a lookup instead of an RSA verification; a certificate
        that differs in any byte is verified afresh. Only successes are remembered.
        """
        der = cert.public_bytes(Encoding.DER)
        if der in self._verified:
            return True
        try:
            cert.verify_directly_issued_by(self.certificate)
        except (InvalidSignature, ValueError, TypeError):
            return False
        with self._verified_lock:
            if len(self._verified) >= VERIFIED_CACHE:
                del self._verified[next(iter(self._verified))]
            self._verified[der] = None
        return True


def _key_usage(*, digital_signature: bool = False, content_commitment: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)
