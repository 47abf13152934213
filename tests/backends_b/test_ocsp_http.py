"""The OCSP responder and CRL repository over HTTP, spoken to by real clients (openssl, httpx).

A relying party must be able to point stock ``openssl ocsp`` at the server and get answers it can
verify for good, revoked and unknown certificates, and ``openssl verify -crl_check`` must accept
the CRL it downloads. RFC 5019 GET must give the same answer as POST.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

pytestmark = pytest.mark.system


def openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, timeout=60, check=False)


def ask(url: str, pem_dir: Path, cert: str, *extra: str) -> subprocess.CompletedProcess[str]:
    root = pem_dir / "auth_root.pem"
    return openssl("ocsp", "-url", f"{url}/ocsp/auth", "-issuer", root, "-cert", pem_dir / cert, "-CAfile", root,
                   *extra)


def test_openssl_verifies_a_good_answer_with_its_nonce(ocsp_server, pem_dir):
    done = ask(ocsp_server, pem_dir, "holder-0.pem")
    assert done.returncode == 0, done.stderr
    assert "Response verify OK" in done.stderr
    assert f"{pem_dir / 'holder-0.pem'}: good" in done.stdout


def test_openssl_verifies_a_revoked_answer_with_time_and_reason(ocsp_server, pem_dir):
    done = ask(ocsp_server, pem_dir, "holder-3.pem", "-no_nonce")
    assert "Response verify OK" in done.stderr
    assert f"{pem_dir / 'holder-3.pem'}: revoked" in done.stdout
    assert "Reason: keyCompromise" in done.stdout
    assert "Revocation Time: Apr  1 01:30:00 2026 GMT" in done.stdout


def test_openssl_verifies_an_unknown_answer_for_a_certificate_the_server_never_issued(ocsp_server, pem_dir):
    done = ask(ocsp_server, pem_dir, "stranger.pem")
    assert "Response verify OK" in done.stderr
    assert f"{pem_dir / 'stranger.pem'}: unknown" in done.stdout


def test_openssl_crl_check_accepts_the_downloaded_partition_and_rejects_the_revoked_card(
    ocsp_server, pem_dir, deployment, tmp_path
):
    lost = deployment.holders[3]  # revoked; municipality 40133 (index 3 of the four towns)
    assert lost.revoked
    good = deployment.holders[0]
    for holder in (good, lost):
        code = holder.municipality_code
        response = httpx.get(f"{ocsp_server}/crl/auth/{code:05d}.crl")
        assert response.status_code == 200 and response.headers["content-type"] == "application/pkix-crl"
        crl = x509.load_der_x509_crl(response.content)
        assert crl.is_signature_valid(deployment.jpki.auth_ca.certificate.public_key())
        pem = tmp_path / f"{code}.crl.pem"
        pem.write_bytes(crl.public_bytes(Encoding.PEM))
        bundle = tmp_path / f"{code}.bundle.pem"
        bundle.write_bytes((pem_dir / "auth_root.pem").read_bytes() + pem.read_bytes())
        done = openssl("verify", "-crl_check", "-CAfile", bundle, pem_dir / f"holder-{holder.index}.pem")
        if holder.revoked:
            assert done.returncode != 0 and "certificate revoked" in done.stdout + done.stderr
        else:
            assert done.returncode == 0, done.stdout + done.stderr


def test_the_full_crl_lists_exactly_the_revoked_holders(ocsp_server, deployment):
    crl = x509.load_der_x509_crl(httpx.get(f"{ocsp_server}/crl/auth.crl").content)
    listed = {entry.serial_number for entry in crl}
    assert listed == {h.auth_certificate.serial_number for h in deployment.holders if h.revoked}
    sign_crl = x509.load_der_x509_crl(httpx.get(f"{ocsp_server}/crl/sign.crl").content)
    lost_sign = {x509.load_der_x509_certificate(h.perso.sign_certificate).serial_number
                 for h in deployment.holders if h.revoked}  # fmt: skip
    assert lost_sign and {entry.serial_number for entry in sign_crl} == lost_sign  # a lost card: both revoked


def _request(deployment, holder, nonce: bool = False) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        holder.auth_certificate, deployment.jpki.auth_ca.certificate, hashes.SHA1()
    )
    if nonce:
        builder = builder.add_extension(x509.OCSPNonce(b"0123456789abcdef"), critical=False)
    return builder.build().public_bytes(Encoding.DER)


def test_get_with_base64_in_the_path_answers_like_post(ocsp_server, deployment):
    der = _request(deployment, deployment.holders[1])
    post = httpx.post(f"{ocsp_server}/ocsp/auth", content=der, headers={"content-type": "application/ocsp-request"})
    encoded = base64.b64encode(der).decode()
    get = httpx.get(f"{ocsp_server}/ocsp/auth/{encoded}")
    assert post.status_code == get.status_code == 200
    assert get.headers["content-type"] == "application/ocsp-response"
    assert post.content == get.content  # both served from the same pre-signed answer
    assert ocsp.load_der_ocsp_response(get.content).certificate_status is ocsp.OCSPCertStatus.GOOD


def test_a_nonce_is_signed_live_and_echoed(ocsp_server, deployment):
    der = _request(deployment, deployment.holders[2], nonce=True)
    answer = httpx.post(f"{ocsp_server}/ocsp/auth", content=der, headers={"content-type": "application/ocsp-request"})
    parsed = ocsp.load_der_ocsp_response(answer.content)
    assert parsed.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"0123456789abcdef"
    assert parsed.certificate_status is ocsp.OCSPCertStatus.GOOD
