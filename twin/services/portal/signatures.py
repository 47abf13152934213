"""Documents signed with the card's signature key (署名用電子証明書), checked once, for every portal act.

Registering a public-benefit account, or consenting that a private party may receive one's four basic
items, is an act the person signs: the client builds the document with :func:`signing_bytes` (canonical
JSON: sorted keys, no spaces, UTF-8), the card signs it after the signature password, and the portal
checks the certificate (chains to the JPKI signature CA, in its validity period, in the ledger, not
revoked), the signature over exactly those bytes, and that the certificate is the logged-in person's.
"""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum

from twin.services.assurance import AssuranceRefused, for_certificate, require
from twin.services.jpki import CaKind, Jpki, JpkiError
from twin.services.jpki.validation import SignedCheckError, check_signed


class Problem(StrEnum):
    """Why the portal refused, as a code; the router maps each to an HTTP status."""

    MALFORMED = "malformed"  # 400
    BAD_SIGNATURE = "bad_signature"  # 401
    CERTIFICATE = "certificate"  # 403: expired, revoked, unknown, wrong CA
    NOT_YOURS = "not_yours"  # 403: signed by someone else's card
    NOT_FOUND = "not_found"  # 404
    CONFLICT = "conflict"  # 409
    REFUSED = "refused"  # 422: the request is well formed but the rules refuse it


class PortalRefusal(Exception):
    def __init__(self, problem: Problem, message: str) -> None:
        self.problem = problem
        super().__init__(message)


def signing_bytes(kind: str, fields: dict[str, object]) -> bytes:
    """The exact bytes a card signs for a portal act of ``kind`` (``fields`` must be JSON values)."""
    return json.dumps({"act": kind, **fields}, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def verify_signed(jpki: Jpki, document: bytes, signature: bytes, certificate_der: bytes, now: dt.datetime) -> str:
    """The ``person_ref`` of the signer; :class:`PortalRefusal` names the first failed check."""
    try:
        cert = check_signed(jpki, certificate_der, document, signature, now, CaKind.SIGN, "signature certificate")
    except SignedCheckError as exc:
        raise PortalRefusal(Problem(exc.check.value), str(exc)) from None  # the same codes
    try:  # the card's or the phone's signature certificate, both IAL3 (twin.services.assurance)
        require("portal.signed_act", for_certificate(cert))
    except (AssuranceRefused, JpkiError) as exc:
        raise PortalRefusal(Problem.CERTIFICATE, f"signature certificate: {exc}") from None
    record = jpki.store.get(cert.serial_number)
    if record is None or record.person_ref is None:
        raise PortalRefusal(Problem.CERTIFICATE, "signature certificate: the centre names no holder for it")
    return record.person_ref
