"""The smartphone's secure element holding JPKI (スマホ用電子証明書), and the phone around it.

Since 2023-05-11 (Android) and 2025-06-24 (iPhone) a My Number card holder can put JPKI onto the
phone: the phone's secure element (Android: a GlobalPlatform SE; iPhone: Apple's secure element)
holds its own user-authentication and signature keys and certificates, and answers the same JPKI
APDUs as the card's JPKI AP (same AID, same EF numbers; docs/CARD_PROTOCOL.md §12). Three things
differ and are modelled here:

* the token label in EF 0006 says which platform (``JPKIAPGPSETOKEN`` / ``JPKIAPIOSTOKEN``; sourced
  from public client code), so a client knows which token it talks to;
* the auth certificate is readable only after the auth PIN (sourced: jpki/myna ``cli.rs`` handles the
  GPSE token so), unlike the card's;
* the holder may unlock with the phone's biometrics instead of typing the PIN. How the app does it is
  not public; **assumed** here: the app seals the auth PIN in the phone's keystore at set-up and
  releases it to the secure element after a biometric match (:class:`SmartphoneToken`).

:func:`issue_phone` runs the issuance flow a holder runs in the Myna Portal app: the card signs the
application with both keys after both PINs, J-LIS (:class:`twin.services.jpki.SmartphoneIssuer`)
checks and issues, the secure element is personalised with the new pair. Nothing here prints or keeps
a PIN outside the secure element and the sealed keystore slot.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from emulators.card_files import (
    AUTH_PIN_TRIES,
    EF_AUTH_CA_CERT,
    EF_AUTH_CERT,
    EF_AUTH_KEY,
    EF_AUTH_PIN,
    EF_CERT_FLAGS,
    EF_SIGN_CA_CERT,
    EF_SIGN_CERT,
    EF_SIGN_KEY,
    EF_SIGN_PASSWORD,
    EF_TOKEN_INFO,
    JPKI_AID,
    SIGN_PASSWORD_TRIES,
    Application,
    BinaryFile,
    CardFile,
    KeyFile,
    PinFile,
    _four_digits,
    _sign_password,
)
from emulators.card_os import MynaCardOS
from emulators.jpki_client import Authentication, JpkiClient, sign_document
from emulators.layouts import encode_token_info
from emulators.personalisation import check_auth_pin, check_sign_password
from emulators.readers import InProcessReader

PlatformName = Literal["android", "iphone"]
TOKEN_LABELS: dict[str, str] = {"android": "JPKIAPGPSETOKEN", "iphone": "JPKIAPIOSTOKEN"}
#: an answer-to-reset for the SE's contact interface as OMAPI reports it: assumed (no public trace)
PHONE_SE_ATR = bytes.fromhex("3BF81300008131FE454A434F5076323431B7")


@dataclass(frozen=True, repr=False)
class PhonePersonalisation:
    """What J-LIS's issuance writes into a phone's secure element (keys stay inside it)."""

    platform: PlatformName
    auth_key: rsa.RSAPrivateKey
    sign_key: rsa.RSAPrivateKey
    auth_certificate: bytes
    sign_certificate: bytes
    auth_ca_certificate: bytes
    sign_ca_certificate: bytes
    auth_pin: str
    sign_password: str
    device_id: str

    def __post_init__(self) -> None:
        if self.platform not in TOKEN_LABELS:
            raise ValueError(f"platform: {self.platform!r} is not allowed; use 'android' or 'iphone'")
        check_auth_pin(self.auth_pin)
        check_sign_password(self.sign_password)

    def __repr__(self) -> str:
        return f"PhonePersonalisation({self.platform}, device={self.device_id})"


class PhoneSecureElement(MynaCardOS):
    """The JPKI applet of a phone's secure element: the card's command set over the phone's files."""

    def __init__(self, perso: PhonePersonalisation, rng: np.random.Generator | None = None) -> None:
        auth_only = frozenset({EF_AUTH_PIN})
        files: list[CardFile] = [
            BinaryFile(EF_SIGN_CERT, perso.sign_certificate, frozenset({EF_SIGN_PASSWORD})),
            BinaryFile(EF_SIGN_CA_CERT, perso.sign_ca_certificate),
            BinaryFile(EF_TOKEN_INFO, encode_token_info(
                label=TOKEN_LABELS[perso.platform], model="JPKIAPSE", serial=perso.device_id[-16:])),
            BinaryFile(EF_CERT_FLAGS, b"\x8f\x8f\x00"),
            BinaryFile(EF_AUTH_CERT, perso.auth_certificate, auth_only),  # PIN first on the phone
            BinaryFile(EF_AUTH_CA_CERT, perso.auth_ca_certificate),
            KeyFile(EF_AUTH_KEY, perso.auth_key, auth_only),
            PinFile(EF_AUTH_PIN, perso.auth_pin.encode(), AUTH_PIN_TRIES, new_value_ok=_four_digits),
            KeyFile(EF_SIGN_KEY, perso.sign_key, frozenset({EF_SIGN_PASSWORD})),
            PinFile(EF_SIGN_PASSWORD, perso.sign_password.encode(), SIGN_PASSWORD_TRIES, new_value_ok=_sign_password),
        ]  # fmt: skip
        seed = int.from_bytes(perso.device_id.encode()[-8:], "big")
        self._install(
            PHONE_SE_ATR, [Application("JPKI", JPKI_AID, {f.fid: f for f in files})],
            rng if rng is not None else np.random.default_rng(seed),
        )  # fmt: skip


@dataclass(frozen=True)
class BiometricUnlock:
    """The phone's biometric match, as assumptions with ranges (no public rates for this app).

    ``match_rate``: the holder's finger or face is accepted on one try (assumed 0.97, range 0.90-0.99);
    ``false_accept_rate``: someone else's is (assumed 1e-5, range 1e-6 - 1e-4, the order of magnitude
    phone vendors state for face unlock); ``max_tries`` before the app falls back to the PIN.
    """

    match_rate: float = 0.97
    false_accept_rate: float = 1e-5
    max_tries: int = 3

    def __post_init__(self) -> None:
        for name in ("match_rate", "false_accept_rate"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"BiometricUnlock.{name}: {v!r} is not a probability in [0, 1]")
        if not isinstance(self.max_tries, int) or self.max_tries < 1:
            raise ValueError(f"BiometricUnlock.max_tries: {self.max_tries!r} is not an integer >= 1")


class BiometricRefused(Exception):
    """The phone did not accept the biometric: the holder must type the PIN."""


class SmartphoneToken:
    """A phone with JPKI in its secure element: the :class:`emulators.jpki_client.JpkiToken` of a phone."""

    def __init__(self, se: PhoneSecureElement, platform: PlatformName, *, biometric: BiometricUnlock | None = None,
                 sealed_pin: str | None = None) -> None:  # fmt: skip
        self.se = se
        self.kind = platform
        self.reader = InProcessReader(se, name=f"{platform}-se")
        self.biometric = biometric
        self._sealed_pin = sealed_pin  # released to the SE only after a biometric match (assumed)
        self.client = JpkiClient(self.reader)

    def __repr__(self) -> str:
        return f"SmartphoneToken({self.kind}, biometric={'on' if self.biometric else 'off'})"

    def release_pin(self, rng: np.random.Generator, *, same_person: bool = True) -> str:
        """Biometric unlock: the sealed PIN, if the phone accepts the face or finger presented."""
        if self.biometric is None or self._sealed_pin is None:
            raise BiometricRefused("biometric unlock is not set up on this phone")
        rate = self.biometric.match_rate if same_person else self.biometric.false_accept_rate
        for _ in range(self.biometric.max_tries):
            if rng.random() < rate:
                return self._sealed_pin
        raise BiometricRefused(f"biometric not accepted after {self.biometric.max_tries} tries; type the PIN")

    def sign_document(self, document: bytes, password: str) -> tuple[bytes, bytes]:
        """The phone's signature certificate and its signature over ``document`` (password typed)."""
        self.reader.connect()
        self.client.forget_selection()
        return sign_document(self.client, self.reader, document, password)

    def authenticate(self, challenge: bytes, *, pin: str | None = None,
                     rng: np.random.Generator | None = None) -> Authentication:  # fmt: skip
        """Sign ``challenge`` with the phone's auth key, unlocked by ``pin`` or (``rng`` given) biometrics."""
        if pin is None:
            if rng is None:
                raise BiometricRefused("no PIN and no biometric attempt (pass pin= or rng=)")
            pin, unlock = self.release_pin(rng), "biometric"
        else:
            unlock = "pin"
        self.reader.connect()
        try:
            cert, signature = self.client.authenticate(pin, challenge)
        finally:
            self.reader.disconnect()
            self.client.forget_selection()
        return Authentication(cert, signature, self.kind, unlock)


@dataclass
class IssuedPhone:
    """The outcome of :func:`issue_phone`: the token, and the centre's record of its certificates."""

    token: SmartphoneToken
    certificates: Any  # twin.services.jpki.PhoneCertificates
    personalisation: PhonePersonalisation = field(repr=False)


def issue_phone(
    card_reader: Any,
    auth_pin: str,
    sign_password: str,
    issuer: Any,
    platform: PlatformName,
    keys: Any,
    now: dt.datetime,
    device_id: str,
    *,
    phone_auth_pin: str | None = None,
    phone_sign_password: str | None = None,
    biometric: BiometricUnlock | None = None,
) -> IssuedPhone:
    """The holder's issuance flow: the card (in ``card_reader``) signs the application with both keys.

    ``issuer`` is a :class:`twin.services.jpki.SmartphoneIssuer`; ``keys`` hands out the phone's two
    key pairs (a :class:`twin.services.jpki.KeySource`, e.g. a pre-generated pool). The phone's PINs
    default to the card's (the app lets the holder choose; assumed the same here).
    """
    from twin.services.jpki import PhoneApplication, Platform

    auth_key, sign_key = keys.generate(), keys.generate()
    application = PhoneApplication(Platform.parse(platform), auth_key.public_key(), sign_key.public_key(), device_id)
    document = application.signing_bytes()
    card_reader.connect()
    try:
        client = JpkiClient(card_reader)
        client.select_ap(JPKI_AID, force=True)
        client.verify("auth", auth_pin)
        card_auth = client.read_certificate_der("auth")
        auth_signature = client.sign(document, "auth")
        client.verify("sign", sign_password)
        card_sign = client.read_certificate_der("sign")
        sign_signature = client.sign(document, "sign")
    finally:
        card_reader.disconnect()
    phone = issuer.issue(application, card_auth, auth_signature, card_sign, sign_signature, now)
    der = Encoding.DER
    perso = PhonePersonalisation(
        platform=platform,
        auth_key=auth_key,
        sign_key=sign_key,
        auth_certificate=phone.auth.public_bytes(der),
        sign_certificate=phone.sign.public_bytes(der),
        auth_ca_certificate=issuer.jpki.auth_ca.certificate.public_bytes(der),
        sign_ca_certificate=issuer.jpki.sign_ca.certificate.public_bytes(der),
        auth_pin=phone_auth_pin or auth_pin,
        sign_password=phone_sign_password or sign_password,
        device_id=device_id,
    )
    token = SmartphoneToken(PhoneSecureElement(perso), platform, biometric=biometric,
                            sealed_pin=perso.auth_pin if biometric else None)  # fmt: skip
    return IssuedPhone(token, phone, perso)


def certificate_of(token: SmartphoneToken, pin: str) -> x509.Certificate:
    """The phone's auth certificate (the SE asks for the PIN first)."""
    token.reader.connect()
    try:
        token.client.select_ap(JPKI_AID, force=True)
        token.client.verify("auth", pin)
        return token.client.read_certificate("auth")
    finally:
        token.reader.disconnect()
        token.client.forget_selection()
