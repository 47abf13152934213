"""The JPKI certificate profile: what a 公的個人認証 certificate says, and for how long.

Every My Number card carries two certificates from two authorities run by J-LIS: the
user-authentication certificate (利用者証明用電子証明書), which proves "this is the card holder"
and deliberately names nobody (an opaque 23-character id), and the digital-signature certificate
(署名用電子証明書), which carries the holder's four basic items (基本4情報: name, address, date of
birth, sex) so that a signed document says who signed it. Both run until the holder's fifth
birthday after issuance; a signature certificate is not issued to a child under 15.

This module holds those rules as plain functions and constants (names, OIDs, validity dates,
input checks); :mod:`twin.services.jpki.ca` applies them when it signs.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import Final

from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier

from twin.services.jpki.errors import InvalidNameError, InvalidTimeError

JST: Final = timezone(timedelta(hours=9), "JST")

AUTH_POLICY: Final = ObjectIdentifier("1.2.392.200149.8.5.1.3.30")
SIGN_POLICY: Final = ObjectIdentifier("1.2.392.200149.8.5.1.1.20")
OID_NAME: Final = ObjectIdentifier("1.2.392.200149.8.5.5.1")
OID_SEX: Final = ObjectIdentifier("1.2.392.200149.8.5.5.3")
OID_BIRTH_DATE: Final = ObjectIdentifier("1.2.392.200149.8.5.5.4")
OID_ADDRESS: Final = ObjectIdentifier("1.2.392.200149.8.5.5.5")
OCSP_NOCHECK: Final = ObjectIdentifier("1.3.6.1.5.5.7.48.1.5")

AGENCY: Final = "Japan Agency for Local Authority Information Systems"
SIGN_MIN_AGE: Final = 15
CERT_BIRTHDAYS: Final = 5
OPAQUE_ID_LENGTH: Final = 23
_OPAQUE_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class CaKind(StrEnum):
    """The two JPKI authorities: user authentication (利用者証明用) and digital signature (署名用)."""

    AUTH = "auth"
    SIGN = "sign"

    @classmethod
    def parse(cls, value: object) -> CaKind:
        try:
            return cls(value)
        except ValueError:
            raise InvalidNameError(f"CA kind: {value!r} is not allowed; use 'auth' or 'sign'") from None


_PURPOSE: Final = {CaKind.AUTH: "user authentication", CaKind.SIGN: "digital signature"}
_JA_PURPOSE: Final = {CaKind.AUTH: "利用者証明用", CaKind.SIGN: "署名用"}


def ca_name(kind: CaKind) -> x509.Name:
    """``C=JP, O=JPKI, OU=JPKI for <purpose>, OU=Japan Agency for Local Authority Information Systems``."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"JPKI for {_PURPOSE[kind]}"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, AGENCY),
        ]
    )


def ca_alt_name(kind: CaKind) -> x509.IssuerAlternativeName:
    """The issuer's name in Japanese (issuerAltName directoryName), as JPKI certificates carry it."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"公的個人認証サービス{_JA_PURPOSE[kind]}"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "地方公共団体情報システム機構"),
        ]
    )
    return x509.IssuerAlternativeName([x509.DirectoryName(name)])


def holder_name(common_name: str, municipality_code: int | None = None) -> x509.Name:
    """Subject ``C=JP[, L=<municipality code>], CN=<opaque id>``: never personal data."""
    check_opaque_id(common_name)
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP")]
    if municipality_code is not None:
        attrs.append(x509.NameAttribute(NameOID.LOCALITY_NAME, f"{municipality_code:05d}"))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def opaque_id(kind: CaKind, serial: int, municipality_code: int) -> str:
    """A 23-character id like ``840444E37PAFHN08220003A``: derived from the serial, reveals nothing."""
    digest = hashlib.sha256(f"jpki-cn|{kind.value}|{serial}|{municipality_code}".encode()).digest()
    n = int.from_bytes(digest, "big")
    chars = []
    for _ in range(OPAQUE_ID_LENGTH - 1):
        n, r = divmod(n, 36)
        chars.append(_OPAQUE_ALPHABET[r])
    return "".join(chars) + ("A" if kind is CaKind.AUTH else "S")


_OPAQUE_RE: Final = re.compile(r"[0-9A-Z]{23}")


def check_opaque_id(common_name: object) -> str:
    if not isinstance(common_name, str) or not _OPAQUE_RE.fullmatch(common_name):
        raise InvalidNameError(
            f"holder CN: {common_name!r} is not allowed; use 23 characters of 0-9 and A-Z (no personal data)"
        )
    return common_name


def municipality(code: object) -> int:
    """The 5-digit local government code (全国地方公共団体コード), from 5 digits or 6 with a check digit."""
    if not isinstance(code, int) or isinstance(code, bool):
        raise InvalidNameError(f"municipality_code: {code!r} is not allowed; use an integer such as 13101 or 131016")
    five = code
    if 100_000 <= code <= 999_999:
        five, check = divmod(code, 10)
        digits = [int(c) for c in f"{five:05d}"]
        expected = (11 - sum(d * w for d, w in zip(digits, (6, 5, 4, 3, 2), strict=True)) % 11) % 10
        if check != expected:
            raise InvalidNameError(
                f"municipality_code: {code} has check digit {check}, expected {expected} (JIS X 0402)"
            )
    if not 1000 <= five <= 47999 or five // 1000 < 1:
        raise InvalidNameError(
            f"municipality_code: {code} is not allowed; use a 5-digit code 01000-47999 (prefecture 01-47) "
            "or a 6-digit code with its check digit"
        )
    return five


def aware(moment: object, what: str = "now") -> datetime:
    """``moment`` as an aware UTC datetime truncated to whole seconds; naive times are refused."""
    if not isinstance(moment, datetime):
        raise InvalidTimeError(f"{what}: {moment!r} is not a datetime")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidTimeError(f"{what}: {moment.isoformat()} has no time zone; pass an aware datetime")
    utc = moment.astimezone(UTC).replace(microsecond=0)
    if not 1950 <= utc.year <= 2200:
        raise InvalidTimeError(f"{what}: {utc.isoformat()} is outside the years 1950-2200")
    return utc


def japan_date(moment: datetime) -> date:
    """The calendar date in Japan at ``moment`` (birthdays and validity are counted in JST)."""
    return moment.astimezone(JST).date()


def _birthday_in(birth_date: date, year: int) -> date:
    try:
        return birth_date.replace(year=year)
    except ValueError:  # 29 February in a common year: the birthday is taken as 28 February
        return date(year, 2, 28)


def age_on(birth_date: date, day: date) -> int:
    """Completed years of age on ``day``."""
    years = day.year - birth_date.year
    return years - 1 if day < _birthday_in(birth_date, day.year) else years


def nth_birthday_after(birth_date: date, day: date, n: int) -> date:
    """The ``n``-th birthday strictly after ``day`` (a birthday on ``day`` itself does not count)."""
    first = _birthday_in(birth_date, day.year)
    if first <= day:
        first = _birthday_in(birth_date, day.year + 1)
    return _birthday_in(birth_date, first.year + n - 1)


def end_of_day(day: date) -> datetime:
    """23:59:59 JST on ``day``, in UTC (a certificate valid 'until the birthday' runs to its end)."""
    return datetime.combine(day, time(23, 59, 59), JST).astimezone(UTC)


def certificate_not_after(birth_date: date, now: datetime) -> datetime:
    """End of the holder's fifth birthday after the issue date (the JPKI certificate lifetime)."""
    return end_of_day(nth_birthday_after(birth_date, japan_date(now), CERT_BIRTHDAYS))


_ERAS: Final = (  # 元号区分: era digit used in the date-of-birth otherName
    (date(2019, 5, 1), "5"),  # 令和
    (date(1989, 1, 8), "4"),  # 平成
    (date(1926, 12, 25), "3"),  # 昭和
    (date(1912, 7, 30), "2"),  # 大正
    (date(1868, 1, 25), "1"),  # 明治
)


def era_digit(day: date) -> str:
    for start, digit in _ERAS:
        if day >= start:
            return digit
    raise InvalidTimeError(f"birth_date: {day.isoformat()} is before the Meiji era (1868-01-25)")


def birth_date_value(day: date) -> str:
    """Era digit + YYYYMMDD, e.g. ``319800101`` for 1 January 1980 (Showa)."""
    return era_digit(day) + day.strftime("%Y%m%d")


SEXES: Final = {"1": "male", "2": "female", "9": "not applicable"}


def _clean_text(value: object, field: str, max_len: int) -> str:
    if not isinstance(value, str):
        raise InvalidNameError(f"BasicInfo.{field}: {type(value).__name__} is not allowed; use a string")
    text = unicodedata.normalize("NFC", value.strip())
    if not text:
        raise InvalidNameError(f"BasicInfo.{field}: empty; a {field} is required")
    if len(text) > max_len:
        raise InvalidNameError(f"BasicInfo.{field}: {len(text)} characters, at most {max_len} are allowed")
    bad = [c for c in text if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn")]
    if bad:
        raise InvalidNameError(f"BasicInfo.{field}: contains control or unassigned character U+{ord(bad[0]):04X}")
    return text


@dataclass(frozen=True)
class BasicInfo:
    """The four basic items (基本4情報) printed on the card and carried by the signature certificate.

    ``sex`` uses the resident-registry codes: "1" male, "2" female, "9" not applicable.
    """

    name: str
    address: str
    birth_date: date
    sex: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", _clean_text(self.name, "name", 100))
        object.__setattr__(self, "address", _clean_text(self.address, "address", 200))
        if not isinstance(self.birth_date, date) or isinstance(self.birth_date, datetime):
            raise InvalidTimeError(f"BasicInfo.birth_date: {self.birth_date!r} is not a date")
        era_digit(self.birth_date)
        if self.sex not in SEXES:
            raise InvalidNameError(f"BasicInfo.sex: {self.sex!r} is not allowed; use '1' (male), '2' (female) or '9'")

    def other_names(self) -> list[x509.OtherName]:
        """The subjectAltName otherName entries (UTF8String values) of the signature certificate."""
        return [
            x509.OtherName(OID_NAME, _utf8(self.name)),
            x509.OtherName(OID_SEX, _utf8(self.sex)),
            x509.OtherName(OID_BIRTH_DATE, _utf8(birth_date_value(self.birth_date))),
            x509.OtherName(OID_ADDRESS, _utf8(self.address)),
        ]


def _utf8(text: str) -> bytes:
    raw = text.encode("utf-8")
    n = len(raw)
    length = (
        bytes((n,))
        if n < 0x80
        else bytes((0x80 | ((n.bit_length() + 7) // 8),)) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    )
    return b"\x0c" + length + raw


def read_basic_info(cert: x509.Certificate) -> dict[str, str]:
    """The otherName values of a signature certificate, by item ("name", "sex", "birth_date", "address")."""
    items = {OID_NAME: "name", OID_SEX: "sex", OID_BIRTH_DATE: "birth_date", OID_ADDRESS: "address"}
    out: dict[str, str] = {}
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id in items:
            raw = other.value
            if raw[0] != 0x0C:
                raise InvalidNameError(f"otherName {other.type_id.dotted_string}: not a UTF8String")
            header = 2 if raw[1] < 0x80 else 2 + (raw[1] & 0x7F)
            out[items[other.type_id]] = raw[header:].decode("utf-8")
    return out
