"""A card holder and a phone for the smartphone-JPKI tests (tests/jpki, tests/services, benchmarks).

A card is personalised by the seeded centre for person ``p-1`` (every certificate names its holder, as
the municipal terminal's requests do); :func:`phone_for` runs the holder's issuance flow with the card's
two PINs. Phone keys come from their own pre-generated pool (:func:`phone_keys`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from _jpki_fixtures import SEED
from cryptography import x509

from emulators.card_os import MynaCardOS
from emulators.demo import DEMO_AUTH_PIN, DEMO_SIGN_PASSWORD, Resident, personalise
from emulators.layouts import BasicFourInfo, my_number_check_digit
from emulators.phone_se import issue_phone
from emulators.readers import InProcessReader
from twin.services.jpki import Jpki, KeySource, SmartphoneIssuer


def phone_key_source() -> KeySource:
    return KeySource(SEED + 1, pool_size=2)


@pytest.fixture(scope="session")
def phone_keys() -> KeySource:
    """The phones' key pool (pre-generated, as J-LIS's issuance must have at a campaign peak)."""
    return phone_key_source()


RESIDENT = Resident(
    "r-1",
    "12345678901" + str(my_number_check_digit("12345678901")),
    BasicFourInfo("番号\u3000太郎", "東京都千代田区霞が関１丁目", date(1980, 2, 17), "1"),
    "13101",
)


@dataclass
class _ForPerson:
    """The centre as the municipal terminal sees it: every certificate issued names the holder."""

    jpki: Jpki
    person_ref: str

    def __getattr__(self, name: str):
        return getattr(self.jpki, name)

    def issue_auth_certificate(self, *args, **kw):
        return self.jpki.issue_auth_certificate(*args, person_ref=self.person_ref, **kw)

    def issue_sign_certificate(self, *args, **kw):
        return self.jpki.issue_sign_certificate(*args, person_ref=self.person_ref, **kw)


def policies_of(cert: x509.Certificate) -> set:
    return {p.policy_identifier for p in cert.extensions.get_extension_for_class(x509.CertificatePolicies).value}


def card_of(jpki: Jpki, holder_keys: KeySource, now: datetime, person: str = "p-1") -> InProcessReader:
    return InProcessReader(MynaCardOS(personalise(RESIDENT, _ForPerson(jpki, person), holder_keys, now)))


def phone_for(jpki, holder_keys, phone_keys, now, platform="android", **kw):
    card = card_of(jpki, holder_keys, now)
    issued = issue_phone(card, DEMO_AUTH_PIN, DEMO_SIGN_PASSWORD, SmartphoneIssuer(jpki), platform, phone_keys,
                         now + timedelta(minutes=5), "DEVICE0001", **kw)  # fmt: skip
    return card, issued
