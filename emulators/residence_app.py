"""The residence-card application on the card (特定在留カード, from 2026-06-14), as the twin models it.

Picture a mid-to-long-term resident (中長期在留者) who asks, at a regional immigration bureau, for the
combined card: one card that is both the residence card (在留カード) and the My Number card. The
immigration authority (出入国在留管理庁) writes the residence data onto it; an employer checking a new
hire's right to work, or an official, reads them back with the holder's consent and compares them with
the card face and with the authority's register.

Public (docs/CARD_PROTOCOL.md §16, twin/data/FIGURES.md): the start date; what the residence card holds
by law (入管法 19条の4: status of residence, period of stay and its expiry, work restriction, the card
number, which differs at every issue); that its chip records those face items and that the authority
publishes how to read them so that employers can detect forgeries; that the card number is two letters,
eight digits and two letters. ASSUMED, because the second-generation specification is not in the
project's library:

* the AID (:data:`RESIDENCE_AID`, a private value in the D392 range the other APs use);
* the access rule: the record (EF 0001) opens only after the reader VERIFYs the residence card number
  as printed on the card face (EF 0011, :data:`RESIDENCE_KEY_TRIES` tries, then blocked). The number
  is a key read off the face, like the input-support AP's collation numbers, not a secret PIN: the
  check needs the card in hand. None of the card's PINs opens it, and it opens nothing else;
* the record's layout (:func:`encode_residence_record`);
* writing: no write command over the contact interface (UPDATE BINARY: 6D00); the authority's
  terminal writes the AP issuer-side through :meth:`emulators.card_os.MynaCardOS.install_application`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from emulators.card_files import Application, BinaryFile, PinFile

RESIDENCE_AID = bytes.fromhex("D3921000310001010600")  # ASSUMED (not public)
EF_RESIDENCE_RECORD, EF_RESIDENCE_KEY = 0x0001, 0x0011
RESIDENCE_KEY_TRIES = 10  # ASSUMED (as the collation numbers; range 3-15 plausible)

#: 在留カード番号: two letters, eight digits, two letters (twin/data/FIGURES.md)
CARD_NUMBER = re.compile(r"[A-Z]{2}[0-9]{8}[A-Z]{2}")
#: 就労制限の有無 as the card face words it (sourced; the codes are the twin's)
WORK_RESTRICTIONS: dict[str, str] = {
    "none": "就労制限なし",
    "status_only": "在留資格に基づく就労活動のみ可",
    "designated": "指定書により指定された就労活動のみ可",
    "not_permitted": "就労不可",
}
_TEXT_MAX = 100  # bytes of UTF-8 for status and period (assumed)


class ResidenceDataError(ValueError):
    """A residence record a card could not hold; the message names the field, never the card number."""


@dataclass(frozen=True, repr=False)
class ResidenceRecord:
    """What the residence AP holds. ``expiry`` None: a period without end (永住者, 無期限)."""

    card_number: str
    status: str  # 在留資格, e.g. 技術・人文知識・国際業務
    period: str  # 在留期間 as on the card, e.g. 5年
    expiry: dt.date | None  # 在留期間の満了日
    work: str  # a key of WORK_RESTRICTIONS

    def __post_init__(self) -> None:
        if not isinstance(self.card_number, str) or not CARD_NUMBER.fullmatch(self.card_number):
            raise ResidenceDataError("card_number: must be 2 letters A-Z, 8 digits, 2 letters A-Z (12 characters)")
        for name in ("status", "period"):
            v = getattr(self, name)
            if not isinstance(v, str) or not v.strip():
                raise ResidenceDataError(f"{name}: must be non-empty text")
            if len(v.encode("utf-8")) > _TEXT_MAX:
                raise ResidenceDataError(f"{name}: at most {_TEXT_MAX} UTF-8 bytes")
        if self.work not in WORK_RESTRICTIONS:
            raise ResidenceDataError(f"work: {self.work!r} is not allowed; use {', '.join(WORK_RESTRICTIONS)}")
        if self.expiry is not None and not isinstance(self.expiry, dt.date):
            raise ResidenceDataError("expiry: must be a date or none (無期限)")

    def __repr__(self) -> str:  # never the card number
        until = "無期限" if self.expiry is None else self.expiry.isoformat()
        return f"ResidenceRecord({self.status}, until {until}, work {self.work})"


_TAGS = (0x31, 0x32, 0x33, 0x34, 0x35)


def encode_residence_record(r: ResidenceRecord) -> bytes:
    """Assumed TLV: DF31 card number, DF32 status, DF33 period (UTF-8), DF34 expiry YYYYMMDD (empty:
    無期限), DF35 the work restriction as the card face words it (UTF-8)."""
    values = (r.card_number.encode(), r.status.encode("utf-8"), r.period.encode("utf-8"),
              b"" if r.expiry is None else r.expiry.strftime("%Y%m%d").encode(),
              WORK_RESTRICTIONS[r.work].encode("utf-8"))  # fmt: skip
    return b"".join(bytes((0xDF, tag, len(v))) + v for tag, v in zip(_TAGS, values, strict=True))


def decode_residence_record(data: bytes) -> ResidenceRecord:
    """The record from :func:`encode_residence_record`'s bytes."""
    fields: dict[int, bytes] = {}
    i = 0
    while i + 3 <= len(data):
        if data[i] != 0xDF:
            raise ResidenceDataError(f"residence record: byte {i} is {data[i]:02X}, expected DF")
        tag, n = data[i + 1], data[i + 2]
        fields[tag] = data[i + 3 : i + 3 + n]
        i += 3 + n
    if i != len(data) or not set(_TAGS) <= fields.keys():
        raise ResidenceDataError("residence record: truncated or missing a field")
    try:
        words = fields[0x35].decode("utf-8")
        work = next(k for k, v in WORK_RESTRICTIONS.items() if v == words)
        expiry = None if not fields[0x34] else dt.datetime.strptime(fields[0x34].decode(), "%Y%m%d").date()
        return ResidenceRecord(fields[0x31].decode(), fields[0x32].decode("utf-8"), fields[0x33].decode("utf-8"),
                               expiry, work)  # fmt: skip
    except (UnicodeDecodeError, StopIteration, ValueError) as e:
        if isinstance(e, ResidenceDataError):
            raise
        raise ResidenceDataError(f"residence record: a field is not readable ({type(e).__name__})") from None


def build_residence_application(record: ResidenceRecord) -> Application:
    """The residence AP: the record behind the card number from the card face (written by the authority)."""
    files = [
        BinaryFile(EF_RESIDENCE_RECORD, encode_residence_record(record), frozenset({EF_RESIDENCE_KEY})),
        PinFile(EF_RESIDENCE_KEY, record.card_number.encode(), RESIDENCE_KEY_TRIES),  # not changeable
    ]
    return Application("residence", RESIDENCE_AID, {f.fid: f for f in files})
