"""pkilint (DigiCert's RFC 5280 linter) finds nothing to warn about in the card's or the phone's certificates.

Each holder certificate is linted alone (``lint_pkix_cert``) and with its issuing root
(``lint_pkix_signer_signee_cert_chain``) at the NOTICE threshold: a finding of severity NOTICE,
WARNING, ERROR or FATAL fails the test, only INFO (e.g. "the key identifier was made by RFC 5280
method 1") passes. The smartphone profile is linted exactly as the card's.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pkilint  # noqa: F401  (a dev dependency: fail loudly here if it is missing, never skip)
import pytest
from cryptography.hazmat.primitives.serialization import Encoding

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def certificates(tmp_path_factory, infra_keys, holder_keys):
    from _jpki_fixtures import NOW, SEED  # pkilint checks no clock: the validity dates do not matter
    from _phone_fixtures import phone_for

    from twin.services.jpki import Jpki, KeySource

    jpki = Jpki.bootstrap(NOW, infra_keys)
    card, issued = phone_for(jpki, holder_keys, KeySource(SEED + 1, pool_size=2), NOW)
    card_auth = jpki.store.get(issued.certificates.card_auth_serial)
    card_sign = jpki.store.get(issued.certificates.card_sign_serial)
    folder = tmp_path_factory.mktemp("pkilint")
    out = {}
    for name, der in (("card_auth", card_auth.der), ("card_sign", card_sign.der),
                      ("phone_auth", issued.certificates.auth.public_bytes(Encoding.DER)),
                      ("phone_sign", issued.certificates.sign.public_bytes(Encoding.DER)),
                      ("auth_root", jpki.auth_ca.certificate.public_bytes(Encoding.DER)),
                      ("sign_root", jpki.sign_ca.certificate.public_bytes(Encoding.DER))):  # fmt: skip
        path = folder / f"{name}.der"
        path.write_bytes(der)
        out[name] = path
    return out


def lint(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("name", ["card_auth", "card_sign", "phone_auth", "phone_sign"])
def test_pkilint_finds_nothing_above_info_in_a_holder_certificate(certificates, name):
    done = lint(BIN / "lint_pkix_cert", "lint", "-s", "NOTICE", "--document-format", "DER", certificates[name])
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


@pytest.mark.parametrize(("root", "name"), [("auth_root", "card_auth"), ("sign_root", "card_sign"),
                                            ("auth_root", "phone_auth"), ("sign_root", "phone_sign")])  # fmt: skip
def test_pkilint_finds_the_chain_from_root_to_holder_sound(certificates, root, name):
    done = lint(BIN / "lint_pkix_signer_signee_cert_chain", "lint", "-s", "NOTICE", "--document-format", "DER",
                certificates[root], certificates[name])  # fmt: skip
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_pkilint_would_fail_a_certificate_with_a_real_problem(certificates, tmp_path):
    """The check can fail: a holder certificate linted as if it were its own issuer breaks the chain rules."""
    done = lint(BIN / "lint_pkix_signer_signee_cert_chain", "lint", "-s", "NOTICE", "--document-format", "DER",
                certificates["phone_auth"], certificates["phone_sign"])  # fmt: skip
    assert done.returncode != 0 and done.stdout.strip()
