"""The smartphone's secure element (スマホ用電子証明書) behind pcscd+vpcd, read by OpenSC and checked by openssl.

A real phone's secure element is reached through OMAPI or Apple's SE, not PC/SC; served into vpcd here it
shows what a JPKI middleware built for the card makes of the phone's applet and the smartphone profile
(docs/CARD_PROTOCOL.md §12). Measured with OpenSC's JPKI driver:

* it binds (the phone's JCOP-style ATR is not in its table; the driver matches on SELECT of the JPKI AID),
  lists the four certificate objects at the card's paths and counts both PINs' tries;
* after ``C_Login`` with the auth PIN it signs with the phone's auth key, and openssl verifies that
  signature with the phone's own certificate (smartphone policy ``.3.40``) against the auth root;
* it cannot read the phone's auth certificate: its emulator reads EF 000A at bind time without the PIN,
  as the card allows, and the phone answers 6982. ``pkcs15-tool --read-certificate 01`` fails with an
  error (no certificate bytes leave the phone) and PKCS#11 has no certificate object for ID 01, so a
  PKCS#11 application could not pick the phone's certificate for TLS client authentication.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pcsc_rig import OPENSC_PKCS11, ROOT, _card_present, _stop, wait_for

pytestmark = [pytest.mark.system, pytest.mark.slow]

#: builds the seeded holder's card and Android phone (tests/_phone_fixtures.py), writes the phone's two
#: certificates and the auth root, then serves the phone's secure element into vpcd
_SERVE_PHONE = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from cryptography.hazmat.primitives.serialization import Encoding
from _jpki_fixtures import NOW, SEED
from _phone_fixtures import phone_for
from emulators import vpcd
from twin.services.jpki import Jpki, KeySource
jpki = Jpki.bootstrap(NOW, KeySource(SEED))
_, issued = phone_for(jpki, KeySource(SEED, pool_size=2), KeySource(SEED + 1, pool_size=2), NOW)
out = Path(sys.argv[1])
out.joinpath("phone_auth.pem").write_bytes(issued.certificates.auth.public_bytes(Encoding.PEM))
out.joinpath("auth_root.pem").write_bytes(jpki.auth_ca.certificate.public_bytes(Encoding.PEM))
vpcd.serve(issued.token.se, port=int(sys.argv[2]))
"""


def run(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def served_phone(pcscd, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE_PHONE, str(tmp_path), str(pcscd.port), str(ROOT / "tests")], cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        wait_for(lambda: _card_present(pcscd.reader), "the phone's secure element in the vpcd reader", 30)
        yield tmp_path
    finally:
        _stop(proc)
        wait_for(lambda: not _card_present(pcscd.reader), "the phone to leave the vpcd reader", 10)


def test_opensc_binds_the_phone_se_and_its_signature_verifies_with_the_phone_certificate(served_phone, opensc_env):
    from emulators.demo import DEMO_AUTH_PIN

    folder = served_phone
    seen = run(["opensc-tool", "--atr", "--name"], opensc_env)
    assert seen.returncode == 0 and seen.stdout.split()[1] == "jpki", seen.stdout + seen.stderr
    listed = run(["pkcs15-tool", "--list-certificates"], opensc_env)
    assert listed.returncode == 0, listed.stderr
    assert re.findall(r"Path\s+:\s+(\w+)", listed.stdout) == ["000a", "0001", "000b", "0002"]
    pins = run(["pkcs15-tool", "--list-pins"], opensc_env)
    assert [int(n) for n in re.findall(r"Tries left\s+:\s+(\d+)", pins.stdout)] == [3, 5], pins.stdout

    (folder / "data").write_bytes(b"myna portal challenge\n")
    signed = run(["pkcs11-tool", "--module", OPENSC_PKCS11, "--login", "--pin", DEMO_AUTH_PIN, "--sign",
                  "-m", "SHA256-RSA-PKCS", "--id", "01", "-i", "data", "-o", "sig"], opensc_env, folder)  # fmt: skip
    assert signed.returncode == 0 and (folder / "sig").stat().st_size == 256, signed.stdout + signed.stderr
    text = run(["openssl", "x509", "-in", "phone_auth.pem", "-noout", "-text"], opensc_env, folder).stdout
    assert "Policy: 1.2.392.200149.8.5.1.3.40" in text, text  # the smartphone profile, not the card's .3.30
    chain = run(["openssl", "verify", "-no_check_time", "-CAfile", "auth_root.pem", "phone_auth.pem"], opensc_env,
                folder)  # fmt: skip
    assert chain.returncode == 0, chain.stdout + chain.stderr
    run(["openssl", "x509", "-in", "phone_auth.pem", "-pubkey", "-noout", "-out", "pub.pem"], opensc_env, folder)
    verified = run(["openssl", "dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig", "data"], opensc_env,
                   folder)  # fmt: skip
    assert verified.returncode == 0 and "Verified OK" in verified.stdout, verified.stdout + verified.stderr
    (folder / "data").write_bytes(b"another challenge\n")
    other = run(["openssl", "dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig", "data"], opensc_env, folder)
    assert other.returncode != 0  # the check can fail: the signature is over the first challenge only


def test_opensc_cannot_read_the_phone_auth_certificate_which_stays_behind_the_pin(served_phone, opensc_env):
    folder = served_phone
    read = run(["pkcs15-tool", "--read-certificate", "01"], opensc_env)
    assert read.returncode != 0 and "BEGIN CERTIFICATE" not in read.stdout, read.stdout + read.stderr
    assert "Certificate read failed" in read.stderr, read.stderr  # an error, not a crash
    root = run(["pkcs15-tool", "--read-certificate", "03"], opensc_env)  # the auth CA certificate reads freely
    assert root.returncode == 0 and "BEGIN CERTIFICATE" in root.stdout, root.stderr
    as_object = run(["pkcs11-tool", "--module", OPENSC_PKCS11, "--login", "--pin", "1234", "--read-object",
                     "--type", "cert", "--id", "01", "-o", "c.der"], opensc_env, folder)  # fmt: skip
    assert as_object.returncode != 0 and not (folder / "c.der").exists(), as_object.stdout + as_object.stderr
