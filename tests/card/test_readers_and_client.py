"""Readers and the JPKI client: typed errors for status words, the authentication flow, the
face-authentication reader model (match rate, durations, PIN fallback), and the demo residents
issued a card by the real JPKI services."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from card_helpers import AUTH_PIN, INPUT_SUPPORT_PIN, SIGN_PASSWORD, personalisation
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from emulators.card_files import EF_AUTH_PIN
from emulators.card_os import MynaCardOS
from emulators.face_auth import FaceAuthParameters, FaceAuthReader
from emulators.jpki_client import (
    Blocked,
    CardError,
    FileNotFound,
    JpkiClient,
    SecurityStatusNotSatisfied,
    WrongPin,
    error_for,
)
from emulators.readers import InProcessReader, Reader, ReaderError


def connected_client() -> tuple[JpkiClient, MynaCardOS]:
    card = MynaCardOS(personalisation())
    reader = InProcessReader(card)
    reader.connect()
    return JpkiClient(reader), card


def auth_verify(signature: bytes, message: bytes) -> None:
    key = x509.load_der_x509_certificate(personalisation().auth_certificate).public_key()
    key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def test_in_process_reader_is_a_reader_and_needs_connect():
    reader = InProcessReader(MynaCardOS(personalisation()))
    assert isinstance(reader, Reader)
    with pytest.raises(ReaderError, match="not connected"):
        reader.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))
    assert reader.connect() == bytes.fromhex("3BE000FF8131FE4514")


@pytest.mark.parametrize(
    "sw,command,kind",
    [(0x63C2, "VERIFY auth PIN", WrongPin), (0x6984, "VERIFY auth PIN", Blocked),
     (0x63C0, "VERIFY auth PIN", Blocked), (0x6982, "READ", SecurityStatusNotSatisfied),
     (0x6A82, "SELECT", FileNotFound), (0x6A86, "SELECT", CardError)],
)
def test_status_words_become_typed_errors(sw, command, kind):
    e = error_for(sw, command)
    assert type(e) is kind and e.sw == sw
    if kind is WrongPin:
        assert e.tries_left == 2 and "2 tries left" in str(e)


def test_authentication_flow_returns_the_certificate_and_a_valid_signature():
    client, _ = connected_client()
    cert, sig = client.authenticate(AUTH_PIN, b"nonce-1")
    assert cert == personalisation().auth_certificate
    auth_verify(sig, b"nonce-1")


def test_signing_before_the_pin_is_security_status_not_satisfied():
    client, _ = connected_client()
    with pytest.raises(SecurityStatusNotSatisfied):
        client.sign(b"x", "auth")


def test_wrong_pins_raise_wrong_pin_then_blocked():
    client, card = connected_client()
    with pytest.raises(WrongPin) as e:
        client.verify("auth", "0000")
    assert e.value.tries_left == 2
    assert client.retries("auth") == 2
    client.verify("auth", AUTH_PIN)
    assert client.retries("auth") == 3
    for _ in range(2):
        with pytest.raises(WrongPin):
            client.verify("auth", "0000")
    with pytest.raises(Blocked):
        client.verify("auth", "0000")
    with pytest.raises(Blocked):
        client.verify("auth", AUTH_PIN)
    assert card.pin("JPKI", EF_AUTH_PIN).tries_left == 0


def test_sign_certificate_needs_the_password_and_input_support_data_needs_its_pin():
    client, _ = connected_client()
    with pytest.raises(SecurityStatusNotSatisfied):
        client.read_certificate_der("sign")
    client.verify("sign", SIGN_PASSWORD)
    assert client.read_certificate_der("sign") == personalisation().sign_certificate
    assert client.sign(b"contract", "sign")
    assert client.read_my_number(INPUT_SUPPORT_PIN) == personalisation().my_number
    assert client.read_basic_info(INPUT_SUPPORT_PIN) == personalisation().basic_info


# the face-authentication reader --------------------------------------------------------------


def face_reader(seed: int = 0, **params: float) -> tuple[FaceAuthReader, MynaCardOS]:
    defaults = dict(match_rate=0.9, face_seconds=4.0, card_seconds=3.0, pin_seconds=10.0)
    card = MynaCardOS(personalisation())
    reader = FaceAuthReader(InProcessReader(card), FaceAuthParameters(**{**defaults, **params}),
                            np.random.default_rng(seed))
    return reader, card


def test_face_match_needs_no_pin_and_takes_card_plus_one_capture():
    reader, _ = face_reader(match_rate=1.0)
    out = reader.confirm_identity(None, b"c")
    assert (out.method, out.seconds, out.face_attempts, out.pin_attempts) == ("face", 7.0, 1, 0)
    assert out.certificate == personalisation().auth_certificate and out.signature is None


def test_no_face_match_falls_back_to_the_pin_and_the_card_signs():
    reader, _ = face_reader(match_rate=0.0)
    out = reader.confirm_identity(AUTH_PIN, b"challenge")
    assert (out.method, out.seconds, out.face_attempts, out.pin_attempts) == ("pin", 3 + 2 * 4 + 10, 2, 1)
    auth_verify(out.signature, b"challenge")


def test_no_face_match_and_no_pin_fails():
    reader, _ = face_reader(match_rate=0.0)
    assert reader.confirm_identity(None, b"c").method == "failed"


def test_mistyped_pins_cost_card_tries_until_blocked():
    reader, card = face_reader(match_rate=0.0, pin_error_rate=1.0, max_pin_attempts=5)
    out = reader.confirm_identity(AUTH_PIN, b"c")
    # the third wrong entry is answered 63C0: blocked there, the fourth is never typed
    assert out.method == "failed" and out.reason == "PIN blocked" and out.pin_attempts == 3
    assert card.pin("JPKI", EF_AUTH_PIN).tries_left == 0


def test_face_match_rate_is_the_parameter_and_runs_are_reproducible():
    def run(seed: int) -> list[str]:
        reader, _ = face_reader(seed, match_rate=0.8, max_face_attempts=1)
        return [reader.confirm_identity(None, b"c").method for _ in range(1000)]

    a = run(7)
    assert a == run(7)
    share = a.count("face") / len(a)
    assert 0.75 < share < 0.85  # 1000 Bernoulli(0.8): sd 0.013


@pytest.mark.parametrize(
    "params,message",
    [(dict(match_rate=1.5), "match_rate: 1.5 is not a probability"),
     (dict(face_seconds=-1.0), "face_seconds: -1.0 is not a duration"),
     (dict(max_face_attempts=-1), "max_face_attempts: -1 is not an integer >= 0")],
)
def test_bad_face_auth_parameters_are_named(params, message):
    defaults = dict(match_rate=0.9, face_seconds=4.0, card_seconds=3.0, pin_seconds=10.0)
    with pytest.raises(ValueError, match=message):
        FaceAuthParameters(**{**defaults, **params})


# demo residents issued a card by the JPKI services ------------------------------------------


@pytest.mark.slow
def test_demo_resident_card_from_the_jpki_services(tmp_path):
    from emulators import demo
    from twin.services.jpki import Jpki, KeySource

    now = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    keys = KeySource(11, cache_dir=None, pool_size=2)
    jpki = Jpki.bootstrap(now, keys)
    resident = demo.demo_resident("demo-2")
    assert resident == demo.demo_resident("demo-2")  # deterministic
    perso = demo.personalise(resident, jpki, keys, now)
    client = JpkiClient(InProcessReader(MynaCardOS(perso)))
    client.reader.connect()
    cert = client.read_certificate("auth")
    assert jpki.validate(cert, now).outcome.name.lower() in ("valid", "good", "ok")
    assert client.read_basic_info(demo.DEMO_INPUT_SUPPORT_PIN) == resident.info
    client.verify("sign", demo.DEMO_SIGN_PASSWORD)
    assert client.read_certificate_der("sign") == perso.sign_certificate
    assert perso.identity.expiry > cert.not_valid_after_utc.date()  # card outlives its certificate


def test_emulators_do_not_import_the_simulation_runtime():
    import subprocess
    import sys

    code = (
        "import sys, emulators, emulators.face_auth, emulators.demo, emulators.vpcd;"
        "bad = [m for m in sys.modules if m == 'simpy' or m.startswith('twin.sim')];"
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
