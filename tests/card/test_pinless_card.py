"""The PIN-less card (顔認証マイナンバーカード): a card with no PIN, usable only with face authentication or a
visual check. The card OS enforces it: the auth certificate reads as on any card, the auth key never
signs (no Myna Portal login), there is no signature certificate, no PIN can be verified, and the My
Number and the four basic items open only with the collation numbers from the card face."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime

import numpy as np
import pytest
from _jpki_fixtures import holder_keys, infra_keys, jpki
from card_helpers import personalisation
from fuzzing import PinlessChecker, corpus, mutate

from emulators.apdu import build
from emulators.card_os import MynaCardOS
from emulators.face_auth import FaceAuthParameters, FaceAuthReader
from emulators.jpki_client import FileNotFound, JpkiClient
from emulators.layouts import digest_info
from emulators.personalisation import Personalisation, PersonalisationError
from emulators.readers import InProcessReader
from twin.services.card_lifecycle import PINLESS_CARD_START, CardError, CardLifecycle
from twin.services.jpki import BasicInfo

__all__ = ["holder_keys", "infra_keys", "jpki"]  # fixtures, taken by importing them
PINLESS = dataclasses.replace(personalisation(), pinless=True)


@pytest.fixture
def client():
    reader = InProcessReader(MynaCardOS(PINLESS))
    reader.connect()
    yield JpkiClient(reader)
    reader.disconnect()


def test_the_auth_certificate_reads_but_the_auth_key_never_signs(client):
    assert client.read_certificate_der("auth") == PINLESS.auth_certificate
    client.select_ef(0x0017)
    resp = client.reader.transmit(build(0x80, 0x2A, 0x00, 0x80, digest_info("sha256", b"login"), le=256))
    assert resp == b"\x69\x85"  # conditions of use not satisfied: no PIN, no signature


def test_no_pin_exists_so_a_portal_login_fails_cleanly(client):
    with pytest.raises(FileNotFound, match="SELECT EF 0018: card answered 6A82"):
        client.authenticate("1234", b"portal-challenge")
    for fid in (0x0001, 0x001A, 0x001B):  # no signature certificate, key or password
        with pytest.raises(FileNotFound):
            client.select_ef(fid)
    with pytest.raises(FileNotFound):
        client.verify("input_support", "1234")


def test_the_my_number_opens_with_collation_number_a_only(client):
    client.select_ap(bytes.fromhex("D3921000310001010408"))
    client.select_ef(0x0001)
    assert client.reader.transmit(build(0x00, 0xB0, 0, 0, le=17)) == b"\x69\x82"
    client.select_ef(0x0014)
    client._transmit(build(0x00, 0x20, 0x00, 0x80, PINLESS.collation_number_a.encode()), "VERIFY A")
    client.select_ef(0x0001)
    assert PINLESS.my_number.encode() in client.read_binary(0, 17)


def test_the_face_reader_confirms_a_pinless_card_by_face_and_has_no_pin_to_fall_back_on():
    params = FaceAuthParameters(match_rate=1.0, face_seconds=3, card_seconds=2, pin_seconds=5)
    face = FaceAuthReader(InProcessReader(MynaCardOS(PINLESS)), params, np.random.default_rng(1))
    outcome = face.confirm_identity(None, b"challenge")
    assert outcome.method == "face" and outcome.certificate == PINLESS.auth_certificate
    never = FaceAuthReader(InProcessReader(MynaCardOS(PINLESS)), dataclasses.replace(params, match_rate=0.0),
                           np.random.default_rng(1))  # fmt: skip
    assert never.confirm_identity(None, b"challenge").method == "failed"


def test_a_fuzz_of_the_pinless_card_never_gets_a_signature_or_a_pin():
    """5,000 APDUs here (100,000 in benchmarks/test_bench_card.py); PinlessChecker asserts after each."""
    apdus = corpus(PINLESS)
    rng = np.random.default_rng(18)
    checker = PinlessChecker(MynaCardOS(PINLESS), PINLESS)
    checker.card.powerUp()
    for i in range(5_000):
        if i % 500 == 0:
            checker = PinlessChecker(MynaCardOS(PINLESS), PINLESS)
            checker.card.powerUp()
        base = apdus[int(rng.integers(len(apdus)))]
        checker.run(base if rng.random() < 0.3 else mutate(base, rng))
    assert checker.count == 500


def test_the_pinless_flag_survives_the_personalisation_file_and_is_checked(tmp_path):
    path = PINLESS.save(tmp_path / "card.json")
    assert Personalisation.load(path).pinless is True
    assert Personalisation.load(personalisation().save(tmp_path / "pins.json")).pinless is False
    doc = json.loads(path.read_text())
    doc["pinless"] = "yes"
    with pytest.raises(PersonalisationError, match="pinless: 'yes' is not allowed; use true or false"):
        Personalisation.from_document(doc)


def test_the_lifecycle_offers_the_pinless_card_from_its_start_date_and_without_a_signature(jpki, holder_keys):
    cards = CardLifecycle(jpki)
    info = BasicInfo("番号\u3000花子", "東京都千代田区霞が関２丁目", date(1990, 2, 17), "2")
    before = datetime(2023, 12, 14, 3, tzinfo=UTC)
    with pytest.raises(CardError, match="pinless: the PIN-less card is issued from 2023-12-15, not on 2023-12-14"):
        cards.apply("p-9", info, 13101, before, pinless=True)
    assert PINLESS_CARD_START == date(2023, 12, 15)
    now = datetime(2026, 4, 1, 1, tzinfo=UTC)  # after the centre's founding (tests/_jpki_fixtures.py)
    card = cards.apply("p-9", info, 13101, now, pinless=True)
    with pytest.raises(CardError, match="a PIN-less card carries no signature certificate"):
        cards.produce(card.card_id, now, holder_keys.key(0).public_key(), holder_keys.key(1).public_key())
    made = cards.produce(card.card_id, now, holder_keys.key(0).public_key())
    assert made.pinless and made.auth_serial is not None and made.sign_serial is None
    with pytest.raises(CardError, match="has no PIN to reset"):
        cards.reset_pin(card.card_id, "auth", "1234", now)


def test_an_impostor_at_the_face_reader_passes_only_at_the_false_accept_rate():
    """Two captures per visit: an impostor passes with probability 1 - (1 - FAR)^2 (binomial bounds, 4 sigma)."""
    params = FaceAuthParameters(match_rate=0.95, face_seconds=3, card_seconds=2, pin_seconds=5,
                                false_accept_rate=0.1)  # an exaggerated FAR, to measure it  # fmt: skip
    face = FaceAuthReader(InProcessReader(MynaCardOS(PINLESS)), params, np.random.default_rng(7))
    n = 2_000
    passed = sum(face.confirm_identity(None, b"c", impostor=True).method == "face" for _ in range(n))
    p = 1 - (1 - 0.1) ** 2
    assert abs(passed / n - p) < 4 * (p * (1 - p) / n) ** 0.5, passed / n
    with pytest.raises(ValueError, match="false_accept_rate: 1.5 is not a probability"):
        dataclasses.replace(params, false_accept_rate=1.5)
