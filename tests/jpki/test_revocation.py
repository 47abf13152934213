"""Revocation, CRLs and validation: what the ledger says, the CRL publishes and a relying party concludes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from twin.services.jpki import (
    AlreadyRevokedError,
    CertState,
    InvalidReasonError,
    InvalidTimeError,
    Outcome,
    RevocationReason,
    UnknownCertificateError,
)

LATER = timedelta(hours=1)


@pytest.fixture
def pair(jpki, holder_key, info, now):
    """A person's two certificates."""
    auth = jpki.issue_auth_certificate(holder_key.public_key(), info.birth_date, now, 13101, person_ref="p-1")
    sign = jpki.issue_sign_certificate(holder_key.public_key(), info, now, 13101, person_ref="p-1")
    return auth, sign


def test_a_fresh_certificate_is_good_and_valid(jpki, pair, now):
    auth, sign = pair
    assert jpki.status(auth, now).state is CertState.GOOD
    result = jpki.validate(sign, now, kind="sign")
    assert result.ok and result.outcome is Outcome.VALID and bool(result)


@pytest.mark.parametrize("reason", ["loss", "death", "card_return", RevocationReason.SUSPENSION])
def test_revocation_is_visible_from_its_time_on(jpki, pair, now, reason):
    auth, _ = pair
    jpki.revoke(auth, reason, now + LATER)
    assert jpki.status(auth, now).state is CertState.GOOD  # before the revocation time
    status = jpki.status(auth, now + LATER)
    assert status.state is CertState.REVOKED and status.revoked_at == now + LATER
    assert status.reason is RevocationReason.parse(reason)
    assert jpki.validate(auth, now + LATER).outcome is Outcome.REVOKED


def test_a_change_of_basic_items_revokes_only_that_persons_signature_certificates(jpki, pair, holder_key, info, now):
    auth, sign = pair
    other = jpki.issue_sign_certificate(holder_key.public_key(), info, now, 13101, person_ref="p-2")
    assert jpki.on_basic_info_changed("p-1", now + LATER) == [sign.serial_number]
    assert jpki.status(sign, now + LATER).reason is RevocationReason.BASIC_INFO_CHANGED
    assert jpki.status(auth, now + LATER).is_good and jpki.status(other, now + LATER).is_good
    assert jpki.on_basic_info_changed("p-1", now + 2 * LATER) == []  # nothing left to revoke


def test_revoke_person_takes_every_live_certificate_once(jpki, pair, now):
    assert sorted(jpki.revoke_person("p-1", "death", now)) == sorted(c.serial_number for c in pair)
    assert jpki.revoke_person("p-1", "death", now) == []


def test_revocation_refusals_name_the_problem(jpki, pair, now):
    auth, sign = pair
    jpki.revoke(sign, "loss", now)
    with pytest.raises(AlreadyRevokedError, match=r"already revoked at 2026-04-01T00:30:00\+00:00 \(loss\)"):
        jpki.revoke(sign.serial_number, "death", now)
    with pytest.raises(UnknownCertificateError, match="serial 0x7: no certificate with this serial"):
        jpki.revoke(7, "loss", now)
    with pytest.raises(InvalidReasonError, match="revocation reason: 'stolen' is not allowed; use one of loss"):
        jpki.revoke(auth, "stolen", now)
    with pytest.raises(InvalidReasonError, match="applies to signature certificates only"):
        jpki.revoke(auth, "basic_info_changed", now)
    with pytest.raises(InvalidTimeError, match="before issuance"):
        jpki.revoke(auth, "loss", now - LATER)
    with pytest.raises(InvalidReasonError, match="root certificates are not revoked here"):
        jpki.revoke(jpki.auth_ca.certificate, "loss", now)


def test_the_crl_lists_revoked_serials_with_reasons_and_a_growing_number(jpki, pair, now):
    auth, sign = pair
    first = jpki.crl("auth", now)
    assert len(first) == 0 and first.is_signature_valid(jpki.auth_ca.public_key())
    jpki.revoke(auth, "loss", now)
    jpki.revoke(sign, "card_return", now)
    crl = jpki.crl("auth", now + LATER)
    assert crl.is_signature_valid(jpki.auth_ca.public_key()) and crl.issuer == jpki.auth_ca.name
    assert [r.serial_number for r in crl] == [auth.serial_number]  # the sign CA lists the other one
    entry = crl.get_revoked_certificate_by_serial_number(auth.serial_number)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise
    assert entry.revocation_date_utc == now
    numbers = [c.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number for c in (first, crl)]
    assert numbers == [1, 2]
    assert crl.last_update_utc == now + LATER and crl.next_update_utc == now + LATER + timedelta(hours=24)
    sign_crl = jpki.crl("sign", now + LATER)
    reason = sign_crl.get_revoked_certificate_by_serial_number(sign.serial_number).extensions
    assert reason.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.cessation_of_operation
    with pytest.raises(Exception, match="CA kind: 'both' is not allowed"):
        jpki.crl("both", now)


def test_expired_revoked_certificates_leave_the_crl(jpki, pair, now):
    auth, _ = pair
    jpki.revoke(auth, "loss", now)
    assert len(jpki.crl("auth", auth.not_valid_after_utc)) == 1
    assert len(jpki.crl("auth", auth.not_valid_after_utc + timedelta(seconds=1))) == 0


def test_validation_names_the_failed_check(jpki, pair, now):
    auth, sign = pair
    assert jpki.validate(auth, now, kind="sign").outcome is Outcome.WRONG_CA
    assert jpki.validate(auth, now - LATER).outcome is Outcome.NOT_YET_VALID
    assert jpki.validate(auth, auth.not_valid_after_utc + timedelta(seconds=1)).outcome is Outcome.EXPIRED
    assert jpki.validate(auth, auth.not_valid_after_utc).ok


def _forge(issuer_name, subject_key, now, serial=99):
    key = rsa.generate_private_key(65537, 2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"), x509.NameAttribute(NameOID.COMMON_NAME, "F")])
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name).public_key(subject_key)
        .serial_number(serial).not_valid_before(now).not_valid_after(now + timedelta(days=30))
    )  # fmt: skip
    return builder.sign(key, hashes.SHA256())


def test_certificates_from_elsewhere_are_not_valid(jpki, holder_key, now):
    stranger = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Some Other CA")])
    assert jpki.validate(_forge(stranger, holder_key.public_key(), now), now).outcome is Outcome.UNKNOWN_ISSUER
    forged = _forge(jpki.auth_ca.name, holder_key.public_key(), now)
    assert jpki.validate(forged, now).outcome is Outcome.BAD_SIGNATURE
    assert jpki.status(forged, now).state is CertState.UNKNOWN


def test_status_before_issuance_or_of_unknown_serials_is_unknown(jpki, pair, now):
    auth, _ = pair
    assert jpki.status(auth, now - LATER).state is CertState.UNKNOWN
    assert jpki.status(123456789, now).state is CertState.UNKNOWN


def test_statuses_follow_the_ledger_for_a_whole_population(jpki, holder_key, now):
    """Invariant: after random revocations, CRL, status and validate agree on every certificate."""
    import numpy as np

    rng = np.random.default_rng(5)
    certs = [
        jpki.issue_auth_certificate(holder_key.public_key(), date(1970, 1, 1) + timedelta(days=int(d)), now, 13101)
        for d in rng.integers(0, 15000, size=30)
    ]
    revoked = {c.serial_number for c in certs if rng.random() < 0.4}
    for c in certs:
        if c.serial_number in revoked:
            jpki.revoke(c, rng.choice(["loss", "death", "card_return"]), now)
    at = now + LATER
    crl = {r.serial_number for r in jpki.crl("auth", at)}
    assert crl == revoked
    for c in certs:
        assert (jpki.status(c, at).state is CertState.REVOKED) == (c.serial_number in revoked)
        assert jpki.validate(c, at).ok == (c.serial_number not in revoked)


def test_birthdays_are_counted_on_the_japanese_calendar(jpki, holder_key):
    # 16:00 UTC on 1 April is already 2 April in Japan: a holder born on 2 April has a birthday that day,
    # which does not count, so the certificate runs to the 5th birthday after it (2031, not 2030)
    now = datetime(2026, 4, 1, 16, 0, tzinfo=UTC)
    cert = jpki.issue_auth_certificate(holder_key.public_key(), date(1980, 4, 2), now, 13101)
    assert cert.not_valid_after_utc == datetime(2031, 4, 2, 14, 59, 59, tzinfo=UTC)
    jst = now.astimezone(timezone(timedelta(hours=9)))
    assert jpki.status(cert, jst).is_good  # any aware time is accepted


def test_the_invariant_check_passes_on_a_consistent_centre_and_catches_a_stale_answer(jpki, pair, now):
    auth, sign = pair
    serials = [auth.serial_number, sign.serial_number]
    jpki.ocsp.presign(pair, now)
    jpki.revoke(auth, "loss", now + LATER)  # drops the pre-signed good answers about auth
    jpki.check_invariants(now + LATER, serials)
    # a good answer left in the cache for a revoked serial breaks the invariant
    request = ocsp.OCSPRequestBuilder().add_certificate(sign, jpki.sign_ca.certificate, hashes.SHA1()).build()
    good = jpki.ocsp.respond(request.public_bytes(Encoding.DER), now)
    jpki.ocsp.cache.put(b"stale", auth.serial_number, 0.0, 1e12, good)
    with pytest.raises(AssertionError, match="cached answer says good"):
        jpki.check_invariants(now + LATER, serials)


def test_a_municipal_crl_partition_lists_only_that_municipalitys_certificates(jpki, pair, holder_key, info, now):
    auth, _ = pair
    sapporo = jpki.issue_auth_certificate(holder_key.public_key(), info.birth_date, now, 1100)
    jpki.revoke(auth, "loss", now)
    jpki.revoke(sapporo, "death", now)
    assert [r.serial_number for r in jpki.crl("auth", now, municipality_code=1100)] == [sapporo.serial_number]
    assert [r.serial_number for r in jpki.crl("auth", now, municipality_code=13101)] == [auth.serial_number]
    assert len(jpki.crl("auth", now)) == 2
    assert len(jpki.crl("auth", now, municipality_code=40133)) == 0
