"""Platform operators (プラットフォーム事業者): JPKI for private services, and the links it keeps.

A bank, a securities firm or a phone company that wants to know that the person opening an account
online is who the card says does not talk to J-LIS itself. Under the JPKI Act (電子署名等に係る地方公共団体
情報システム機構の認証業務に関する法律, Art. 17) a business certified by the competent minister, the
platform operator, verifies the certificates on behalf of the service providers (サービス提供者) that
contract with it; 626 private firms used JPKI this way by 2024-11 (FIGURES.md). This module is one
operator:

* **Authentication.** The operator issues a single-use challenge for a provider; the holder's card (or
  phone) signs it with the user-authentication key (利用者証明用電子証明書); the operator checks the
  certificate against the centre (chain, validity, not revoked), the signature over exactly the
  challenge, and the assurance level the provider's route needs (``private.login`` in
  :mod:`twin.services.assurance`).
* **Links.** The provider links its own user ID to the certificate's serial number
  (シリアル番号と利用者IDの紐付け). The serial, never the My Number, is the key: a user ID that holds a My
  Number is refused (private firms may not use it as an ID, My Number Act Art. 19).
* **Status checks (現況確認).** The operator asks the centre, for every live link, whether its
  certificate is still good: each check is one status request to J-LIS, counted, because that load is
  what the certificate system must carry. A certificate replaced by a renewal (更新, CRL reason
  *superseded*) leaves its link *awaiting consent*: at the holder's next authentication with the new
  certificate and with the holder's consent, the centre confirms that both certificates are the same
  holder's (J-LIS offers the old-new serial correspondence to operators) and the link moves to the new
  serial. Any other revocation (loss, suspension, death, card returned, the card's revocation of a
  phone's certificate) or the certificate's expiry breaks the link; the provider must link anew.

Clock-free: ``now`` comes in as an argument. Nothing here stores or logs a PIN, a private key or a My
Number; the operator never learns who the holder is, only serials and the centre's answers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography import x509

from twin.errors import TwinError
from twin.services.assurance import AssuranceRefused, AuthResult, for_certificate, require
from twin.services.jpki import CaKind, CertState, Jpki, JpkiError, RevocationReason
from twin.services.jpki.profile import aware
from twin.services.jpki.validation import SignedCheckError, check_signed
from twin.services.registry import is_valid_my_number

ROUTE = "private.login"
CHALLENGE_TTL = dt.timedelta(minutes=5)
_MAC_LEN = 16
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_DIGITS12 = re.compile(r"(?<!\d)\d{12}(?!\d)")


class Problem(StrEnum):
    """Why the operator refused, as a code a server maps to a status."""

    MALFORMED = "malformed"
    UNKNOWN_PROVIDER = "unknown_provider"
    CHALLENGE = "challenge"  # not issued here, for another provider, expired or used
    CERTIFICATE = "certificate"  # not valid at the centre, or below the route's assurance level
    BAD_SIGNATURE = "bad_signature"
    NOT_LINKED = "not_linked"
    CONFLICT = "conflict"  # the user ID or the certificate is linked already
    CONSENT = "consent"  # a carry-over without the holder's consent, or to another holder's certificate
    BROKEN = "broken"  # the link was broken by a revocation or expiry


class PlatformRefusal(TwinError, PermissionError):
    def __init__(self, problem: Problem, message: str) -> None:
        self.problem = problem
        super().__init__(message)


class LinkState(StrEnum):
    ACTIVE = "active"
    AWAITING_CONSENT = "awaiting_consent"  # its certificate was renewed: carried over on consent
    BROKEN = "broken"


@dataclass
class Link:
    """A provider's user ID linked to a certificate serial, and what became of it."""

    provider: str
    user_id: str
    serial: int
    linked_at: dt.datetime
    state: LinkState = LinkState.ACTIVE
    reason: str = ""  # why it awaits consent or broke: the revocation reason or "expired"
    changed_at: dt.datetime | None = None
    history: list[int] = field(default_factory=list)  # earlier serials, oldest first


@dataclass(frozen=True)
class StatusRun:
    """One round of 現況確認: how many status requests went to the centre and what they found."""

    at: dt.datetime
    checks: int
    good: int
    awaiting_consent: int
    broken: dict[str, int]  # reason -> links broken in this round


@dataclass(frozen=True)
class Provider:
    provider_id: str
    name: str


class PlatformOperator:
    """One platform operator in front of one JPKI centre."""

    def __init__(
        self,
        jpki: Jpki,
        secret: bytes,
        *,
        nonce_bytes: Callable[[int], bytes] = os.urandom,
        challenge_ttl: dt.timedelta = CHALLENGE_TTL,
    ) -> None:
        if not isinstance(secret, bytes) or len(secret) < 16:
            raise ValueError("secret: use at least 16 random bytes")
        self.jpki = jpki
        self._secret = secret
        self._nonce_bytes = nonce_bytes
        self.challenge_ttl = challenge_ttl
        self.providers: dict[str, Provider] = {}
        self._links: dict[tuple[str, str], Link] = {}
        self._by_serial: dict[tuple[str, int], tuple[str, str]] = {}
        self._awaiting: dict[str, set[str]] = {}  # provider -> user IDs whose link awaits consent
        self._used: dict[bytes, dt.datetime] = {}
        self.status_requests = 0  # every status request sent to the centre (authentications and 現況確認)
        self.verifications = Counter[str]()  # outcomes of authentications

    # ---- providers and challenges ---------------------------------------------------------------
    def register_provider(self, provider_id: str, name: str) -> Provider:
        _check_id(provider_id, "provider_id")
        if provider_id in self.providers:
            raise PlatformRefusal(Problem.CONFLICT, f"provider_id {provider_id!r}: already registered")
        p = Provider(provider_id, str(name))
        self.providers[provider_id] = p
        return p

    def _provider(self, provider_id: object) -> Provider:
        p = self.providers.get(provider_id) if isinstance(provider_id, str) else None
        if p is None:
            raise PlatformRefusal(Problem.UNKNOWN_PROVIDER, f"provider_id {provider_id!r}: not a contracted provider")
        return p

    def _mac(self, data: bytes) -> bytes:
        return hmac.new(self._secret, data, hashlib.sha256).digest()[:_MAC_LEN]

    def challenge(self, provider_id: str, now: dt.datetime) -> bytes:
        """A single-use challenge for ``provider_id``, valid for :attr:`challenge_ttl` from ``now``."""
        self._provider(provider_id)
        expires = aware(now) + self.challenge_ttl
        body = self._nonce_bytes(32) + struct.pack(">d", expires.timestamp()) + provider_id.encode()
        return body + self._mac(body)

    def _claim(self, provider_id: str, challenge: bytes, now: dt.datetime) -> None:
        if not isinstance(challenge, bytes) or len(challenge) < 40 + _MAC_LEN:
            raise PlatformRefusal(Problem.CHALLENGE, "challenge: not one this operator issued")
        body, mac = challenge[:-_MAC_LEN], challenge[-_MAC_LEN:]
        if not hmac.compare_digest(self._mac(body), mac):
            raise PlatformRefusal(Problem.CHALLENGE, "challenge: not one this operator issued")
        if body[40:] != provider_id.encode():
            raise PlatformRefusal(Problem.CHALLENGE, f"challenge: issued for another provider, not {provider_id!r}")
        (expires_ts,) = struct.unpack(">d", body[32:40])
        expires = dt.datetime.fromtimestamp(expires_ts, dt.UTC)
        if now > expires:
            raise PlatformRefusal(Problem.CHALLENGE, "challenge: expired; ask for a fresh one")
        self._used = {k: v for k, v in self._used.items() if v >= now}
        if body[:32] in self._used:
            raise PlatformRefusal(Problem.CHALLENGE, "challenge: already used (one challenge, one authentication)")
        self._used[body[:32]] = expires

    # ---- authentication ------------------------------------------------------------------------
    def authenticate(
        self, provider_id: str, challenge: bytes, certificate_der: bytes, signature: bytes, now: dt.datetime
    ) -> tuple[x509.Certificate, AuthResult]:
        """The checked user-authentication certificate and the levels it reached, for ``provider_id``."""
        now = aware(now)
        self._provider(provider_id)
        self._claim(provider_id, challenge, now)
        self.status_requests += 1
        try:
            cert = check_signed(self.jpki, certificate_der, challenge, signature, now, CaKind.AUTH)
        except SignedCheckError as exc:
            self.verifications[exc.check.value] += 1
            raise PlatformRefusal(Problem(exc.check.value), str(exc)) from None  # the same codes
        try:
            level = require(ROUTE, for_certificate(cert))
        except (AssuranceRefused, JpkiError) as exc:
            raise PlatformRefusal(Problem.CERTIFICATE, f"certificate: {exc}") from None
        self.verifications["valid"] += 1
        return cert, level

    # ---- links -----------------------------------------------------------------------------------
    def link(
        self, provider_id: str, user_id: str, challenge: bytes, certificate_der: bytes, signature: bytes,
        now: dt.datetime,
    ) -> Link:  # fmt: skip
        """Link the provider's ``user_id`` to the authenticated certificate's serial."""
        _check_user_id(user_id)
        cert, _ = self.authenticate(provider_id, challenge, certificate_der, signature, now)
        key = (provider_id, user_id)
        old = self._links.get(key)
        if old is not None and old.state is not LinkState.BROKEN:
            raise PlatformRefusal(Problem.CONFLICT, f"user_id {user_id!r}: already linked at {provider_id!r}")
        owner = self._by_serial.get((provider_id, cert.serial_number))
        if owner is not None and owner != key:
            raise PlatformRefusal(Problem.CONFLICT, "certificate: already linked to another user ID at this provider")
        link = Link(provider_id, user_id, cert.serial_number, aware(now))
        if old is not None:
            link.history = [*old.history, old.serial]
        self._links[key] = link
        self._by_serial[(provider_id, cert.serial_number)] = key
        return link

    def login(
        self, provider_id: str, challenge: bytes, certificate_der: bytes, signature: bytes, now: dt.datetime
    ) -> str:
        """The provider's user ID linked to the authenticated certificate."""
        cert, _ = self.authenticate(provider_id, challenge, certificate_der, signature, now)
        key = self._by_serial.get((provider_id, cert.serial_number))
        link = self._links.get(key) if key else None
        if link is None or link.serial != cert.serial_number:
            if self._renewed_link(provider_id, cert.serial_number) is not None:
                raise PlatformRefusal(Problem.CONSENT, "certificate: renewed; consent to carry the link over first")
            raise PlatformRefusal(Problem.NOT_LINKED, f"certificate: linked to no user ID at {provider_id!r}")
        if link.state is not LinkState.ACTIVE:
            raise PlatformRefusal(Problem.BROKEN, f"link: {link.state.value} ({link.reason})")
        return link.user_id

    def _renewed_link(self, provider_id: str, new_serial: int) -> Link | None:
        for user_id in sorted(self._awaiting.get(provider_id, ())):
            link = self._links[(provider_id, user_id)]
            if self.jpki.same_holder(link.serial, new_serial):
                return link
        return None

    def carry_over(
        self, provider_id: str, user_id: str, challenge: bytes, certificate_der: bytes, signature: bytes,
        now: dt.datetime, *, consent: bool,
    ) -> Link:  # fmt: skip
        """Move a link whose certificate was renewed to the holder's new certificate, with consent."""
        _check_user_id(user_id)
        link = self._links.get((provider_id, user_id))
        if link is None:
            raise PlatformRefusal(Problem.NOT_LINKED, f"user_id {user_id!r}: not linked at {provider_id!r}")
        if link.state is not LinkState.AWAITING_CONSENT:
            why = f" ({link.reason})" if link.reason else ""
            problem = Problem.BROKEN if link.state is LinkState.BROKEN else Problem.CONFLICT
            raise PlatformRefusal(
                problem, f"link: {link.state.value}{why}; only a renewed certificate's is carried over"
            )
        cert, _ = self.authenticate(provider_id, challenge, certificate_der, signature, now)
        if consent is not True:
            raise PlatformRefusal(Problem.CONSENT, "consent: the holder did not consent to carry the link over")
        if not self.jpki.same_holder(link.serial, cert.serial_number):
            raise PlatformRefusal(
                Problem.CONSENT, "certificate: the centre does not confirm it as the renewal of the linked one"
            )
        owner = self._by_serial.get((provider_id, cert.serial_number))
        if owner is not None and owner != (provider_id, user_id):
            raise PlatformRefusal(Problem.CONFLICT, "certificate: already linked to another user ID at this provider")
        link.history.append(link.serial)
        link.serial = cert.serial_number
        link.state, link.reason, link.changed_at = LinkState.ACTIVE, "", aware(now)
        self._awaiting[provider_id].discard(user_id)
        self._by_serial[(provider_id, cert.serial_number)] = (provider_id, user_id)
        return link

    def links(self, provider_id: str | None = None) -> list[Link]:
        return [x for x in self._links.values() if provider_id is None or x.provider == provider_id]

    # ---- 現況確認 ----------------------------------------------------------------------------------
    def check_status(self, now: dt.datetime) -> StatusRun:
        """Ask the centre about every active link's certificate; renewals await consent, the rest break."""
        now = aware(now)
        checks = good = awaiting = 0
        broken: Counter[str] = Counter()
        for link in self._links.values():
            if link.state is not LinkState.ACTIVE:
                continue
            checks += 1
            self.status_requests += 1
            status = self.jpki.status(link.serial, now)
            record = self.jpki.store.get(link.serial)
            if status.state is CertState.GOOD and record is not None and now <= record.not_after:
                good += 1
                continue
            if status.state is CertState.REVOKED and status.reason is RevocationReason.RENEWAL:
                link.state, link.reason = LinkState.AWAITING_CONSENT, RevocationReason.RENEWAL.value
                self._awaiting.setdefault(link.provider, set()).add(link.user_id)
                awaiting += 1
            else:
                reason = status.reason.value if status.state is CertState.REVOKED and status.reason else (
                    "expired" if status.state is CertState.GOOD else status.state.value)  # fmt: skip
                link.state, link.reason = LinkState.BROKEN, reason
                broken[reason] += 1
            link.changed_at = now
        return StatusRun(now, checks, good, awaiting, dict(sorted(broken.items())))


def _check_id(value: object, what: str) -> None:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise PlatformRefusal(Problem.MALFORMED, f"{what}: {value!r} is not 1-64 letters, digits, '.', '_' or '-'")


def _check_user_id(user_id: object) -> None:
    # the value is not repeated when it holds 12 digits that pass the check: it may be someone's My Number
    if isinstance(user_id, str) and any(is_valid_my_number(m) for m in _DIGITS12.findall(user_id)):
        raise PlatformRefusal(
            Problem.MALFORMED, "user_id: holds a My Number; a private service may not use it as an ID"
        )
    _check_id(user_id, "user_id")


__all__ = ["Link", "LinkState", "PlatformOperator", "PlatformRefusal", "Problem", "Provider", "StatusRun"]
