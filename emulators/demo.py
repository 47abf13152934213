"""Demo residents (デモ住民) and the municipal counter that issues them a card.

Until the synthetic population and resident registry provide residents, ``twin card serve
--resident ID`` draws from a small built-in set: ``demo-1`` ... ``demo-8``, names and addresses
generated deterministically from the ID (fictional, as are their My Numbers, which carry a valid
check digit). All demo cards use the same published demo PINs: auth PIN ``1234``, sign password
``DEMO2026``, input-support PIN ``1234`` — test data, not secrets.

:func:`personalise` is the counter's work for any resident: two key pairs from a key source,
certificates from the JPKI CA services (``twin.services.jpki``), the input-support data and the
common-AP identification record, gathered into a :class:`Personalisation`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from emulators.layouts import BasicFourInfo, CardIdentity, my_number_check_digit
from emulators.personalisation import Personalisation

DEMO_AUTH_PIN, DEMO_SIGN_PASSWORD, DEMO_INPUT_SUPPORT_PIN = "1234", "DEMO2026", "1234"
DEMO_COUNT = 8

_FAMILY = ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤")
_GIVEN = {"1": ("太郎", "健一", "翔", "大輔", "蓮"), "2": ("花子", "陽子", "美咲", "結衣", "葵")}
_TOWNS = (  # (municipality code without check digit, address prefix)
    ("13101", "東京都千代田区霞が関"), ("27128", "大阪府大阪市中央区大手前"),
    ("01101", "北海道札幌市中央区北一条西"), ("40133", "福岡県福岡市中央区天神"),
)


@dataclass(frozen=True)
class Resident:
    """What the counter needs about a resident to issue a card."""

    resident_id: str
    my_number: str
    info: BasicFourInfo
    municipality_code: str


def demo_resident_ids() -> list[str]:
    return [f"demo-{i}" for i in range(1, DEMO_COUNT + 1)]


def demo_resident(resident_id: str) -> Resident:
    """One of the built-in demo residents; ValueError naming the allowed IDs otherwise."""
    if resident_id not in demo_resident_ids():
        raise ValueError(
            f"--resident: {resident_id!r} is not a demo resident; use one of "
            f"{', '.join(demo_resident_ids())}"
        )
    index = int(resident_id.split("-")[1])
    rng = np.random.default_rng([20260401, index])
    sex = "1" if index % 2 else "2"
    name = _FAMILY[int(rng.integers(len(_FAMILY)))] + "\u3000" + _GIVEN[sex][int(rng.integers(5))]
    code, town = _TOWNS[int(rng.integers(len(_TOWNS)))]
    chome, ban, go = (int(v) for v in rng.integers(1, 10, size=3))
    full_width = str.maketrans("0123456789", "０１２３４５６７８９")
    address = f"{town}{chome}丁目{ban}番{go}号".translate(full_width)
    born = dt.date(1950, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 55)))
    first11 = "".join(str(int(d)) for d in rng.integers(0, 10, size=11))
    if first11[0] == "0":
        first11 = "9" + first11[1:]
    return Resident(
        resident_id=resident_id,
        my_number=first11 + str(my_number_check_digit(first11)),
        info=BasicFourInfo(name, address, born, sex),
        municipality_code=code,
    )


def card_expiry(birth_date: dt.date, issued: dt.date) -> dt.date:
    """The card's expiry: the holder's 10th birthday after issue (5th for holders under 18)."""
    age = issued.year - birth_date.year - ((issued.month, issued.day) < (birth_date.month, birth_date.day))
    n = 10 if age >= 18 else 5
    passed = (birth_date.month, birth_date.day) <= (issued.month, issued.day)
    year = issued.year + n - 1 + (1 if passed else 0)
    try:
        return birth_date.replace(year=year)
    except ValueError:  # born on 29 February
        return dt.date(year, 3, 1)


def personalise(
    resident: Resident,
    jpki: Any,
    keys: Any,
    now: dt.datetime,
    *,
    card_serial: str | None = None,
    certificate_serials: tuple[int, int] | None = None,
    auth_pin: str = DEMO_AUTH_PIN,
    sign_password: str = DEMO_SIGN_PASSWORD,
    input_support_pin: str = DEMO_INPUT_SUPPORT_PIN,
    security_code: str = "0000",
) -> Personalisation:
    """Issue a card to ``resident``: keys from ``keys.generate()``, certificates from ``jpki``.

    ``jpki`` is a ``twin.services.jpki.Jpki`` (or anything with its ``auth_ca``, ``sign_ca``,
    ``issue_auth_certificate`` and ``issue_sign_certificate``). ``certificate_serials`` (auth, sign)
    fixes the certificates' serial numbers (the CA refuses one it already used); by default the CA's
    next serials.
    """
    from cryptography.hazmat.primitives.serialization import Encoding

    from twin.services.jpki import BasicInfo

    auth_key, sign_key = keys.generate(), keys.generate()
    info = resident.info
    code = int(resident.municipality_code)
    auth_serial, sign_serial = ({"serial": s} for s in certificate_serials) if certificate_serials else ({}, {})
    auth_cert = jpki.issue_auth_certificate(auth_key.public_key(), info.birth_date, now, code, **auth_serial)
    sign_cert = jpki.issue_sign_certificate(
        sign_key.public_key(),
        BasicInfo(name=info.name, address=info.address, birth_date=info.birth_date, sex=info.sex),
        now, code, **sign_serial,
    )
    if card_serial is None:  # stable per resident (never Python's salted hash())
        digest = hashlib.sha256(f"card-serial:{resident.resident_id}".encode()).digest()
        card_serial = f"{int.from_bytes(digest[:8], 'big') % 10**15:015d}"
    der = Encoding.DER
    return Personalisation(
        auth_key=auth_key,
        sign_key=sign_key,
        auth_certificate=auth_cert.public_bytes(der),
        sign_certificate=sign_cert.public_bytes(der),
        auth_ca_certificate=jpki.auth_ca.certificate.public_bytes(der),
        sign_ca_certificate=jpki.sign_ca.certificate.public_bytes(der),
        my_number=resident.my_number,
        basic_info=info,
        identity=CardIdentity(card_serial, resident.municipality_code, card_expiry(info.birth_date, now.date())),
        auth_pin=auth_pin,
        sign_password=sign_password,
        input_support_pin=input_support_pin,
        security_code=security_code,
    )
