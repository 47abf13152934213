"""What the services that write an application onto a held My Number card share (the driving licence,
:mod:`twin.services.licence`; the residence card, :mod:`twin.services.residence`): the card as they see it,
the check of the card half (serial from the common AP, not expired, not revoked) and the refusal they raise."""

from __future__ import annotations

import datetime as dt
from collections.abc import Container
from typing import Protocol

from emulators.apdu import build
from emulators.card_files import COMMON_AID, EF_CARD_IDENTITY
from emulators.layouts import decode_card_identity
from twin.errors import TwinError


class CardRefused(TwinError, PermissionError):
    """An operation on a card application refused; ``reason`` is a short code, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


class CardLike(Protocol):
    def execute(self, apdu: bytes) -> bytes: ...


class WritableCard(CardLike, Protocol):
    def install_application(self, app: object) -> None: ...


def card_identity(card: CardLike, refused: type[CardRefused]) -> tuple[str, dt.date]:
    """(serial, expiry) from the card's common AP, read as JpkiClient reads it."""
    card.execute(build(0x00, 0xA4, 0x04, 0x0C, COMMON_AID))
    resp = card.execute(build(0x00, 0xB2, 0x01, (EF_CARD_IDENTITY << 3) | 0x04, le=256))
    if resp[-2:] != b"\x90\x00":
        raise refused("card_unreadable", f"the card's common AP answered {resp[-2:].hex().upper()}")
    ident = decode_card_identity(resp[:-2])
    return ident.serial, ident.expiry


def held_card(card: CardLike, day: dt.date, revoked_cards: Container[str], refused: type[CardRefused]) -> str:
    """The card half of every check: its serial, refused if the card expired or was reported lost or revoked."""
    serial, expiry = card_identity(card, refused)
    if day > expiry:
        raise refused("card_expired", f"the card expired on {expiry.isoformat()}")
    if serial in revoked_cards:
        raise refused("card_revoked", "the card is reported lost or revoked")
    return serial
