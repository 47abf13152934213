"""Card personalisation (カード発行時の書込み): what a municipality writes onto a blank card.

When a resident collects a My Number card, the municipal counter generates two RSA key pairs on
the card, has the JPKI certificate authority certify them (利用者証明用 and 署名用電子証明書),
writes both certificates and the two CA certificates, writes the My Number and the four basic
items into the input-support AP, writes the card's identification record into the common AP and
lets the resident set the PINs. A :class:`Personalisation` is that whole set, ready to be
loaded into :class:`emulators.card_os.MynaCardOS`.

It can be saved to and loaded from a JSON file (keys and certificates as PEM). The file holds
private keys, PINs and a My Number: it is written with mode 0600, and neither ``repr`` nor any
error message shows those values.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from emulators.layouts import (
    BasicFourInfo,
    CardIdentity,
    collation_number_b,
    is_valid_my_number,
)

FORMAT = "myna-twin/card-personalisation/1"
DEFAULT_ATR = bytes.fromhex("3BE000FF8131FE4514")

_FOUR_DIGITS = re.compile(r"[0-9]{4}")
_SIGN_PASSWORD = re.compile(r"(?=.*[A-Z])(?=.*[0-9])[A-Z0-9]{6,16}")


class PersonalisationError(ValueError):
    """A personalisation that a card could not hold; the message names the field."""


def check_auth_pin(pin: str, what: str = "auth_pin") -> None:
    if not isinstance(pin, str) or not _FOUR_DIGITS.fullmatch(pin):
        raise PersonalisationError(f"{what}: must be exactly 4 digits 0-9")


def check_sign_password(pw: str) -> None:
    if not isinstance(pw, str) or not _SIGN_PASSWORD.fullmatch(pw):
        raise PersonalisationError(
            "sign_password: must be 6-16 characters A-Z and 0-9 with at least one letter and one digit"
        )


@dataclass(frozen=True, repr=False)
class LicenceData:
    """The driving licence written onto the card (マイナ免許証, ``emulators/licence_app.py``): its record
    and its own 4-digit licence PIN. Neither ``repr`` nor an error shows the number or the PIN."""

    number: str
    expiry: dt.date
    conditions: str
    pin: str

    def __post_init__(self) -> None:
        # licence_app builds on card_files, which imports this module: import it once both exist
        from emulators.licence_app import LicenceDataError, encode_licence_record

        try:
            encode_licence_record(self.number, self.expiry, self.conditions)
        except LicenceDataError as e:
            raise PersonalisationError(f"licence.{str(e).removeprefix('licence ')}") from None
        check_auth_pin(self.pin, "licence.pin")

    def __repr__(self) -> str:
        return f"LicenceData(expires {self.expiry.isoformat()})"


@dataclass(frozen=True, repr=False)
class ResidenceData:
    """The residence data written onto a combined card (特定在留カード, ``emulators/residence_app.py``):
    card number, status of residence, period of stay and its expiry (None: 無期限), work restriction.
    The AP opens with the card number from the card face; neither ``repr`` nor an error shows it."""

    card_number: str
    status: str
    period: str
    expiry: dt.date | None
    work: str

    def __post_init__(self) -> None:
        from emulators.residence_app import ResidenceDataError  # builds on card_files, which imports this module

        try:
            self.record()
        except ResidenceDataError as e:
            raise PersonalisationError(f"residence.{e}") from None

    def record(self) -> Any:
        """The :class:`emulators.residence_app.ResidenceRecord` these data make."""
        from emulators.residence_app import ResidenceRecord

        return ResidenceRecord(self.card_number, self.status, self.period, self.expiry, self.work)

    def __repr__(self) -> str:
        until = "無期限" if self.expiry is None else self.expiry.isoformat()
        return f"ResidenceData({self.status}, until {until})"


@dataclass(frozen=True, repr=False)
class Personalisation:
    """Everything written onto one card. Certificates are DER; keys stay inside the card OS."""

    auth_key: rsa.RSAPrivateKey
    sign_key: rsa.RSAPrivateKey
    auth_certificate: bytes
    sign_certificate: bytes
    auth_ca_certificate: bytes
    sign_ca_certificate: bytes
    my_number: str
    basic_info: BasicFourInfo
    identity: CardIdentity
    auth_pin: str
    sign_password: str
    input_support_pin: str
    security_code: str
    atr: bytes = field(default=DEFAULT_ATR)
    #: a PIN-less card (顔認証マイナンバーカード): only the auth certificate and key and the collation
    #: numbers are written; the sign key and certificate and the PINs above stay off the card
    pinless: bool = False
    #: the driving licence the licence centre wrote onto the card (None: no licence application)
    licence: LicenceData | None = None
    #: the residence data the immigration authority wrote (None: not a combined residence card)
    residence: ResidenceData | None = None

    def __post_init__(self) -> None:
        if not is_valid_my_number(self.my_number):
            raise PersonalisationError("my_number: not 12 digits with a valid check digit")
        check_auth_pin(self.auth_pin)
        check_auth_pin(self.input_support_pin, "input_support_pin")
        check_sign_password(self.sign_password)
        if not _FOUR_DIGITS.fullmatch(self.security_code):
            raise PersonalisationError("security_code: must be exactly 4 digits 0-9")
        for name in ("auth", "sign", "auth_ca", "sign_ca"):
            der = getattr(self, f"{name}_certificate")
            if len(der) < 4 or der[:2] != b"\x30\x82":
                raise PersonalisationError(
                    f"{name}_certificate: DER must start with 30 82 (a 2-byte length), "
                    f"got {der[:2].hex() or 'nothing'}"
                )
        for name in ("auth", "sign"):
            key: rsa.RSAPrivateKey = getattr(self, f"{name}_key")
            if key.key_size != 2048:
                raise PersonalisationError(f"{name}_key: must be RSA-2048, got {key.key_size} bits")
            cert = x509.load_der_x509_certificate(getattr(self, f"{name}_certificate"))
            if cert.public_key().public_numbers() != key.public_key().public_numbers():
                raise PersonalisationError(
                    f"{name}_certificate: its public key does not match {name}_key"
                )
        if not 2 <= len(self.atr) <= 33 or self.atr[0] not in (0x3B, 0x3F):
            raise PersonalisationError(f"atr: {self.atr.hex()} is not an ATR (starts 3B or 3F)")

    def __repr__(self) -> str:  # never show keys, PINs or the My Number
        return (
            f"Personalisation(card {self.identity.serial}, municipality "
            f"{self.identity.municipality_code}, expires {self.identity.expiry.isoformat()})"
        )

    @property
    def collation_number_a(self) -> str:
        """照合番号A: the My Number itself."""
        return self.my_number

    @property
    def collation_number_b(self) -> str:
        """照合番号B: era birth date + expiry year + security code."""
        return collation_number_b(self.basic_info.birth_date, self.identity.expiry, self.security_code)

    def with_pins(self, **pins: str) -> Personalisation:
        """A copy with other PINs (``auth_pin=``, ``sign_password=``, ``input_support_pin=``)."""
        return replace(self, **pins)

    # -- file form ------------------------------------------------------------------------------

    def to_json(self) -> str:
        pem = serialization.Encoding.PEM

        def key_pem(k: rsa.RSAPrivateKey) -> str:
            return k.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode()

        def cert_pem(der: bytes) -> str:
            return x509.load_der_x509_certificate(der).public_bytes(pem).decode()

        b = self.basic_info
        doc = {
            "format": FORMAT,
            "atr": self.atr.hex().upper(),
            "auth_key": key_pem(self.auth_key),
            "sign_key": key_pem(self.sign_key),
            "auth_certificate": cert_pem(self.auth_certificate),
            "sign_certificate": cert_pem(self.sign_certificate),
            "auth_ca_certificate": cert_pem(self.auth_ca_certificate),
            "sign_ca_certificate": cert_pem(self.sign_ca_certificate),
            "my_number": self.my_number,
            "basic_info": {
                "name": b.name, "address": b.address,
                "birth_date": b.birth_date.isoformat(), "sex": b.sex,
            },
            "identity": {
                "serial": self.identity.serial,
                "municipality_code": self.identity.municipality_code,
                "expiry": self.identity.expiry.isoformat(),
            },
            "pins": {
                "auth_pin": self.auth_pin, "sign_password": self.sign_password,
                "input_support_pin": self.input_support_pin,
            },
            "security_code": self.security_code,
        }
        if self.pinless:
            doc["pinless"] = True
        if self.licence is not None:
            lic = self.licence
            doc["licence"] = {"number": lic.number, "expiry": lic.expiry.isoformat(), "conditions": lic.conditions,
                              "pin": lic.pin}  # fmt: skip
        if self.residence is not None:
            r = self.residence
            doc["residence"] = {"card_number": r.card_number, "status": r.status, "period": r.period,
                                "expiry": None if r.expiry is None else r.expiry.isoformat(), "work": r.work}
        return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the file with mode 0600 (it holds private keys, PINs and a My Number)."""
        p = Path(path)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, self.to_json().encode("utf-8"))
        finally:
            os.close(fd)
        return p

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Personalisation:
        p = Path(path)
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PersonalisationError(f"{p}: no such personalisation file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise PersonalisationError(f"{p}: not a readable JSON file ({type(e).__name__})") from None
        try:
            return cls.from_document(doc)
        except PersonalisationError as e:
            raise PersonalisationError(f"{p}: {e}") from None

    @classmethod
    def from_document(cls, doc: Any) -> Personalisation:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise PersonalisationError(f"format: expected {FORMAT!r}")

        def get(path: str) -> Any:
            cur: Any = doc
            for part in path.split("."):
                if not isinstance(cur, dict) or part not in cur:
                    raise PersonalisationError(f"{path}: missing")
                cur = cur[part]
            return cur

        def text(path: str) -> str:
            v = get(path)
            if not isinstance(v, str):
                raise PersonalisationError(f"{path}: must be a string")
            return v

        def key(path: str) -> rsa.RSAPrivateKey:
            try:
                k = serialization.load_pem_private_key(text(path).encode(), password=None)
            except ValueError:
                raise PersonalisationError(f"{path}: not an unencrypted PEM private key") from None
            if not isinstance(k, rsa.RSAPrivateKey):
                raise PersonalisationError(f"{path}: not an RSA key")
            return k

        def cert(path: str) -> bytes:
            try:
                c = x509.load_pem_x509_certificate(text(path).encode())
            except ValueError:
                raise PersonalisationError(f"{path}: not a PEM certificate") from None
            return c.public_bytes(serialization.Encoding.DER)

        def date(path: str) -> dt.date:
            try:
                return dt.date.fromisoformat(text(path))
            except ValueError:
                raise PersonalisationError(f"{path}: {text(path)!r} is not YYYY-MM-DD") from None

        def pinless() -> bool:
            v = doc.get("pinless", False)
            if not isinstance(v, bool):
                raise PersonalisationError(f"pinless: {v!r} is not allowed; use true or false")
            return v

        def licence() -> LicenceData | None:
            if "licence" not in doc:
                return None
            if not isinstance(doc["licence"], dict):
                raise PersonalisationError("licence: must be an object with number, expiry, conditions and pin")
            extra = sorted(set(doc["licence"]) - {"number", "expiry", "conditions", "pin"})
            if extra:
                raise PersonalisationError(
                    f"licence.{extra[0]}: unknown field; allowed: number, expiry, conditions, pin"
                )
            return LicenceData(text("licence.number"), date("licence.expiry"), text("licence.conditions"),
                               text("licence.pin"))  # fmt: skip

        def residence() -> ResidenceData | None:
            if "residence" not in doc:
                return None
            allowed = ("card_number", "status", "period", "expiry", "work")
            if not isinstance(doc["residence"], dict):
                raise PersonalisationError(f"residence: must be an object with {', '.join(allowed)}")
            extra = sorted(set(doc["residence"]) - set(allowed))
            if extra:
                raise PersonalisationError(f"residence.{extra[0]}: unknown field; allowed: {', '.join(allowed)}")
            expiry = None if get("residence.expiry") is None else date("residence.expiry")
            return ResidenceData(text("residence.card_number"), text("residence.status"), text("residence.period"),
                                 expiry, text("residence.work"))  # fmt: skip

        try:
            atr = bytes.fromhex(text("atr"))
        except ValueError:
            raise PersonalisationError(f"atr: {text('atr')!r} is not hexadecimal") from None
        try:
            info = BasicFourInfo(
                text("basic_info.name"), text("basic_info.address"),
                date("basic_info.birth_date"), text("basic_info.sex"),
            )
            ident = CardIdentity(
                text("identity.serial"), text("identity.municipality_code"),
                date("identity.expiry"),
            )
        except ValueError as e:
            if isinstance(e, PersonalisationError):
                raise
            raise PersonalisationError(str(e)) from None
        return cls(
            auth_key=key("auth_key"), sign_key=key("sign_key"),
            auth_certificate=cert("auth_certificate"), sign_certificate=cert("sign_certificate"),
            auth_ca_certificate=cert("auth_ca_certificate"),
            sign_ca_certificate=cert("sign_ca_certificate"),
            my_number=text("my_number"), basic_info=info, identity=ident,
            auth_pin=text("pins.auth_pin"), sign_password=text("pins.sign_password"),
            input_support_pin=text("pins.input_support_pin"),
            security_code=text("security_code"), atr=atr, pinless=pinless(), licence=licence(),
            residence=residence(),
        )
