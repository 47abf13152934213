"""The driving licence on the card (マイナ免許証, from 2025-03-24): the licence centre writes it, the
police verify it through the card.

Rules in one place, time always passed in (``day``):

* :class:`LicenceRegister` is the issuing authority's register (the prefectural public safety
  commission's licence file): licence number -> expiry, the card serial it is linked to, revoked or not.
* :meth:`LicenceCentre.issue` / :meth:`LicenceCentre.renew` write the licence AP onto a card the holder
  brings (issuer-side, ``MynaCardOS.install_application``) and record the channel (``"centre"``,
  ``"police_station"``; assumed names). Issuing before :data:`MYNA_LICENCE_START` is refused.
* :func:`police_verify` reads the card's common AP (serial, expiry: free read), selects the licence AP,
  verifies the licence PIN the holder types, reads the record, and checks it against the register.
  Each refusal names its reason (:class:`LicenceRefused`): card expired or revoked, PIN wrong or
  blocked, no licence on the card, licence unknown, revoked, expired, linked to another card, or the
  card's record disagreeing with the register (a stale or forged record).

Sourced: the start date (docs/CARD_PROTOCOL.md §15). Assumed: the AP's layout and access rule, the
channel names, and that the police check the register online at every verification. The licence
PIN is checked by the card only; this module never stores or prints it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container
from dataclasses import dataclass, field
from typing import Final

from emulators.apdu import build
from emulators.licence_app import (
    EF_LICENCE_PIN,
    LICENCE_AID,
    LicenceDataError,
    build_licence_application,
    decode_licence_record,
    encode_licence_record,
)
from twin.services.card_apps import CardLike, CardRefused, WritableCard, held_card

#: マイナ免許証 start (docs/CARD_PROTOCOL.md §15)
MYNA_LICENCE_START: Final = dt.date(2025, 3, 24)
CHANNELS: Final = ("centre", "police_station")  # assumed: where a licence is linked or renewed
#: マイナ免許証等継続利用 from 2025-09-01 (NPA via the prefectural police pages, twin/data/FIGURES.md): a renewed
#: card gets the licence written before it is handed over, if the renewal meets :func:`continuation_refusal`
CONTINUATION_START: Final = dt.date(2025, 9, 1)
#: why a card is re-issued; only the first two allow the continuation (sourced, as CONTINUATION_START)
RENEWAL_REASONS: Final = ("expiry", "margin_full", "loss", "damage", "lapsed")
#: the fee for recording the licence on a card outside a licence renewal (記録手数料, sourced as above)
RE_RECORD_FEE_YEN: Final = 1_500


def continuation_refusal(
    day: dt.date, reason: str, online: bool, sign_certificate_at_police: bool, wants_sign_certificate: bool,
    start: dt.date = CONTINUATION_START,
) -> str | None:
    """Why a renewed card would NOT carry the licence over (None: it does). The one rule, for a card
    (:meth:`LicenceCentre.carry_over`) and for the renewal wave's shares (twin.models.renewal.licence).

    From :data:`CONTINUATION_START` the licence is written onto the new card only if it is renewed for its
    expiry or a full margin (not loss, damage or a lapsed card), applied for online, the holder had given
    the police a signature certificate, and the new card is to carry one (NPA's conditions as the
    prefectural police publish them). Otherwise the holder re-records it at a licence centre. ``start``
    other than the default is a what-if (the continuation ready earlier or later)."""
    if reason not in RENEWAL_REASONS:
        raise LicenceRefused("bad_reason", f"renewal reason {reason!r}: allowed {', '.join(RENEWAL_REASONS)}")
    if day < start:
        return "before_continuation"
    if reason not in ("expiry", "margin_full"):
        return "reason_not_renewal"
    if not online:
        return "not_online"
    if not sign_certificate_at_police:
        return "no_certificate_at_police"
    if not wants_sign_certificate:
        return "no_sign_certificate_on_new_card"
    return None


class LicenceRefused(CardRefused):
    """A licence operation refused; ``reason`` is a short code, the message says why."""


@dataclass
class LicenceEntry:
    number: str
    expiry: dt.date
    conditions: str
    card_serial: str
    revoked: bool = False


@dataclass
class LicenceRegister:
    """The issuing authority's register, with the issuance log (day, channel, kind, number)."""

    entries: dict[str, LicenceEntry] = field(default_factory=dict)
    log: list[tuple[dt.date, str, str, str]] = field(default_factory=list)

    def revoke(self, number: str) -> None:
        if number not in self.entries:
            raise LicenceRefused("unknown_licence", f"licence {number} is not in the register")
        self.entries[number].revoked = True

    def count_by_channel(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, channel, _, _ in self.log:
            out[channel] = out.get(channel, 0) + 1
        return out


def _check_card(card: CardLike, day: dt.date, revoked_cards: Container[str]) -> str:
    return held_card(card, day, revoked_cards, LicenceRefused)


@dataclass
class LicenceCentre:
    register: LicenceRegister

    def issue(
        self, card: WritableCard, number: str, expiry: dt.date, licence_pin: str, day: dt.date,
        channel: str = "centre", conditions: str = "", revoked_cards: Container[str] = (),
    ) -> None:
        """Link a licence to a card the holder brings: write the AP, record it in the register."""
        self._write(card, number, expiry, licence_pin, day, channel, conditions, revoked_cards, "issue")

    def renew(
        self, card: WritableCard, number: str, new_expiry: dt.date, licence_pin: str, day: dt.date,
        channel: str = "centre", revoked_cards: Container[str] = (),
    ) -> None:
        """A renewal: the register's licence gets its new expiry and the card a fresh AP."""
        entry = self.register.entries.get(number)
        if entry is None:
            raise LicenceRefused("unknown_licence", f"licence {number} is not in the register")
        if entry.revoked:
            raise LicenceRefused("licence_revoked", f"licence {number} is revoked and cannot be renewed")
        if new_expiry <= entry.expiry:
            raise LicenceRefused("bad_expiry", f"new expiry {new_expiry} is not after {entry.expiry}")
        self._write(card, number, new_expiry, licence_pin, day, channel, entry.conditions, revoked_cards, "renew")

    def re_record(
        self, card: WritableCard, number: str, licence_pin: str, day: dt.date, channel: str = "centre",
        revoked_cards: Container[str] = (),
    ) -> int:
        """Write a registered licence onto the holder's new card (再記録, e.g. after a card renewal that did
        not carry it over); the register follows the new card. Returns the fee in yen."""
        entry = self.register.entries.get(number)
        if entry is None:
            raise LicenceRefused("unknown_licence", f"licence {number} is not in the register")
        if entry.revoked:
            raise LicenceRefused("licence_revoked", f"licence {number} is revoked")
        self._write(card, number, entry.expiry, licence_pin, day, channel, entry.conditions, revoked_cards, "re_record")
        return RE_RECORD_FEE_YEN

    def carry_over(
        self, old_serial: str, new_card: WritableCard, number: str, licence_pin: str, day: dt.date, *,
        reason: str, online: bool, sign_certificate_at_police: bool, wants_sign_certificate: bool,
    ) -> str | None:
        """The continuation at a card renewal: the licence linked to ``old_serial`` is written onto the new
        card before hand-over when :func:`continuation_refusal` allows it; else nothing is written and the
        refusal is returned (the holder must re-record). Assumed: the licence PIN stays the same."""
        entry = self.register.entries.get(number)
        if entry is None or entry.card_serial != old_serial:
            raise LicenceRefused("wrong_card", f"licence {number} is not linked to card {old_serial}")
        why = continuation_refusal(day, reason, online, sign_certificate_at_police, wants_sign_certificate)
        if why is None:
            self._write(new_card, number, entry.expiry, licence_pin, day, "card_renewal", entry.conditions, (),
                        "carry_over")  # fmt: skip
        return why

    def _write(
        self, card: WritableCard, number: str, expiry: dt.date, licence_pin: str, day: dt.date,
        channel: str, conditions: str, revoked_cards: Container[str], kind: str,
    ) -> None:
        if day < MYNA_LICENCE_START:
            raise LicenceRefused("not_yet", f"licences are linked to cards from {MYNA_LICENCE_START}, not {day}")
        allowed = ("card_renewal",) if kind == "carry_over" else CHANNELS  # written with the new card
        if channel not in allowed:
            raise LicenceRefused("bad_channel", f"channel {channel!r}: allowed {', '.join(allowed)}")
        serial = _check_card(card, day, revoked_cards)
        try:  # build everything before writing anything
            app = build_licence_application(encode_licence_record(number, expiry, conditions), licence_pin)
        except LicenceDataError as e:
            raise LicenceRefused("bad_licence_data", str(e)) from None
        card.install_application(app)
        self.register.entries[number] = LicenceEntry(number, expiry, conditions, serial)
        self.register.log.append((day, channel, kind, number))


def police_verify(
    card: CardLike, licence_pin: str, register: LicenceRegister, day: dt.date,
    revoked_cards: Container[str] = (),
) -> LicenceEntry:
    """A police officer's check of a licence on a card: the register's entry, or a refusal."""
    serial = _check_card(card, day, revoked_cards)
    if card.execute(build(0x00, 0xA4, 0x04, 0x0C, LICENCE_AID))[-2:] != b"\x90\x00":
        raise LicenceRefused("no_licence_on_card", "the card carries no licence application")
    sw = card.execute(build(0x00, 0x20, 0x00, 0x80 | EF_LICENCE_PIN, licence_pin.encode()))[-2:]
    if sw == b"\x69\x84":
        raise LicenceRefused("licence_pin_blocked", "the licence PIN is blocked (reset at a licence centre)")
    if sw[0] == 0x63:
        raise LicenceRefused("licence_pin_wrong", f"wrong licence PIN, {sw[1] & 0x0F} tries left")
    if sw != b"\x90\x00":
        raise LicenceRefused("card_error", f"VERIFY answered {sw.hex().upper()}")
    resp = card.execute(bytes.fromhex("00B0810000"))
    if resp[-2:] != b"\x90\x00":
        raise LicenceRefused("card_error", f"READ BINARY answered {resp[-2:].hex().upper()}")
    number, expiry, conditions = decode_licence_record(resp[:-2])
    entry = register.entries.get(number)
    if entry is None:
        raise LicenceRefused("unknown_licence", f"licence {number} is not in the register")
    if entry.revoked:
        raise LicenceRefused("licence_revoked", f"licence {number} is revoked")
    if entry.card_serial != serial:
        raise LicenceRefused("wrong_card", f"licence {number} is linked to another card")
    if (expiry, conditions) != (entry.expiry, entry.conditions):
        raise LicenceRefused("record_mismatch", f"the card's record of licence {number} differs from the register")
    if day > entry.expiry:
        raise LicenceRefused("licence_expired", f"licence {number} expired on {entry.expiry.isoformat()}")
    return entry
