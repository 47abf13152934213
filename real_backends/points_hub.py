"""My Number Points over Myna Portal's world (``twin serve points --set world=portal``): one world for the hub.

Picture a resident who, on an evening in July 2022, logs in to Myna Portal with her card, registers the account
public benefits are paid into (公金受取口座登録, signed with the card) and registers the card as her health-insurance
card (健康保険証利用登録); the next day she opens her cashless service's app and applies for phase 2's two 7,500-point
parts. The points service asks the public-benefit account register whether she had an account on the day, and the
insurers' qualification book whether she had registered the card by the day. In the standalone points world
(:class:`real_backends.points_api.PointsWorld`) its own residents registered on ASSUMED days; here the points
service serves the portal's world itself:

- the same people: the deployment's card holders (``holder-<i>``; ``person`` ``i`` in the points API), with their
  name readings as the portal knows them;
- the same JPKI centre: a MyKey ID is reserved, and a phase-2 part granted, only with the holder's own card valid
  on the day (a card reported lost is refused, 403, as in the standalone world with cards);
- the same store, and on it the portal's :class:`QualificationBook` and :class:`PublicBenefitAccounts`; nothing is
  registered on assumed days (unless an eligibility server of the same world also serves the store: the book is
  the one it answers from, and it registers its holders' cards on their assumed days when it first starts there,
  :func:`real_backends.eligibility_book.ensure_enrolled`). A registration is what the person did in the portal
  (``POST /portal/me/account``, ``POST /portal/me/insurance-card``), from its day; an account deleted there is not
  registered from the day the deletion takes effect, and the ledger's rule (an account registered *on the day* of
  the application for the part) then refuses the part ``not_eligible``. A grant once made stays made (the ledger
  grants each part once).

Both services are built from the same deployment spec over the same store, in one process (tests) or as two
servers on one SQLite file::

    twin serve portal --store sqlite:///hub.db --set holders=100 --set seed=7 --set epoch=2022-06-01
    twin serve points --store sqlite:///hub.db --set world=portal --set holders=100 --set seed=7 \\
        --set epoch=2022-06-01 --port 8001

The phase-2 parts were granted from 2022-06-30 to 2023-09-30 (:mod:`twin.services.points.rules`); the default
deployment's cards are issued on 2026-04-01, so a hub world that should grant them is set in 2022 with ``epoch``
(its cards issued then, its portal clock running from then: :func:`real_backends.world_time.world_clock`). The
points API's other rules, messages and errors are those of :mod:`real_backends.points_api`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any, Final

from real_backends.load.deployment import Deployment, DeploymentSpec, resident
from real_backends.points_api import OPERATORS, WORLD, create_app, served_budgets
from real_backends.portal_hub import build_portal
from twin.services.jpki import Jpki
from twin.services.points import Phase, PointsLedger, jpki_card_holder
from twin.services.portal import MynaPortal
from twin.services.store import Store

#: the key in the points world table under which a hub store records its deployment (a standalone points world
#: records "world"; each refuses the other's store)
HUB: Final = "hub"


@dataclass(frozen=True)
class HubPointsWorld:
    """The points world of a portal: its deployment's card holders, JPKI centre and registers (``portal``, built by
    :func:`real_backends.portal_hub.build_portal` on the store the ledger is given). Every holder holds a card."""

    deployment: Deployment
    portal: MynaPortal

    @property
    def people(self) -> int:
        return len(self.deployment.holders)

    @property
    def cards(self) -> int:
        return self.people

    @property
    def jpki(self) -> Jpki:
        return self.deployment.jpki

    @property
    def budget(self) -> dict[Phase, int]:
        return served_budgets(self.people)

    @property
    def secret(self) -> bytes:
        """The MyKey IDs' key: from the deployment's seed (the same deployment gives the same IDs)."""
        return hashlib.sha256(f"myna-twin points hub {self.deployment.spec.seed}".encode()).digest()

    def person(self, i: int) -> str:
        """The person reference of holder ``i``, as the portal and the JPKI centre know it."""
        return resident(self.deployment.spec.seed, i).resident_id

    def card_serial(self, i: int) -> int:
        """The serial of holder ``i``'s user-authentication certificate (what a terminal reads from the card)."""
        if not 0 <= i < self.people:
            raise ValueError(f"points: holder {i} is not served (holders 0..{self.people - 1} are)")
        return self.deployment.holders[i].auth_certificate.serial_number

    def ledger(self, store: Store) -> PointsLedger:
        """The ledger on ``store`` (the portal's), asking the portal's registers; records the deployment there and
        refuses a store that holds a standalone points world or another deployment's ledger."""
        if store is not self.portal.store:
            raise ValueError("points: the hub world's ledger must be on the portal's store (build_portal(deployment, "
                             "store) with the same store)")  # fmt: skip
        spec = dataclasses.astuple(self.deployment.spec)
        with store.transaction() as tx:
            if tx.get(WORLD, "world") is not None:
                raise ValueError("points: this store holds a standalone points world (twin serve points without "
                                 "--set world=portal), not the portal's")  # fmt: skip
            seen = tx.get(WORLD, HUB)
            if seen is None:
                tx.put(WORLD, HUB, spec)
            elif tuple(seen) != spec:  # type: ignore[arg-type]
                raise ValueError(f"points: this store holds a hub ledger for the deployment (seed, holders, "
                                 f"revoked_every, key_pool, base_url, epoch) = {tuple(seen)}, not {spec}")  # type: ignore[arg-type]  # fmt: skip
        accounts, book = self.portal.accounts, self.portal.qualifications
        assert book is not None  # build_portal always connects the book

        def account_registered(person: str, on: dt.date) -> bool:
            p = self.portal.people.person(person)
            return p is not None and accounts.account_on(p.resident, on) is not None

        return PointsLedger(store, OPERATORS, self.budget, self.secret, card_holder=jpki_card_holder(self.jpki),
                            insurance_linked=book.card_use_registered,
                            account_registered=account_registered)  # fmt: skip


def hub_world(deployment: Deployment, store: Store) -> HubPointsWorld:
    """The points world over the portal of ``deployment`` on ``store`` (seeding the portal's world there once, as
    ``twin serve portal`` does: whichever starts first seeds it)."""
    return HubPointsWorld(deployment, build_portal(deployment, store))


def serve_app(store_url: str, **options: str) -> Any:
    """The ``twin serve points --set world=portal`` factory: the other options are the portal's deployment spec
    (``holders``, ``seed``, ``revoked_every``, ``key_pool``, ``base_url``, ``epoch``)."""
    from real_backends.stores import open_store

    try:
        spec = DeploymentSpec.from_options(options)
    except ValueError as exc:
        raise ValueError(f"points --set world=portal: {exc}") from None
    store = open_store(store_url)
    deployment = Deployment.build(spec)
    return create_app(store, hub_world(deployment, store))
