"""My Number Points over HTTP (マイナポイント API, ``twin serve points``).

A resident reserves a MyKey ID with the card, applies once per phase choosing one registered cashless
service and the account held there; the operator reports top-ups and grants the points the ledger decides
(25 %, up to the cap); each month the operator claims what it granted and the state reimburses it. This
service puts :class:`twin.services.points.PointsLedger` behind FastAPI; the rules (phases, rates, caps,
dates, the once-per-person and once-per-key rules, the budget) stay in :mod:`twin.services.points`, the
API only translates:

- ``POST /reservations``: the MyKey ID of resident ``person`` (マイキーID設定), the same on every call; 404
  for a resident not in the served world. The card check is not served (the ledger's ``card_holder``
  needs the JPKI centre; ``twin serve portal`` has the card).
- ``POST /applications`` (``Idempotency-Key`` header): one application. 200 with the ledger's decision:
  ``ok`` or a ``reason`` (``already_applied``: a second application of a person for a phase, whatever
  the key; ``not_reserved``, ``unknown_operator``, ``not_open``, ``card_applied_too_late``,
  ``service_account_taken``, ``bad_input``). The same key with the same payload returns the first
  answer; with another payload a 422 naming the key.
- ``POST /top-ups``: the operator's report of one top-up or purchase (``operator_txn`` is its key): the
  points granted, or ``cap_reached`` / ``no_application`` / ``budget_exhausted``. A report sent again is
  answered as the first time and grants nothing more; the same ``operator_txn`` with another payload is a
  409.
- ``POST /claims`` (``Idempotency-Key``): the operator claims every unclaimed grant up to ``until``;
  ``POST /claims/{claim_id}/reimbursement``: the state pays a claim (paying it again changes nothing).
- ``GET /people/{mykey}``, ``GET /months/{phase}`` (reservations and applications per month, as the
  rollout model's sample is counted), ``GET /totals``, ``GET /invariants``, ``GET /health``.

The served world (:class:`PointsWorld`, ``--set people=N --set seed=S``): residents ``0..N-1``, the cashless
services of :data:`OPERATORS`, phase 1's budget of 2,478億円 (FIGURES.md) and, for phase 2, whose budget is
not among the sources, enough for every resident's 20,000 points. Phase 2's two 7,500-point parts are not
served (they need the account register and the insurance linking). Errors: the
:class:`real_backends.app.ErrorBody` shape, 422 naming the field and what is allowed; anything that looks
like a My Number is masked in every message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Annotated, ClassVar, Final, Literal

from fastapi import FastAPI, Header, Path
from fastapi.responses import JSONResponse
from pydantic import Field

from real_backends.app import ErrorBody, SizedWorld, StrictModel, error_response, mask_numbers, open_served, strict_app
from real_backends.payout_api import Whole
from twin.services.points import PHASE1_BUDGET_YEN, Claim, Decision, Phase, PointsLedger, Reason
from twin.services.store import Store

WORLD: Final = "points.api.world"
API_KEYS: Final = "points.api.keys"
#: the registered cashless services of the served world (a few of the more than 100 of phase 1, FIGURES.md)
OPERATORS: Final = {"paypay": "PayPay", "suica": "Suica", "waon": "WAON", "rakuten": "Rakuten Card",
                    "dbarai": "d払い"}  # fmt: skip
PHASE2_POINTS_PER_PERSON: Final = 20_000  # 5,000 + 7,500 + 7,500 (FIGURES.md)
MYKEY_PATTERN: Final = r"^[A-HJ-NP-Z2-9]{8}$"
ERRORS = {400: {"model": ErrorBody}, 413: {"model": ErrorBody}, 415: {"model": ErrorBody}, 422: {"model": ErrorBody}}
TXN_TAKEN = {**ERRORS, 409: {"model": ErrorBody, "description": "operator_txn was reported with another payload"}}
NOT_FOUND = {**ERRORS, 404: {"model": ErrorBody, "description": "the path or body names nobody or nothing served"}}


@dataclass(frozen=True)
class PointsWorld(SizedWorld):
    """The served residents (``0..people-1``) and the ledger's terms, from ``(people, seed)``."""

    SERVICE: ClassVar = "points"
    SIZES: ClassVar = (("people", 1, 130_000_000), ("seed", 0, 2**32 - 1))
    people: int = 1000
    seed: int = 0

    @property
    def budget(self) -> dict[Phase, int]:
        return {Phase.ONE: PHASE1_BUDGET_YEN, Phase.TWO: self.people * PHASE2_POINTS_PER_PERSON}

    @property
    def secret(self) -> bytes:
        """The MyKey IDs' key: from the seed, so that the same world gives the same IDs (reproducible runs)."""
        return hashlib.sha256(f"myna-twin points world {self.seed}".encode()).digest()

    def person(self, i: int) -> str:
        return f"resident-{i}"

    def ledger(self, store: Store) -> PointsLedger:
        """The ledger on ``store``, recording this world there (refusing a store built for another)."""
        with store.transaction() as tx:
            seen = tx.get(WORLD, "world")
            if seen is None:
                tx.put(WORLD, "world", (self.people, self.seed))
            elif tuple(seen) != (self.people, self.seed):  # type: ignore[arg-type]
                raise ValueError(f"points: this store holds a points ledger for people, seed = {tuple(seen)}, "  # type: ignore[arg-type]
                                 f"not {self.people}, {self.seed}")  # fmt: skip
        return PointsLedger(store, OPERATORS, self.budget, self.secret)


# -- messages -------------------------------------------------------------------------------------------------

Person = Whole(0, 2**31 - 1)
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


class ReservationIn(StrictModel):
    person: Person
    on: Day = Field(description="the day of the reservation")


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


class HealthOut(StrictModel):
    status: Literal["ok"]
    people: int
    operators: list[str]


IdemKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=200,
                                description="the same key with the same payload returns the first answer")]  # fmt: skip


def decision_out(d: Decision) -> DecisionOut:
    return DecisionOut(ok=d.ok, reason=None if d.reason is None else d.reason.value, message=mask_numbers(d.message),
                       points=d.points, grant=d.grant)  # fmt: skip


def claim_out(c: Claim) -> ClaimOut:
    return ClaimOut(id=c.id, operator=c.operator, grants=list(c.grants), points=c.points, until=c.until,
                    reimbursed_on=c.reimbursed_on)  # fmt: skip


def _key_reused(message: str) -> JSONResponse:
    return error_response(422, message, [{"loc": ["header", "Idempotency-Key"], "msg": message}])


# -- the app --------------------------------------------------------------------------------------------------


def create_app(store: Store, world: PointsWorld | None = None) -> FastAPI:
    """The points API on ``store`` for ``world`` (default: the world recorded in the store, else 1,000 people)."""
    if world is None:
        seen = store.get(WORLD, "world")
        world = PointsWorld(*seen) if seen is not None else PointsWorld()  # type: ignore[misc]
    ledger = world.ledger(store)
    app = strict_app("Myna Twin points API", "1.0", __doc__.split("\n\n")[0])  # type: ignore[union-attr]
    app.state.ledger, app.state.world, app.state.store = ledger, world, store
    guard = threading.RLock()  # handlers run in a thread pool; the ledger's steps are taken one at a time

    @app.get("/health", response_model=HealthOut)
    async def health() -> HealthOut:
        return HealthOut(status="ok", people=world.people, operators=sorted(OPERATORS))

    @app.post("/reservations", response_model=ReservationOut, responses=NOT_FOUND, tags=["reservation"])
    def reserve(body: ReservationIn) -> ReservationOut | JSONResponse:
        """マイキーID設定: the resident's MyKey ID, the same on every call (the first call's day is kept)."""
        if body.person >= world.people:
            return error_response(404, f"person {body.person}: no such resident (this world has residents 0.."
                                       f"{world.people - 1})")  # fmt: skip
        at = dt.datetime.combine(body.on, dt.time(12), dt.UTC)
        with guard:
            mykey = ledger.reserve(world.person(body.person), at=at)
        assert isinstance(mykey, str)  # no card check here: the ledger refuses nothing
        return ReservationOut(mykey=mykey, reserved_on=ledger.reserved_on(mykey))

    @app.post("/applications", response_model=DecisionOut, responses=ERRORS, tags=["application"])
    def apply(body: ApplicationIn, key: IdemKey) -> DecisionOut | JSONResponse:
        """Apply for a phase with one cashless service; once per person and phase (a second is refused)."""
        with guard:
            d = ledger.apply(body.mykey, Phase(body.phase), body.operator, body.service_account, body.card_applied_on,
                             body.on, key=key)  # fmt: skip
        return _key_reused(d.message) if d.reason is Reason.KEY_REUSED else decision_out(d)

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
    """The ``twin serve points`` factory: options ``people`` and ``seed`` (strings, from ``--set``)."""
    s, world = open_served(store, options, PointsWorld, WORLD)
    return create_app(s, world)
