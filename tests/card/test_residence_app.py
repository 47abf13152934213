"""The residence AP on the card (特定在留カード): its own AID, the record readable only after the card
number from the face is verified in that AP, no write command, and a 100,000-APDU fuzz (in process
against the card OS object, as test_licence_app.py does) in which the record never leaves the card
without that verification."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from card_helpers import personalisation
from fuzzing import InvariantChecker, corpus, mutate

from emulators.card_os import MynaCardOS
from emulators.licence_app import LICENCE_AID
from emulators.personalisation import LicenceData
from emulators.residence_app import (
    EF_RESIDENCE_KEY,
    RESIDENCE_AID,
    RESIDENCE_KEY_TRIES,
    ResidenceDataError,
    ResidenceRecord,
    build_residence_application,
    decode_residence_record,
    encode_residence_record,
)

PERSO = personalisation()
NUMBER = "AB12345678CD"
RECORD = ResidenceRecord(NUMBER, "技術・人文知識・国際業務", "3年", dt.date(2029, 7, 1), "status_only")
SELECT = bytes.fromhex("00A4040C0A") + RESIDENCE_AID
READ = bytes.fromhex("00B0810000")  # READ BINARY SFI 1, Le=256
STATUS = "技術・人文知識・国際業務".encode()  # in the record only, never in any other answer


def _verify(key: str) -> bytes:
    return bytes.fromhex("00200091") + bytes((len(key),)) + key.encode()


def resident_card() -> MynaCardOS:
    card = MynaCardOS(PERSO)
    card.install_application(build_residence_application(RECORD))
    card.powerUp()
    return card


def test_record_round_trips_and_bad_fields_are_named_without_the_number():
    assert decode_residence_record(encode_residence_record(RECORD)) == RECORD
    permanent = dataclasses.replace(RECORD, status="永住者", period="無期限", expiry=None, work="none")
    assert decode_residence_record(encode_residence_record(permanent)) == permanent
    for bad, field in (("AB1234567CD", "card_number"), ("ab12345678cd", "card_number"),
                       ("AB12345678C1", "card_number")):  # fmt: skip
        with pytest.raises(ResidenceDataError, match=f"^{field}: must be 2 letters") as e:
            dataclasses.replace(RECORD, card_number=bad)
        assert bad not in str(e.value)
    with pytest.raises(ResidenceDataError, match="work: 'some' is not allowed; use none, status_only"):
        dataclasses.replace(RECORD, work="some")
    with pytest.raises(ResidenceDataError, match="status: at most 100 UTF-8 bytes"):
        dataclasses.replace(RECORD, status="資格" * 20)
    with pytest.raises(ResidenceDataError, match="period: must be non-empty"):
        dataclasses.replace(RECORD, period=" ")
    with pytest.raises(ResidenceDataError, match="truncated or missing"):
        decode_residence_record(encode_residence_record(RECORD)[:-3])
    assert NUMBER not in repr(RECORD)


def test_record_opens_only_with_the_card_number_from_the_face():
    card = resident_card()
    assert card.execute(SELECT) == b"\x90\x00"
    assert card.execute(READ) == b"\x69\x82"  # security status not satisfied
    assert card.execute(_verify("AB12345678CE")) == b"\x63\xc9"  # wrong: nine tries left
    assert card.execute(_verify(NUMBER)) == b"\x90\x00"
    assert card.execute(READ) == encode_residence_record(RECORD) + b"\x90\x00"
    assert card.pin("residence", EF_RESIDENCE_KEY).tries_left == RESIDENCE_KEY_TRIES


def test_the_card_pins_and_the_licence_pin_do_not_open_it_and_selection_clears_it():
    perso = dataclasses.replace(PERSO, licence=LicenceData("301234567890", dt.date(2029, 1, 1), "", "4826"))
    card = MynaCardOS(perso)
    card.install_application(build_residence_application(RECORD))
    card.powerUp()
    card.execute(bytes.fromhex("00A4040C0A") + LICENCE_AID)
    assert card.execute(bytes.fromhex("0020009104") + b"4826") == b"\x90\x00"  # licence PIN, same EF number
    card.execute(SELECT)
    assert card.execute(READ) == b"\x69\x82"
    assert card.execute(bytes.fromhex("0020009104") + b"4826") == b"\x63\xc9"  # not the residence key
    card.execute(_verify(NUMBER))
    card.execute(bytes.fromhex("00A4040C0A") + LICENCE_AID)
    assert card.execute(READ) == b"\x69\x82"  # the licence record stays shut
    card.execute(SELECT)
    assert card.execute(READ) == b"\x69\x82"  # a SELECT by AID dropped the verified state


def test_key_blocks_after_ten_wrong_tries_and_no_write_command_reaches_the_record():
    card = resident_card()
    card.execute(SELECT)
    assert card.execute(bytes.fromhex("00D6000003") + b"XYZ") == b"\x6d\x00"  # UPDATE BINARY
    assert card.execute(bytes.fromhex("0024019118") + b"AB12345678CDZZ00000000ZZ") == b"\x69\x82"  # not verified
    card.execute(_verify(NUMBER))
    assert card.execute(bytes.fromhex("0024019118") + b"AB12345678CDZZ00000000ZZ") == b"\x69\x85"  # not changeable
    for _ in range(RESIDENCE_KEY_TRIES):
        card.execute(_verify("ZZ00000000ZZ"))
    assert card.execute(_verify(NUMBER)) == b"\x69\x84"  # blocked
    assert card.execute(READ) == b"\x69\x82"


def test_a_card_without_the_ap_answers_6a82_and_a_reissue_replaces_it():
    bare = MynaCardOS(PERSO)
    bare.powerUp()
    assert bare.execute(SELECT) == b"\x6a\x82"
    card = resident_card()
    renewed = dataclasses.replace(RECORD, card_number="AB87654321CD", period="5年", expiry=dt.date(2034, 7, 1))
    card.install_application(build_residence_application(renewed))
    assert sum(a.aid == RESIDENCE_AID for a in card.applications) == 1
    card.execute(SELECT)
    assert card.execute(_verify(NUMBER)) == b"\x63\xc9"  # the old number no longer opens it
    card.execute(_verify("AB87654321CD"))
    assert decode_residence_record(card.execute(READ)[:-2]) == renewed


class ResidenceChecker(InvariantChecker):
    """Invariants of test_card_fuzz.py plus: no answer carries the residence record (its status bytes)
    unless the card number is verified in the residence AP at that moment."""

    def run(self, apdu: bytes) -> bytes:
        resp = super().run(apdu)
        if STATUS in resp:
            assert EF_RESIDENCE_KEY in self.card.verified and self.card.current_app.name == "residence", (
                f"{apdu.hex()}: residence record without the card number"
            )
        return resp


def _residence_corpus() -> list[bytes]:
    res = [SELECT, READ, bytes.fromhex("00B0000000"), bytes.fromhex("00A4020C020001"),
           bytes.fromhex("00A4020C020011"), _verify("AB12345678CE"), _verify("0000"), bytes.fromhex("00200091"),
           bytes.fromhex("0024019118") + b"AB12345678CDZZ00000000ZZ", bytes.fromhex("00B0010000")]  # fmt: skip
    return corpus(PERSO) + res * 3


def test_fuzz_100k_apdus_no_crash_no_record_without_the_card_number():
    """100,000 mutated APDUs (the right card number in the stream now and then, so reads do happen): the
    card always answers a valid status word and gives the record out only while the number is verified."""
    rng = np.random.default_rng(20260614)
    base = _residence_corpus()
    right = _verify(NUMBER)
    reads_opened = 0
    checker = ResidenceChecker(resident_card(), PERSO)
    for i in range(100_000):
        if i % 200 == 0:  # a fresh card now and then: blocked PINs otherwise end the search early
            checker = ResidenceChecker(resident_card(), PERSO)
        r = rng.random()
        if r < 0.02:
            apdu = right
        elif r < 0.5:
            apdu = base[int(rng.integers(len(base)))]
        else:
            apdu = mutate(base[int(rng.integers(len(base)))], rng)
        reads_opened += STATUS in checker.run(apdu)
    assert reads_opened > 0  # the check above was exercised, not vacuous


def test_checker_catches_a_residence_ap_without_its_access_rule():
    """The fuzz's residence invariant is not vacuous: an AP whose record needs no key fails it."""
    card = resident_card()
    card.applications[-1].files[0x0001].read_requires = frozenset()
    checker = ResidenceChecker(card, PERSO)
    checker.run(SELECT)
    with pytest.raises(AssertionError, match="residence record without the card number"):
        checker.run(READ)
