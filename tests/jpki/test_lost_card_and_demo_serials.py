"""Issue 19, certificates: a card reported lost has BOTH its certificates revoked where relying
parties look (OCSP and each CA's CRL), and the demo cards of one demo CA never share a serial.

Before the fix the deployment revoked only the authentication certificate of a lost card: its
signature certificate stayed "good" in OCSP and absent from the signature CRL; and every
``twin card serve --resident demo-N`` card carried serials 0x1004/0x1005 from the same CA.
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from real_backends.load.deployment import EPOCH, Deployment, DeploymentSpec

AFTER_LOSS = EPOCH + dt.timedelta(hours=2)


@pytest.fixture(scope="module")
def deployment() -> Deployment:
    return Deployment.build(DeploymentSpec(seed=5, holders=4, revoked_every=2, key_pool=2))


def _ocsp_status(deployment: Deployment, cert: x509.Certificate, kind: str) -> ocsp.OCSPCertStatus:
    issuer = deployment.jpki.authority(kind).certificate
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
    answer = ocsp.load_der_ocsp_response(deployment.jpki.ocsp.respond(request.public_bytes(Encoding.DER), AFTER_LOSS))
    assert answer.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    return answer.certificate_status


def test_a_lost_card_has_both_certificates_revoked_in_ocsp_and_in_both_crls(deployment):
    lost = [h for h in deployment.holders if h.revoked]
    kept = [h for h in deployment.holders if not h.revoked]
    assert lost and kept
    for h in deployment.holders:
        auth = x509.load_der_x509_certificate(h.perso.auth_certificate)
        sign = x509.load_der_x509_certificate(h.perso.sign_certificate)
        expected = ocsp.OCSPCertStatus.REVOKED if h.revoked else ocsp.OCSPCertStatus.GOOD
        assert _ocsp_status(deployment, auth, "auth") is expected
        assert _ocsp_status(deployment, sign, "sign") is expected, f"holder {h.index}: signature certificate"
        for kind, cert in (("auth", auth), ("sign", sign)):
            crl = deployment.jpki.crl(kind, AFTER_LOSS, h.municipality_code)
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            assert (entry is not None) == h.revoked, f"holder {h.index}: {kind} CRL"
            if entry is not None:  # loss: the key may be in someone else's hands
                reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
                assert reason is x509.ReasonFlags.key_compromise


@pytest.mark.slow
def test_demo_cards_of_the_one_demo_ca_carry_unique_serials():
    from twin.card_cli import _load_personalisation

    serials: dict[bytes, set[int]] = {}
    cards = [_load_personalisation(rid, None, 0) for rid in ("demo-1", "demo-2", "demo-8")]
    assert len({c.auth_ca_certificate for c in cards}) == 1, "one demo CA (same seed, same root)"
    for card in cards:
        for der, ca in ((card.auth_certificate, card.auth_ca_certificate), (card.sign_certificate,
                                                                            card.sign_ca_certificate)):
            serial = x509.load_der_x509_certificate(der).serial_number
            assert serial not in serials.setdefault(ca, set()), f"serial {serial:#x} issued twice by one CA"
            serials[ca].add(serial)
    assert sum(len(s) for s in serials.values()) == 6
    again = _load_personalisation("demo-2", None, 0)
    assert again.auth_certificate == cards[1].auth_certificate  # still deterministic
