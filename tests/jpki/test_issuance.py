"""Issuing: the two roots, the user-authentication and signature certificate profiles, and refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, SignatureAlgorithmOID

from twin.services.jpki import (
    BasicInfo,
    CaKind,
    InvalidNameError,
    InvalidTimeError,
    Jpki,
    SerialReusedError,
    UnderageError,
    WeakKeyError,
    read_basic_info,
)
from twin.services.jpki.keys import derive_key

AUTH_ISSUER = "OU=Japan Agency for Local Authority Information Systems,OU=JPKI for user authentication,O=JPKI,C=JP"
SIGN_ISSUER = "OU=Japan Agency for Local Authority Information Systems,OU=JPKI for digital signature,O=JPKI,C=JP"


def _ext(cert: x509.Certificate, cls):
    return cert.extensions.get_extension_for_class(cls)


def _der_header_ok(cert: x509.Certificate) -> bool:
    der = cert.public_bytes(Encoding.DER)
    return der[:2] == b"\x30\x82" and int.from_bytes(der[2:4], "big") == len(der) - 4


@pytest.mark.parametrize(("which", "issuer"), [("auth_ca", AUTH_ISSUER), ("sign_ca", SIGN_ISSUER)])
def test_each_root_is_self_signed_rsa_2048_with_the_jpki_name(jpki, which, issuer):
    root = getattr(jpki, which).certificate
    assert root.subject.rfc4514_string() == issuer and root.issuer == root.subject
    assert root.public_key().key_size == 2048 and root.public_key().public_numbers().e == 65537
    assert root.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
    assert _ext(root, x509.BasicConstraints).value.ca and _ext(root, x509.BasicConstraints).critical
    assert _ext(root, x509.KeyUsage).value.key_cert_sign and _ext(root, x509.KeyUsage).value.crl_sign
    root.verify_directly_issued_by(root)
    assert _der_header_ok(root)


def test_the_auth_certificate_names_nobody_and_carries_the_auth_profile(jpki, holder_key, now):
    cert = jpki.issue_auth_certificate(holder_key.public_key(), date(1980, 2, 17), now, 13101)
    attrs = [(a.oid, a.value) for a in cert.subject]
    assert [oid for oid, _ in attrs] == [NameOID.COUNTRY_NAME, NameOID.COMMON_NAME]
    cn = attrs[1][1]
    assert len(cn) == 23 and cn.isalnum() and cn.upper() == cn
    assert cert.issuer.rfc4514_string() == AUTH_ISSUER
    assert cert.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256 and _der_header_ok(cert)
    ku = _ext(cert, x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.content_commitment
    assert list(_ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    policies = _ext(cert, x509.CertificatePolicies)
    assert policies.critical and [p.policy_identifier.dotted_string for p in policies.value] == [
        "1.2.392.200149.8.5.1.3.30"
    ]
    ian = _ext(cert, x509.IssuerAlternativeName).value.get_values_for_type(x509.DirectoryName)
    assert "地方公共団体情報システム機構" in ian[0].rfc4514_string()
    (dp,) = _ext(cert, x509.CRLDistributionPoints).value
    assert dp.full_name[0].value == "http://jpki.example/crl/auth/13101.crl"
    aia = {d.access_method: d.access_location.value for d in _ext(cert, x509.AuthorityInformationAccess).value}
    assert aia[x509.AuthorityInformationAccessOID.OCSP] == "http://jpki.example/ocsp/auth"
    with pytest.raises(x509.ExtensionNotFound):
        _ext(cert, x509.SubjectAlternativeName)  # no personal data anywhere
    cert.verify_directly_issued_by(jpki.auth_ca.certificate)


def test_both_certificates_run_to_the_end_of_the_fifth_birthday_after_issuance(jpki, holder_key, info, now):
    auth = jpki.issue_auth_certificate(holder_key.public_key(), info.birth_date, now, 13101)
    sign = jpki.issue_sign_certificate(holder_key.public_key(), info, now, 13101)
    end = datetime(2031, 2, 17, 14, 59, 59, tzinfo=UTC)  # 2031-02-17 23:59:59 JST
    assert auth.not_valid_after_utc == sign.not_valid_after_utc == end
    assert auth.not_valid_before_utc == now


def test_the_signature_certificate_carries_the_four_basic_items(jpki, holder_key, info, now):
    cert = jpki.issue_sign_certificate(holder_key.public_key(), info, now, 131016)
    assert read_basic_info(cert) == {
        "name": "山田\u3000太郎",
        "sex": "1",
        "birth_date": "319800217",
        "address": "東京都千代田区霞が関１丁目２番３号",
    }
    san = _ext(cert, x509.SubjectAlternativeName).value.get_values_for_type(x509.OtherName)
    assert [o.type_id.dotted_string for o in san] == [f"1.2.392.200149.8.5.5.{i}" for i in (1, 3, 4, 5)]
    assert all(o.value[0] == 0x0C for o in san)  # UTF8String
    ku = _ext(cert, x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
    policies = _ext(cert, x509.CertificatePolicies)
    assert policies.critical and policies.value[0].policy_identifier.dotted_string == "1.2.392.200149.8.5.1.1.20"
    assert cert.issuer.rfc4514_string() == SIGN_ISSUER
    assert cert.subject.get_attributes_for_oid(NameOID.LOCALITY_NAME)[0].value == "13101"
    cert.verify_directly_issued_by(jpki.sign_ca.certificate)


def test_serials_are_unique_across_both_authorities(jpki, holder_key, info, now):
    serials = [
        jpki.issue_auth_certificate(holder_key.public_key(), info.birth_date, now, 13101).serial_number
        for _ in range(3)
    ]
    serials += [jpki.issue_sign_certificate(holder_key.public_key(), info, now, 13101).serial_number for _ in range(3)]
    assert len(set(serials)) == 6


def test_the_same_seed_gives_the_same_bytes(infra_keys, holder_key, info, now):
    def run():
        j = Jpki.bootstrap(now, infra_keys)
        cert = j.issue_sign_certificate(holder_key.public_key(), info, now, 13101)
        return j.auth_ca.certificate.public_bytes(Encoding.DER) + cert.public_bytes(Encoding.DER)

    assert run() == run()


def test_no_signature_certificate_under_15(jpki, holder_key, now):
    child = BasicInfo("山田花子", "東京都", date(2011, 4, 2), "2")  # 14 on 2026-04-01
    with pytest.raises(UnderageError, match="the holder is 14 on 2026-04-01; it is issued only from age 15"):
        jpki.issue_sign_certificate(holder_key.public_key(), child, now, 13101)
    teen = BasicInfo("山田花子", "東京都", date(2011, 4, 1), "2")  # 15 today
    assert jpki.issue_sign_certificate(holder_key.public_key(), teen, now, 13101)
    assert jpki.issue_auth_certificate(holder_key.public_key(), child.birth_date, now, 13101)


def test_small_keys_other_algorithms_and_exponents_are_refused(jpki, now):
    with pytest.raises(WeakKeyError, match="RSA-1024 is too small; at least 2048 bits"):
        jpki.issue_auth_certificate(derive_key(1, 0, 1024).public_key(), date(1980, 1, 1), now, 13101)
    with pytest.raises(WeakKeyError, match="public key: EC.*PublicKey is not allowed; JPKI uses RSA-2048"):
        jpki.issue_auth_certificate(ec.generate_private_key(ec.SECP256R1()).public_key(), date(1980, 1, 1), now, 13101)
    with pytest.raises(WeakKeyError, match=r"a private key was passed; pass key.public_key\(\)"):
        jpki.issue_auth_certificate(derive_key(1, 0, 1024), date(1980, 1, 1), now, 13101)
    odd = rsa.RSAPublicNumbers(3, derive_key(1, 0, 2048).public_key().public_numbers().n).public_key()
    with pytest.raises(WeakKeyError, match="exponent 3 is not allowed"):
        jpki.issue_auth_certificate(odd, date(1980, 1, 1), now, 13101)


def test_a_reused_serial_is_refused(jpki, holder_key, now):
    first = jpki.issue_auth_certificate(holder_key.public_key(), date(1980, 1, 1), now, 13101)
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"), x509.NameAttribute(NameOID.COMMON_NAME, "X")])
    with pytest.raises(SerialReusedError, match=f"serial {first.serial_number:#x} is already used"):
        jpki.auth_ca.issue(holder_key.public_key(), subject, now, now + timedelta(days=1), serial=first.serial_number)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (0, 0, "not_after .* is not after not_before"),
        (10, 5, "not_after .* is not after not_before"),
        (-1, 5, "lies outside the auth CA's own validity"),
        (0, 365 * 30, "lies outside the auth CA's own validity"),
    ],
)
def test_empty_or_overlong_validity_windows_are_refused(jpki, holder_key, now, start, end, message):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "X")])
    with pytest.raises(InvalidTimeError, match=message):
        jpki.auth_ca.issue(holder_key.public_key(), subject, now + timedelta(days=start), now + timedelta(days=end))


def test_bad_names_and_times_are_refused_naming_the_problem(jpki, holder_key, info, now):
    key = holder_key.public_key()
    with pytest.raises(InvalidNameError, match="subject: .* a Name with a CN is required"):
        jpki.auth_ca.issue(key, x509.Name([]), now, now + timedelta(days=1))
    with pytest.raises(InvalidNameError, match="a Name with a CN is required"):  # e.g. the CA's own name
        jpki.auth_ca.issue(key, jpki.auth_ca.name, now, now + timedelta(days=1))
    with pytest.raises(InvalidNameError, match="municipality_code: 99999 is not allowed"):
        jpki.issue_auth_certificate(key, info.birth_date, now, 99999)
    with pytest.raises(InvalidTimeError, match="now: 2026-04-01T00:30:00 has no time zone"):
        jpki.issue_auth_certificate(key, info.birth_date, now.replace(tzinfo=None), 13101)
    with pytest.raises(InvalidTimeError, match="birth date: 2026-04-02 is after the issue date"):
        jpki.issue_auth_certificate(key, date(2026, 4, 2), now, 13101)
    with pytest.raises(InvalidNameError, match="info: a BasicInfo is required, got dict"):
        jpki.issue_sign_certificate(key, {"name": "x"}, now, 13101)
    with pytest.raises(InvalidNameError, match="holder CN: 'abc' is not allowed"):
        from twin.services.jpki.profile import holder_name

        holder_name("abc")


def test_founding_refusals_name_the_problem(infra_keys, now):
    from twin.services.jpki import CertificateAuthority, MemoryStore

    with pytest.raises(InvalidNameError, match="base_url: 'ftp://x' is not allowed"):
        Jpki.bootstrap(now, infra_keys, "ftp://x")
    with pytest.raises(InvalidTimeError, match="root validity: 0 years is not allowed"):
        Jpki.bootstrap(now, infra_keys, root_years=0)
    with pytest.raises(TypeError, match="keys: a KeySource is required"):
        Jpki.bootstrap(now, "seed")
    with pytest.raises(WeakKeyError, match="RSA-1024 is too small"):
        CertificateAuthority.create(CaKind.AUTH, derive_key(1, 0, 1024), now, MemoryStore(), "http://x")


def test_the_base_url_appears_in_every_published_location(infra_keys, holder_key, now):
    j = Jpki.bootstrap(now, infra_keys, "https://jpki.twin.test/")
    cert = j.issue_auth_certificate(holder_key.public_key(), date(1980, 1, 1), now, 13101)
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [d.access_location.value for d in aia] == [
        "https://jpki.twin.test/ocsp/auth",
        "https://jpki.twin.test/ca/auth.cer",
    ]
    assert j.authority("sign") is j.sign_ca and j.authority(CaKind.AUTH) is j.auth_ca
