"""The file system of a personalised My Number card: applications, files, PINs and keys.

The card holds several applications (AP, selected by their DF name / AID), each a flat directory
of elementary files named by a two-byte identifier whose low five bits double as the short file
identifier (SFI). Three kinds of file matter here:

* binary files (certificates, the My Number, the four basic items), some readable only after a
  PIN of the same AP has been verified;
* PIN files (暗証番号) with a retry counter: a wrong PIN costs one try, the right one restores
  them all, no tries left means blocked;
* key files holding an RSA private key (秘密鍵) that the card uses for signatures but that no
  command ever reads.

:func:`build_applications` lays out the JPKI AP (公的個人認証AP), the input-support AP
(券面事項入力補助AP) and the common AP (共通AP) from a :class:`Personalisation`.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import rsa

from emulators.layouts import (
    encode_basic_four_info,
    encode_card_identity,
    encode_my_number,
    encode_token_info,
)
from emulators.personalisation import Personalisation

JPKI_AID = bytes.fromhex("D392F000260100000001")
INPUT_SUPPORT_AID = bytes.fromhex("D3921000310001010408")
COMMON_AID = bytes.fromhex("D3921000310001010100")
ISD_AID = bytes.fromhex("A0000001510000")  # GlobalPlatform ISD: back to the MF state

# JPKI AP
EF_SIGN_CERT, EF_SIGN_CA_CERT, EF_TOKEN_INFO, EF_CERT_FLAGS = 0x0001, 0x0002, 0x0006, 0x0008
EF_AUTH_CERT, EF_AUTH_CA_CERT = 0x000A, 0x000B
EF_AUTH_KEY, EF_AUTH_PIN, EF_SIGN_KEY, EF_SIGN_PASSWORD = 0x0017, 0x0018, 0x001A, 0x001B
# input-support AP
EF_MY_NUMBER, EF_BASIC_INFO = 0x0001, 0x0002
EF_INPUT_SUPPORT_PIN, EF_COLLATION_A, EF_COLLATION_B = 0x0011, 0x0014, 0x0015
# common AP
EF_CARD_IDENTITY = 0x0001

AUTH_PIN_TRIES, SIGN_PASSWORD_TRIES, INPUT_SUPPORT_PIN_TRIES = 3, 5, 3
COLLATION_TRIES = 10  # assumption: not published (docs/CARD_PROTOCOL.md §11)

_FOUR_DIGITS = re.compile(rb"[0-9]{4}")
_SIGN_PASSWORD = re.compile(rb"(?=.*[A-Z])(?=.*[0-9])[A-Z0-9]{6,16}")


@dataclass(eq=False)
class BinaryFile:
    fid: int
    data: bytes
    read_requires: frozenset[int] = frozenset()  # any one of these PINs, verified, opens it


@dataclass(eq=False)
class RecordFile:
    fid: int
    records: list[bytes]


@dataclass(eq=False)
class PinFile:
    """A PIN with a retry counter. The counter only drops on a wrong VERIFY and only rises (to
    ``max_tries``) on a right one; ``new_value_ok`` says what CHANGE REFERENCE DATA accepts."""

    fid: int
    secret: bytes = field(repr=False)
    max_tries: int
    tries_left: int = -1
    new_value_ok: Callable[[bytes], bool] | None = None  # None: not changeable

    def __post_init__(self) -> None:
        if self.tries_left < 0:
            self.tries_left = self.max_tries

    def matches(self, candidate: bytes) -> bool:
        return hmac.compare_digest(self.secret, candidate)


@dataclass(eq=False)
class KeyFile:
    """An on-card RSA private key: usable after one of ``use_requires`` is verified, never read."""

    fid: int
    key: rsa.RSAPrivateKey = field(repr=False)
    use_requires: frozenset[int] = frozenset()
    usable: bool = True  # False: no command may use the key (a PIN-less card's auth key: 6985)

    def __post_init__(self) -> None:
        n = self.key.private_numbers()
        # the numbers for the raw private operation (used when the input is not a DigestInfo)
        self._crt = (n.p, n.q, n.dmp1, n.dmq1, n.iqmp, n.public_numbers.n)

    def raw_private_op(self, block: int) -> int:
        p, q, dp, dq, qinv, _ = self._crt
        m1, m2 = pow(block, dp, p), pow(block, dq, q)
        return m2 + q * ((qinv * (m1 - m2)) % p)

    @property
    def modulus_bytes(self) -> int:
        return (self.key.key_size + 7) // 8


CardFile = BinaryFile | RecordFile | PinFile | KeyFile


@dataclass(eq=False)
class Application:
    name: str
    aid: bytes
    files: dict[int, CardFile]

    def by_sfi(self, sfi: int) -> CardFile | None:
        return self.files.get(sfi)  # every FID on this card is below 0x20: FID == SFI


def _four_digits(v: bytes) -> bool:
    return _FOUR_DIGITS.fullmatch(v) is not None


def _sign_password(v: bytes) -> bool:
    return _SIGN_PASSWORD.fullmatch(v) is not None


def build_applications(p: Personalisation) -> list[Application]:
    """The three APs of a personalised card (of a PIN-less card: :func:`build_pinless_applications`), and
    the licence AP and the residence AP when the personalisation holds them (:func:`with_licence`,
    :func:`with_residence`)."""
    if p.pinless:
        return with_residence(p, with_licence(p, build_pinless_applications(p)))
    cert_flags = b"\x8f\x8f\x00"  # sign and auth certificates present
    jpki_files: list[CardFile] = [
        BinaryFile(EF_SIGN_CERT, p.sign_certificate, frozenset({EF_SIGN_PASSWORD})),
        BinaryFile(EF_SIGN_CA_CERT, p.sign_ca_certificate),
        BinaryFile(EF_TOKEN_INFO, encode_token_info(serial=p.identity.serial[-16:])),
        BinaryFile(EF_CERT_FLAGS, cert_flags),
        BinaryFile(EF_AUTH_CERT, p.auth_certificate),
        BinaryFile(EF_AUTH_CA_CERT, p.auth_ca_certificate),
        KeyFile(EF_AUTH_KEY, p.auth_key, frozenset({EF_AUTH_PIN})),
        PinFile(EF_AUTH_PIN, p.auth_pin.encode(), AUTH_PIN_TRIES, new_value_ok=_four_digits),
        KeyFile(EF_SIGN_KEY, p.sign_key, frozenset({EF_SIGN_PASSWORD})),
        PinFile(
            EF_SIGN_PASSWORD, p.sign_password.encode(), SIGN_PASSWORD_TRIES,
            new_value_ok=_sign_password,
        ),
    ]
    by_pin_or_a = frozenset({EF_INPUT_SUPPORT_PIN, EF_COLLATION_A})
    by_pin_or_b = frozenset({EF_INPUT_SUPPORT_PIN, EF_COLLATION_B})
    text_files: list[CardFile] = [
        BinaryFile(EF_MY_NUMBER, encode_my_number(p.my_number), by_pin_or_a),
        BinaryFile(EF_BASIC_INFO, encode_basic_four_info(p.basic_info), by_pin_or_b),
        PinFile(
            EF_INPUT_SUPPORT_PIN, p.input_support_pin.encode(), INPUT_SUPPORT_PIN_TRIES,
            new_value_ok=_four_digits,
        ),
        PinFile(EF_COLLATION_A, p.collation_number_a.encode(), COLLATION_TRIES),
        PinFile(EF_COLLATION_B, p.collation_number_b.encode(), COLLATION_TRIES),
    ]
    common_files: list[CardFile] = [
        RecordFile(EF_CARD_IDENTITY, [encode_card_identity(p.identity)]),
    ]
    return with_residence(p, with_licence(p, [
        Application("JPKI", JPKI_AID, {f.fid: f for f in jpki_files}),
        Application("input-support", INPUT_SUPPORT_AID, {f.fid: f for f in text_files}),
        Application("common", COMMON_AID, {f.fid: f for f in common_files}),
    ]))  # fmt: skip


def with_licence(p: Personalisation, apps: list[Application]) -> list[Application]:
    """``apps`` and, if ``p`` holds a licence, the licence AP as the licence centre writes it, behind its own
    PIN (assumed: a PIN-less card may hold one too, the licence PIN being none of the card's PINs)."""
    if p.licence is None:
        return apps
    from emulators.licence_app import build_licence_application, encode_licence_record  # builds on this module

    lic = p.licence
    return [*apps, build_licence_application(encode_licence_record(lic.number, lic.expiry, lic.conditions), lic.pin)]


def with_residence(p: Personalisation, apps: list[Application]) -> list[Application]:
    """``apps`` and, if ``p`` holds residence data, the residence AP as the immigration authority writes it
    (特定在留カード; assumed: a PIN-less card may be one too, the AP needing none of the card's PINs)."""
    if p.residence is None:
        return apps
    from emulators.residence_app import build_residence_application  # builds on this module

    return [*apps, build_residence_application(p.residence.record())]


def build_pinless_applications(p: Personalisation) -> list[Application]:
    """The APs of a PIN-less card (暗証番号設定不要の顔認証マイナンバーカード, from 2023-12-15).

    No PIN is set, so nothing that needs one is on the card: no signature certificate, key or password
    (the card carries no 署名用電子証明書), no auth PIN and no input-support PIN (their EFs answer 6A82).
    The user-authentication certificate is readable as on any card, for a face-authentication reader or a
    clerk's visual check; the auth key is on the chip but refuses every signature (6985), so the card
    cannot log in to Myna Portal or anywhere else that needs a PIN-made signature. The My Number and the
    four basic items open only with 照合番号A / B (from the card face). Which status words a real PIN-less
    card gives is not public (assumed: 6A82 for an absent PIN file, 6985 for the key).
    """
    jpki_files: list[CardFile] = [
        BinaryFile(EF_TOKEN_INFO, encode_token_info(serial=p.identity.serial[-16:])),
        BinaryFile(EF_CERT_FLAGS, b"\x00\x8f\x00"),  # auth certificate only (flag layout assumed)
        BinaryFile(EF_AUTH_CERT, p.auth_certificate),
        BinaryFile(EF_AUTH_CA_CERT, p.auth_ca_certificate),
        KeyFile(EF_AUTH_KEY, p.auth_key, usable=False),
    ]
    text_files: list[CardFile] = [
        BinaryFile(EF_MY_NUMBER, encode_my_number(p.my_number), frozenset({EF_COLLATION_A})),
        BinaryFile(EF_BASIC_INFO, encode_basic_four_info(p.basic_info), frozenset({EF_COLLATION_B})),
        PinFile(EF_COLLATION_A, p.collation_number_a.encode(), COLLATION_TRIES),
        PinFile(EF_COLLATION_B, p.collation_number_b.encode(), COLLATION_TRIES),
    ]
    return [
        Application("JPKI", JPKI_AID, {f.fid: f for f in jpki_files}),
        Application("input-support", INPUT_SUPPORT_AID, {f.fid: f for f in text_files}),
        Application("common", COMMON_AID, {EF_CARD_IDENTITY: RecordFile(EF_CARD_IDENTITY, [
            encode_card_identity(p.identity)])}),  # fmt: skip
    ]
