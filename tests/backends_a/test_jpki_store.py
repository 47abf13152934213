"""The JPKI centre's ledger on the durable stores: the same certificates, revocations and CRLs as in memory."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from real_backends.stores.jpki import RecordsJpkiStore
from twin.services.jpki import Jpki, KeySource
from twin.services.jpki.errors import AlreadyRevokedError, SerialReusedError, UnknownCertificateError
from twin.services.jpki.profile import CaKind
from twin.services.jpki.store import MemoryStore as JpkiMemoryStore
from twin.services.jpki.store import RevocationReason

NOW = datetime(2026, 4, 1, 0, 30, tzinfo=UTC)
BIRTH = date(1980, 2, 17)


@pytest.fixture(scope="module")
def keys() -> KeySource:
    return KeySource(20260401)


def _drill(jpki: Jpki, keys: KeySource) -> bytes:
    """Issue three auth certificates for two people, revoke one person's, publish the auth CRL."""
    holder = keys.named("holder-a").public_key()
    certs = [jpki.issue_auth_certificate(holder, BIRTH, NOW, 13101, person_ref=ref) for ref in ("p1", "p1", "p2")]
    later = NOW + timedelta(hours=1)
    assert jpki.revoke_person("p1", "loss", later) == [c.serial_number for c in certs[:2]]
    crl = jpki.crl(CaKind.AUTH, later + timedelta(minutes=1))
    crl = crl if isinstance(crl, x509.CertificateRevocationList) else x509.load_der_x509_crl(crl)
    assert sorted(r.serial_number for r in crl) == sorted(c.serial_number for c in certs[:2])
    return b"".join(c.public_bytes(Encoding.DER) for c in certs) + crl.public_bytes(Encoding.DER)


def test_a_durable_ledger_gives_the_same_certificates_and_crl_bytes_as_memory(make_store, keys: KeySource) -> None:
    in_memory = _drill(Jpki.bootstrap(NOW, keys, store=JpkiMemoryStore()), keys)
    store = make_store()
    durable = _drill(Jpki.bootstrap(NOW, keys, store=RecordsJpkiStore(store)), keys)
    assert durable == in_memory
    reopened = RecordsJpkiStore(make_store())
    assert [r.person_ref for r in reopened.revoked(CaKind.AUTH)] == ["p1", "p1"]
    assert reopened.next_crl_number(CaKind.AUTH) == 2, "the CRL number continues after a restart"
    assert len(reopened) == 7, "two roots, two OCSP responders, three holder certificates"


def test_the_ledger_refuses_reused_serials_and_double_revocation_by_name(make_store, keys: KeySource) -> None:
    ledger = RecordsJpkiStore(make_store())
    jpki = Jpki.bootstrap(NOW, keys, store=ledger)
    cert = jpki.issue_auth_certificate(keys.named("holder-a").public_key(), BIRTH, NOW, 13101, person_ref="p")
    record = ledger.get(cert.serial_number)
    with pytest.raises(SerialReusedError, match=f"serial {cert.serial_number:#x} is already used by a auth"):
        ledger.add(record)  # type: ignore[arg-type]
    ledger.mark_revoked(cert.serial_number, NOW, RevocationReason.LOSS)
    with pytest.raises(AlreadyRevokedError, match="already revoked at 2026-04-01T00:30:00"):
        ledger.mark_revoked(cert.serial_number, NOW, RevocationReason.LOSS)
    with pytest.raises(UnknownCertificateError, match="serial 0x1: no certificate with this serial"):
        ledger.mark_revoked(1, NOW, RevocationReason.LOSS)
    assert ledger.next_serial() == cert.serial_number + 1
