"""Byte layouts of the files on the My Number card (個人番号カード), as real clients parse them.

The card stores its data in small elementary files whose formats were never published by J-LIS;
clients (OpenSC, myna, jpki-rs, myna-card) agree on the layouts below (docs/CARD_PROTOCOL.md §5-§7):

* the My Number file (個人番号) of the input-support AP: ``FF 10 0C`` + 12 ASCII digits + ``FF FF``;
* the four basic items (基本4情報: name, address, date of birth, sex): ``FF 20 L`` { ``DF21`` offset
  table, ``DF22`` name, ``DF23`` address, ``DF24`` birth date, ``DF25`` sex }, all tags two bytes;
* the JPKI token information (EF 0006): a PKCS#11 CK_TOKEN_INFO with 32-bit big-endian integers,
  labelled ``JPKIAPICCTOKEN2``;
* the common AP's identification record (共通AP): ``01 1C`` + 28 ASCII digits (card serial,
  municipality code, expiry);
* DigestInfo, the ASN.1 wrapper around a hash that the card pads and signs.

Each encoder has a matching decoder used by the client, so both sides share one definition.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

SEX_CODES = {"0": "unknown", "1": "male", "2": "female", "9": "not applicable"}

# DER prefixes of DigestInfo for the hashes clients use with the card (RFC 8017 §9.2 note 1).
DIGEST_INFO_PREFIX: dict[str, bytes] = {
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha224": bytes.fromhex("302d300d06096086480165030402040500041c"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
DIGEST_SIZE = {"sha1": 20, "sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64}


def digest_info(hash_name: str, data: bytes) -> bytes:
    """Hash ``data`` and wrap the digest in a DigestInfo (what the card expects with P1=00)."""
    if hash_name not in DIGEST_INFO_PREFIX:
        raise ValueError(f"hash: {hash_name!r} is not one of {', '.join(DIGEST_INFO_PREFIX)}")
    return DIGEST_INFO_PREFIX[hash_name] + hashlib.new(hash_name, data).digest()


def split_digest_info(blob: bytes) -> tuple[str, bytes] | None:
    """(hash name, digest) when ``blob`` is exactly a DigestInfo of a known hash, else None."""
    for name, prefix in DIGEST_INFO_PREFIX.items():
        if len(blob) == len(prefix) + DIGEST_SIZE[name] and blob.startswith(prefix):
            return name, blob[len(prefix) :]
    return None


# -- My Number (個人番号) ------------------------------------------------------------------------


def my_number_check_digit(first11: str) -> int:
    """Check digit of a My Number (総務省令 第5条): weights 2..7, 2..6 from the right, mod 11."""
    total = 0
    for n, ch in enumerate(reversed(first11), start=1):
        total += int(ch) * (n + 1 if n <= 6 else n - 5)
    r = total % 11
    return 0 if r <= 1 else 11 - r


def is_valid_my_number(text: str) -> bool:
    return (
        len(text) == 12
        and text.isascii()
        and text.isdigit()
        and my_number_check_digit(text[:11]) == int(text[11])
    )


def encode_my_number(number: str) -> bytes:
    """The 17-byte My Number EF: ``FF 10 0C`` + 12 ASCII digits + ``FF FF`` filler."""
    if not is_valid_my_number(number):
        # never echo the value: it is a My Number (or nearly one)
        raise ValueError("my_number: not 12 ASCII digits with a valid check digit")
    return b"\xff\x10\x0c" + number.encode("ascii") + b"\xff\xff"


def decode_my_number(blob: bytes) -> str:
    if len(blob) < 15 or blob[:3] != b"\xff\x10\x0c":
        raise ValueError("My Number file: does not start with FF 10 0C")
    return blob[3:15].decode("ascii")


# -- BER helpers (two-byte tags, definite lengths) -----------------------------------------------


def ber_length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    if n < 0x100:
        return bytes((0x81, n))
    return b"\x82" + n.to_bytes(2, "big")


def read_ber_length(blob: bytes, pos: int) -> tuple[int, int]:
    """(length, position after the length octets)."""
    first = blob[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    if count not in (1, 2) or pos + 1 + count > len(blob):
        raise ValueError(f"BER length at offset {pos}: unsupported form {first:#04x}")
    return int.from_bytes(blob[pos + 1 : pos + 1 + count], "big"), pos + 1 + count


def tlv(tag: int, value: bytes) -> bytes:
    return tag.to_bytes(2, "big") + ber_length(len(value)) + value


# -- 基本4情報 ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BasicFourInfo:
    """基本4情報: name (family and given name separated by U+3000), address, birth date, sex code."""

    name: str
    address: str
    birth_date: dt.date
    sex: str  # "1" male, "2" female, "9" not applicable, "0" unknown (JIS X 0303)

    def __post_init__(self) -> None:
        if self.sex not in SEX_CODES:
            raise ValueError(f"sex: {self.sex!r} is not one of {', '.join(SEX_CODES)}")
        if not self.name or not self.address:
            raise ValueError("name and address: must not be empty")


def encode_basic_four_info(info: BasicFourInfo) -> bytes:
    """EF 0002 of the input-support AP: ``FF20`` {``DF21`` offsets, ``DF22``..``DF25``}."""
    fields = [
        tlv(0xDF22, info.name.encode("utf-8")),
        tlv(0xDF23, info.address.encode("utf-8")),
        tlv(0xDF24, info.birth_date.strftime("%Y%m%d").encode("ascii")),
        tlv(0xDF25, info.sex.encode("ascii")),
    ]
    inner_len = 3 + 8 + sum(map(len, fields))  # DF21 08 + table, then the fields
    head_len = 2 + len(ber_length(inner_len))
    offsets, pos = [], head_len + 3 + 8
    for f in fields:
        offsets.append(pos)
        pos += len(f)
    table = tlv(0xDF21, b"".join(o.to_bytes(2, "big") for o in offsets))
    return b"\xff\x20" + ber_length(inner_len) + table + b"".join(fields)


def decode_basic_four_info(blob: bytes) -> BasicFourInfo:
    """Parse EF 0002 through its offset table (as myna and jpki-rs do)."""
    if blob[:2] != b"\xff\x20":
        raise ValueError("basic 4 info file: does not start with FF 20")
    _, pos = read_ber_length(blob, 2)
    if blob[pos : pos + 3] != b"\xdf\x21\x08":
        raise ValueError("basic 4 info file: no DF21 offset table")
    table = blob[pos + 3 : pos + 11]
    values = []
    for i, tag in enumerate((0xDF22, 0xDF23, 0xDF24, 0xDF25)):
        off = int.from_bytes(table[2 * i : 2 * i + 2], "big")
        if int.from_bytes(blob[off : off + 2], "big") != tag:
            raise ValueError(f"basic 4 info file: offset {off} does not point at tag {tag:04X}")
        n, start = read_ber_length(blob, off + 2)
        values.append(blob[start : start + n])
    return BasicFourInfo(
        name=values[0].decode("utf-8"),
        address=values[1].decode("utf-8"),
        birth_date=dt.datetime.strptime(values[2].decode("ascii"), "%Y%m%d").date(),
        sex=values[3].decode("ascii"),
    )


# -- JPKI token information (EF 0006) -------------------------------------------------------------

TOKEN_LABEL_CARD = "JPKIAPICCTOKEN2"
TOKEN_FLAGS = 0x0000040D  # RNG | LOGIN_REQUIRED | USER_PIN_INITIALIZED | TOKEN_INITIALIZED


def _padded(text: str, size: int) -> bytes:
    raw = text.encode("ascii")
    if len(raw) > size:
        raise ValueError(f"token info: {text!r} is longer than {size} bytes")
    return raw.ljust(size, b" ")


def encode_token_info(
    label: str = TOKEN_LABEL_CARD,
    manufacturer: str = "JPKI",
    model: str = "JPKIAPICC",
    serial: str = "",
) -> bytes:
    """160-byte CK_TOKEN_INFO with big-endian 32-bit CK_ULONGs (the card's EF 0006)."""
    u32 = lambda v: v.to_bytes(4, "big")  # noqa: E731
    out = (
        _padded(label, 32) + _padded(manufacturer, 32) + _padded(model, 16) + _padded(serial, 16)
        + u32(TOKEN_FLAGS)
        + u32(1) + u32(0) + u32(1) + u32(0)  # max sessions, sessions, max RW, RW
        + u32(16) + u32(6)  # max / min PIN length
        + u32(0xFFFFFFFF) * 4  # public/private memory: unavailable
        + b"03" + b"01"  # hardware / firmware version slots (ASCII, as on the card)
        + b" " * 16  # utcTime: the card has no clock
    )
    assert len(out) == 160
    return out


def token_label(blob: bytes) -> str:
    return blob[:32].decode("ascii", errors="replace").rstrip(" \x00")


# -- 共通AP identification record -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CardIdentity:
    """共通AP EF 0001 record 1: card serial (15 digits), municipality code (5), expiry date."""

    serial: str
    municipality_code: str
    expiry: dt.date

    def __post_init__(self) -> None:
        if not (len(self.serial) == 15 and self.serial.isascii() and self.serial.isdigit()):
            raise ValueError(f"card serial: {self.serial!r} is not 15 ASCII digits")
        mc = self.municipality_code
        if not (len(mc) == 5 and mc.isascii() and mc.isdigit()):
            raise ValueError(f"municipality_code: {mc!r} is not 5 ASCII digits")


def encode_card_identity(ident: CardIdentity) -> bytes:
    body = (ident.serial + ident.municipality_code + ident.expiry.strftime("%Y%m%d")).encode()
    return b"\x01\x1c" + body


def decode_card_identity(record: bytes) -> CardIdentity:
    if len(record) < 30 or record[:2] != b"\x01\x1c":
        raise ValueError("common AP record: does not start with 01 1C")
    text = record[2:30].decode("ascii")
    expiry = dt.datetime.strptime(text[20:28], "%Y%m%d").date()
    return CardIdentity(serial=text[:15], municipality_code=text[15:20], expiry=expiry)


# -- 照合番号B -----------------------------------------------------------------------------------

_ERAS = (  # (first day, name): Japanese era years count from 1 on the first day
    (dt.date(2019, 5, 1), "Reiwa"),
    (dt.date(1989, 1, 8), "Heisei"),
    (dt.date(1926, 12, 25), "Showa"),
    (dt.date(1912, 7, 30), "Taisho"),
)


def era_yymmdd(day: dt.date) -> str:
    """Birth date as ``YYMMDD`` with the Japanese era year (Heisei 2 = 1990 -> ``020217``)."""
    for start, _ in _ERAS:
        if day >= start:
            return f"{day.year - start.year + 1:02d}{day:%m%d}"
    raise ValueError(f"birth date: {day.isoformat()} is before the Taisho era")


def collation_number_b(birth_date: dt.date, expiry: dt.date, security_code: str) -> str:
    """照合番号B: era ``YYMMDD`` of birth + expiry year ``YYYY`` + 4-digit security code."""
    if not (len(security_code) == 4 and security_code.isascii() and security_code.isdigit()):
        raise ValueError("security_code: not 4 ASCII digits")
    return era_yymmdd(birth_date) + f"{expiry.year:04d}" + security_code
