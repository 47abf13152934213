"""The applicants' My Number cards: emulated cards that sign online applications with real RSA.

An online applicant in 2020 put the card on a reader (or a phone), typed the signature password
and Myna Portal had the card sign the form with its signature key (署名用電子証明書). Here each
applicant whose application will be checked gets a card issued at the counter on first use
(:func:`emulators.demo.personalise`: keys from a pooled, seeded :class:`~twin.services.jpki.KeySource`,
certificates from a JPKI centre founded for the run), the card OS (:class:`emulators.card_os.MynaCardOS`)
verifies the password and signs the DigestInfo of :meth:`Application.signed_bytes` through the JPKI
client, exactly as a terminal does. Generating RSA keys is slow, so cards share a pool of key pairs
(see KeySource); certificates stay per card, and a signature only verifies against the certificate
of the key that made it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from emulators.card_os import MynaCardOS
from emulators.demo import DEMO_SIGN_PASSWORD, Resident, personalise
from emulators.jpki_client import JpkiClient
from emulators.layouts import BasicFourInfo
from emulators.personalisation import Personalisation
from emulators.readers import InProcessReader
from twin.services.jpki import Jpki, KeySource
from twin.services.payout import Application, OnlineSignature
from twin.services.registry import ResidentRegistry

#: seed of the run's JPKI centre and card keys (shared with the JPKI tests: derived once per machine).
#: Key material never changes an outcome -- only whether a signature verifies does.
JPKI_SEED = 20260401
CARD_KEY_POOL = 2
FOUNDED = dt.datetime(2016, 1, 4, tzinfo=dt.UTC)  # the JPKI centre of the My Number card, as of 2016
ISSUED = dt.datetime(2020, 2, 3, 0, 30, tzinfo=dt.UTC)  # cards of the run issued before the payout


class ApplicantCards:
    """Cards for the residents of one registry, issued on first use; ``sign`` is the portal's signing step."""

    def __init__(self, registry: ResidentRegistry, reference: dt.date) -> None:
        self.registry, self.reference = registry, reference
        self.jpki = Jpki.bootstrap(FOUNDED, KeySource(JPKI_SEED))
        self.keys = KeySource(JPKI_SEED, pool_size=CARD_KEY_POOL)
        self._cards: dict[int, Personalisation] = {}
        self.issued = 0

    @property
    def issuer(self):  # noqa: ANN201 - the x509 certificate of the signature CA (the ledger's trust anchor)
        return self.jpki.sign_ca.certificate

    def card(self, resident: int) -> Personalisation:
        perso = self._cards.get(resident)
        if perso is None:
            r = self.registry.resident(resident, self.reference)
            if r is None:
                raise ValueError(f"resident {resident}: not registered on {self.reference}; no card to issue")
            code = r.municipality // 10 if r.municipality >= 100_000 else r.municipality  # 5 digits, no check digit
            if not 1000 <= code <= 47999:  # a synthetic code outside JIS X 0402: the card names Chiyoda's
                code = 13101
            info = BasicFourInfo(r.name, f"市区町村コード{code:05d}の住所", r.birth_date, str(int(r.sex)))
            holder = Resident(f"r{resident}", r.my_number, info, f"{code:05d}")
            # issued before the payout, or for a child born since, the day after the birth (a certificate is
            # never issued before its holder's birth date; a child under 15 gets no signature certificate)
            after_birth = dt.datetime.combine(r.birth_date + dt.timedelta(days=1), ISSUED.timetz())
            perso = self._cards[resident] = personalise(holder, self.jpki, self.keys, max(ISSUED, after_birth))
            self.issued += 1
        return perso

    def sign(self, application: Application) -> Application:
        """The application with the applicant's card signature attached (password verified on the card)."""
        perso = self.card(application.applicant)
        with InProcessReader(MynaCardOS(perso)) as reader:
            client = JpkiClient(reader)
            client.verify("sign", DEMO_SIGN_PASSWORD)
            value = client.sign(application.signed_bytes(), "sign")
        return dataclasses.replace(application, signature=OnlineSignature(perso.sign_certificate, value))
