"""The residence card on the My Number card (特定在留カード, from 2026-06-14): the immigration authority
writes it, an employer or an official checks it through the card.

Picture a software engineer from abroad at a regional immigration bureau (地方出入国在留管理局) to extend
her period of stay. She asks for the combined card; from then on one card shows her status of
residence, and when she changes jobs the employer's HR clerk puts it in a reader, types the card number
from its face and sees whether status, period and work restriction agree with what the authority holds.

Rules in one place, time always passed in (``day``):

* :class:`ResidenceRegister` is the immigration authority's register (出入国在留管理庁): card number ->
  resident, status, period, expiry, work restriction, the card serial it sits on, valid or lapsed. A
  card number is used once: every issue gets a new one and the old one lapses (入管法 19条の4 第2項).
* :meth:`ImmigrationAuthority.issue` writes the residence AP onto the card the resident brings
  (issuer-side, ``MynaCardOS.install_application``), at a regional immigration bureau or at a municipal
  counter (the two places the authority names); :meth:`ImmigrationAuthority.extend` (在留期間更新) and
  :meth:`ImmigrationAuthority.change_status` (在留資格変更) write the new record under a new card
  number, at a bureau. Nothing is written before :data:`RESIDENCE_CARD_START`.
* :func:`check_residence` is the employer's or official's check: the card's common AP (serial, expiry),
  the residence AP opened with the card number typed from the face, the record read, and the register
  consulted. Each refusal is named (:class:`ResidenceRefused`).

Sourced: the start date, the two places, the card number's form and that it changes at each issue
(docs/CARD_PROTOCOL.md §16, twin/data/FIGURES.md). Assumed: the AP's layout and access rule, that the
checker consults the register online at every check (the authority's 失効情報照会 is the nearest real
service), and that the special period (特例期間) while an extension is pending is not modelled: a check
after the expiry is refused even if an application is pending. Card numbers are never printed here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container
from dataclasses import dataclass, field, replace
from typing import Final

from emulators.apdu import build
from emulators.residence_app import (
    CARD_NUMBER,
    EF_RESIDENCE_KEY,
    RESIDENCE_AID,
    ResidenceDataError,
    ResidenceRecord,
    build_residence_application,
    decode_residence_record,
)
from twin.services.card_apps import CardLike, CardRefused, WritableCard, held_card

#: 特定在留カード start (twin/data/FIGURES.md)
RESIDENCE_CARD_START: Final = dt.date(2026, 6, 14)
#: where the combined card is applied for (sourced): at a bureau with a residence procedure, at a
#: municipal counter with a residence notification (転入届 etc.); extensions and changes only at a bureau
CHANNELS: Final = ("immigration_bureau", "municipal_counter")


class ResidenceRefused(CardRefused):
    """A residence operation refused; ``reason`` is a short code, the message says why (no card number)."""


@dataclass(repr=False)
class ResidenceEntry:
    record: ResidenceRecord
    resident_id: str
    card_serial: str
    valid: bool = True  # False: the number lapsed (a newer card was issued)

    def __repr__(self) -> str:
        return f"ResidenceEntry({self.record!r}, {'valid' if self.valid else 'lapsed'})"


@dataclass(repr=False)
class ResidenceRegister:
    """The authority's register, with the issuance log (day, channel, kind, resident)."""

    entries: dict[str, ResidenceEntry] = field(default_factory=dict)
    log: list[tuple[dt.date, str, str, str]] = field(default_factory=list)

    def current(self, resident_id: str) -> ResidenceEntry | None:
        """The resident's valid entry, if any."""
        return next((e for e in self.entries.values() if e.resident_id == resident_id and e.valid), None)

    def __repr__(self) -> str:  # the keys are card numbers: never shown
        valid = sum(e.valid for e in self.entries.values())
        return f"ResidenceRegister({valid} valid, {len(self.entries) - valid} lapsed card numbers)"

    def count_by_kind(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, _, kind, _ in self.log:
            out[kind] = out.get(kind, 0) + 1
        return out


def _check_card(card: CardLike, day: dt.date, revoked_cards: Container[str]) -> str:
    """The My Number card half: serial from the common AP, refused if expired or revoked."""
    return held_card(card, day, revoked_cards, ResidenceRefused)


@dataclass
class ImmigrationAuthority:
    """出入国在留管理庁, as far as the combined card goes."""

    register: ResidenceRegister

    def issue(
        self, card: WritableCard, resident_id: str, record: ResidenceRecord, day: dt.date,
        channel: str = "immigration_bureau", revoked_cards: Container[str] = (),
    ) -> None:
        """Make the card the resident brings a combined card: write the AP, record it. A valid entry the
        resident already has lapses (the earlier residence card is replaced)."""
        self._write(card, resident_id, record, day, channel, revoked_cards, "issue")

    def extend(
        self, card: WritableCard, old_card_number: str, new_card_number: str, period: str, new_expiry: dt.date,
        day: dt.date, revoked_cards: Container[str] = (),
    ) -> None:
        """在留期間更新: the same status with a later expiry, on a new card number."""
        entry = self._valid(old_card_number)
        old = entry.record
        if old.expiry is None or new_expiry <= old.expiry:
            until = "無期限" if old.expiry is None else old.expiry.isoformat()
            raise ResidenceRefused("bad_expiry", f"new expiry {new_expiry} is not after {until}")
        new = self._record(new_card_number, old.status, period, new_expiry, old.work)
        self._write(card, entry.resident_id, new, day, "immigration_bureau", revoked_cards, "extend")

    def change_status(
        self, card: WritableCard, old_card_number: str, new_card_number: str, status: str, period: str,
        expiry: dt.date | None, work: str, day: dt.date, revoked_cards: Container[str] = (),
    ) -> None:
        """在留資格変更: a new status, period and work restriction, on a new card number."""
        entry = self._valid(old_card_number)
        new = self._record(new_card_number, status, period, expiry, work)
        self._write(card, entry.resident_id, new, day, "immigration_bureau", revoked_cards, "change_status")

    def _valid(self, card_number: str) -> ResidenceEntry:
        entry = self.register.entries.get(card_number)
        if entry is None:
            raise ResidenceRefused("unknown_card_number", "the card number is not in the register")
        if not entry.valid:
            raise ResidenceRefused("card_number_lapsed", "the card number has lapsed (a newer card was issued)")
        return entry

    @staticmethod
    def _record(card_number: str, status: str, period: str, expiry: dt.date | None, work: str) -> ResidenceRecord:
        try:
            return ResidenceRecord(card_number, status, period, expiry, work)
        except ResidenceDataError as e:
            raise ResidenceRefused("bad_residence_data", str(e)) from None

    def _write(
        self, card: WritableCard, resident_id: str, record: ResidenceRecord, day: dt.date, channel: str,
        revoked_cards: Container[str], kind: str,
    ) -> None:
        if day < RESIDENCE_CARD_START:
            raise ResidenceRefused("not_yet", f"combined residence cards exist from {RESIDENCE_CARD_START}, not {day}")
        allowed = CHANNELS if kind == "issue" else ("immigration_bureau",)
        if channel not in allowed:
            raise ResidenceRefused("bad_channel", f"channel {channel!r}: allowed {', '.join(allowed)}")
        if record.card_number in self.register.entries:
            raise ResidenceRefused("card_number_reused", "a card number is given once; this one was given before")
        if record.expiry is not None and record.expiry < day:
            raise ResidenceRefused("period_expired", f"the period of stay would end on {record.expiry}, before {day}")
        serial = _check_card(card, day, revoked_cards)
        app = build_residence_application(record)  # built before anything is written
        card.install_application(app)
        old = self.register.current(resident_id)
        if old is not None:
            old.valid = False
        self.register.entries[record.card_number] = ResidenceEntry(replace(record), resident_id, serial)
        self.register.log.append((day, channel, kind, resident_id))


def check_residence(
    card: CardLike, card_number: str, register: ResidenceRegister, day: dt.date,
    revoked_cards: Container[str] = (),
) -> ResidenceEntry:
    """An employer's or official's check of the residence status on a card, with the card number typed
    from the card face: the register's entry (status, period, expiry, work restriction), or a refusal."""
    if day < RESIDENCE_CARD_START:
        raise ResidenceRefused("not_yet", f"combined residence cards exist from {RESIDENCE_CARD_START}, not {day}")
    if not isinstance(card_number, str) or not CARD_NUMBER.fullmatch(card_number):
        raise ResidenceRefused("bad_card_number", "a card number is 2 letters A-Z, 8 digits, 2 letters A-Z")
    serial = _check_card(card, day, revoked_cards)
    if card.execute(build(0x00, 0xA4, 0x04, 0x0C, RESIDENCE_AID))[-2:] != b"\x90\x00":
        raise ResidenceRefused("no_residence_on_card", "the card carries no residence application")
    sw = card.execute(build(0x00, 0x20, 0x00, 0x80 | EF_RESIDENCE_KEY, card_number.encode()))[-2:]
    if sw == b"\x69\x84":
        raise ResidenceRefused("residence_key_blocked", "the residence AP is blocked (reset at an immigration bureau)")
    if sw[0] == 0x63:
        left = sw[1] & 0x0F
        raise ResidenceRefused("residence_key_wrong", f"the card number typed is not this card's, {left} tries left")
    if sw != b"\x90\x00":
        raise ResidenceRefused("card_error", f"VERIFY answered {sw.hex().upper()}")
    resp = card.execute(bytes.fromhex("00B0810000"))
    if resp[-2:] != b"\x90\x00":
        raise ResidenceRefused("card_error", f"READ BINARY answered {resp[-2:].hex().upper()}")
    try:
        on_card = decode_residence_record(resp[:-2])
    except ResidenceDataError as e:
        raise ResidenceRefused("record_unreadable", str(e)) from None
    entry = register.entries.get(on_card.card_number)
    if entry is None:
        raise ResidenceRefused("unknown_card_number", "the card's number is not in the register")
    if not entry.valid:
        raise ResidenceRefused("card_number_lapsed", "the card's number has lapsed (a newer card was issued)")
    if entry.card_serial != serial:
        raise ResidenceRefused("wrong_card", "the residence record belongs to another card")
    if on_card != entry.record:
        raise ResidenceRefused("record_mismatch", "the card's residence record differs from the register")
    if entry.record.expiry is not None and day > entry.record.expiry:
        raise ResidenceRefused("period_expired", f"the period of stay ended on {entry.record.expiry.isoformat()}")
    return entry
