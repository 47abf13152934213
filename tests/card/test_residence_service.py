"""The immigration authority's service (twin/services/residence.py) against the in-process card OS:
issuing the combined card's residence data, extension and change of status on a new card number, and
the employer's or official's check with every refusal it names. No card number in any message."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from card_helpers import personalisation

from emulators.card_os import MynaCardOS
from emulators.residence_app import ResidenceRecord, build_residence_application
from twin.services.residence import (
    ImmigrationAuthority,
    ResidenceRefused,
    ResidenceRegister,
    check_residence,
)

PERSO = personalisation()
SERIAL = PERSO.identity.serial  # card expires 2031-02-17
NUMBER, NEXT = "AB12345678CD", "AB87654321CD"
RECORD = ResidenceRecord(NUMBER, "技術・人文知識・国際業務", "3年", dt.date(2029, 7, 1), "status_only")
DAY = dt.date(2026, 7, 1)


def card() -> MynaCardOS:
    c = MynaCardOS(PERSO)
    c.powerUp()
    return c


def issued() -> tuple[MynaCardOS, ResidenceRegister]:
    c, reg = card(), ResidenceRegister()
    ImmigrationAuthority(reg).issue(c, "resident-1", RECORD, DAY)
    return c, reg


def refused(reason: str, fn, *args, **kw) -> str:
    with pytest.raises(ResidenceRefused) as e:
        fn(*args, **kw)
    assert e.value.reason == reason, str(e.value)
    assert NUMBER not in str(e.value) and NEXT not in str(e.value)
    return str(e.value)


def test_issue_then_check_returns_the_register_entry():
    c, reg = issued()
    entry = check_residence(c, NUMBER, reg, DAY)
    assert entry.record == RECORD and entry.card_serial == SERIAL and entry.valid
    assert reg.count_by_kind() == {"issue": 1}
    assert NUMBER not in repr(entry) + repr(reg)


def test_before_2026_06_14_nothing_is_issued_or_checked():
    c, reg = card(), ResidenceRegister()
    msg = refused("not_yet", ImmigrationAuthority(reg).issue, c, "resident-1", RECORD, dt.date(2026, 6, 13))
    assert "2026-06-14" in msg
    assert reg.entries == {} and reg.log == []
    c, reg = issued()
    refused("not_yet", check_residence, c, NUMBER, reg, dt.date(2026, 6, 13))
    ImmigrationAuthority(ResidenceRegister()).issue(card(), "r", RECORD, dt.date(2026, 6, 14))  # the first day


def test_extension_gives_a_new_card_number_and_the_old_one_lapses():
    c, reg = issued()
    ImmigrationAuthority(reg).extend(c, NUMBER, NEXT, "5年", dt.date(2034, 7, 1), dt.date(2029, 6, 1))
    entry = check_residence(c, NEXT, reg, dt.date(2030, 1, 1))
    assert (entry.record.status, entry.record.period, entry.record.expiry) == (
        "技術・人文知識・国際業務", "5年", dt.date(2034, 7, 1))  # fmt: skip
    assert not reg.entries[NUMBER].valid and reg.current("resident-1") is entry
    refused("residence_key_wrong", check_residence, c, NUMBER, reg, dt.date(2030, 1, 1))  # the old number
    old = card()  # a second card still carrying the old record (the replaced residence card)
    old.install_application(build_residence_application(RECORD))
    refused("card_number_lapsed", check_residence, old, NUMBER, reg, dt.date(2029, 6, 2))
    refused("card_number_lapsed", ImmigrationAuthority(reg).extend, c, NUMBER, "XY00000000ZZ", "1年",
            dt.date(2035, 1, 1), dt.date(2030, 1, 1))  # fmt: skip
    refused("bad_expiry", ImmigrationAuthority(reg).extend, c, NEXT, "XY00000000ZZ", "1年", dt.date(2034, 1, 1),
            dt.date(2030, 1, 1))  # fmt: skip


def test_change_of_status_writes_the_new_status_and_work_restriction():
    c, reg = issued()
    ImmigrationAuthority(reg).change_status(c, NUMBER, NEXT, "永住者", "無期限", None, "none", dt.date(2028, 3, 1))
    entry = check_residence(c, NEXT, reg, dt.date(2030, 1, 1))  # after 2029-07-01: no expiry any more
    assert (entry.record.status, entry.record.expiry, entry.record.work) == ("永住者", None, "none")
    assert [k for _, ch, k, _ in reg.log if ch == "immigration_bureau"] == ["issue", "change_status"]
    refused("bad_expiry", ImmigrationAuthority(reg).extend, c, NEXT, "XY00000000ZZ", "1年", dt.date(2099, 1, 1),
            dt.date(2029, 1, 1))  # fmt: skip


def test_issuance_refusals_name_their_reason_and_write_nothing():
    c, reg = card(), ResidenceRegister()
    auth = ImmigrationAuthority(reg)
    refused("bad_channel", auth.issue, c, "r", RECORD, DAY, channel="post")
    refused("card_revoked", auth.issue, c, "r", RECORD, DAY, revoked_cards={SERIAL})
    refused("card_expired", auth.issue, c, "r", dataclasses.replace(RECORD, expiry=None), dt.date(2031, 2, 18))
    refused("period_expired", auth.issue, c, "r", RECORD, dt.date(2029, 7, 2))
    assert reg.entries == {} and reg.log == []
    refused("no_residence_on_card", check_residence, c, NUMBER, reg, DAY)
    auth.issue(c, "r", RECORD, DAY, channel="municipal_counter")
    refused("card_number_reused", auth.issue, card(), "s", RECORD, DAY)
    msg = refused("bad_residence_data", auth.change_status, c, NUMBER, "ab1", "留学", "1年", DAY, "none", DAY)
    assert "card_number" in msg and "ab1" not in msg


def test_check_refusals():
    c, reg = issued()
    refused("card_revoked", check_residence, c, NUMBER, reg, DAY, revoked_cards={SERIAL})
    refused("card_expired", check_residence, c, NUMBER, reg, dt.date(2031, 3, 1))
    assert "on 2029-07-01" in refused("period_expired", check_residence, c, NUMBER, reg, dt.date(2029, 7, 2))
    refused("bad_card_number", check_residence, c, "AB1234", reg, DAY)
    assert "9 tries left" in refused("residence_key_wrong", check_residence, c, "ZZ12345678CD", reg, DAY)
    check_residence(c, NUMBER, reg, DAY)  # the right number restores the tries
    for _ in range(10):
        with pytest.raises(ResidenceRefused):
            check_residence(c, "ZZ12345678CD", reg, DAY)
    refused("residence_key_blocked", check_residence, c, NUMBER, reg, DAY)
    refused("unknown_card_number", check_residence, issued()[0], NUMBER, ResidenceRegister(), DAY)


def test_check_refuses_a_record_that_differs_from_the_register_or_sits_on_another_card():
    c, reg = issued()
    forged = dataclasses.replace(RECORD, work="none", expiry=dt.date(2035, 1, 1))  # a rewritten chip
    c.install_application(build_residence_application(forged))
    refused("record_mismatch", check_residence, c, NUMBER, reg, DAY)
    c, reg = issued()
    reg.entries[NUMBER].card_serial = "999999999999999"
    refused("wrong_card", check_residence, c, NUMBER, reg, DAY)


def test_the_same_rewritten_record_passes_only_when_the_register_agrees():
    """The record_mismatch refusal above comes from the register, not from the rewrite itself."""
    c, reg = issued()
    forged = dataclasses.replace(RECORD, work="none")
    c.install_application(build_residence_application(forged))
    reg.entries[NUMBER].record = forged
    assert check_residence(c, NUMBER, reg, DAY).record.work == "none"
