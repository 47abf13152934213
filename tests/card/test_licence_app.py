"""The driving-licence AP on the card (マイナ免許証): its own AID, its own PIN, the record readable
only while that PIN is verified, no write command, and a 100,000-APDU fuzz (in process against the
card OS object, as test_card_fuzz.py does) in which the record never leaves the card unverified."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from card_helpers import personalisation
from fuzzing import InvariantChecker, corpus, mutate

from emulators.card_os import MynaCardOS
from emulators.licence_app import (
    EF_LICENCE_PIN,
    LICENCE_AID,
    LicenceDataError,
    build_licence_application,
    decode_licence_record,
    encode_licence_record,
)

PERSO = personalisation()
LICENCE_PIN = "4826"
RECORD = encode_licence_record("301234567890", dt.date(2029, 6, 14), "眼鏡等")
SELECT = bytes.fromhex("00A4040C0A") + LICENCE_AID
READ = bytes.fromhex("00B0810000")  # READ BINARY SFI 1, Le=256


def _verify(pin: str) -> bytes:
    return bytes.fromhex("0020009104") + pin.encode()


def licensed_card() -> MynaCardOS:
    card = MynaCardOS(PERSO)
    card.install_application(build_licence_application(RECORD, LICENCE_PIN))
    card.powerUp()
    return card


def test_record_round_trips_and_bad_fields_are_named():
    assert decode_licence_record(RECORD) == ("301234567890", dt.date(2029, 6, 14), "眼鏡等")
    with pytest.raises(LicenceDataError, match="licence number: must be exactly 12 digits"):
        encode_licence_record("12345", dt.date(2029, 1, 1))
    with pytest.raises(LicenceDataError, match="licence_pin: must be exactly 4 digits"):
        build_licence_application(RECORD, "12a4")


def test_record_opens_only_with_the_licence_pin():
    card = licensed_card()
    assert card.execute(SELECT) == b"\x90\x00"
    assert card.execute(READ) == b"\x69\x82"  # security status not satisfied
    assert card.execute(_verify("0000")) == b"\x63\xc2"  # wrong: two tries left
    assert card.execute(_verify(LICENCE_PIN)) == b"\x90\x00"
    assert card.execute(READ) == RECORD + b"\x90\x00"
    assert card.pin("licence", EF_LICENCE_PIN).tries_left == 3


def test_other_pins_do_not_open_the_licence_and_selection_clears_it():
    card = licensed_card()
    card.execute(bytes.fromhex("00A4040C0AD392F000260100000001"))  # JPKI AP
    assert card.execute(bytes.fromhex("0020009804") + b"2468")[-2:] == b"\x90\x00"  # auth PIN
    card.execute(SELECT)
    assert card.execute(READ) == b"\x69\x82"
    card.execute(_verify(LICENCE_PIN))
    card.execute(bytes.fromhex("00A4040C0AD392F000260100000001"))
    card.execute(SELECT)
    assert card.execute(READ) == b"\x69\x82"  # a SELECT by AID drops the verified state


def test_licence_pin_blocks_after_three_wrong_tries_and_stays_apart_from_jpki():
    card = licensed_card()
    card.execute(SELECT)
    for _ in range(3):
        card.execute(_verify("9999"))
    assert card.execute(_verify(LICENCE_PIN)) == b"\x69\x84"  # blocked (this card OS answers 6984)
    assert card.execute(READ) == b"\x69\x82"
    assert card.pin("JPKI", 0x0018).tries_left == 3


def test_no_write_command_reaches_the_record():
    card = licensed_card()
    card.execute(SELECT)
    card.execute(_verify(LICENCE_PIN))
    assert card.execute(bytes.fromhex("00D6000003") + b"XYZ") == b"\x6d\x00"  # UPDATE BINARY
    assert card.execute(READ) == RECORD + b"\x90\x00"


def test_renewal_replaces_the_ap_and_the_card_without_it_answers_6a82():
    bare = MynaCardOS(PERSO)
    bare.powerUp()
    assert bare.execute(SELECT) == b"\x6a\x82"
    card = licensed_card()
    renewed = encode_licence_record("301234567890", dt.date(2034, 6, 14))
    card.install_application(build_licence_application(renewed, LICENCE_PIN))
    assert sum(a.aid == LICENCE_AID for a in card.applications) == 1
    card.execute(SELECT)
    card.execute(_verify(LICENCE_PIN))
    assert card.execute(READ) == renewed + b"\x90\x00"


class LicenceChecker(InvariantChecker):
    """Invariants of test_card_fuzz.py plus: no answer carries the licence number unless the
    licence PIN is verified at that moment."""

    def run(self, apdu: bytes) -> bytes:
        resp = super().run(apdu)
        if b"301234567890" in resp:
            assert EF_LICENCE_PIN in self.card.verified and self.card.current_app.name == "licence", (
                f"{apdu.hex()}: licence record without the licence PIN"
            )
        return resp


def _licence_corpus() -> list[bytes]:
    lic = [SELECT, READ, bytes.fromhex("00B0000000"), bytes.fromhex("00A4020C020001"),
           bytes.fromhex("00A4020C020011"), _verify("0000"), _verify("4827"), bytes.fromhex("00200091"),
           bytes.fromhex("0024019108") + b"48261111"]  # fmt: skip
    return corpus(PERSO) + lic * 3


def test_fuzz_100k_apdus_no_crash_no_record_without_the_pin():
    """100,000 mutated APDUs (right licence PIN in the corpus once, so reads do happen): the card
    always answers a valid status word and gives the record out only while the licence PIN is verified."""
    rng = np.random.default_rng(20250324)
    base = _licence_corpus()
    right = [_verify(LICENCE_PIN)]
    reads_opened = 0
    checker = LicenceChecker(licensed_card(), PERSO)
    for i in range(100_000):
        if i % 200 == 0:  # a fresh card now and then: blocked PINs otherwise end the search early
            checker = LicenceChecker(licensed_card(), PERSO)
        r = rng.random()
        if r < 0.02:
            apdu = right[0]
        elif r < 0.5:
            apdu = base[int(rng.integers(len(base)))]
        else:
            apdu = mutate(base[int(rng.integers(len(base)))], rng)
        resp = checker.run(apdu)
        reads_opened += b"301234567890" in resp
    assert reads_opened > 0  # the check above was exercised, not vacuous


def test_checker_catches_a_licence_ap_without_its_access_rule():
    """The fuzz's licence invariant is not vacuous: an AP whose record needs no PIN fails it."""
    card = licensed_card()
    card.applications[-1].files[0x0001].read_requires = frozenset()
    checker = LicenceChecker(card, PERSO)
    checker.run(SELECT)
    with pytest.raises(AssertionError, match="licence record without the licence PIN"):
        checker.run(READ)
