"""The cards a MyKey reservation is made with: a JPKI centre that issued each holder a user-authentication
certificate, as the served points world (``twin serve points --set cards=N``) and the rollout model's ledger
sample build it, so that both reserve through the ledger's one card check (:func:`.ledger.jpki_card_holder`).

Deterministic: the same ``seed`` and holders give the same centre, certificates and serials (the centre's and
the holders' keys come from :class:`twin.services.jpki.KeySource`, seeded; the holders share a pool of two key
pairs, so building costs about 1 ms a card, not an RSA key generation each).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from twin.services.jpki import Jpki, KeySource, RevocationReason

#: the centre's founding (ASSUMED: any day before the first card of the reservations of 2020 would do)
JPKI_FOUNDED = dt.datetime(2016, 1, 4, tzinfo=dt.UTC)
MUNICIPALITY = 13101  # the issuing town hall written in the certificates (Chiyoda; any valid code would do)


@dataclass(frozen=True, slots=True)
class CardHolder:
    """One card to issue: to ``person`` (born ``born``) at ``issued``, reported lost at ``lost`` if given."""

    person: str
    born: dt.date
    issued: dt.datetime
    lost: dt.datetime | None = None


def born_on(i: int, seed: int) -> dt.date:
    """A birth date for holder ``i`` (1940-1999, from the seed): the certificate then lasts to the 5th birthday
    after its issue."""
    return dt.date(1940, 1, 1) + dt.timedelta(days=(i * 7919 + seed) % (60 * 365))


def card_centre(seed: int, holders: Iterable[CardHolder]) -> tuple[Jpki, list[int]]:
    """The JPKI centre founded on :data:`JPKI_FOUNDED` with keys from ``seed``, having issued each holder, in the
    order given, one user-authentication certificate (revoked for loss when the holder's ``lost`` is set); and
    the serials, in the same order (what a terminal reads from each card)."""
    jpki = Jpki.bootstrap(JPKI_FOUNDED, KeySource(seed))
    keys = KeySource(seed + 1, pool_size=2)  # the key pairs repeat; certificates and serials do not
    serials = []
    for h in holders:
        cert = jpki.issue_auth_certificate(keys.generate().public_key(), h.born, h.issued, MUNICIPALITY,
                                           person_ref=h.person)  # fmt: skip
        if h.lost is not None:
            jpki.revoke(cert, RevocationReason.LOSS, h.lost)
        serials.append(cert.serial_number)
    return jpki, serials
