"""The real OpenSSL command line accepts what the JPKI services produce.

``openssl verify`` checks the chain (and the CRL with ``-crl_check``); ``openssl ocsp`` parses and
verifies the responder's answers, including answers to requests OpenSSL itself wrote. Times are fixed
by ``-attime`` and, for OCSP (which always checks against the wall clock), a wide ``-validity_period``.
"""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

pytestmark = pytest.mark.system
WIDE = str(100 * 365 * 24 * 3600)  # seconds of clock skew openssl ocsp tolerates: the tests use fixed dates


def openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, timeout=60, check=False)


def pem(path: Path, obj: x509.Certificate | x509.CertificateRevocationList) -> Path:
    path.write_bytes(obj.public_bytes(Encoding.PEM))
    return path


@pytest.fixture
def files(tmp_path, jpki, holder_key, info, now):
    auth = jpki.issue_auth_certificate(holder_key.public_key(), info.birth_date, now, 13101, person_ref="p-1")
    sign = jpki.issue_sign_certificate(holder_key.public_key(), info, now, 13101, person_ref="p-1")
    return {
        "auth_root": pem(tmp_path / "auth_root.pem", jpki.auth_ca.certificate),
        "sign_root": pem(tmp_path / "sign_root.pem", jpki.sign_ca.certificate),
        "auth": pem(tmp_path / "auth.pem", auth),
        "sign": pem(tmp_path / "sign.pem", sign),
        "auth_cert": auth,
        "sign_cert": sign,
        "dir": tmp_path,
    }


def attime(moment) -> str:
    return str(int(moment.timestamp()))


@pytest.mark.parametrize(("root", "cert"), [("auth_root", "auth"), ("sign_root", "sign")])
def test_openssl_verifies_both_certificates_against_their_roots(files, now, root, cert):
    done = openssl("verify", "-attime", attime(now + timedelta(hours=1)), "-CAfile", files[root], files[cert])
    assert done.returncode == 0 and done.stdout.strip().endswith(": OK"), done.stdout + done.stderr


def test_openssl_refuses_a_certificate_under_the_other_root(files, now):
    done = openssl("verify", "-attime", attime(now), "-CAfile", files["sign_root"], files["auth"])
    assert done.returncode != 0 and "unable to get local issuer certificate" in done.stdout + done.stderr


def test_openssl_crl_check_passes_a_good_and_fails_a_revoked_certificate(files, jpki, now):
    later = now + timedelta(hours=1)
    jpki.revoke(files["sign_cert"], "loss", later)
    crls = {kind: pem(files["dir"] / f"{kind}.crl.pem", jpki.crl(kind, later)) for kind in ("auth", "sign")}
    good = openssl("verify", "-attime", attime(later), "-crl_check", "-CAfile", files["auth_root"],
                   "-CRLfile", crls["auth"], files["auth"])  # fmt: skip
    assert good.returncode == 0, good.stdout + good.stderr
    bad = openssl("verify", "-attime", attime(later), "-crl_check", "-CAfile", files["sign_root"],
                  "-CRLfile", crls["sign"], files["sign"])  # fmt: skip
    assert bad.returncode != 0 and "certificate revoked" in bad.stdout + bad.stderr
    crl_text = openssl("crl", "-in", crls["sign"], "-noout", "-text").stdout
    assert "X509v3 CRL Number" in crl_text and "Key Compromise" in crl_text and "Next Update" in crl_text


def _ask(files, jpki, now, cert: str, root: str, request: Path) -> subprocess.CompletedProcess[str]:
    response = files["dir"] / f"{request.stem}.resp.der"
    response.write_bytes(jpki.ocsp.respond(request.read_bytes(), now))
    return openssl("ocsp", "-respin", response, "-CAfile", files[root], "-issuer", files[root],
                   "-cert", files[cert], "-no_nonce", "-validity_period", WIDE)  # fmt: skip


def test_openssl_parses_and_verifies_good_revoked_and_unknown_answers(files, jpki, now, holder_key):
    later = now + timedelta(hours=1)
    jpki.revoke(files["sign_cert"], "card_return", later)
    for cert, root, expected in (("auth", "auth_root", "good"), ("sign", "sign_root", "revoked")):
        request = files["dir"] / f"{cert}.req.der"
        made = openssl("ocsp", "-issuer", files[root], "-cert", files[cert], "-no_nonce", "-reqout", request)
        assert made.returncode == 0, made.stderr
        done = _ask(files, jpki, later, cert, root, request)
        assert "Response verify OK" in done.stderr, done.stdout + done.stderr
        assert f"{files[cert]}: {expected}" in done.stdout
    # a serial the auth CA never issued
    request = files["dir"] / "unknown.req.der"
    made = openssl("ocsp", "-issuer", files["auth_root"], "-serial", "0x7777777", "-no_nonce", "-reqout", request)
    assert made.returncode == 0, made.stderr
    response = files["dir"] / "unknown.resp.der"
    response.write_bytes(jpki.ocsp.respond(request.read_bytes(), later))
    done = openssl("ocsp", "-respin", response, "-CAfile", files["auth_root"], "-issuer", files["auth_root"],
                   "-serial", "0x7777777", "-no_nonce", "-validity_period", WIDE)  # fmt: skip
    assert "Response verify OK" in done.stderr and "0x7777777: unknown" in done.stdout, done.stdout + done.stderr


def test_openssl_checks_the_nonce_of_its_own_request_in_our_answer(files, jpki, now):
    request = files["dir"] / "nonce.req.der"
    made = openssl("ocsp", "-issuer", files["auth_root"], "-cert", files["auth"], "-reqout", request)  # with nonce
    assert made.returncode == 0, made.stderr
    response = files["dir"] / "nonce.resp.der"
    response.write_bytes(jpki.ocsp.respond(request.read_bytes(), now))
    done = openssl("ocsp", "-reqin", request, "-respin", response, "-CAfile", files["auth_root"],
                   "-validity_period", WIDE, "-resp_text")  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 0 and "Response verify OK" in out, out
    assert "Nonce Verify error" not in out and "no nonce in response" not in out
    assert "Cert Status: good" in out and "OCSP Nonce" in out


def test_openssl_accepts_the_municipal_crl_partition_named_in_the_certificate(files, jpki, holder_key, info, now):
    later = now + timedelta(hours=1)
    osaka = jpki.issue_sign_certificate(holder_key.public_key(), info, now, 27128)
    jpki.revoke(files["sign_cert"], "loss", later)
    jpki.revoke(osaka, "loss", later)
    tokyo_crl = jpki.crl("sign", later, municipality_code=13101)
    assert [r.serial_number for r in tokyo_crl] == [files["sign_cert"].serial_number]
    idp = tokyo_crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    assert idp.critical and idp.value.full_name[0].value == "http://jpki.example/crl/sign/13101.crl"
    crl = pem(files["dir"] / "13101.crl.pem", tokyo_crl)
    bad = openssl("verify", "-attime", attime(later), "-crl_check", "-CAfile", files["sign_root"],
                  "-CRLfile", crl, files["sign"])  # fmt: skip
    assert bad.returncode != 0 and "certificate revoked" in bad.stdout + bad.stderr, bad.stdout + bad.stderr
    # the Osaka holder's certificate points at another partition: the Tokyo CRL is not its CRL
    osaka_pem = pem(files["dir"] / "osaka.pem", osaka)
    other = openssl("verify", "-attime", attime(later), "-crl_check", "-CAfile", files["sign_root"],
                    "-CRLfile", crl, osaka_pem)  # fmt: skip
    assert other.returncode != 0 and "different CRL scope" in other.stdout + other.stderr
    good_crl = pem(files["dir"] / "auth-13101.crl.pem", jpki.crl("auth", later, municipality_code=131016))
    good = openssl("verify", "-attime", attime(later), "-crl_check", "-CAfile", files["auth_root"],
                   "-CRLfile", good_crl, files["auth"])  # fmt: skip
    assert good.returncode == 0, good.stdout + good.stderr


# ---- the smartphone profile (スマホ用電子証明書): openssl treats it as it treats the card's ----------


@pytest.fixture
def phone_files(tmp_path, jpki, holder_keys, now):
    from _jpki_fixtures import SEED
    from _phone_fixtures import phone_for

    from twin.services.jpki import KeySource

    _, issued = phone_for(jpki, holder_keys, KeySource(SEED + 1, pool_size=2), now)
    phone = issued.certificates
    return {
        "auth_root": pem(tmp_path / "auth_root.pem", jpki.auth_ca.certificate),
        "sign_root": pem(tmp_path / "sign_root.pem", jpki.sign_ca.certificate),
        "auth": pem(tmp_path / "phone_auth.pem", phone.auth),
        "sign": pem(tmp_path / "phone_sign.pem", phone.sign),
        "phone": phone,
        "dir": tmp_path,
    }


@pytest.mark.parametrize(("root", "cert", "policy"), [("auth_root", "auth", "1.2.392.200149.8.5.1.3.40"),
                                                      ("sign_root", "sign", "1.2.392.200149.8.5.1.1.40")])  # fmt: skip
def test_openssl_verifies_the_phone_certificates_and_reads_their_own_policy(phone_files, now, root, cert, policy):
    later = now + timedelta(hours=1)
    done = openssl("verify", "-attime", attime(later), "-CAfile", phone_files[root], phone_files[cert])
    assert done.returncode == 0 and done.stdout.strip().endswith(": OK"), done.stdout + done.stderr
    strict = openssl("verify", "-attime", attime(later), "-policy", policy, "-explicit_policy",
                     "-CAfile", phone_files[root], phone_files[cert])  # fmt: skip
    assert strict.returncode == 0, strict.stdout + strict.stderr
    text = openssl("x509", "-in", phone_files[cert], "-noout", "-text").stdout
    assert "Certificate Policies: critical" in text and f"Policy: {policy}" in text, text


def test_openssl_sees_the_phone_certificates_revoked_with_the_card(phone_files, jpki, now):
    later = now + timedelta(hours=1)
    jpki.revoke(phone_files["phone"].card_auth_serial, "loss", later)
    for kind in ("auth", "sign"):
        root = phone_files[f"{kind}_root"]
        crl = pem(phone_files["dir"] / f"{kind}.crl.pem", jpki.crl(kind, later))
        bad = openssl("verify", "-attime", attime(later), "-crl_check", "-CAfile", root, "-CRLfile", crl,
                      phone_files[kind])  # fmt: skip
        assert bad.returncode != 0 and "certificate revoked" in bad.stdout + bad.stderr, bad.stdout + bad.stderr
        request = phone_files["dir"] / f"phone-{kind}.req.der"
        made = openssl("ocsp", "-issuer", root, "-cert", phone_files[kind], "-no_nonce", "-reqout", request)
        assert made.returncode == 0, made.stderr
        response = phone_files["dir"] / f"phone-{kind}.resp.der"
        response.write_bytes(jpki.ocsp.respond(request.read_bytes(), later))
        done = openssl("ocsp", "-respin", response, "-CAfile", root, "-issuer", root, "-cert", phone_files[kind],
                       "-no_nonce", "-validity_period", WIDE)  # fmt: skip
        assert "Response verify OK" in done.stderr and f"{phone_files[kind]}: revoked" in done.stdout, done.stdout
        assert "Reason: cessationOfOperation" in done.stdout, done.stdout
