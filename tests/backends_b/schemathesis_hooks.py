"""Schemathesis hooks for the OCSP repository (loaded by ``schemathesis run`` through ``SCHEMATHESIS_HOOKS``).

The OCSP document says what the responder takes: a DER OCSPRequest as an ``application/ocsp-request``
body (``format: binary``) or, base64url, in the GET URL (``format: ocsp-request-base64url``). JSON
Schema cannot say what DER is, so schemathesis is told here how to make such requests: RFC 6960
OCSPRequests built with ``cryptography`` for the deployment's real certificates and for serials no
CA issued, by SHA-1 or SHA-256 CertID, with or without a nonce. Generated garbage still reaches the
server through the negative cases.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
from typing import Any

import schemathesis
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from hypothesis import strategies as st

from real_backends.load.deployment import Deployment

from .conftest import SPEC

OCSP_REQUEST = "application/ocsp-request"

_deployment = Deployment.build(SPEC)
_issuers = [_deployment.jpki.authority(kind).certificate for kind in ("auth", "sign")]
_serials = sorted({h.auth_certificate.serial_number for h in _deployment.holders}
                  | {x509.load_der_x509_certificate(h.perso.sign_certificate).serial_number
                     for h in _deployment.holders})  # fmt: skip


def _request(issuer: x509.Certificate, serial: int, algorithm: hashes.HashAlgorithm, nonce: bytes | None) -> bytes:
    name_hash = hashes.Hash(algorithm)
    name_hash.update(issuer.subject.public_bytes())
    key_hash = hashes.Hash(algorithm)
    key_hash.update(issuer.public_key().public_bytes(Encoding.DER, _pkcs1()))
    builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(name_hash.finalize(), key_hash.finalize(), serial,
                                                                algorithm)  # fmt: skip
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(Encoding.DER)


def _pkcs1() -> Any:
    from cryptography.hazmat.primitives.serialization import PublicFormat

    return PublicFormat.PKCS1


ocsp_requests = st.builds(
    _request,
    st.sampled_from(_issuers),
    st.one_of(st.sampled_from(_serials), st.integers(1, 2**159 - 1)),
    st.sampled_from([hashes.SHA1(), hashes.SHA256()]),
    st.one_of(st.none(), st.binary(min_size=1, max_size=32)),
)

schemathesis.openapi.media_type(OCSP_REQUEST, ocsp_requests)
schemathesis.openapi.format(
    "ocsp-request-base64url", ocsp_requests.map(lambda der: base64.urlsafe_b64encode(der).rstrip(b"=").decode())
)


# on the wire as the bytes they are, as schemathesis sends application/octet-stream (anything a negative
# case makes that is not bytes goes as its text)
schemathesis.serializer.alias(OCSP_REQUEST, "application/octet-stream")


# -- payout: what a correct client does -----------------------------------------------------------
# ``before_call`` runs in every phase (coverage included), just before the request goes out.
#
# A client makes a new Idempotency-Key for each new submission; reusing one for another payload is
# refused with 422 (draft-ietf-httpapi-idempotency-key-header, section 2.7), which the schema cannot
# show and tests/backends_a/test_payout_api.py (and test_points_api.py for the points API's
# /applications and /claims, test_points_linking.py for its phase-2 linking parts) checks. Valid keys are
# made unique here (a counter: the run stays reproducible); missing, empty or over-long ones are left as generated.
#
# Transfer batches go out on business days only (a 422 otherwise, also checked there); JSON Schema
# cannot list Japan's holidays, so a valid date is moved to the next business day. Both changes
# keep a valid request valid and an invalid one invalid.
_keys = itertools.count()
KEYED = ("/applications", "/disbursements", "/claims", "/phase2/insurance-linking", "/phase2/account-registration")


@schemathesis.hook
def before_call(ctx: schemathesis.HookContext, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    if case.method.upper() != "POST" or case.path not in KEYED:
        return
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and 1 <= len(key) <= 200:
        suffix = f"-{next(_keys)}"
        case.headers = {**case.headers, "Idempotency-Key": key[: 200 - len(suffix)] + suffix}  # type: ignore[dict-item]
    if case.path == "/disbursements":
        case.body = _on_a_business_day(case.body)


def _on_a_business_day(body: Any) -> Any:
    from real_backends.payout_api import FIRST_DAY, LAST_DAY, is_business_day

    try:
        day = dt.date.fromisoformat(body["on"])
    except (TypeError, KeyError, ValueError):
        return body
    if not FIRST_DAY <= day <= LAST_DAY - dt.timedelta(days=10):
        return body
    while not is_business_day(day):
        day += dt.timedelta(days=1)
    return {**body, "on": day.isoformat()}
