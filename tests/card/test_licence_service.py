"""The licence service (twin/services/licence.py) against the in-process card OS: issuance and
renewal at the licence centre, and the police's verification with every refusal it names."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from card_helpers import personalisation

from emulators.card_os import MynaCardOS
from emulators.licence_app import build_licence_application, encode_licence_record
from twin.services.licence import LicenceCentre, LicenceRefused, LicenceRegister, police_verify

PERSO = personalisation()
SERIAL = PERSO.identity.serial  # card expires 2031-02-17
PIN, NUMBER = "4826", "301234567890"
DAY = dt.date(2026, 4, 1)


def card() -> MynaCardOS:
    c = MynaCardOS(PERSO)
    c.powerUp()
    return c


def issued() -> tuple[MynaCardOS, LicenceRegister]:
    c, reg = card(), LicenceRegister()
    LicenceCentre(reg).issue(c, NUMBER, dt.date(2029, 6, 14), PIN, DAY, conditions="眼鏡等")
    return c, reg


def refused(reason: str, fn, *args, **kw) -> str:
    with pytest.raises(LicenceRefused) as e:
        fn(*args, **kw)
    assert e.value.reason == reason, str(e.value)
    return str(e.value)


def test_issue_then_police_verify_returns_the_register_entry():
    c, reg = issued()
    entry = police_verify(c, PIN, reg, DAY)
    assert (entry.number, entry.expiry, entry.card_serial) == (NUMBER, dt.date(2029, 6, 14), SERIAL)
    assert reg.count_by_channel() == {"centre": 1}


def test_renewal_extends_the_licence_on_card_and_register():
    c, reg = issued()
    LicenceCentre(reg).renew(c, NUMBER, dt.date(2034, 6, 14), PIN, dt.date(2029, 5, 1), channel="police_station")
    assert police_verify(c, PIN, reg, dt.date(2030, 1, 1)).expiry == dt.date(2034, 6, 14)
    assert [(ch, kind) for _, ch, kind, _ in reg.log] == [("centre", "issue"), ("police_station", "renew")]


def test_issuance_refusals_name_their_reason_and_write_nothing():
    c, reg = card(), LicenceRegister()
    centre = LicenceCentre(reg)
    msg = refused("not_yet", centre.issue, c, NUMBER, dt.date(2029, 1, 1), PIN, dt.date(2025, 3, 23))
    assert "2025-03-24" in msg
    refused("bad_channel", centre.issue, c, NUMBER, dt.date(2029, 1, 1), PIN, DAY, channel="post")
    refused("bad_licence_data", centre.issue, c, "12", dt.date(2029, 1, 1), PIN, DAY)
    msg = refused("bad_licence_data", centre.issue, c, NUMBER, dt.date(2029, 1, 1), "12a4", DAY)
    assert "12a4" not in msg  # a PIN is never repeated
    refused("card_revoked", centre.issue, c, NUMBER, dt.date(2029, 1, 1), PIN, DAY, revoked_cards={SERIAL})
    refused("card_expired", centre.issue, c, NUMBER, dt.date(2032, 1, 1), PIN, dt.date(2031, 2, 18))
    assert reg.entries == {} and reg.log == []
    refused("no_licence_on_card", police_verify, c, PIN, reg, DAY)


def test_police_refusals():
    c, reg = issued()
    refused("card_revoked", police_verify, c, PIN, reg, DAY, revoked_cards={SERIAL})
    refused("card_expired", police_verify, c, PIN, reg, dt.date(2031, 3, 1))
    refused("licence_expired", police_verify, c, PIN, reg, dt.date(2029, 6, 15))
    assert "2 tries left" in refused("licence_pin_wrong", police_verify, c, "0000", reg, DAY)
    police_verify(c, PIN, reg, DAY)  # a right PIN restores the tries
    for _ in range(3):
        try:
            police_verify(c, "0000", reg, DAY)
        except LicenceRefused:
            pass
    refused("licence_pin_blocked", police_verify, c, PIN, reg, DAY)

    c, reg = issued()
    reg.revoke(NUMBER)
    refused("licence_revoked", police_verify, c, PIN, reg, DAY)
    refused("licence_revoked", LicenceCentre(reg).renew, c, NUMBER, dt.date(2034, 1, 1), PIN, DAY)
    refused("unknown_licence", police_verify, c, PIN, LicenceRegister(), DAY)


def test_police_refuse_a_stale_or_moved_record():
    c, reg = issued()
    # a card holding a record the register does not (an old expiry kept after a renewal elsewhere)
    c.install_application(build_licence_application(encode_licence_record(NUMBER, dt.date(2028, 1, 1)), PIN))
    refused("record_mismatch", police_verify, c, PIN, reg, DAY)
    c, reg = issued()
    reg.entries[NUMBER] = dataclasses.replace(reg.entries[NUMBER], card_serial="999999999999999")
    refused("wrong_card", police_verify, c, PIN, reg, DAY)
