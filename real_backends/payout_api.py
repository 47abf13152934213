"""The payout office's HTTP service (特別定額給付金 API): applications, verification, transfer batches, bank answers.

In May 2020 the online channel of the special cash payment took applications from millions of
households through Myna Portal, and town halls retried, re-keyed and re-sent what they received.
This service puts :class:`twin.services.payout.PayoutLedger` behind FastAPI so that a client can
do the same over HTTP: every submission carries an ``Idempotency-Key`` header (or a ``key`` per
item in a batch of up to 500), the same key and payload get the first answer again, and the same
key with another payload gets a 422 naming the key. Transfer batches (振込データ) are keyed the
same way. The ledger's state lives in the store given to :func:`create_app` (SQLite, PostgreSQL or
memory), so any number of server processes on one database act as one ledger, and a killed server
loses nothing it answered.

The synthetic nation whose households are paid is built from ``(households, seed)``
(:class:`PayoutWorld`) and recorded in the store; a replica opening the same store rebuilds the
same roll, and a client can build the same world to know whom to apply for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from fastapi import FastAPI, Header, Path
from fastapi.responses import JSONResponse
from pydantic import BeforeValidator, Field

from real_backends.app import ErrorBody, SizedWorld, StrictModel, error_response, mask_numbers, open_served, strict_app
from twin.services.accounts import BankAccount
from twin.services.payout import (
    Application,
    BankConfirmation,
    BankOutcome,
    BankReason,
    Channel,
    Decision,
    EntitlementRoll,
    PayoutLedger,
    Programme,
    Reason,
)
from twin.services.registry import ResidentRegistry
from twin.services.store import MemoryStore, Store
from twin.sim.holidays import holidays_in_year

WORLD, API_KEYS = "api.world", "api.keys"
MAX_BATCH = 500
AS_OF = dt.date(2020, 1, 1)
NO_BATCH = "the path names no number, or no batch that was sent"
ERRORS = {400: {"model": ErrorBody}, 413: {"model": ErrorBody}, 415: {"model": ErrorBody}, 422: {"model": ErrorBody}}
ERRORS_404 = {**ERRORS, 404: {"model": ErrorBody, "description": "the path names no number"}}


def is_business_day(day: dt.date) -> bool:
    """Banks take transfer files on weekdays that are not public holidays (祝日) or 12-31..01-03."""
    if day.weekday() >= 5 or (day.month, day.day) in ((12, 31), (1, 1), (1, 2), (1, 3)):
        return False
    return day not in holidays_in_year(day.year)


@dataclass(frozen=True)
class PayoutWorld(SizedWorld):
    """A synthetic nation of ``households`` households (1-5 residents, the first the head), from ``seed``."""

    SERVICE: ClassVar = "payout"
    SIZES: ClassVar = (("households", 1, 20_000_000), ("seed", 0, 2**32 - 1))
    households: int = 1000
    seed: int = 0

    @cached_property
    def registry(self) -> ResidentRegistry:
        rng = np.random.default_rng(self.seed)
        size = rng.integers(1, 6, self.households)
        hh = np.repeat(np.arange(self.households), size)
        head = np.r_[True, hh[1:] != hh[:-1]]
        muni = rng.choice([13101, 13102, 27100, 1100], self.households)[hh]
        age = np.where(head, rng.integers(20, 90, len(hh)), rng.integers(0, 90, len(hh)))
        return ResidentRegistry.load(MemoryStore(), as_of=AS_OF, municipality=muni, age=age,
                                     sex=rng.integers(1, 3, len(hh)), household=hh, is_head=head,
                                     rng=np.random.default_rng(self.seed + 1))  # fmt: skip

    @cached_property
    def programme(self) -> Programme:
        return Programme(channels=frozenset({Channel.MAIL, Channel.ONLINE}))

    @cached_property
    def roll(self) -> EntitlementRoll:
        return EntitlementRoll.from_registry(self.registry, self.programme)

    def application_for(self, household: int, channel: Channel = Channel.ONLINE) -> Application:
        """A correct application for ``household`` by its head, paid to an account in the head's name."""
        head = self.roll.head_of(household)
        account = BankAccount("0001", "123", "普通", f"{head % 10**7:07d}", self.registry.reading(head) or "")
        return Application(household, head, channel, account, None, channel is Channel.ONLINE)

    def ledger(self, store: Store) -> PayoutLedger:
        """The ledger on ``store``, recording this world there (refusing a store built for another)."""
        with store.transaction() as tx:
            seen = tx.get(WORLD, "world")
            if seen is None:
                tx.put(WORLD, "world", (self.households, self.seed))
            elif tuple(seen) != (self.households, self.seed):  # type: ignore[arg-type]
                raise ValueError(f"this store holds a payout ledger for households, seed = {tuple(seen)}, "  # type: ignore[arg-type]
                                 f"not {self.households}, {self.seed}")  # fmt: skip
        return PayoutLedger(store, self.programme, self.roll)


# -- messages -----------------------------------------------------------------------------------

Str40 = Annotated[str, Field(max_length=40)]


def _whole(value: object) -> object:
    """JSON Schema's ``integer`` is any number without a fraction (``501.0`` included): take those as
    ints. Strings and booleans are still refused by the strict check that follows."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def Whole(lo: int, hi: int) -> Any:  # noqa: N802 -- a type, as used in annotations
    """A whole number in [lo, hi]: ``5`` and ``5.0`` are accepted, ``"5"``, ``true`` and ``5.5`` are not."""
    return Annotated[int, Field(ge=lo, le=hi, strict=True), BeforeValidator(_whole)]


Id = Whole(0, 2**31 - 1)
VerifyLimit, BatchLimit, Amount = Whole(1, MAX_BATCH), Whole(1, 100_000), Whole(0, 10**12)
#: a date the service can reason about (the holiday rules cover 2007-2099)
#: (JSON Schema has no minimum for dates: the pattern says the years, and validation the rest)
FIRST_DAY, LAST_DAY = dt.date(2007, 1, 1), dt.date(2099, 12, 31)
Day = Annotated[dt.date, Field(ge=FIRST_DAY, le=LAST_DAY, json_schema_extra={
    "pattern": r"^(200[7-9]|20[1-9][0-9])-[0-9]{2}-[0-9]{2}$",
    "description": f"a calendar date from {FIRST_DAY} to {LAST_DAY} (the holiday rules cover these years)"})]


class AccountIn(StrictModel):
    """The bank account as typed on the form (checked and normalised by the ledger)."""

    bank_code: Str40
    branch_code: Str40
    account_type: Str40 = Field(description="普通, 当座 or 貯蓄 (or the Zengin codes 1, 2, 4)")
    number: Str40
    holder: Annotated[str, Field(max_length=60, description="account holder's name reading, katakana")]


class ApplicationIn(StrictModel):
    household: Id
    applicant: Id
    channel: Literal["mail", "online"]
    account: AccountIn | None = Field(None, description="None: pay to the registered 公金受取口座")
    members: Annotated[list[Id], Field(max_length=50)] | None = None
    signature_verified: Annotated[bool, Field(strict=True)] = False
    on: Day = Field(description="the date the application is received")

    def to_application(self) -> Application:
        a = self.account
        account = None if a is None else BankAccount(a.bank_code, a.branch_code, a.account_type, a.number, a.holder)
        members = None if self.members is None else tuple(self.members)
        return Application(self.household, self.applicant, Channel(self.channel), account, members,
                           self.signature_verified)  # fmt: skip


class DecisionOut(StrictModel):
    outcome: Literal["accepted", "rejected", "returned", "verified", "opted_out"]
    household: int
    reason: str | None = None
    message: str = ""
    application: int | None = None
    detail: str = ""


def decision_out(d: Decision) -> DecisionOut:
    """The decision as sent (a message quoting a form field has anything like a My Number masked)."""
    return DecisionOut(outcome=d.outcome.value, household=d.household, reason=None if d.reason is None
                       else d.reason.value, message=mask_numbers(d.message), application=d.application,
                       detail=mask_numbers(d.detail))  # fmt: skip


class BatchItem(StrictModel):
    key: Annotated[str, Field(min_length=1, max_length=200)]
    application: ApplicationIn


class ApplicationBatchIn(StrictModel):
    items: Annotated[list[BatchItem], Field(min_length=1, max_length=MAX_BATCH)]


class DecisionsOut(StrictModel):
    decisions: list[DecisionOut]


class VerificationIn(StrictModel):
    on: Day
    limit: VerifyLimit = MAX_BATCH


class DisbursementIn(StrictModel):
    on: Day
    limit: BatchLimit = 10_000


class TransferOut(StrictModel):
    household: int
    amount: int


class DisbursementOut(StrictModel):
    batch: int | None = Field(description="None: no verified household was waiting")
    on: dt.date
    total: int = 0
    transfers: list[TransferOut] = []


class ConfirmationIn(StrictModel):
    household: Id
    outcome: Literal["confirmed", "rejected"]
    amount: Amount
    reason: Literal["", "account_closed", "no_such_account", "name_mismatch"] = ""


class BankFileIn(StrictModel):
    on: Day
    confirmations: Annotated[list[ConfirmationIn], Field(max_length=100_000)]


class ReconciliationOut(StrictModel):
    batch: int
    confirmed: int
    rejected: int
    duplicates: int
    conflicts: int
    amount_mismatches: int
    unexpected: int
    missing: list[int]
    confirmed_amount: int
    rejected_amount: int


class HouseholdOut(StrictModel):
    household: int
    entitled: bool
    status: str
    application: int
    batch: int
    reworks: int


class TotalsOut(StrictModel):
    households: int
    paid: int
    paid_amount: int
    queued: int
    in_flight: int
    disbursed_amount: int
    counts: dict[str, int]
    status: dict[str, int]


class InvariantsOut(StrictModel):
    ok: bool
    message: str = ""


class HealthOut(StrictModel):
    status: Literal["ok"]
    households: int


# -- the app ------------------------------------------------------------------------------------


def _fingerprint(payload: StrictModel) -> str:
    return hashlib.blake2b(json.dumps(payload.model_dump(mode="json"), sort_keys=True).encode(),
                           digest_size=16).hexdigest()  # fmt: skip


def _key_reused(d: Decision) -> JSONResponse:
    return error_response(422, d.message, [{"loc": ["header", "Idempotency-Key"], "msg": d.message}])


IdemKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=200,
                                description="the same key with the same payload returns the first answer")]  # fmt: skip


def create_app(store: Store, world: PayoutWorld | None = None) -> FastAPI:
    """The payout API on ``store`` for ``world`` (default: the world recorded in the store, else 1,000 households)."""
    if world is None:
        seen = store.get(WORLD, "world")
        world = PayoutWorld(*seen) if seen is not None else PayoutWorld()  # type: ignore[misc]
    ledger = world.ledger(store)
    app = strict_app("Myna Twin payout API", "1.0", __doc__.split("\n\n")[0])  # type: ignore[union-attr]
    app.state.ledger, app.state.world, app.state.store = ledger, world, store
    guard = threading.RLock()  # handlers run in a thread pool; the ledger's steps are taken one at a time

    @app.get("/health", response_model=HealthOut)
    async def health() -> HealthOut:  # on the event loop: answers while a batch holds the worker threads
        return HealthOut(status="ok", households=world.households)

    @app.post("/applications", response_model=DecisionOut, responses=ERRORS, tags=["applications"])
    def submit(body: ApplicationIn, key: IdemKey) -> DecisionOut | JSONResponse:
        """Receive one application; the decision says accepted or rejected (with a reason code)."""
        with guard:
            d = ledger.submit(body.to_application(), key, body.on)
        return _key_reused(d) if d.reason is Reason.KEY_REUSED else decision_out(d)

    @app.post("/applications/batch", response_model=DecisionsOut, responses=ERRORS, tags=["applications"])
    def submit_batch(body: ApplicationBatchIn) -> DecisionsOut:
        """Up to 500 applications, each under its own key, in one durable commit (a key reused with
        another payload is that item's ``rejected``/``key_reused`` decision)."""
        with guard, store.transaction():
            out = [decision_out(ledger.submit(i.application.to_application(), i.key, i.application.on))
                   for i in body.items]  # fmt: skip
        return DecisionsOut(decisions=out)

    @app.post("/verifications", response_model=DecisionsOut, responses=ERRORS, tags=["applications"])
    def verify(body: VerificationIn) -> DecisionsOut:
        """The town hall's check of the oldest waiting applications (at most ``limit``); safe to retry."""
        with guard, store.transaction():
            out = [decision_out(ledger.verify(a, body.on)) for a in ledger.pending_verification(body.limit)]
        return DecisionsOut(decisions=out)

    @app.post("/disbursements", response_model=DisbursementOut, responses=ERRORS, tags=["disbursement"])
    def disburse(body: DisbursementIn, key: IdemKey) -> DisbursementOut | JSONResponse:
        """Put verified households into one transfer batch (振込データ) under an idempotency key."""
        if not is_business_day(body.on):
            return error_response(422, f"on: {body.on} is not a business day; transfer batches go out on business "
                                       "days only", [{"loc": ["body", "on"], "msg": "not a business day"}])  # fmt: skip
        fp = _fingerprint(body)
        with guard, store.transaction() as tx:
            seen = tx.get(API_KEYS, ("disbursement", key))
            if seen is not None:
                first_fp, first = seen  # type: ignore[misc]
                if first_fp != fp:
                    msg = f"idempotency key {key!r} was already used for a different disbursement"
                    return error_response(422, msg, [{"loc": ["header", "Idempotency-Key"], "msg": msg}])
                return DisbursementOut.model_validate_json(first)
            batch = ledger.make_batch(body.on, True, body.limit)
            out = DisbursementOut(batch=None, on=body.on) if batch is None else DisbursementOut(
                batch=batch.id, on=batch.on, total=batch.total,
                transfers=[TransferOut(household=t.household, amount=t.amount) for t in batch.transfers])  # fmt: skip
            tx.put(API_KEYS, ("disbursement", key), (fp, out.model_dump_json()))
        return out

    # ``{batch:int}``: a path that names no batch number (``/disbursements/null/...``) is a 404, as for
    # any path that names no resource, not a 422 about a field
    @app.post("/disbursements/{batch:int}/bank-results", response_model=ReconciliationOut, tags=["disbursement"],
              responses={**ERRORS, 404: {"model": ErrorBody, "description": NO_BATCH}})  # fmt: skip
    def bank_results(
        batch: Annotated[int, Path(ge=0, le=2**31 - 1)], body: BankFileIn
    ) -> ReconciliationOut | JSONResponse:
        """The bank's answer file for a batch; repeated lines are recognised as duplicates (safe to retry)."""
        lines = [BankConfirmation(c.household, BankOutcome(c.outcome), c.amount, BankReason(c.reason))
                 for c in body.confirmations]  # fmt: skip
        with guard:
            if ledger.batch(batch) is None:  # a file for a batch never sent is the bank's or the caller's mistake
                return error_response(404, f"no disbursement batch {batch}: the bank can only answer a batch "
                                      "that POST /disbursements sent")  # fmt: skip
            r = ledger.record_bank_results(batch, lines, body.on)
        return ReconciliationOut(batch=r.batch, confirmed=len(r.confirmed), rejected=len(r.rejected),
                                 duplicates=len(r.duplicates), conflicts=len(r.conflicts),
                                 amount_mismatches=len(r.amount_mismatches), unexpected=len(r.unexpected),
                                 missing=list(r.missing), confirmed_amount=r.confirmed_amount,
                                 rejected_amount=r.rejected_amount)  # fmt: skip

    @app.get("/households/{household:int}", response_model=HouseholdOut, responses=ERRORS_404, tags=["reading"])
    def household(household: Annotated[int, Path(ge=0, le=2**31 - 1)]) -> HouseholdOut:
        f = ledger.file(household)
        return HouseholdOut(household=household, entitled=world.roll.entitled(household), status=f.status.value,
                            application=f.application, batch=f.batch, reworks=f.reworks)  # fmt: skip

    @app.get("/totals", response_model=TotalsOut, tags=["reading"])
    def totals() -> TotalsOut:
        t = ledger.totals()
        return TotalsOut(households=world.roll.households, paid=t.paid, paid_amount=t.paid_amount, queued=t.queued,
                         in_flight=t.in_flight, disbursed_amount=t.disbursed_amount, counts=ledger.counts(),
                         status={s.value: n for s, n in ledger.status_counts().items()})  # fmt: skip

    @app.get("/invariants", response_model=InvariantsOut, responses={409: {"model": InvariantsOut}}, tags=["reading"])
    def invariants(full: bool = False) -> InvariantsOut | JSONResponse:
        """Money conserved, nobody paid twice (``full=true`` re-adds every record)."""
        from twin.services.payout import InvariantViolation

        try:
            ledger.check_invariants(full)
        except InvariantViolation as e:
            return JSONResponse(InvariantsOut(ok=False, message=str(e)).model_dump(), status_code=409)
        return InvariantsOut(ok=True)

    return app


def serve_app(store: str, **options: str) -> FastAPI:
    """The ``twin serve payout`` factory: options ``households`` and ``seed`` (strings, from ``--set``)."""
    s, world = open_served(store, options, PayoutWorld, WORLD)
    return create_app(s, world)
