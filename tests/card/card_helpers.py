"""A stand-in JPKI issuer for card tests: two CA roots and RSA-2048 holder certificates made with
pyca/cryptography, enough to personalise a card (the CA's own rules are tested with the JPKI
services, not here)."""

from __future__ import annotations

import datetime as dt
import functools

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from emulators.layouts import BasicFourInfo, CardIdentity
from emulators.personalisation import Personalisation

NOW = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)
MY_NUMBER = "123456789018"  # valid check digit, not a real person's
AUTH_PIN, SIGN_PASSWORD, INPUT_SUPPORT_PIN = "2468", "ABC123", "1357"


@functools.cache
def key(index: int) -> rsa.RSAPrivateKey:
    """Keys are made once per test session (RSA-2048 generation is the slow part)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(*ou: str, cn: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI")]
    attrs += [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, o) for o in ou]
    if cn:
        attrs = [attrs[0], x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    return x509.Name(attrs)


def _cert(subject: x509.Name, issuer: x509.Name, public: rsa.RSAPublicKey, signer: rsa.RSAPrivateKey,
          serial: int, ca: bool) -> bytes:
    b = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(issuer).public_key(public).serial_number(serial)
        .not_valid_before(NOW - dt.timedelta(days=1)).not_valid_after(NOW + dt.timedelta(days=5 * 365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return b.sign(signer, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@functools.cache
def personalisation(card: int = 0) -> Personalisation:
    auth_ca_name = _name("JPKI for user authentication", "Japan Agency for Local Authority Information Systems")
    sign_ca_name = _name("JPKI for digital signature", "Japan Agency for Local Authority Information Systems")
    auth_ca_key, sign_ca_key = key(100), key(101)
    auth_key, sign_key = key(2 * card), key(2 * card + 1)
    return Personalisation(
        auth_key=auth_key,
        sign_key=sign_key,
        auth_certificate=_cert(_name(cn=f"840444E37PAFHN0822000{card}A"), auth_ca_name,
                               auth_key.public_key(), auth_ca_key, 1000 + card, False),
        sign_certificate=_cert(_name(cn=f"SIGN{card:04d}"), sign_ca_name, sign_key.public_key(),
                               sign_ca_key, 2000 + card, False),
        auth_ca_certificate=_cert(auth_ca_name, auth_ca_name, auth_ca_key.public_key(), auth_ca_key, 1, True),
        sign_ca_certificate=_cert(sign_ca_name, sign_ca_name, sign_ca_key.public_key(), sign_ca_key, 2, True),
        my_number=MY_NUMBER,
        basic_info=BasicFourInfo("番号\u3000花子", "東京都千代田区霞が関２丁目１番２号", dt.date(1990, 2, 17), "2"),
        identity=CardIdentity("123456789012345", "13101", dt.date(2031, 2, 17)),
        auth_pin=AUTH_PIN,
        sign_password=SIGN_PASSWORD,
        input_support_pin=INPUT_SUPPORT_PIN,
        security_code="2285",
    )
