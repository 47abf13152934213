"""JPKI service timings: OCSP answers (fresh and pre-signed), issuance, CRLs, key derivation.

Run with ``make bench`` (or ``.venv/bin/pytest benchmarks/test_bench_jpki.py --benchmark-only``).
The targets: fresh OCSP answers >= 3,000/s per core (one RSA-2048 signature each, so bounded by the
machine's RSA sign rate, which ``test_rsa_sign_alone`` measures for comparison) and pre-signed answers
>= 50,000/s.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from twin.services.jpki import BasicInfo, Jpki, KeySource
from twin.services.jpki.keys import derive_key
from twin.services.jpki.ocsp import parse_request

NOW = datetime(2026, 4, 1, 0, 30, tzinfo=UTC)
SEED = 20260401


@pytest.fixture(scope="module")
def keys() -> KeySource:
    return KeySource(SEED)


@pytest.fixture(scope="module")
def jpki(keys):
    return Jpki.bootstrap(NOW, keys)


@pytest.fixture(scope="module")
def cert(jpki, keys):
    return jpki.issue_auth_certificate(KeySource(SEED, pool_size=2).key(0).public_key(), date(1980, 2, 17), NOW, 13101)


def _request(cert, issuer, nonce: bytes | None) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(Encoding.DER)


def test_ocsp_fresh_response(benchmark, jpki, cert):
    """Every request carries a nonce, so every answer is built and signed anew."""
    request = _request(cert, jpki.auth_ca.certificate, b"0123456789abcdef")
    answer = benchmark(jpki.ocsp.respond, request, NOW)
    assert ocsp.load_der_ocsp_response(answer).certificate_status is ocsp.OCSPCertStatus.GOOD


def test_rsa_sign_alone(benchmark, keys):
    """The floor under a fresh OCSP answer: one RSA-2048 PKCS#1 v1.5 SHA-256 signature."""
    key = keys.named("auth-ocsp")
    benchmark(key.sign, b"x" * 300, padding.PKCS1v15(), hashes.SHA256())


def test_ocsp_presigned_response(benchmark, jpki, cert):
    """Requests without a nonce are answered from the pre-signed cache (parse + lookup + stored DER)."""
    jpki.ocsp.presign([cert], NOW)
    request = _request(cert, jpki.auth_ca.certificate, None)
    answer = benchmark(jpki.ocsp.respond, request, NOW + timedelta(hours=1))
    assert ocsp.load_der_ocsp_response(answer).certificate_status is ocsp.OCSPCertStatus.GOOD


def test_ocsp_cache_lookup_by_certid(benchmark, jpki, cert):
    jpki.ocsp.presign([cert], NOW)
    cert_id = parse_request(_request(cert, jpki.auth_ca.certificate, None)).cert_ids[0].raw
    ts = (NOW + timedelta(hours=1)).timestamp()
    assert benchmark(jpki.ocsp.cache.get, cert_id, ts) is not None


def test_ocsp_request_parse(benchmark, jpki, cert):
    request = _request(cert, jpki.auth_ca.certificate, b"0123456789abcdef")
    benchmark(parse_request, request)


def test_issue_auth_certificate(benchmark, jpki, cert):
    key = cert.public_key()
    benchmark(jpki.issue_auth_certificate, key, date(1980, 2, 17), NOW, 13101)


def test_issue_sign_certificate(benchmark, jpki, cert):
    info = BasicInfo("山田\u3000太郎", "東京都千代田区霞が関１丁目２番３号", date(1980, 2, 17), "1")
    benchmark(jpki.issue_sign_certificate, cert.public_key(), info, NOW, 13101)


def test_crl_with_1000_revocations(benchmark, keys, cert):
    j = Jpki.bootstrap(NOW, keys)
    for _ in range(1000):
        c = j.issue_auth_certificate(cert.public_key(), date(1980, 2, 17), NOW, 13101)
        j.revoke(c, "loss", NOW)
    crl = benchmark(j.crl, "auth", NOW + timedelta(hours=1))
    assert len(crl) == 1000


def test_derive_rsa_2048_key(benchmark):
    """Deriving one seeded key without the disk cache (paid once per key per machine)."""
    counter = iter(range(10**6))
    benchmark.pedantic(lambda: derive_key(999, next(counter), 2048), rounds=5, iterations=1)
