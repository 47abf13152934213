"""The JPKI check of online applications at the ledger's intake, with real RSA.

In 2020 an online application for 特別定額給付金 went through Myna Portal signed with the card's
signature key (署名用電子証明書). The receiving town hall's system checks, for every such form: the
certificate was issued by the JPKI signature CA (the CA's RSA signature over the certificate), it
is valid on the day of receipt and not revoked, and the card's RSA signature (PKCS#1 v1.5, SHA-256)
matches the form as received. A form altered after signing, signed by a key that does not belong
to the certificate, or carrying a certificate from anyone but J-LIS is refused
(``rejected:signature_invalid``), and the problem is counted here by kind.

:class:`SignatureCheck` is what :class:`~twin.services.payout.ledger.PayoutLedger` takes as
``verify_signature``. With ``sample=1`` it checks every online application; with ``sample=s < 1``
it checks a share ``s`` of them, chosen by :meth:`SignatureCheck.selected` -- a hash of the household
and applicant, so the choice is the same in every process and on every rerun -- and lets the others
through unchecked (counted as ``unchecked``). The cost of a check (two RSA-2048 public-key
operations, one per certificate cached) is measured in ``benchmarks/test_bench_payout_batch.py``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from twin.services.assurance import AssuranceRefused, for_certificate, require
from twin.services.payout.records import Application, Channel

#: the problems a check can find, in the order they are looked for
PROBLEMS = ("unsigned", "malformed_certificate", "untrusted_certificate", "not_yet_valid", "expired", "revoked",
            "bad_signature")  # fmt: skip
_PKCS1 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()


def sample_selected(household: int, applicant: int, share: float, salt: str = "") -> bool:
    """The sampling rule: is this (household, applicant)'s online application among the checked ``share``?

    A hash, not a random stream: the same applications are chosen in every process, partition and rerun.
    """
    if share >= 1.0:
        return True
    if share <= 0.0:
        return False
    digest = hashlib.blake2b(f"{salt}|{int(household)}|{int(applicant)}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < share * 2**64


class SignatureCheck:
    """``verify_signature`` for the payout ledger: chain, validity, revocation and RSA signature.

    ``issuer`` is the JPKI signature CA's certificate (the trust anchor); the ledger passes the date
    of receipt with each application (``today`` stands in when a caller passes none);
    ``revoked(certificate, date)`` says whether a certificate was revoked (e.g. the JPKI service's
    status, or a CRL); ``sample`` is the share of online applications checked.
    """

    def __init__(
        self,
        issuer: x509.Certificate,
        *,
        sample: float = 1.0,
        salt: str = "",
        revoked: Callable[[x509.Certificate, dt.date], bool] | None = None,
        today: dt.date | None = None,
    ) -> None:
        if not 0.0 <= sample <= 1.0:
            raise ValueError(f"sample: {sample} is not a share in [0, 1]")
        key = issuer.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("issuer: the JPKI signature CA certificate must carry an RSA key")
        self.issuer, self._issuer_key, self.sample, self.salt = issuer, key, float(sample), salt
        self.revoked = revoked
        self.today = today
        self.counts: dict[str, int] = dict.fromkeys(("checked", "valid", "unchecked", *PROBLEMS), 0)
        self._chain: dict[bytes, x509.Certificate | str] = {}  # DER -> the certificate, or why it is refused

    def selected(self, application: Application) -> bool:
        """Will this application's signature be checked (the sampling rule, :func:`sample_selected`)?"""
        return sample_selected(application.household, application.applicant, self.sample, self.salt)

    #: the ledger passes the date of receipt (``verify_signature(application, on)``)
    takes_date = True

    def __call__(self, application: Application, on: dt.date | None = None) -> bool:
        """True if the online application may proceed; False (with the problem counted) if refused."""
        if application.channel is not Channel.ONLINE:
            return True
        if not self.selected(application):
            self.counts["unchecked"] += 1
            return True
        self.counts["checked"] += 1
        problem = self.problem(application, on if on is not None else self.today)
        self.counts[problem or "valid"] += 1
        return problem is None

    def problem(self, application: Application, on: dt.date | None = None) -> str | None:
        """What is wrong with the application's signature (one of :data:`PROBLEMS`), or None."""
        sig = application.signature
        if sig is None:
            return "unsigned"
        cert = self._certificate(sig.certificate)
        if isinstance(cert, str):
            return cert
        if on is not None:
            if on < cert.not_valid_before_utc.date():
                return "not_yet_valid"
            if on > cert.not_valid_after_utc.date():
                return "expired"
            if self.revoked is not None and self.revoked(cert, on):
                return "revoked"
        key = cert.public_key()
        try:
            key.verify(sig.value, application.signed_bytes(), _PKCS1, _SHA256)  # type: ignore[union-attr, call-arg, arg-type]
        except (InvalidSignature, ValueError, TypeError):
            return "bad_signature"
        return None

    def _certificate(self, der: bytes) -> x509.Certificate | str:
        """The certificate if the CA signed it (checked once per certificate), else why not."""
        hit = self._chain.get(der)
        if hit is not None:
            return hit
        try:
            cert = x509.load_der_x509_certificate(der)
            key = cert.public_key()
        except (ValueError, TypeError):
            out: x509.Certificate | str = "malformed_certificate"
        else:
            out = cert if isinstance(key, rsa.RSAPublicKey) else "malformed_certificate"
            if not isinstance(out, str):
                try:
                    if cert.issuer != self.issuer.subject:
                        raise InvalidSignature
                    self._issuer_key.verify(
                        cert.signature,
                        cert.tbs_certificate_bytes,
                        _PKCS1,
                        cert.signature_hash_algorithm,  # type: ignore[arg-type]
                    )
                except (InvalidSignature, ValueError, TypeError):
                    out = "untrusted_certificate"
                else:  # the card's or the phone's signature certificate: both meet the route's IAL3/AAL2
                    try:
                        require("payout.online_application", for_certificate(cert))
                    except (AssuranceRefused, ValueError):
                        out = "untrusted_certificate"
        if len(self._chain) > 100_000:
            self._chain.clear()
        self._chain[der] = out
        return out
