"""The JPKI client (公的個人認証クライアント): what a terminal does with a My Number card.

A hospital's eligibility terminal, a tax e-filing PC or the Myna Portal app runs the same few
exchanges (docs/CARD_PROTOCOL.md §9): select the JPKI AP, read a certificate, ask how many PIN
tries are left, verify the PIN, have the card sign a DigestInfo built on the terminal; or select
the input-support AP and read the My Number and the four basic items (基本4情報).

:class:`JpkiClient` does those over any :class:`emulators.readers.Reader`, in-process or PC/SC
alike. Status words become typed errors: :class:`WrongPin` (with ``tries_left``),
:class:`Blocked`, :class:`SecurityStatusNotSatisfied`, :class:`FileNotFound`, ... PINs are sent
as given and never kept or shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from cryptography import x509

from emulators.apdu import build
from emulators.card_files import (
    COMMON_AID,
    EF_AUTH_CA_CERT,
    EF_AUTH_CERT,
    EF_AUTH_KEY,
    EF_AUTH_PIN,
    EF_BASIC_INFO,
    EF_CARD_IDENTITY,
    EF_INPUT_SUPPORT_PIN,
    EF_MY_NUMBER,
    EF_SIGN_CA_CERT,
    EF_SIGN_CERT,
    EF_SIGN_KEY,
    EF_SIGN_PASSWORD,
    EF_TOKEN_INFO,
    INPUT_SUPPORT_AID,
    JPKI_AID,
)
from emulators.layouts import (
    BasicFourInfo,
    CardIdentity,
    decode_basic_four_info,
    decode_card_identity,
    decode_my_number,
    digest_info,
    read_ber_length,
    token_label,
)
from emulators.readers import Reader

PinKind = Literal["auth", "sign", "input_support"]
CertKind = Literal["auth", "sign", "auth_ca", "sign_ca"]
KeyKind = Literal["auth", "sign"]

PIN_FILES: dict[str, tuple[bytes, int]] = {
    "auth": (JPKI_AID, EF_AUTH_PIN),
    "sign": (JPKI_AID, EF_SIGN_PASSWORD),
    "input_support": (INPUT_SUPPORT_AID, EF_INPUT_SUPPORT_PIN),
}
CERT_FILES: dict[str, int] = {
    "auth": EF_AUTH_CERT, "sign": EF_SIGN_CERT,
    "auth_ca": EF_AUTH_CA_CERT, "sign_ca": EF_SIGN_CA_CERT,
}
KEY_FILES: dict[str, int] = {"auth": EF_AUTH_KEY, "sign": EF_SIGN_KEY}
#: EF 0006 token labels -> which token answers (docs/CARD_PROTOCOL.md §5: myna-go api.go, mc jpki.rs, tret)
TOKEN_KINDS: dict[str, str] = {"JPKIAPICCTOKEN2": "card", "JPKIAPGPSETOKEN": "android", "JPKIAPIOSTOKEN": "iphone"}


class CardError(Exception):
    """The card refused a command: ``sw`` is its status word, ``command`` what was asked."""

    def __init__(self, sw: int, command: str, detail: str = "") -> None:
        self.sw = sw
        self.command = command
        super().__init__(f"{command}: card answered {sw:04X}{' (' + detail + ')' if detail else ''}")


class WrongPin(CardError):
    def __init__(self, sw: int, command: str) -> None:
        self.tries_left = sw & 0x0F
        super().__init__(sw, command, f"wrong PIN, {self.tries_left} tries left")


class Blocked(CardError):
    def __init__(self, sw: int, command: str) -> None:
        super().__init__(sw, command, "PIN blocked: no tries left")


class SecurityStatusNotSatisfied(CardError):
    def __init__(self, sw: int, command: str) -> None:
        super().__init__(sw, command, "PIN not verified")


class FileNotFound(CardError):
    def __init__(self, sw: int, command: str) -> None:
        super().__init__(sw, command, "no such application or file")


class WrongLength(CardError):
    def __init__(self, sw: int, command: str) -> None:
        super().__init__(sw, command, "wrong length")


def error_for(sw: int, command: str) -> CardError:
    """The typed error for a non-9000 status word."""
    if sw == 0x6984 or (sw == 0x63C0 and command.startswith("VERIFY")):
        return Blocked(sw, command)
    if sw & 0xFFF0 == 0x63C0:
        return WrongPin(sw, command)
    kinds: dict[int, type[CardError]] = {
        0x6982: SecurityStatusNotSatisfied, 0x6A82: FileNotFound, 0x6700: WrongLength,
    }
    kind = kinds.get(sw)
    return kind(sw, command) if kind else CardError(sw, command)


@dataclass(frozen=True)
class CertificateSummary:
    kind: str
    subject: str
    issuer: str
    serial: int
    not_before: str
    not_after: str


class JpkiClient:
    """JPKI and input-support AP operations over one reader (connected by the caller)."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self._ap: bytes | None = None

    # -- plumbing ---------------------------------------------------------------------------------

    def _transmit(self, apdu: bytes, command: str) -> bytes:
        resp = self.reader.transmit(apdu)
        if len(resp) < 2:
            raise CardError(0, command, "response shorter than a status word")
        sw = (resp[-2] << 8) | resp[-1]
        if sw != 0x9000:
            raise error_for(sw, command)
        return resp[:-2]

    def select_ap(self, aid: bytes, force: bool = False) -> None:
        """SELECT the AP by AID (clears the card's PIN state) unless it is already selected."""
        if force or self._ap != aid:
            self._ap = None
            self._transmit(build(0x00, 0xA4, 0x04, 0x0C, aid), f"SELECT AP {aid.hex().upper()}")
            self._ap = aid

    def forget_selection(self) -> None:
        """Call after the card was reset or re-connected: the next operation re-selects."""
        self._ap = None

    def select_ef(self, fid: int) -> None:
        self._transmit(build(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")), f"SELECT EF {fid:04X}")

    def read_binary(self, offset: int, length: int, what: str = "") -> bytes:
        """Read ``length`` bytes from ``offset`` of the current EF in short APDUs (<= 256 B)."""
        out = bytearray()
        while len(out) < length:
            pos = offset + len(out)
            n = min(256, length - len(out))
            chunk = self._transmit(
                build(0x00, 0xB0, pos >> 8, pos & 0xFF, le=n), f"READ BINARY {what} @{pos}"
            )
            if not chunk:
                break
            out += chunk
        return bytes(out)

    # -- JPKI AP ----------------------------------------------------------------------------------

    def token_label(self) -> str:
        self.select_ap(JPKI_AID)
        self.select_ef(EF_TOKEN_INFO)
        return token_label(self.read_binary(0, 32, "token info"))

    def token_kind(self) -> str:
        """``card``, ``android`` or ``iphone``, from the token label; the old 住基カード is refused."""
        label = self.token_label()
        kind = TOKEN_KINDS.get(label)
        if kind is None:
            raise CardError(0x9000, "READ token info", f"token {label!r} is not a JPKI token this client supports")
        return kind

    def read_certificate_der(self, kind: CertKind = "auth") -> bytes:
        """A certificate EF read as OpenSC does: 4-byte header, then the rest."""
        self.select_ap(JPKI_AID)
        self.select_ef(CERT_FILES[kind])
        head = self.read_binary(0, 4, f"{kind} certificate")
        if len(head) < 4 or head[0] != 0x30:
            raise CardError(0x9000, f"READ {kind} certificate", "not a DER certificate")
        length, start = read_ber_length(head, 1)
        return head + self.read_binary(4, start + length - 4, f"{kind} certificate")

    def read_certificate(self, kind: CertKind = "auth") -> x509.Certificate:
        return x509.load_der_x509_certificate(self.read_certificate_der(kind))

    def retries(self, pin: PinKind) -> int:
        """Tries left, from an empty VERIFY (costs no try)."""
        aid, fid = PIN_FILES[pin]
        self.select_ap(aid)
        self.select_ef(fid)
        resp = self.reader.transmit(build(0x00, 0x20, 0x00, 0x80))
        sw = (resp[-2] << 8) | resp[-1] if len(resp) >= 2 else 0
        if sw & 0xFFF0 == 0x63C0:
            return sw & 0x0F
        raise error_for(sw, f"VERIFY (query) {pin} PIN") if sw != 0x9000 else CardError(
            sw, f"VERIFY (query) {pin} PIN", "card did not report tries left"
        )

    def verify(self, pin: PinKind, value: str) -> None:
        """VERIFY a PIN; WrongPin(tries_left) or Blocked when refused."""
        aid, fid = PIN_FILES[pin]
        self.select_ap(aid)
        self.select_ef(fid)
        data = value.upper().encode("ascii") if pin == "sign" else value.encode("ascii")
        self._transmit(build(0x00, 0x20, 0x00, 0x80, data), f"VERIFY {pin} PIN")

    def sign_digest_info(self, digest_info_bytes: bytes, key: KeyKind = "auth") -> bytes:
        """COMPUTE DIGITAL SIGNATURE over a DigestInfo (the card pads it, PKCS#1 v1.5)."""
        self.select_ap(JPKI_AID)
        self.select_ef(KEY_FILES[key])
        return self._transmit(
            build(0x80, 0x2A, 0x00, 0x80, digest_info_bytes, le=256), f"SIGN with {key} key"
        )

    def sign(self, data: bytes, key: KeyKind = "auth", hash_name: str = "sha256") -> bytes:
        """Hash ``data``, build the DigestInfo here, have the card sign it (PIN verified first)."""
        return self.sign_digest_info(digest_info(hash_name, data), key)

    def authenticate(self, pin: str, challenge: bytes) -> tuple[bytes, bytes]:
        """The user-authentication flow: verify the PIN, read the auth certificate, sign.

        Returns (certificate DER, signature over SHA-256 of ``challenge``). The same exchange serves
        the card and a phone's secure element (whose auth certificate needs the PIN first: verifying
        before reading serves both).
        """
        self.select_ap(JPKI_AID, force=True)
        self.verify("auth", pin)
        cert = self.read_certificate_der("auth")
        return cert, self.sign(challenge, "auth")

    # -- input-support AP (券面事項入力補助AP) -----------------------------------------------------

    def read_my_number(self, pin: str) -> str:
        self.verify("input_support", pin)
        self.select_ef(EF_MY_NUMBER)
        return decode_my_number(self.read_binary(0, 17, "My Number"))

    def read_basic_info(self, pin: str) -> BasicFourInfo:
        self.verify("input_support", pin)
        self.select_ef(EF_BASIC_INFO)
        head = self.read_binary(0, 5, "basic 4 info")
        length, start = read_ber_length(head, 2)
        return decode_basic_four_info(head + self.read_binary(5, start + length - 5, "basic 4 info"))

    # -- common AP (共通AP) -----------------------------------------------------------------------

    def read_card_identity(self) -> CardIdentity:
        self.select_ap(COMMON_AID)
        rec = self._transmit(
            build(0x00, 0xB2, 0x01, (EF_CARD_IDENTITY << 3) | 0x04, le=256), "READ RECORD 1"
        )
        return decode_card_identity(rec)

    # -- a summary for `twin card info` -----------------------------------------------------------

    def certificate_summary(self, kind: CertKind) -> CertificateSummary:
        c = self.read_certificate(kind)
        return CertificateSummary(
            kind=kind, subject=c.subject.rfc4514_string(), issuer=c.issuer.rfc4514_string(),
            serial=c.serial_number, not_before=c.not_valid_before_utc.isoformat(),
            not_after=c.not_valid_after_utc.isoformat(),
        )


@dataclass(frozen=True)
class Authentication:
    """What a token hands the relying party, and how the holder unlocked it."""

    certificate: bytes
    signature: bytes
    token: str  # "card", "android" or "iphone"
    unlock: str  # "pin" or "biometric"


@runtime_checkable
class JpkiToken(Protocol):
    """Either JPKI token, card or phone: the common interface services and simulations use."""

    kind: str  # "card", "android" or "iphone"

    def authenticate(self, challenge: bytes, *, pin: str | None = None, rng: Any = None) -> Authentication:
        """Sign SHA-256(``challenge``) with the token's auth key, unlocked by the PIN (or biometrics)."""
        ...

    def sign_document(self, document: bytes, password: str) -> tuple[bytes, bytes]:
        """(signature certificate DER, signature over ``document``) after the signature password."""
        ...


class CardToken:
    """The My Number card in a reader, as a :class:`JpkiToken` (the PIN is always typed)."""

    kind = "card"

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.client = JpkiClient(reader)

    def _session(self) -> JpkiClient:
        self.reader.connect()
        self.client.forget_selection()
        return self.client

    def authenticate(self, challenge: bytes, *, pin: str | None = None, rng: Any = None) -> Authentication:
        if pin is None:
            raise ValueError("a card without a PIN cannot authenticate here; type the auth PIN")
        try:
            cert, signature = self._session().authenticate(pin, challenge)
        finally:
            self.reader.disconnect()
        return Authentication(cert, signature, self.kind, "pin")

    def sign_document(self, document: bytes, password: str) -> tuple[bytes, bytes]:
        return sign_document(self._session(), self.reader, document, password)


def sign_document(client: JpkiClient, reader: Reader, document: bytes, password: str) -> tuple[bytes, bytes]:
    """Verify the signature password, read the signature certificate, sign ``document`` (SHA-256)."""
    try:
        client.select_ap(JPKI_AID, force=True)
        client.verify("sign", password)
        return client.read_certificate_der("sign"), client.sign(document, "sign")
    finally:
        reader.disconnect()
        client.forget_selection()


def mask_my_number(number: str) -> str:
    """Show only the last 4 digits: ``********9018``."""
    return "*" * (len(number) - 4) + number[-4:]
