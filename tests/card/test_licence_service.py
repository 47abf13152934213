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


def _renewed_card() -> MynaCardOS:
    from emulators.layouts import CardIdentity

    perso = personalisation(card=1)  # the holder's new card: another key pair, serial and expiry
    new = MynaCardOS(dataclasses.replace(perso, identity=CardIdentity(NEW_SERIAL, "13101", dt.date(2035, 8, 1))))
    new.powerUp()
    return new


NEW_SERIAL = "123456789012999"
RENEWAL = {"reason": "expiry", "online": True, "sign_certificate_at_police": True, "wants_sign_certificate": True}


def test_a_card_renewed_before_the_continuation_loses_the_licence_until_it_is_re_recorded():
    from twin.services.licence import RE_RECORD_FEE_YEN

    old, reg = issued()
    new, centre = _renewed_card(), LicenceCentre(reg)
    day = dt.date(2025, 8, 29)
    assert centre.carry_over(SERIAL, new, NUMBER, PIN, day, **RENEWAL) == "before_continuation"
    refused("no_licence_on_card", police_verify, new, PIN, reg, day)
    assert centre.re_record(new, NUMBER, PIN, day) == RE_RECORD_FEE_YEN == 1_500
    assert police_verify(new, PIN, reg, day).card_serial == NEW_SERIAL
    refused("wrong_card", police_verify, old, PIN, reg, day)  # the register follows the new card
    assert [k for _, _, k, _ in reg.log] == ["issue", "re_record"]


def test_from_2025_09_01_a_qualifying_renewal_carries_the_licence_over_and_others_do_not():
    from twin.services.licence import continuation_refusal

    day = dt.date(2025, 9, 1)
    old, reg = issued()
    new, centre = _renewed_card(), LicenceCentre(reg)
    assert centre.carry_over(SERIAL, new, NUMBER, PIN, day, **RENEWAL) is None
    assert police_verify(new, PIN, reg, day).card_serial == NEW_SERIAL
    assert reg.count_by_channel() == {"centre": 1, "card_renewal": 1}
    for change, why in (({"reason": "loss"}, "reason_not_renewal"), ({"online": False}, "not_online"),
                        ({"sign_certificate_at_police": False}, "no_certificate_at_police"),
                        ({"wants_sign_certificate": False}, "no_sign_certificate_on_new_card")):  # fmt: skip
        assert continuation_refusal(day, **{**RENEWAL, **change}) == why
        old2, reg2 = issued()
        new2 = _renewed_card()
        assert LicenceCentre(reg2).carry_over(SERIAL, new2, NUMBER, PIN, day, **{**RENEWAL, **change}) == why
        refused("no_licence_on_card", police_verify, new2, PIN, reg2, day)  # nothing written
    refused("bad_reason", continuation_refusal, day, "stolen", True, True, True)
    with pytest.raises(LicenceRefused, match="wrong_card"):  # the licence is linked to another card
        centre.carry_over("0" * 15, _renewed_card(), NUMBER, PIN, day, **RENEWAL)
