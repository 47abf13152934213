"""The driving-licence application on the card (マイナ免許証, from 2025-03-24), as the twin models it.

Public (National Police Agency's description of マイナ免許証): the licence information is recorded in
the card's free area, in an application of its own, and is read with the licence's own PINs; the
licence centre (運転免許センター) writes it when the holder links the licence. Everything below the
level of "an application of its own, opened by its own PIN" is ASSUMED, because no public
specification gives it (docs/CARD_PROTOCOL.md §15):

* the AID (:data:`LICENCE_AID`, an assumed private value in the D392 range used by the other APs);
* one 4-digit licence PIN (暗証番号1) at EF 0011 with 3 tries; the licence record (EF 0001) opens
  only while it is verified; the PIN's counter is separate from every other PIN on the card;
* the record's layout (:func:`encode_licence_record`: licence number, expiry, conditions);
* writing: the licence app has no write command over the contact interface at all (UPDATE BINARY is
  not in the card OS's command table: 6D00). The licence centre's authenticated terminal writes it
  issuer-side through :meth:`emulators.card_os.MynaCardOS.install_application`, as the card's
  personaliser writes the other APs; the terminal-authentication protocol itself is not modelled.
"""

from __future__ import annotations

import datetime as dt
import re

from emulators.card_files import Application, BinaryFile, PinFile

LICENCE_AID = bytes.fromhex("D3921000310001010500")  # ASSUMED (not public)
EF_LICENCE_RECORD, EF_LICENCE_PIN = 0x0001, 0x0011
LICENCE_PIN_TRIES = 3  # ASSUMED (the JPKI auth PIN's count)

_FOUR_DIGITS = re.compile(rb"[0-9]{4}")
_LICENCE_NUMBER = re.compile(r"[0-9]{12}")


class LicenceDataError(ValueError):
    """A licence record a card could not hold; the message names the field."""


def encode_licence_record(number: str, expiry: dt.date, conditions: str = "") -> bytes:
    """The licence record (assumed TLV: DF21 number, DF22 expiry YYYYMMDD, DF23 conditions UTF-8)."""
    if not isinstance(number, str) or not _LICENCE_NUMBER.fullmatch(number):
        raise LicenceDataError("licence number: must be exactly 12 digits 0-9")
    cond = conditions.encode("utf-8")
    if len(cond) > 200:
        raise LicenceDataError(f"conditions: at most 200 UTF-8 bytes, got {len(cond)}")
    out = b""
    for tag, value in ((0x21, number.encode()), (0x22, expiry.strftime("%Y%m%d").encode()), (0x23, cond)):
        out += bytes((0xDF, tag, len(value))) + value
    return out


def decode_licence_record(data: bytes) -> tuple[str, dt.date, str]:
    """(number, expiry, conditions) from :func:`encode_licence_record`'s bytes."""
    fields: dict[int, bytes] = {}
    i = 0
    while i + 3 <= len(data):
        if data[i] != 0xDF:
            raise LicenceDataError(f"licence record: byte {i} is {data[i]:02X}, expected DF")
        tag, n = data[i + 1], data[i + 2]
        fields[tag] = data[i + 3 : i + 3 + n]
        i += 3 + n
    if i != len(data) or not {0x21, 0x22, 0x23} <= fields.keys():
        raise LicenceDataError("licence record: truncated or missing a field")
    return (
        fields[0x21].decode(),
        dt.datetime.strptime(fields[0x22].decode(), "%Y%m%d").date(),
        fields[0x23].decode("utf-8"),
    )


def build_licence_application(record: bytes, licence_pin: str) -> Application:
    """The licence AP: the record behind its own PIN (written by the licence centre)."""
    if not isinstance(licence_pin, str) or not _FOUR_DIGITS.fullmatch(licence_pin.encode()):
        raise LicenceDataError("licence_pin: must be exactly 4 digits 0-9")
    files = [
        BinaryFile(EF_LICENCE_RECORD, record, frozenset({EF_LICENCE_PIN})),
        PinFile(
            EF_LICENCE_PIN, licence_pin.encode(), LICENCE_PIN_TRIES,
            new_value_ok=lambda v: _FOUR_DIGITS.fullmatch(v) is not None,
        ),
    ]
    return Application("licence", LICENCE_AID, {f.fid: f for f in files})
