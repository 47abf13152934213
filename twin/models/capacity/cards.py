"""A few real My Number cards for the patients the agent fidelity follows through the real code.

Generating RSA keys is slow, so the counter issues a handful of cards from a pooled
:class:`twin.services.jpki.KeySource` and the sampled patients take turns with them, each card
personalised (emulators.demo.personalise) with certificates recorded against a person_ref, so the
eligibility service can find the person behind a certificate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from emulators.card_os import MynaCardOS
from emulators.demo import Resident, personalise
from emulators.personalisation import Personalisation
from emulators.readers import InProcessReader


class _Counter:
    """The JPKI centre as the card counter sees it, recording every certificate against one person."""

    def __init__(self, jpki: Any, person_ref: str) -> None:
        self.jpki = jpki
        self.person_ref = person_ref
        self.auth_ca = jpki.auth_ca
        self.sign_ca = jpki.sign_ca

    def issue_auth_certificate(self, *args: Any, **kwargs: Any) -> Any:
        return self.jpki.issue_auth_certificate(*args, person_ref=self.person_ref, **kwargs)

    def issue_sign_certificate(self, *args: Any, **kwargs: Any) -> Any:
        return self.jpki.issue_sign_certificate(*args, person_ref=self.person_ref, **kwargs)


@dataclass
class IssuedCard:
    person_ref: str
    perso: Personalisation

    def reader(self) -> InProcessReader:
        """A fresh in-process reader with the card on it (new card OS state, PIN tries as issued)."""
        return InProcessReader(MynaCardOS(self.perso))


def issue_card(jpki: Any, keys: Any, resident: Resident, person_ref: str, now: dt.datetime) -> IssuedCard:
    """Personalise a card for ``resident`` whose certificates name ``person_ref`` in the JPKI ledger."""
    return IssuedCard(person_ref, personalise(resident, _Counter(jpki, person_ref), keys, now))
