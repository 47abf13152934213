"""The OCSP responder: answers per CertID, signed by the delegated responder, nonce echoed, never a crash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.services.jpki import cert_id
from twin.services.jpki import der as d
from twin.services.jpki.keys import derive_key
from twin.services.jpki.ocsp import MALFORMED_REQUEST, NONCE_OID, UNAUTHORIZED, parse_request

HOUR = timedelta(hours=1)


def request(*cert_ids: bytes, nonce: bytes | None = None) -> bytes:
    """A DER OCSPRequest as clients build it (several CertIDs allowed, optional nonce)."""
    tbs = [d.seq(*(d.seq(c) for c in cert_ids))]
    if nonce is not None:
        ext = d.seq(NONCE_OID, d.tlv(d.OCTET_STRING, d.tlv(d.OCTET_STRING, nonce)))
        tbs.append(d.tlv(0xA2, d.seq(ext)))
    return d.seq(d.seq(*tbs))


def cryptography_request(cert, issuer, algorithm=None, nonce: bytes | None = None) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, algorithm or hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(Encoding.DER)


def verify_signature(response: ocsp.OCSPResponse, root: x509.Certificate) -> x509.Certificate:
    """Check the response like a relying party: delegated responder issued by the root, signature valid."""
    (responder,) = response.certificates
    responder.verify_directly_issued_by(root)
    assert list(responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.OCSP_SIGNING
    ]
    responder.extensions.get_extension_for_class(x509.OCSPNoCheck)
    responder.public_key().verify(response.signature, response.tbs_response_bytes, padding.PKCS1v15(), hashes.SHA256())
    return responder


@pytest.fixture
def auth(jpki, holder_key, info, now):
    return jpki.issue_auth_certificate(holder_key.public_key(), info.birth_date, now, 13101, person_ref="p-1")


@pytest.mark.parametrize("algorithm", [hashes.SHA1(), hashes.SHA256(), hashes.SHA384(), hashes.SHA512()])
def test_a_good_certificate_is_answered_good_and_signed_by_the_delegated_responder(jpki, auth, now, algorithm):
    raw = jpki.ocsp.respond(cryptography_request(auth, jpki.auth_ca.certificate, algorithm), now)
    response = ocsp.load_der_ocsp_response(raw)
    assert response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == auth.serial_number
    assert response.this_update_utc == response.produced_at_utc == now
    assert response.next_update_utc == now + timedelta(hours=24)
    responder = verify_signature(response, jpki.auth_ca.certificate)
    assert response.responder_key_hash == x509.SubjectKeyIdentifier.from_public_key(responder.public_key()).digest


def test_a_revoked_certificate_is_answered_with_time_and_reason(jpki, info, holder_key, now):
    sign = jpki.issue_sign_certificate(holder_key.public_key(), info, now, 13101)
    jpki.revoke(sign, "loss", now + HOUR)
    response = ocsp.load_der_ocsp_response(
        jpki.ocsp.respond(cryptography_request(sign, jpki.sign_ca.certificate), now + 2 * HOUR)
    )
    assert response.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_time_utc == now + HOUR
    assert response.revocation_reason is x509.ReasonFlags.key_compromise
    verify_signature(response, jpki.sign_ca.certificate)


def test_an_unissued_serial_or_the_wrong_issuer_is_unknown(jpki, auth, now):
    stray = cert_id(jpki.auth_ca.certificate, auth.serial_number + 1000)
    wrong_ca = cert_id(jpki.sign_ca.certificate, auth.serial_number)  # auth serial asked of the sign CA
    for cid in (stray, wrong_ca):
        response = ocsp.load_der_ocsp_response(jpki.ocsp.respond(request(cid), now))
        assert response.certificate_status is ocsp.OCSPCertStatus.UNKNOWN


def test_each_certid_of_a_request_gets_its_own_answer_in_order(jpki, auth, holder_key, info, now):
    other = jpki.issue_auth_certificate(holder_key.public_key(), info.birth_date, now, 13101)
    jpki.revoke(other, "death", now)
    ids = [cert_id(jpki.auth_ca.certificate, s) for s in (auth.serial_number, other.serial_number, 1)]
    response = ocsp.load_der_ocsp_response(jpki.ocsp.respond(request(*ids), now))
    statuses = [(r.serial_number, r.certificate_status) for r in response.responses]
    assert statuses == [
        (auth.serial_number, ocsp.OCSPCertStatus.GOOD),
        (other.serial_number, ocsp.OCSPCertStatus.REVOKED),
        (1, ocsp.OCSPCertStatus.UNKNOWN),
    ]
    verify_signature(response, jpki.auth_ca.certificate)


def test_the_nonce_is_echoed(jpki, auth, now):
    raw = jpki.ocsp.respond(cryptography_request(auth, jpki.auth_ca.certificate, nonce=b"n" * 16), now)
    response = ocsp.load_der_ocsp_response(raw)
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"n" * 16
    plain = ocsp.load_der_ocsp_response(jpki.ocsp.respond(cryptography_request(auth, jpki.auth_ca.certificate), now))
    assert len(plain.extensions) == 0


@pytest.mark.parametrize("size", [0, 33])
def test_a_nonce_outside_1_to_32_octets_is_a_malformed_request(jpki, auth, now, size):
    req = request(cert_id(jpki.auth_ca.certificate, auth.serial_number), nonce=b"x" * size)
    assert jpki.ocsp.respond(req, now) == MALFORMED_REQUEST


def test_a_request_only_about_foreign_issuers_is_unauthorized(jpki, now):
    foreign = d.seq(
        d.seq(d.oid("1.3.14.3.2.26"), b"\x05\x00"), d.tlv(4, b"\0" * 20), d.tlv(4, b"\1" * 20), d.integer(5)
    )
    assert jpki.ocsp.respond(request(foreign), now) == UNAUTHORIZED
    status = ocsp.load_der_ocsp_response(UNAUTHORIZED).response_status
    assert status is ocsp.OCSPResponseStatus.UNAUTHORIZED


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x30", b"\x30\x00", b"\x30\x80\x00\x00", b"\x04\x03abc", b"\x30\x03\x30\x01\x00", bytes(100)],
)
def test_malformed_requests_get_a_malformed_request_response(jpki, now, raw):
    answer = jpki.ocsp.respond(raw, now)
    assert answer == MALFORMED_REQUEST
    assert ocsp.load_der_ocsp_response(answer).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(cut=st.integers(0, 200), flip=st.integers(0, 200), noise=st.binary(max_size=8))
def test_damaged_requests_never_raise_and_always_give_a_parseable_answer(jpki, auth, now, cut, flip, noise):
    good = bytearray(cryptography_request(auth, jpki.auth_ca.certificate, nonce=b"abcdefgh"))
    if flip < len(good):
        good[flip] ^= 0x5A
    damaged = bytes(good[: max(0, len(good) - cut % (len(good) + 1))]) + noise
    answer = jpki.ocsp.respond(damaged, now)
    response = ocsp.load_der_ocsp_response(answer)
    assert response.response_status in (
        ocsp.OCSPResponseStatus.SUCCESSFUL,
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
        ocsp.OCSPResponseStatus.UNAUTHORIZED,
    )


@given(
    serials=st.lists(st.integers(1, 2**159 - 1), min_size=1, max_size=5),
    nonce=st.none() | st.binary(min_size=1, max_size=32),
    algorithm=st.sampled_from(["sha1", "sha256", "sha384", "sha512"]),
)
def test_requests_round_trip_through_the_parser(serials, nonce, algorithm):
    ids = [cert_id(_ISSUER, s, algorithm) for s in serials]
    parsed = parse_request(request(*ids, nonce=nonce))
    assert [c.raw for c in parsed.cert_ids] == ids and [c.serial for c in parsed.cert_ids] == serials
    assert (parsed.nonce_extension is None) == (nonce is None)


def _issuer() -> x509.Certificate:
    key = derive_key(3, 0, 1024)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer")])
    t = datetime(2026, 1, 1, tzinfo=UTC)
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(t).not_valid_after(t + timedelta(days=1)).sign(key, hashes.SHA256())
    )  # fmt: skip


_ISSUER = _issuer()


def test_answers_without_nonce_are_cached_until_next_update(jpki, auth, now):
    req = cryptography_request(auth, jpki.auth_ca.certificate)
    first = jpki.ocsp.respond(req, now)
    assert jpki.ocsp.respond(req, now + HOUR) == first  # served from the cache: same bytes, old producedAt
    assert jpki.ocsp.cache.hits == 1
    later = jpki.ocsp.respond(req, now + timedelta(hours=24))  # at nextUpdate the answer is signed again
    assert later != first and ocsp.load_der_ocsp_response(later).this_update_utc == now + timedelta(hours=24)


def test_revocation_drops_the_cached_good_answer(jpki, auth, now):
    req = cryptography_request(auth, jpki.auth_ca.certificate)
    jpki.ocsp.respond(req, now)
    jpki.revoke(auth, "loss", now + HOUR)
    response = ocsp.load_der_ocsp_response(jpki.ocsp.respond(req, now + HOUR))
    assert response.certificate_status is ocsp.OCSPCertStatus.REVOKED


def test_unknown_answers_and_nonce_answers_are_never_cached(jpki, auth, now):
    jpki.ocsp.respond(request(cert_id(jpki.auth_ca.certificate, 424242)), now)
    jpki.ocsp.respond(cryptography_request(auth, jpki.auth_ca.certificate, nonce=b"12345678"), now)
    assert len(jpki.ocsp.cache) == 0


def test_presigned_answers_are_what_a_fresh_request_would_get(jpki, auth, holder_key, info, now):
    sign = jpki.issue_sign_certificate(holder_key.public_key(), info, now, 13101)
    assert jpki.ocsp.presign([auth, sign], now) == 4  # SHA-1 and SHA-256 CertIDs for each
    for cert, issuer in ((auth, jpki.auth_ca.certificate), (sign, jpki.sign_ca.certificate)):
        for algorithm in (hashes.SHA1(), hashes.SHA256()):
            cached = jpki.ocsp.cache.get(
                parse_request(cryptography_request(cert, issuer, algorithm)).cert_ids[0].raw, (now + HOUR).timestamp()
            )
            assert cached is not None
            response = ocsp.load_der_ocsp_response(cached)
            assert (
                response.certificate_status is ocsp.OCSPCertStatus.GOOD and response.serial_number == cert.serial_number
            )
            verify_signature(response, issuer)
    jpki.revoke(sign, "card_return", now + HOUR)
    assert len(jpki.ocsp.cache) == 2


def test_responses_are_deterministic(infra_keys, holder_key, info, now):
    from twin.services.jpki import Jpki

    def answer():
        j = Jpki.bootstrap(now, infra_keys)
        cert = j.issue_auth_certificate(holder_key.public_key(), info.birth_date, now, 13101)
        return j.ocsp.respond(cryptography_request(cert, j.auth_ca.certificate, nonce=b"abc"), now)

    assert answer() == answer()


def test_the_cache_is_bounded_and_drops_the_oldest_answers(jpki, holder_key, info, now):
    from twin.services.jpki.ocsp import ResponseCache

    cache = ResponseCache(max_entries=2)
    for serial in (1, 2, 3):
        cache.put(bytes([serial]), serial, 0.0, 10.0, b"answer")
    assert len(cache) == 2 and cache.get(b"\x01", 5.0) is None and cache.get(b"\x03", 5.0) == b"answer"
    assert cache.invalidate(1) == 0 and cache.invalidate(3) == 1 and len(cache) == 1
    with pytest.raises(ValueError, match="max_entries: 0 is not allowed"):
        ResponseCache(0)


def test_a_naive_time_is_a_caller_error_not_a_malformed_request(jpki, auth, now):
    from twin.services.jpki import InvalidTimeError

    with pytest.raises(InvalidTimeError, match="has no time zone"):
        jpki.ocsp.respond(cryptography_request(auth, jpki.auth_ca.certificate), now.replace(tzinfo=None))
