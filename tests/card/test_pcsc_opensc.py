"""The emulated card in a real PC/SC stack: pcscd + vpcd, read by OpenSC and by pyscard.

These are the checks a JPKI middleware user would make with a real card: OpenSC lists the four
certificates, reads the auth certificate exactly as the CA issued it, signs with the auth key
after C_Login and the signature verifies with openssl; wrong PINs count down and then block.
The JPKI client gives the same answers through PC/SC as in-process.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from card_helpers import AUTH_PIN, INPUT_SUPPORT_PIN, SIGN_PASSWORD, personalisation
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding
from pcsc_rig import OPENSC_PKCS11

from emulators.card_os import MynaCardOS
from emulators.jpki_client import Blocked, JpkiClient, WrongPin
from emulators.readers import InProcessReader
from real_backends.pcsc import PcscReader
from twin.card_cli import read_card_info

pytestmark = [pytest.mark.system, pytest.mark.slow]


def run(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_opensc_lists_four_certificates_and_reads_the_auth_certificate(serve_card, opensc_env, tmp_path):
    perso = personalisation()
    serve_card(perso)
    listed = run(["pkcs15-tool", "--list-certificates"], opensc_env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("X.509 Certificate [") == 4
    paths = re.findall(r"Path\s+:\s+(\w+)", listed.stdout)
    assert paths == ["000a", "0001", "000b", "0002"]

    read = run(["pkcs15-tool", "--read-certificate", "01"], opensc_env)
    assert read.returncode == 0, read.stderr
    cert = x509.load_pem_x509_certificate(read.stdout.encode())
    assert cert.public_bytes(Encoding.DER) == perso.auth_certificate


def pkcs11_sign(pin: str, env: dict[str, str], workdir: Path) -> subprocess.CompletedProcess[str]:
    return run(
        ["pkcs11-tool", "--module", OPENSC_PKCS11, "--login", "--pin", pin, "--sign",
         "-m", "SHA256-RSA-PKCS", "--id", "01", "-i", "data", "-o", "sig"],
        env, cwd=workdir,
    )


def test_pkcs11_signature_verifies_with_openssl_and_wrong_pins_block(serve_card, opensc_env, tmp_path):
    perso = personalisation()
    serve_card(perso)
    (tmp_path / "data").write_bytes(b"online eligibility confirmation request\n")
    (tmp_path / "auth.pem").write_bytes(
        x509.load_der_x509_certificate(perso.auth_certificate).public_bytes(Encoding.PEM)
    )
    signed = pkcs11_sign(AUTH_PIN, opensc_env, tmp_path)
    assert signed.returncode == 0, signed.stderr
    assert (tmp_path / "sig").stat().st_size == 256
    signed_at = (tmp_path / "sig").stat().st_mtime
    pub = run(["openssl", "x509", "-in", "auth.pem", "-pubkey", "-noout", "-out", "pub.pem"], opensc_env, tmp_path)
    assert pub.returncode == 0, pub.stderr
    verified = run(
        ["openssl", "dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig", "data"], opensc_env, tmp_path
    )
    assert verified.returncode == 0 and "Verified OK" in verified.stdout, verified.stdout + verified.stderr

    def tries() -> int:
        pins = run(["pkcs15-tool", "--list-pins"], opensc_env)
        assert pins.returncode == 0, pins.stderr
        return int(re.findall(r"Tries left\s+:\s+(\d+)", pins.stdout)[0])

    assert tries() == 3
    for left in (2, 1):
        bad = pkcs11_sign("9999", opensc_env, tmp_path)
        assert bad.returncode != 0 and "CKR_PIN_INCORRECT" in bad.stderr
        assert tries() == left
    last = pkcs11_sign("9999", opensc_env, tmp_path)
    assert last.returncode != 0
    assert tries() == 0
    # The right PIN no longer helps. What OpenSC can say is fixed by the real card's answers
    # (docs/CARD_PROTOCOL.md): VERIFY against a blocked key gives 6984 on every examined card, which
    # OpenSC maps to "reference data not usable" and so C_Login to CKR_GENERAL_ERROR (only 6983 becomes
    # CKR_PIN_LOCKED). The real card's retry query answers 63C0, and from that OpenSC does report the
    # token as "user PIN locked" -- the place a real card lets it say so. Answering 6983 instead would
    # make the emulator disagree with real cards, so it keeps 6984.
    blocked = pkcs11_sign(AUTH_PIN, opensc_env, tmp_path)
    assert blocked.returncode != 0 and "C_Login failed: rv = CKR_GENERAL_ERROR" in blocked.stderr
    assert not (tmp_path / "sig").exists() or (tmp_path / "sig").stat().st_mtime <= signed_at
    assert tries() == 0
    tokens = run(["pkcs11-tool", "--module", OPENSC_PKCS11, "--list-token-slots"], opensc_env)
    assert tokens.returncode == 0, tokens.stderr
    flags = dict(re.findall(r"token label\s+:\s+(.+?)\n(?:.*\n)*?\s+token flags\s+:\s+(.+)", tokens.stdout))
    assert "user PIN locked" in flags["JPKI (User Authentication PIN)"], tokens.stdout
    assert "user PIN locked" not in flags["JPKI (Digital Signature PIN)"], "only the auth PIN was blocked"


def test_jpki_client_answers_the_same_through_pcsc_and_in_process(serve_card):
    perso = personalisation()
    reader_name = serve_card(perso)
    results = []
    for reader in (PcscReader(reader_name), InProcessReader(MynaCardOS(perso))):
        with reader:
            client = JpkiClient(reader)
            info = read_card_info(client, INPUT_SUPPORT_PIN)
            client.verify("auth", AUTH_PIN)
            signature = client.sign(b"challenge", "auth")
            certs = {k: client.read_certificate_der(k) for k in ("auth", "auth_ca", "sign_ca")}
            client.verify("sign", "abc123")  # lower case is upper-cased like myna does
            certs["sign"] = client.read_certificate_der("sign")
            with pytest.raises(WrongPin) as wrong:
                client.verify("input_support", "0000")
            results.append((info, signature, certs, wrong.value.tries_left, client.read_basic_info(INPUT_SUPPORT_PIN)))
    assert results[0] == results[1]
    assert results[0][2]["auth"] == perso.auth_certificate
    assert results[0][0]["my_number"] == "********9018"


def test_blocked_pin_through_pcsc(serve_card):
    reader_name = serve_card(personalisation())
    with PcscReader(reader_name) as reader:
        client = JpkiClient(reader)
        for left in (2, 1):
            with pytest.raises(WrongPin) as e:
                client.verify("auth", "0000")
            assert e.value.tries_left == left
        with pytest.raises(Blocked):
            client.verify("auth", "0000")
        with pytest.raises(Blocked):
            client.verify("auth", AUTH_PIN)
        assert client.retries("auth") == 0


def test_with_an_atr_outside_opensc_table_every_other_driver_is_refused_and_jpki_matches(serve_card, opensc_env):
    """The 2024 card's ATR is not in OpenSC's JPKI table: OpenSC then lets each driver probe with
    its own SELECTs (PIV, CAC, ...) and the JPKI driver match on SELECT of the JPKI AID. Any
    driver matching before it (a 9000 to a foreign AID) would lose the JPKI objects."""
    import dataclasses

    atr = bytes.fromhex("3BDA13FF8131FB468012392F31C173C601C03B")
    serve_card(dataclasses.replace(personalisation(), atr=atr))
    listed = run(["pkcs15-tool", "--list-certificates"], opensc_env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("X.509 Certificate [") == 4
    seen = run(["opensc-tool", "--atr", "--name"], opensc_env)
    assert seen.stdout.split()[0].replace(":", "").upper() == atr.hex().upper()
    assert seen.stdout.split()[1] == "jpki"  # the driver OpenSC chose


def test_twin_card_info_reads_the_vpcd_card_like_the_in_process_one(serve_card, tmp_path):
    import json

    from typer.testing import CliRunner

    from twin.cli import app

    perso = personalisation()
    reader_name = serve_card(perso)
    path = perso.save(tmp_path / "same.json")
    runner = CliRunner()
    outputs = []
    for where in (["--reader", reader_name], ["--file", str(path)]):
        result = runner.invoke(app, ["card", "info", "--json", *where])
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        outputs.append({k: v for k, v in data.items() if k != "reader"})
        assert data["reader"] == (reader_name if where[0] == "--reader" else "in-process")
    assert outputs[0] == outputs[1]


def test_extended_le_sfi_read_through_pcsc_as_the_browser_extension_does(serve_card):
    perso = personalisation()
    with PcscReader(serve_card(perso)) as reader:
        assert reader.transmit(bytes.fromhex("00A4040C0AD392F000260100000001")) == b"\x90\x00"
        head = reader.transmit(bytes.fromhex("00B08A0004"))
        rest = int.from_bytes(head[2:4], "big")
        body = reader.transmit(bytes.fromhex(f"00B08A0400{rest:04X}"))
        assert head[:-2] + body[:-2] == perso.auth_certificate and body[-2:] == b"\x90\x00"


def test_sign_certificate_and_sign_key_behind_the_sign_password_through_opensc(serve_card, opensc_env, tmp_path):
    """jpki/OpenSC#3: the sign certificate needs the password (`-a 02 --verify-pin`); the sign
    key is on the second PKCS#11 slot, "JPKI (Digital Signature PIN)", with user consent."""
    perso = personalisation()
    serve_card(perso)
    hidden = run(["pkcs15-tool", "--read-certificate", "02"], opensc_env)
    assert "BEGIN CERTIFICATE" not in hidden.stdout
    read = run(["pkcs15-tool", "--read-certificate", "02", "--auth-id", "02", "--verify-pin", "--pin",
                SIGN_PASSWORD], opensc_env)
    assert read.returncode == 0, read.stderr
    assert x509.load_pem_x509_certificate(read.stdout.encode()).public_bytes(Encoding.DER) == perso.sign_certificate
    (tmp_path / "data").write_bytes(b"e-Tax return\n")
    signed = run(["pkcs11-tool", "--module", OPENSC_PKCS11, "--slot-index", "1", "--login", "--pin", SIGN_PASSWORD,
                  "--sign", "-m", "SHA256-RSA-PKCS", "--id", "02", "-i", "data", "-o", "sig"], opensc_env, tmp_path)
    assert signed.returncode == 0, signed.stderr
    key = x509.load_der_x509_certificate(perso.sign_certificate).public_key()
    key.verify((tmp_path / "sig").read_bytes(), b"e-Tax return\n", padding.PKCS1v15(), hashes.SHA256())


def test_a_second_card_is_refused_while_another_holds_the_vpcd_slot(serve_card, pcscd, tmp_path):
    """vpcd has one slot per port: a second ``twin card serve`` must not report success while OpenSC
    and pyscard keep reading the first card. Before the fix it printed "card ... is in vpcd" and waited."""
    import sys

    first = personalisation()
    reader_name = serve_card(first)
    path = personalisation(card=1).save(tmp_path / "second.json")
    assert personalisation(card=1).auth_certificate != first.auth_certificate
    second = subprocess.run(
        [sys.executable, "-m", "twin.cli", "card", "serve", "--file", str(path), "--port", str(pcscd.port),
         "--contact-timeout", "3"],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert second.returncode == 1, second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "did not talk to this card within 3 s: another card holds its slot" in lines[0]
    assert "is in vpcd" not in second.stderr
    with PcscReader(reader_name) as reader:  # the first card is still the one in the reader, and works
        assert JpkiClient(reader).read_certificate_der("auth") == first.auth_certificate



def test_opensc_fails_cleanly_on_a_pinless_card(serve_card, opensc_env, tmp_path):
    """OpenSC's JPKI emulator asks for both PINs' tries while binding and needs SW1=63; a PIN-less card has
    no PIN files (6A82), so the bind fails: an error, an exit status, no crash and no certificate listed."""
    import dataclasses

    serve_card(dataclasses.replace(personalisation(), pinless=True))
    listed = run(["pkcs15-tool", "--list-certificates"], opensc_env)
    assert listed.returncode > 0 and "X.509 Certificate [" not in listed.stdout, listed.stdout + listed.stderr
    assert "PKCS#15 binding failed" in listed.stderr, listed.stderr  # OpenSC says why
    signed = pkcs11_sign("1234", opensc_env, tmp_path)
    assert signed.returncode > 0 and not (tmp_path / "sig").exists(), signed.stdout + signed.stderr



_SERVE_LICENSED = """
import datetime as dt, sys
from emulators import vpcd
from emulators.card_os import MynaCardOS
from emulators.licence_app import build_licence_application, encode_licence_record
from emulators.personalisation import Personalisation
card = MynaCardOS(Personalisation.load(sys.argv[1]))
card.install_application(build_licence_application(
    encode_licence_record("301234567890", dt.date(2029, 6, 14)), "4826"))
vpcd.serve(card, port=int(sys.argv[2]))
"""


def test_opensc_sees_a_card_with_the_licence_ap_as_before_and_pcsc_reads_the_licence(pcscd, opensc_env, tmp_path):
    """The licence AP (マイナ免許証, docs/CARD_PROTOCOL.md §15) changes nothing OpenSC sees: the same four
    certificates; and the licence record reads through PC/SC only after the licence PIN."""
    import datetime as dt
    import os
    import sys

    from pcsc_rig import ROOT, _card_present, _stop, wait_for

    from emulators.licence_app import LICENCE_AID, encode_licence_record

    record = encode_licence_record("301234567890", dt.date(2029, 6, 14))
    perso_file = personalisation().save(tmp_path / "perso.json")
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE_LICENSED, str(perso_file), str(pcscd.port)], cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        wait_for(lambda: _card_present(pcscd.reader), "the licensed card in the vpcd reader", 30)
        listed = run(["pkcs15-tool", "--list-certificates"], opensc_env)
        assert listed.returncode == 0, listed.stderr
        assert re.findall(r"Path\s+:\s+(\w+)", listed.stdout) == ["000a", "0001", "000b", "0002"]
        reader = PcscReader(pcscd.reader)
        reader.connect()
        try:
            assert reader.transmit(bytes.fromhex("00A4040C0A") + LICENCE_AID)[-2:] == b"\x90\x00"
            assert reader.transmit(bytes.fromhex("00B0810000"))[-2:] == b"\x69\x82"
            assert reader.transmit(bytes.fromhex("0020009104") + b"4826")[-2:] == b"\x90\x00"
            assert reader.transmit(bytes.fromhex("00B0810000")) == record + b"\x90\x00"
        finally:
            reader.disconnect()
    finally:
        _stop(proc)
        wait_for(lambda: not _card_present(pcscd.reader), "the card to leave the vpcd reader", 10)
