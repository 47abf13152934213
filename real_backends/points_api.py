"""My Number Points over HTTP (マイナポイント API, ``twin serve points``).

A resident reserves a MyKey ID with the card, applies once per phase choosing one registered cashless
service and the account held there; the operator reports top-ups and grants the points the ledger decides
(25 %, up to the cap); each month the operator claims what it granted and the state reimburses it. This
service puts :class:`twin.services.points.PointsLedger` behind FastAPI; the rules (phases, rates, caps,
dates, the once-per-person and once-per-key rules, the budget) stay in :mod:`twin.services.points`, the
API only translates:

- ``POST /reservations``: the MyKey ID of resident ``person`` (マイキーID設定), the same on every call; 404
  for a resident not in the served world. In a world with cards (``--set cards=N``) the reservation needs the
  resident's card, as the post-office terminal does: ``card_serial``, the serial of its user-authentication
  certificate, which the world's JPKI centre must know as this resident's and find valid and not revoked on
  the day; otherwise a 403 that says which (no card, unknown, not yet valid, expired, revoked, another's) and
  reserves nothing. The API takes the serial the terminal read; that the holder has the card and its PIN
  is the terminal's check, not shown here (``twin serve portal`` shows the card's signature). A world
  without cards has no JPKI centre: there, as before, a reservation needs no card.
- ``POST /applications`` (``Idempotency-Key`` header): one application. 200 with the ledger's decision:
  ``ok`` or a ``reason`` (``already_applied``: a second application of a person for a phase, whatever
  the key; ``not_reserved``, ``unknown_operator``, ``not_open``, ``card_applied_too_late``,
  ``service_account_taken``, ``bad_input``). The same key with the same payload returns the first
  answer; with another payload a 422 naming the key.
- ``POST /top-ups``: the operator's report of one top-up or purchase (``operator_txn`` is its key): the
  points granted, or ``cap_reached`` / ``no_application`` / ``budget_exhausted``. A report sent again is
  answered as the first time and grants nothing more; the same ``operator_txn`` with another payload is a
  409.
- ``POST /phase2/insurance-linking`` and ``POST /phase2/account-registration`` (``Idempotency-Key``): phase 2's
  two 7,500-point parts, for the card used as the health-insurance card and for a registered public-benefit
  account, granted to the service of the person's phase-2 application. The ledger decides (200): ``ok``, or
  ``not_open`` (before 2022-06-30 or after the last day of grants), ``not_eligible`` (the person had not
  registered the card as the health-insurance card by the day, as the insurers' qualification book records it /
  no account registered on the day), ``already_granted`` (a
  second time, whatever the key), ``no_application``, ``not_reserved``, ``budget_exhausted``. With cards, the
  MyKey ID holder's own valid card, as for a reservation: otherwise a 403 saying why, nothing granted and the key
  left unused. The same key with the same payload returns the first answer; with another payload a 422.
- ``POST /claims`` (``Idempotency-Key``): the operator claims every unclaimed grant up to ``until``;
  ``POST /claims/{claim_id}/reimbursement``: the state pays a claim (paying it again changes nothing).
- ``POST /reconciliation``: the state's reconciliation (:func:`twin.services.points.reconcile`; the 2023 record:
  113 grants to the wrong person in 90 municipalities): the operators send their customer records (who holds each
  account) and grant reports (the points they credited per grant); the answer, to the yen: each phase's budget,
  granted and remaining, the claims and the reimbursement, and every wrong grant with its reason
  (``misdirected``: the account's holder is not the MyKey ID's owner, with the support desk that keyed the
  application in; ``undecided``: credited without or beyond the ledger's decision; ``missing``: decided, not
  credited), the misdirected grants per desk, and whether the invariants hold. It changes nothing; it names no
  person, MyKey ID or key; a customer record naming a resident not served is a 404, an account listed twice with
  different holders a 409. ``POST /applications`` takes the ``desk`` that keyed an application in.
- ``GET /people/{mykey}``, ``GET /months/{phase}`` (reservations and applications per month, as the
  rollout model's sample is counted), ``GET /totals``, ``GET /invariants``, ``GET /health``.

The served world (:class:`PointsWorld`, ``--set people=N --set seed=S --set cards=C``): residents ``0..N-1``
(the first ``C`` with a card), the cashless services of :data:`OPERATORS`, phase 1's budget of 2,478億円
(FIGURES.md) and, for phase 2, whose budget is not among the sources, enough for every resident's 20,000
points. The card holders' health insurance and accounts are in the insurers' qualification book
(:class:`twin.services.eligibility.qualifications.QualificationBook`) and the public-benefit account register
(:class:`twin.services.accounts.PublicBenefitAccounts`) on the same store, put there once when the world is first
served: every card holder is insured from 2015-04-01, the insurer has linked the qualification for all but every
4th (residents 3, 7, ...), every holder with a linked qualification registered the card as the insurance card
(健康保険証利用登録, :meth:`QualificationBook.register_card_use`) on a day from 2021-03-01 spread over 600 days
(:meth:`PointsWorld.card_use_registered_on`), and all but every 3rd (residents 2, 5, ...) registered an account on
a day from 2022-03-28 spread over 200 days (:meth:`PointsWorld.account_registered_on`). A world
without cards has nobody who registered either, so both parts are refused ``not_eligible`` there. This is the
standalone world: its residents are not Myna Portal's. ``twin serve points --set world=portal``
(:mod:`real_backends.points_hub`) serves the same API over the portal's world instead, where the registrations are
the ones people made in the portal (``POST /portal/me/account``, ``POST /portal/me/insurance-card``) and nothing
is registered on assumed days (but by an eligibility server of the same world on the store); each world refuses
the other's store. Errors: the
:class:`real_backends.app.ErrorBody` shape, 422 naming the field and what is allowed; anything that looks
like a My Number is masked in every message.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import threading
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, ClassVar, Final, Literal

from fastapi import FastAPI, Header, Path
from fastapi.responses import JSONResponse
from pydantic import Field

from real_backends.app import ErrorBody, SizedWorld, StrictModel, error_response, mask_numbers, open_served, strict_app
from real_backends.eligibility_book import card_use_spread
from real_backends.payout_api import Whole
from twin.services.accounts import AccountProblem, BankAccount, PublicBenefitAccounts
from twin.services.eligibility.qualifications import InsurerKind, PersonFacts, Qualification, QualificationBook
from twin.services.jpki import Jpki
from twin.services.points import (
    PHASE1_BUDGET_YEN,
    Claim,
    Decision,
    OperatorGrant,
    Part,
    Phase,
    PointsLedger,
    Reason,
    jpki_card_holder,
    reconcile,
)
from twin.services.points.cards import JPKI_FOUNDED, CardHolder, born_on, card_centre  # noqa: F401 (the founding)
from twin.services.store import Store

if TYPE_CHECKING:
    from real_backends.points_hub import HubPointsWorld

WORLD: Final = "points.api.world"
API_KEYS: Final = "points.api.keys"
#: the registered cashless services of the served world (a few of the more than 100 of phase 1, FIGURES.md)
OPERATORS: Final = {"paypay": "PayPay", "suica": "Suica", "waon": "WAON", "rakuten": "Rakuten Card",
                    "dbarai": "d払い"}  # fmt: skip
PHASE2_POINTS_PER_PERSON: Final = 20_000  # 5,000 + 7,500 + 7,500 (FIGURES.md)


def served_budgets(people: int) -> dict[Phase, int]:
    """A served world's budgets (yen): phase 1's of the sources, and for phase 2, whose budget is not among the
    sources, enough for every resident's 20,000 points (the standalone world and the portal's alike)."""
    return {Phase.ONE: PHASE1_BUDGET_YEN, Phase.TWO: people * PHASE2_POINTS_PER_PERSON}
#: the served world's cards (``--set cards=N``, from :func:`twin.services.points.cards.card_centre`, founded on
#: JPKI_FOUNDED): the day the cards were handed over and the day every LOST_EVERY-th was reported lost
#: (ASSUMED: any days before the reservations of 2020-07-01 would do)
CARDS_ISSUED: Final = dt.datetime(2020, 3, 2, 1, tzinfo=dt.UTC)
CARDS_LOST: Final = dt.datetime(2020, 5, 1, 1, tzinfo=dt.UTC)
LOST_EVERY: Final = 10
#: the card holders' health insurance (ASSUMED, a served world's choice): each is insured from INSURED_FROM with
#: one municipal national health insurer (国保, a 6-digit insurer number), which has linked the qualification to
#: the person (マイナンバーの紐付け) for all but every UNLINKED_EVERY-th (residents 3, 7, ...)
INSURER: Final = "138008"
INSURED_FROM: Final = dt.date(2015, 4, 1)
UNLINKED_EVERY: Final = 4
#: the card holders' public-benefit accounts: Myna Portal registration opened on 2022-03-28 (FIGURES.md); each
#: holder but every NO_ACCOUNT_EVERY-th (residents 2, 5, ...) registered one, on a day spread over ACCOUNT_DAYS
#: from then (ASSUMED), so that some registered before phase 2's account part opened on 2022-06-30 and some after
ACCOUNTS_OPEN: Final = dt.date(2022, 3, 28)
NO_ACCOUNT_EVERY: Final = 3
ACCOUNT_DAYS: Final = 200
_KANA: Final = "アイウエオカキクケコ"  # a digit of the resident number as a katakana syllable (name readings)
MYKEY_PATTERN: Final = r"^[A-HJ-NP-Z2-9]{8}$"
ERRORS = {400: {"model": ErrorBody}, 413: {"model": ErrorBody}, 415: {"model": ErrorBody}, 422: {"model": ErrorBody}}
TXN_TAKEN = {**ERRORS, 409: {"model": ErrorBody, "description": "operator_txn was reported with another payload"}}
NOT_FOUND = {**ERRORS, 404: {"model": ErrorBody, "description": "the path or body names nobody or nothing served"}}
CARD_REFUSED = {**NOT_FOUND, 403: {"model": ErrorBody, "description": (
    "the served world has cards and the card was not presented, or its user-authentication certificate is unknown, "
    "not yet valid, expired, revoked or another resident's: nothing is reserved")}}  # fmt: skip
RECONCILE_REFUSED = {**NOT_FOUND, 409: {"model": ErrorBody, "description": (
    "the customer records list one account twice with different holders")}}  # fmt: skip
LINKING_CARD_REFUSED = {**ERRORS, 403: {"model": ErrorBody, "description": (
    "the served world has cards and the card was not presented, or its user-authentication certificate is unknown, "
    "not yet valid, expired, revoked or not the MyKey ID holder's: nothing is granted, and the Idempotency-Key is "
    "left unused")}}  # fmt: skip


@dataclass(frozen=True)
class PointsWorld(SizedWorld):
    """The served residents (``0..people-1``), the ledger's terms and the residents' cards, from ``(people, seed,
    cards)``.

    ``cards`` (0: none) is how many residents, ``0..cards-1``, hold a My Number card: the world then has a JPKI
    centre (founded on :data:`JPKI_FOUNDED`, its keys from the seed) that issued each of them a user-authentication
    certificate on :data:`CARDS_ISSUED`, valid to the holder's 5th birthday after it (births drawn from the seed,
    so the certificates expire between 2024-03 and 2025-03), and every :data:`LOST_EVERY`-th card (residents 9,
    19, ...) was reported lost on :data:`CARDS_LOST`, its certificate revoked. A MyKey ID is then reserved only
    with the resident's own valid card. Both sides build the same centre from the same world: a client finds the
    serial of a card with :meth:`card_serial` (what the post-office terminal reads from the card). Building the
    centre takes about 1.5 ms a card when the server starts."""

    SERVICE: ClassVar = "points"
    SIZES: ClassVar = (("people", 1, 130_000_000), ("seed", 0, 2**32 - 1), ("cards", 0, 20_000))
    people: int = 1000
    seed: int = 0
    cards: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.cards > self.people:
            raise ValueError(f"points: cards: {self.cards} must be at most people ({self.people}): only residents "
                             "hold cards")  # fmt: skip

    @property
    def budget(self) -> dict[Phase, int]:
        return served_budgets(self.people)

    @property
    def secret(self) -> bytes:
        """The MyKey IDs' key: from the seed, so that the same world gives the same IDs (reproducible runs)."""
        return hashlib.sha256(f"myna-twin points world {self.seed}".encode()).digest()

    def person(self, i: int) -> str:
        return f"resident-{i}"

    def born(self, i: int) -> dt.date:
        """Resident ``i``'s birth date (1940-1999, from the seed)."""
        return born_on(i, self.seed)

    @cached_property
    def jpki(self) -> Jpki | None:
        """The JPKI centre with the residents' cards (None: a world without cards)."""
        if self.cards == 0:
            return None
        holders = (CardHolder(self.person(i), self.born(i), CARDS_ISSUED,
                              CARDS_LOST if i % LOST_EVERY == LOST_EVERY - 1 else None)
                   for i in range(self.cards))  # fmt: skip
        return card_centre(self.seed, holders)[0]

    def card_serial(self, i: int) -> int:
        """The serial of resident ``i``'s user-authentication certificate (``i < cards``)."""
        if not 0 <= i < self.cards:
            raise ValueError(f"points: resident {i} holds no card in this world (residents 0..{self.cards - 1} do)")
        return next(r.serial for r in self.jpki.store.of_person(self.person(i)))  # type: ignore[union-attr]

    def index(self, person: str) -> int | None:
        """The resident number of ``person`` (None: not one of this world's residents)."""
        head, _, number = person.partition("resident-")
        if head or not number.isdigit() or number != str(int(number)) or int(number) >= self.people:
            return None
        return int(number)

    def reading(self, i: int) -> str | None:
        """Resident ``i``'s name reading (katakana) on the register (None: no such resident)."""
        if not 0 <= i < self.people:
            return None
        return "ミナ" + "".join(_KANA[int(d)] for d in str(i))

    def insured(self, i: int) -> Qualification:
        """Card holder ``i``'s health-insurance qualification as the insurer filed it, linked to the resident
        unless ``i`` is every UNLINKED_EVERY-th."""
        linked = None if i % UNLINKED_EVERY == UNLINKED_EVERY - 1 else self.person(i)
        return Qualification(INSURER, f"P{i:07d}", "00", InsurerKind.NATIONAL,
                             PersonFacts(self.reading(i) or "", self.born(i), "1"), INSURED_FROM,
                             linked_person=linked)  # fmt: skip

    def card_use_registered_on(self, i: int) -> dt.date | None:
        """The day card holder ``i`` registered the card as the health-insurance card (None: never, or not a card
        holder; a holder whose qualification the insurer did not link cannot register)."""
        if not 0 <= i < self.cards or i % UNLINKED_EVERY == UNLINKED_EVERY - 1:
            return None
        # each holder whose qualification the insurer linked registered, on a day of the served worlds' spread
        # (ASSUMED), so that some registered after phase 2's insurance part opened on 2022-06-30
        return card_use_spread(i, self.seed)

    def account_registered_on(self, i: int) -> dt.date | None:
        """The day card holder ``i`` registered a public-benefit account (None: never, or not a card holder)."""
        if not 0 <= i < self.cards or i % NO_ACCOUNT_EVERY == NO_ACCOUNT_EVERY - 1:
            return None
        return ACCOUNTS_OPEN + dt.timedelta(days=(i * 37 + self.seed) % ACCOUNT_DAYS)

    def bank_account(self, i: int) -> BankAccount:
        """The account card holder ``i`` registered (a made-up bank; the holder name is the register's reading)."""
        return BankAccount("0005", f"{i % 1000:03d}", "普通", f"{i % 10**7:07d}", self.reading(i) or "")

    def _registers(self, store: Store) -> tuple[QualificationBook, PublicBenefitAccounts]:
        """The insurers' qualification book and the public-benefit account register on ``store``, with the card
        holders' qualifications, their registrations of the card as the insurance card and their accounts put there
        once (through the services' own checks)."""
        book = QualificationBook(store)
        accounts = PublicBenefitAccounts(store, self.reading)
        if self.cards and store.get(WORLD, "registers") is None:
            book.load_initial((self.insured(i) for i in range(self.cards)),
                              load_id=("points world", *dataclasses.astuple(self)))  # fmt: skip
            by_day: dict[dt.date, list[tuple[int, BankAccount]]] = {}
            for i in range(self.cards):
                on = self.account_registered_on(i)
                if on is not None:
                    by_day.setdefault(on, []).append((i, self.bank_account(i)))
            for on, entries in sorted(by_day.items()):
                refused = [r for r in accounts.register_many(entries, on) if isinstance(r, AccountProblem)]
                if refused:
                    raise ValueError(f"points: the account register refused a card holder's account: {refused[0]}")
            with store.transaction() as tx:
                tx.put(WORLD, "registers", True)
        if self.cards and store.get(WORLD, "card_use") is None:  # a store of before the registrations gets them
            with store.transaction() as tx:  # one commit on an SQL store (the book's transactions nest in it)
                for i in range(self.cards):
                    on = self.card_use_registered_on(i)
                    if on is not None:
                        book.register_card_use(self.person(i), on, key=f"points world card use {i}")
                tx.put(WORLD, "card_use", True)
        return book, accounts

    def ledger(self, store: Store) -> PointsLedger:
        """The ledger on ``store``, recording this world there (refusing a store built for another); with cards,
        it reserves a MyKey ID and grants a phase-2 linking part only with the resident's own valid card. The
        linking parts ask the insurers' qualification book (the person had registered the card as the
        health-insurance card by the day: :meth:`QualificationBook.card_use_registered`, the one place of that rule)
        and the public-benefit account register (an account registered on the day), both on ``store``."""
        sizes = dataclasses.astuple(self)
        with store.transaction() as tx:
            if tx.get(WORLD, "hub") is not None:  # real_backends.points_hub: registrations come from the portal there
                raise ValueError("points: this store holds the points ledger of a portal's world (twin serve points "
                                 "--set world=portal), not a standalone one")  # fmt: skip
            seen = tx.get(WORLD, "world")
            if seen is None:
                tx.put(WORLD, "world", sizes)
            elif PointsWorld(*seen) != self:  # type: ignore[misc]  # a store written before cards records 2 sizes
                raise ValueError(f"points: this store holds a points ledger for people, seed, cards = "
                                 f"{dataclasses.astuple(PointsWorld(*seen))}, not {sizes}")  # type: ignore[misc]  # fmt: skip
        book, accounts = self._registers(store)

        def account_registered(person: str, on: dt.date) -> bool:
            i = self.index(person)
            return i is not None and accounts.account_on(i, on) is not None

        holder = None if self.jpki is None else jpki_card_holder(self.jpki)
        return PointsLedger(store, OPERATORS, self.budget, self.secret, card_holder=holder,
                            insurance_linked=book.card_use_registered,
                            account_registered=account_registered)  # fmt: skip


# -- messages -------------------------------------------------------------------------------------------------

Person = Whole(0, 2**31 - 1)
#: the serial of a card's certificate as the API takes it: at most 11 digits (the world's centre numbers its
#: certificates from a few thousand up; a run of 12 digits would be masked in error messages as a possible My
#: Number, and a JSON number past 2**53 is not exact in every client)
CardSerial = Whole(1, 10**11 - 1)
Yen = Whole(1, 10**9)
ClaimId = Annotated[int, Path(ge=1, le=2**31 - 1)]
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2099, 12, 31)
Day = Annotated[dt.date, Field(ge=FIRST_DAY, le=LAST_DAY, json_schema_extra={
    "pattern": r"^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
    "description": f"a calendar date from {FIRST_DAY} to {LAST_DAY}"})]  # fmt: skip
MyKey = Annotated[str, Field(pattern=MYKEY_PATTERN, description="a MyKey ID: 8 characters, no I, O, 0 or 1")]
Operator = Literal["paypay", "suica", "waon", "rakuten", "dbarai"]  # OPERATORS' ids: the registered cashless services
Account = Annotated[str, Field(min_length=1, max_length=64, description="the account id at the cashless service")]
Txn = Annotated[str, Field(min_length=1, max_length=120, description="the operator's own id of the top-up")]
PhaseName = Literal["phase1", "phase2"]
Desk = Annotated[str, Field(pattern=r"^muni:[0-9]{6}$", description="a municipality's body id, e.g. muni:131016")]
GrantId = Whole(1, 2**31 - 1)
MAX_LINES: Final = 5_000  # customer records and grant-report lines per reconciliation request


class ReservationIn(StrictModel):
    person: Person
    on: Day = Field(description="the day of the reservation")
    card_serial: CardSerial | None = Field(  # type: ignore[valid-type]
        None, description="the serial of the resident's user-authentication certificate, as the terminal reads it "
                          "from the card: required where the served world has cards (GET /health: cards > 0); a "
                          "world without cards has no JPKI centre to ask, and does not look at it")  # fmt: skip


class ReservationOut(StrictModel):
    mykey: str
    reserved_on: dt.date | None = Field(description="the day of the person's first reservation")


class ApplicationIn(StrictModel):
    mykey: MyKey
    phase: PhaseName
    operator: Operator
    service_account: Account
    card_applied_on: Day = Field(description="the day the person applied for the card (phase 1: by 2021-04-30)")
    on: Day = Field(description="the day of the application")
    desk: Desk | None = Field(None, description="the municipal support desk (its body id, muni:<6-digit code>) "
                                                "that keyed the application in for the person, if one did")


class LinkingIn(StrictModel):
    mykey: MyKey
    on: Day = Field(description="the day of the application for the part (granted from 2022-06-30)")
    card_serial: CardSerial | None = Field(  # type: ignore[valid-type]
        None, description="the serial of the MyKey ID holder's user-authentication certificate, as read from the "
                          "card: required where the served world has cards (GET /health: cards > 0)")  # fmt: skip


class TopUpIn(StrictModel):
    operator: Operator
    operator_txn: Txn
    service_account: Account
    amount_yen: Yen
    on: Day


class DecisionOut(StrictModel):
    ok: bool
    reason: str | None = None
    message: str = ""
    points: int = 0
    grant: int | None = None


class ClaimIn(StrictModel):
    operator: Operator
    until: Day = Field(description="claim every unclaimed grant dated up to this day")


class ReimbursementIn(StrictModel):
    on: Day


class ClaimOut(StrictModel):
    id: int
    operator: str
    grants: list[int]
    points: int
    until: dt.date
    reimbursed_on: dt.date | None = None


class ClaimResultOut(StrictModel):
    claim: ClaimOut | None = Field(description="None: nothing was due")


class PhaseOut(StrictModel):
    operator: str | None = None
    applied_on: dt.date | None = None
    purchase: int = 0
    insurance_linking: int = 0
    account_registration: int = 0


class PersonOut(StrictModel):
    mykey: str
    reserved_on: dt.date | None
    phases: dict[str, PhaseOut]


class MonthOut(StrictModel):
    month: str
    reservations: int
    applications: int


class MonthsOut(StrictModel):
    phase: str
    months: list[MonthOut]


class TotalsOut(StrictModel):
    granted: int
    claimed: int
    reimbursed: int
    budget_yen: dict[str, int]


class InvariantsOut(StrictModel):
    ok: bool
    message: str = ""


class CustomerIn(StrictModel):
    """One line of an operator's customer records: who holds an account at the service (its own KYC)."""

    operator: Operator
    service_account: Account
    person: Person = Field(description="the resident the operator knows as the account's holder")


class GrantReportIn(StrictModel):
    """One line of an operator's grant report: the ledger's grant it acted on and the points it credited."""

    operator: Operator
    grant: GrantId  # type: ignore[valid-type]
    points: Yen  # type: ignore[valid-type]


class ReconciliationIn(StrictModel):
    customers: list[CustomerIn] = Field(max_length=MAX_LINES, description=(
        "the operators' customer records for the accounts the ledger granted to; an account not listed has no "
        "known holder, so its grants are reported as misdirected"))  # fmt: skip
    grant_reports: list[GrantReportIn] = Field(max_length=MAX_LINES, description=(
        "every point the operators say they credited, by the ledger's grant id; a grant not reported is missing"))


class FindingOut(StrictModel):
    kind: Literal["misdirected", "undecided", "missing"]
    reason: str = Field(description="what the mismatch means")
    operator: str
    grant: int | None = Field(description="the ledger's grant id (None: the operator named a grant the ledger has "
                                          "not made)")  # fmt: skip
    points: int = Field(description="the points (yen) in question")
    desk: str | None = Field(description="the support desk that keyed the application in, for a misdirected grant")


class PhaseMoneyOut(StrictModel):
    budget_yen: int
    granted_yen: int
    remaining_yen: int


class ReconciliationOut(StrictModel):
    """The reconciliation, to the yen (one point is one yen): the budget, the grants, the operators' claims and the
    state's reimbursement, and every grant found wrong with its reason."""

    phases: dict[str, PhaseMoneyOut]
    granted_yen: int
    claimed_yen: int
    reimbursed_yen: int
    unclaimed_yen: int = Field(description="granted, not yet claimed by the operators")
    awaiting_reimbursement_yen: int = Field(description="claimed, not yet paid by the state")
    claims: int
    claims_reimbursed: int
    grants_checked: int
    misdirected_grants: int = Field(description="grants to an account the MyKey ID's owner does not hold (2023: 113)")
    misdirected_yen: int
    desks_with_misdirected_grants: int = Field(description="support desks that keyed them in (2023: 90 "
                                                           "municipalities)")  # fmt: skip
    misdirected_by_desk: dict[str, int] = Field(description="misdirected grants per desk ('-': no desk)")
    undecided_yen: int
    missing_yen: int
    findings: list[FindingOut]
    invariants_ok: bool = Field(description="money conserved, no cap broken, nothing over budget")


class HealthOut(StrictModel):
    status: Literal["ok"]
    people: int
    cards: int = Field(description="residents 0..cards-1 hold a card; > 0: a reservation needs the card")
    operators: list[str]


IdemKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=200,
                                description="the same key with the same payload returns the first answer")]  # fmt: skip


def decision_out(d: Decision) -> DecisionOut:
    return DecisionOut(ok=d.ok, reason=None if d.reason is None else d.reason.value, message=mask_numbers(d.message),
                       points=d.points, grant=d.grant)  # fmt: skip


def claim_out(c: Claim) -> ClaimOut:
    return ClaimOut(id=c.id, operator=c.operator, grants=list(c.grants), points=c.points, until=c.until,
                    reimbursed_on=c.reimbursed_on)  # fmt: skip


def _card_refused(message: str) -> JSONResponse:
    return error_response(403, message, [{"loc": ["body", "card_serial"], "msg": message}])


def _key_reused(message: str) -> JSONResponse:
    return error_response(422, message, [{"loc": ["header", "Idempotency-Key"], "msg": message}])


# -- the app --------------------------------------------------------------------------------------------------


def create_app(store: Store, world: PointsWorld | HubPointsWorld | None = None) -> FastAPI:
    """The points API on ``store`` for ``world`` (default: the world recorded in the store, else 1,000 people; a
    :class:`real_backends.points_hub.HubPointsWorld` serves the portal's people, cards and registers)."""
    if world is None:
        seen = store.get(WORLD, "world")
        world = PointsWorld(*seen) if seen is not None else PointsWorld()  # type: ignore[misc]
    ledger = world.ledger(store)
    app = strict_app("Myna Twin points API", "1.0", __doc__.split("\n\n")[0])  # type: ignore[union-attr]
    app.state.ledger, app.state.world, app.state.store = ledger, world, store
    guard = threading.RLock()  # handlers run in a thread pool; the ledger's steps are taken one at a time

    @app.get("/health", response_model=HealthOut)
    async def health() -> HealthOut:
        return HealthOut(status="ok", people=world.people, cards=world.cards, operators=sorted(OPERATORS))

    @app.post("/reservations", response_model=ReservationOut, responses=CARD_REFUSED, tags=["reservation"])
    def reserve(body: ReservationIn) -> ReservationOut | JSONResponse:
        """マイキーID設定: the resident's MyKey ID, the same on every call (the first call's day is kept). Where the
        world has cards, only with the resident's own card, valid on the day (403 otherwise, saying why)."""
        if body.person >= world.people:
            return error_response(404, f"person {body.person}: no such resident (this world has residents 0.."
                                       f"{world.people - 1})")  # fmt: skip
        at = dt.datetime.combine(body.on, dt.time(12), dt.UTC)
        if world.jpki is not None and body.card_serial is None:
            return _card_refused("present the card: this world reserves a MyKey ID only with the resident's card "
                                 "(give card_serial)")  # fmt: skip
        with guard:
            mykey = ledger.reserve(world.person(body.person), body.card_serial, at)
        if isinstance(mykey, Decision):  # only the ledger's card check refuses
            assert world.jpki is not None and body.card_serial is not None
            why = world.jpki.auth_refusal(body.card_serial, at) or f"a valid card, but not resident {body.person}'s"
            return _card_refused(f"card_serial {body.card_serial}: {why}; no MyKey ID reserved")
        return ReservationOut(mykey=mykey, reserved_on=ledger.reserved_on(mykey))

    @app.post("/applications", response_model=DecisionOut, responses=ERRORS, tags=["application"])
    def apply(body: ApplicationIn, key: IdemKey) -> DecisionOut | JSONResponse:
        """Apply for a phase with one cashless service; once per person and phase (a second is refused)."""
        with guard:
            d = ledger.apply(body.mykey, Phase(body.phase), body.operator, body.service_account, body.card_applied_on,
                             body.on, key=key, desk=body.desk)  # fmt: skip
        return _key_reused(d.message) if d.reason is Reason.KEY_REUSED else decision_out(d)

    def linking(part: Part, body: LinkingIn, key: str) -> DecisionOut | JSONResponse:
        at = dt.datetime.combine(body.on, dt.time(12), dt.UTC)
        if world.jpki is not None and body.card_serial is None:
            return _card_refused(f"present the card: this world grants {part} points only to the MyKey ID holder "
                                 "with the card (give card_serial)")  # fmt: skip
        with guard:
            d = ledger.grant_linking(body.mykey, part, body.on, key, body.card_serial, at)
        if d.reason is Reason.NO_CARD:  # only the ledger's card check refuses so
            assert world.jpki is not None and body.card_serial is not None
            why = world.jpki.auth_refusal(body.card_serial, at) or "a valid card, but not the MyKey ID holder's"
            return _card_refused(f"card_serial {body.card_serial}: {why}; no points granted")
        return _key_reused(d.message) if d.reason is Reason.KEY_REUSED else decision_out(d)

    @app.post("/phase2/insurance-linking", response_model=DecisionOut, responses=LINKING_CARD_REFUSED,
              tags=["grants"])  # fmt: skip
    def insurance_linking(body: LinkingIn, key: IdemKey) -> DecisionOut | JSONResponse:
        """Phase 2's 7,500 points for using the card as the health-insurance card (健康保険証利用登録), once per
        person, to the service of the phase-2 application: from 2022-06-30, when the insurer has linked a
        qualification current on the day to the person (``not_eligible`` otherwise). Where the world has cards,
        only with the MyKey ID holder's own card, valid on the day (403 otherwise, saying why)."""
        return linking(Part.INSURANCE, body, key)

    @app.post("/phase2/account-registration", response_model=DecisionOut, responses=LINKING_CARD_REFUSED,
              tags=["grants"])  # fmt: skip
    def account_registration(body: LinkingIn, key: IdemKey) -> DecisionOut | JSONResponse:
        """Phase 2's 7,500 points for a registered public-benefit account (公金受取口座登録), once per person, to
        the service of the phase-2 application: from 2022-06-30, when the account register holds an account of
        the person on the day (``not_eligible`` otherwise). Where the world has cards, only with the MyKey ID
        holder's own card, valid on the day (403 otherwise, saying why)."""
        return linking(Part.ACCOUNT, body, key)

    @app.post("/top-ups", response_model=DecisionOut, responses=TXN_TAKEN, tags=["grants"])
    def top_up(body: TopUpIn) -> DecisionOut | JSONResponse:
        """The operator's report of a top-up or purchase: the points granted for it, within the cap."""
        with guard:
            d = ledger.top_up(body.operator, body.operator_txn, body.service_account, body.amount_yen, body.on)
        if d.reason is Reason.KEY_REUSED:  # the operator's own id names another top-up: a conflict, not a retry
            msg = mask_numbers(d.message)
            return error_response(409, msg, [{"loc": ["body", "operator_txn"], "msg": msg}])
        return decision_out(d)

    @app.post("/claims", response_model=ClaimResultOut, responses=ERRORS, tags=["settlement"])
    def claim(body: ClaimIn, key: IdemKey) -> ClaimResultOut | JSONResponse:
        """The operator claims reimbursement of its unclaimed grants up to ``until`` (None: nothing due)."""
        fp = hashlib.blake2b(json.dumps(body.model_dump(mode="json"), sort_keys=True).encode(),
                             digest_size=16).hexdigest()  # fmt: skip
        with guard, store.transaction() as tx:
            seen = tx.get(API_KEYS, ("claim", key))
            if seen is not None:
                first_fp, first = seen  # type: ignore[misc]
                if first_fp != fp:
                    return _key_reused(f"idempotency key {key[:40]!r} was already used for a different claim")
                return ClaimResultOut.model_validate_json(first)
            c = ledger.claim(body.operator, body.until)
            out = ClaimResultOut(claim=None if c is None else claim_out(c))
            tx.put(API_KEYS, ("claim", key), (fp, out.model_dump_json()))
        return out

    @app.post("/claims/{claim_id:int}/reimbursement", response_model=ClaimOut, responses=NOT_FOUND,
              tags=["settlement"])  # fmt: skip
    def reimburse(claim_id: ClaimId, body: ReimbursementIn) -> ClaimOut | JSONResponse:
        """The state pays a claim (a claim already paid is returned as it is: nothing is paid twice)."""
        with guard:
            try:
                c = ledger.reimburse(claim_id, body.on)
            except KeyError:
                return error_response(404, f"claim {claim_id}: not submitted (POST /claims makes claims)")
        return claim_out(c)

    @app.post("/reconciliation", response_model=ReconciliationOut, responses=RECONCILE_REFUSED, tags=["settlement"])
    def reconciliation(body: ReconciliationIn) -> ReconciliationOut | JSONResponse:
        """The state's reconciliation (:func:`twin.services.points.reconcile`), to the yen: the operators send their
        customer records and grant reports; every grant of the ledger is checked against them. Changes nothing.
        404 for a customer record naming a resident not in the served world, 409 for an account listed twice with
        different holders."""
        holders: dict[tuple[str, str], str] = {}
        for n, c in enumerate(body.customers):
            if c.person >= world.people:
                msg = f"customers[{n}].person: {c.person}: no such resident (this world has residents 0.." \
                      f"{world.people - 1})"
                return error_response(404, msg, [{"loc": ["body", "customers", n, "person"], "msg": msg}])
            who = world.person(c.person)
            if holders.setdefault((c.operator, c.service_account), who) != who:
                msg = (f"customers[{n}]: the {c.operator} account {c.service_account[:64]!r} is listed twice with "
                       "different holders; send one record per account")  # fmt: skip
                return error_response(409, msg, [{"loc": ["body", "customers", n], "msg": msg}])
        reports = [OperatorGrant(r.operator, r.grant, r.points) for r in body.grant_reports]
        with guard:
            report = reconcile(ledger, lambda op, acct: holders.get((op, acct)), reports)
            t, claims = ledger.totals(), ledger.claims()
            granted = {p: ledger.granted_in(p) for p in Phase}
            checked = t.next_grant - 1
            try:
                ledger.check_invariants()
                ok = True
            except AssertionError:
                ok = False
        wrong = report.misdirected()
        by_kind = {k: sum(f.points for f in report.findings if f.kind.value == k) for k in ("undecided", "missing")}
        return ReconciliationOut(
            phases={p.value: PhaseMoneyOut(budget_yen=world.budget[p], granted_yen=granted[p],
                                           remaining_yen=world.budget[p] - granted[p]) for p in Phase},
            granted_yen=t.granted, claimed_yen=t.claimed, reimbursed_yen=t.reimbursed,
            unclaimed_yen=t.granted - t.claimed, awaiting_reimbursement_yen=t.claimed - t.reimbursed,
            claims=len(claims), claims_reimbursed=sum(c.reimbursed_on is not None for c in claims),
            grants_checked=checked, misdirected_grants=len(wrong), misdirected_yen=sum(f.points for f in wrong),
            desks_with_misdirected_grants=len({f.desk for f in wrong if f.desk is not None}),
            misdirected_by_desk=report.by_desk(), undecided_yen=by_kind["undecided"], missing_yen=by_kind["missing"],
            findings=[FindingOut(kind=f.kind.value, reason=f.reason, operator=f.operator, grant=f.grant,
                                 points=f.points, desk=f.desk) for f in report.findings],
            invariants_ok=ok,
        )  # fmt: skip

    @app.get("/people/{mykey}", response_model=PersonOut, responses=NOT_FOUND, tags=["reading"])
    def person(mykey: Annotated[str, Path(pattern=MYKEY_PATTERN)]) -> PersonOut | JSONResponse:
        """A MyKey ID's applications and the points granted to it, by phase."""
        if ledger.owner(mykey) is None:
            return error_response(404, f"MyKey ID {mykey!r}: not reserved")
        phases = {}
        for ph in Phase:
            a, t = ledger.application(mykey, ph), ledger.totals_of(mykey, ph)
            phases[ph.value] = PhaseOut(operator=None if a is None else a.operator,
                                        applied_on=None if a is None else a.applied_on, purchase=t.purchase,
                                        insurance_linking=t.insurance_linking,
                                        account_registration=t.account_registration)  # fmt: skip
        return PersonOut(mykey=mykey, reserved_on=ledger.reserved_on(mykey), phases=phases)

    @app.get("/months/{phase}", response_model=MonthsOut, responses=ERRORS, tags=["reading"])
    def months(phase: PhaseName) -> MonthsOut:
        """Reservations and applications per month (YYYY-MM), as the ledger counts them."""
        counts = ledger.counts_by_month(Phase(phase))
        return MonthsOut(phase=phase, months=[MonthOut(month=m, reservations=r, applications=a)
                                              for m, (r, a) in counts.items()])  # fmt: skip

    @app.get("/totals", response_model=TotalsOut, tags=["reading"])
    def totals() -> TotalsOut:
        t = ledger.totals()
        return TotalsOut(granted=t.granted, claimed=t.claimed, reimbursed=t.reimbursed,
                         budget_yen={p.value: v for p, v in world.budget.items()})  # fmt: skip

    @app.get("/invariants", response_model=InvariantsOut, responses={409: {"model": InvariantsOut}}, tags=["reading"])
    def invariants() -> InvariantsOut | JSONResponse:
        """Money conserved, no cap broken, nothing over budget."""
        try:
            ledger.check_invariants()
        except AssertionError as e:
            return JSONResponse(InvariantsOut(ok=False, message=str(e)).model_dump(), status_code=409)
        return InvariantsOut(ok=True)

    return app


def serve_app(store: str, **options: str) -> FastAPI:
    """The ``twin serve points`` factory: options ``people``, ``seed`` and ``cards`` (strings, from ``--set``), the
    standalone world; or ``world=portal`` and the portal's deployment spec, the portal's world
    (:func:`real_backends.points_hub.serve_app`)."""
    if "world" in options:
        rest = {k: v for k, v in options.items() if k != "world"}
        if options["world"] != "portal":
            raise ValueError(f"points: --set world: {options['world'][:40]!r} is not allowed; use world=portal (the "
                             "world of twin serve portal on the same --store), or leave it out for the standalone "
                             "world")  # fmt: skip
        from real_backends import points_hub

        return points_hub.serve_app(store, **rest)  # type: ignore[no-any-return]
    s, world = open_served(store, options, PointsWorld, WORLD)
    return create_app(s, world)
