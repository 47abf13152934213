"""The information-provision network over HTTP (情報提供ネットワークシステム API, ``twin serve linkage``).

A town hall's intermediate server (中間サーバー) asks another body for a person's data through the
network: it names itself (the requester), the procedure, the provider and the data item, and the
person by the requester's own agency code (機関別符号), never by My Number. This service puts
:class:`twin.services.linkage.InformationNetwork` behind FastAPI; the rules (the lawful table, code
translation, refusals, outages, the exchange records) stay in :mod:`twin.services.linkage`, the API
only translates:

- ``POST /linkage/queries``: one query. 200: the answer from the provider's copy (副本) with the
  copy's date, refresh time and age when asked. A refusal is an :class:`RefusalBody` naming the
  ``reason``: 403 ``my_number_given`` (a 12-digit number where the code belongs; the number is never
  echoed nor logged), ``bad_code`` (not a code the issuer gave the requester), ``unknown_procedure``,
  ``not_in_table``, ``not_yet_in_force``; 404 ``unknown_body``; 503 ``unavailable`` (the network or an
  intermediate server is down, with ``Retry-After``).
- ``POST /linkage/codes``: code issuance (符号取得): a body's code for the person with a given
  resident-register code (住民票コード, 11 digits, as the body gets it from 住基ネット), never a My Number.
- ``GET /linkage/records/{portal_code}``: 情報提供等記録, every exchange about the person whom Myna
  Portal knows as ``portal_code`` (the code of body ``portal``): what the portal shows.
- ``GET /linkage/refusals``: refused queries as the auditors see them (no code, no number).
- ``GET /linkage/procedures``: the lawful table the network applies, with sources.
- ``GET /health``.

The served world (:class:`LinkageWorld`, ``--set people=N --set seed=S``) is built from its two numbers
and seeded into the store once: person ``i`` has resident-register code :func:`resident_code` ``(i)``,
lives in one of four municipalities (:data:`TOWNS`), which holds the income assessment and resident
record; people born before 1961 have a pension record at ``jps``, the others a health-insurance record at
``kyokai``; every third person a registered public-benefit account at ``digital``. The health-insurance record
is the person's qualification (:meth:`LinkageWorld.qualification`: the worlds' one rule,
:func:`twin.services.eligibility.worlds.world_qualification`, at the default epoch: insured number 70000 + i, from
2020-04-01, every 7th ended on 2025-03-31), loaded into the insurers' qualification book on the same store, and the
copy is built from the book's record as Myna Portal's is (:func:`twin.services.linkage.record_insurance`): insurer,
insured number, branch, kind, first and last day, never a My Number. A store seeded before that (its copies a
tuple, no book) is refused, saying so. Copies were refreshed at :data:`REFRESHED`; after that each body's intermediate
server registers its business system's changes at the first nightly refresh after them (02:00 JST, assumed:
:func:`twin.services.linkage.nightly_refresh`; a night with nothing recorded registers nothing), run by the first
query to the body dated at or after it. The insurer ending a qualification (:meth:`LinkageWorld.end_qualification`, in
process: no route ends one) ends it in the book at once; until that night's refresh the answer is the old copy with its
age, from then the end. The copies are one state: a query dated before a refresh that already ran is answered from
the refreshed copy. The issuer's secret is drawn
once and kept in the store (so the codes of a SQLite store stay valid across restarts and workers). Errors: the
:class:`real_backends.app.ErrorBody` shape (``{"error", "detail": [{"loc", "msg"}]}``), 422 naming the field and
what is allowed; anything that looks like a My Number is masked in every error body.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import fcntl
import json
import os
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, ClassVar, Final, Literal

import anyio.to_thread
import numpy as np
from fastapi import FastAPI, Path, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, Field, ValidationError

from real_backends.app import (
    ErrorBody,
    ExchangeRecordOut,
    SizedWorld,
    StrictModel,
    jsonable,
    mask_numbers,
    open_served,
    strict_app,
)
from real_backends.payout_api import Whole
from twin.services.eligibility import EligibilityError, PersonFacts, Qualification, QualificationBook, worlds
from twin.services.eligibility.qualifications import LOADS
from twin.services.linkage import (
    AgencyCode,
    AnswerMessage,
    CodeError,
    CodeIssuer,
    InformationNetwork,
    Item,
    Refusal,
    Refused,
    TableResidentCodes,
    TaxAssessment,
    directory,
    end_insurance,
    nightly_refresh,
    record_insurance,
)
from twin.services.linkage.network import PORTAL
from twin.services.registry import generate_my_numbers
from twin.services.store import Store

WORLD: Final = "linkage.api"
TOWNS: Final = ("muni:131016", "muni:271004", "muni:011002", "muni:401307")  # Chiyoda, Osaka, Sapporo, Fukuoka
REFRESHED: Final = dt.datetime(2025, 6, 20, 2, 0, tzinfo=dt.UTC)  # the seeded copies' last refresh
STATUS: Final = {
    Refused.MY_NUMBER: 403, Refused.BAD_CODE: 403, Refused.UNKNOWN_PROCEDURE: 403, Refused.NOT_IN_TABLE: 403,
    Refused.NOT_YET: 403, Refused.UNKNOWN_BODY: 404, Refused.UNAVAILABLE: 503,
}  # fmt: skip


def resident_code(person: int) -> int:
    """The seeded world's resident-register code (住民票コード, 11 digits) of person ``person``."""
    return 10**10 + 7919 * (person + 1)


@dataclass(frozen=True)
class LinkageWorld(SizedWorld):
    """``people`` residents with records at their town, the pension service or insurer, the account register."""

    SERVICE: ClassVar = "linkage"
    SIZES: ClassVar = (("people", 1, 1_000_000), ("seed", 0, 2**32 - 1))
    people: int = 200
    seed: int = 0

    @cached_property
    def my_numbers(self) -> list[str]:
        """The people's My Numbers: known inside the bodies only, never sent or answered by the API."""
        return [f"{n:012d}" for n in generate_my_numbers(np.random.default_rng(self.seed), self.people)]

    def town(self, person: int) -> str:
        return TOWNS[person % len(TOWNS)]

    def born(self, person: int) -> int:
        return 1940 + (person * 7 + self.seed) % 66

    def person_ref(self, person: int) -> str:
        """The person as the insurers' qualification book links her (never her My Number)."""
        return f"resident-{person}"

    def qualification(self, person: int) -> Qualification | None:
        """Her health insurance, if she is insured in this world (born from 1961: the older draw the pension here):
        with 協会けんぽ by the worlds' one rule at the default epoch (:func:`worlds.world_qualification`: insured
        number 70000 + person, from 2020-04-01, every 7th ended on 2025-03-31). The insurer's record of her (a name
        label: the world has no names, a birth date in her year, a sex) is what its check would compare."""
        born = self.born(person)
        if born < 1961:
            return None
        facts = PersonFacts(f"住民\u3000{person}", dt.date(born, 1 + person % 12, 1 + person % 28), "12"[person % 2])
        return worlds.world_qualification(person, facts, self.person_ref(person))

    @property
    def book_load(self) -> tuple[str, int, int]:
        """The mark of this world's load of the qualification book on its store."""
        return ("linkage world", self.people, self.seed)

    def network(self, store: Store) -> InformationNetwork:
        """The network on ``store`` for this world, seeded on first use (refusing a store seeded for another, or one
        seeded before the health insurer's copies were the qualifications of the book on the store)."""
        with store.transaction() as tx:
            seen = tx.get(WORLD, "world")
            if seen is None:
                tx.put(WORLD, "world", (self.people, self.seed))
                tx.put(WORLD, "secret", os.urandom(32))
            elif tuple(seen) != (self.people, self.seed):  # type: ignore[arg-type]
                raise ValueError(f"this store holds a linkage world for people, seed = {tuple(seen)}, "  # type: ignore[arg-type]
                                 f"not {self.people}, {self.seed}")  # fmt: skip
            secret = tx.get(WORLD, "secret")
        d = directory()
        codes = TableResidentCodes({n: resident_code(i) for i, n in enumerate(self.my_numbers)})
        net = InformationNetwork(store, d, CodeIssuer(secret, d.number), codes,  # type: ignore[arg-type]
                                 refresh_schedule=nightly_refresh)  # fmt: skip
        if store.get(WORLD, "seeded") is None:
            book = QualificationBook(store)  # the insurers' file first (a no-op if another worker loaded it)
            book.load_initial((q for i in range(self.people) if (q := self.qualification(i)) is not None),
                              load_id=self.book_load)  # fmt: skip
            with store.transaction() as tx:
                self._seed(net, book)
                tx.put(WORLD, "seeded", True)
        elif store.get(LOADS, "initial") != self.book_load:
            raise ValueError("this store holds a linkage world seeded by an earlier version, whose health insurer's "
                             "copies are not the people's qualifications (no qualification book on the store); use a "
                             "fresh database")  # fmt: skip
        return net

    def end_qualification(self, network: InformationNetwork, person: int, last_day: dt.date,
                          at: dt.datetime) -> Qualification:  # fmt: skip
        """The insurer's side, in process (an operator's, a test's; no route ends a qualification): 協会けんぽ ends
        ``person``'s qualification on ``last_day`` at ``at`` (:func:`twin.services.linkage.end_insurance`) in the book
        on the network's store, and its copy follows at the first nightly refresh after ``at`` (02:00 JST), asked by
        whichever worker answers the next query to ``kyokai``. :class:`EligibilityError` ``unknown_insured`` for a
        person this world does not insure, ``bad_period`` for a day before her first."""
        q = self.qualification(person) if 0 <= person < self.people else None
        if q is None:
            raise EligibilityError("unknown_insured", f"person {person}: not insured with an insurer in this world")
        return end_insurance(network, QualificationBook(network.store), self.my_numbers[person], q.key, last_day, at)

    def _seed(self, net: InformationNetwork, book: QualificationBook) -> None:
        jps, digital = net.agency("jps"), net.agency("digital")
        for i, n in enumerate(self.my_numbers):
            town = net.agency(self.town(i))
            town.record(n, Item.LOCAL_TAX_INCOME, TaxAssessment(2025, 1_500_000 + 10_000 * (i % 400), i % 5 != 0),
                        dt.date(2025, 4, 1))  # fmt: skip
            role = "世帯主" if i % 2 == 0 else "世帯員"
            town.record(n, Item.RESIDENT_RECORD, (self.town(i), role), dt.date(2025, 1, 1))
            if self.born(i) < 1961:
                jps.record(n, Item.PENSION, ("老齢基礎年金", 780_000), dt.date(2025, 4, 1))
            else:  # the insurer's copy is her qualification as the book holds it, as in the portal's world
                record_insurance(net, n, book.linked_to(self.person_ref(i)))
            if i % 3 == 0:
                digital.publish(n, Item.BENEFIT_ACCOUNT, ("0001", "123", "普通", f"{i % 10**7:07d}"),
                                dt.date(2024, 10, 1), REFRESHED)  # fmt: skip
        for body in (*TOWNS, "jps", "kyokai"):
            net.agency(body).refresh(REFRESHED)


# -- messages -----------------------------------------------------------------------------------

Body = Annotated[str, Field(min_length=1, max_length=40, examples=["muni:131016", "jps"],
                            description="body id, e.g. muni:131016, jps, kyokai, digital, portal")]


class QueryIn(StrictModel):
    requester: Body
    code: str = Field(min_length=1, max_length=64, description="the requester's agency code for the person "
                      "(32 hex digits from POST /linkage/codes); a My Number here is refused")  # fmt: skip
    procedure: str = Field(min_length=1, max_length=60, examples=["child_allowance", "pension"],
                           description="the procedure (事務), e.g. child_allowance (GET /linkage/procedures)")
    provider: Body
    item: Item = Field(description="the data item asked for")
    at: AwareDatetime = Field(description="when the query is made (with a timezone)")


class AnswerOut(StrictModel):
    exchange: int = Field(description="the exchange's number in the records")
    requester: str
    code: str = Field(description="the requester's code, as sent")
    procedure: str
    provider: str
    item: str
    found: bool = Field(description="false: the provider holds no copy of this item for the person")
    value: Any = Field(default=None, description="the copy's value, as JSON")
    as_of: dt.date | None = Field(default=None, description="the date the data refers to")
    refreshed_at: dt.datetime | None = Field(default=None, description="when the copy was last refreshed")
    age_seconds: float | None = Field(default=None, description="the copy's age when asked (at - refreshed_at)")


class RefusalBody(ErrorBody):
    """A query the network refused: ``reason`` and one sentence, never the code or number sent."""

    reason: Refused


class CodeIn(StrictModel):
    body: Body
    resident_code: Whole(0, 10**11 - 1) = Field(description="住民票コード (resident-register code, at most 11 "  # type: ignore[valid-type]
                                                "digits; 5 and 5.0 are taken, \"5\" is not)")


class CodeOut(StrictModel):
    body: str
    code: str = Field(description="the body's agency code for the person (32 hex digits)")


class RefusalOut(StrictModel):
    id: int
    at: dt.datetime
    requester: str
    procedure: str
    provider: str
    item: str
    reason: Refused


class RuleOut(StrictModel):
    procedure: str
    title: str
    requester: str = Field(description="kind of requesting body")
    provider: str = Field(description="kind of providing body")
    items: list[str]
    valid_from: dt.date
    source: str


class HealthOut(StrictModel):
    status: Literal["ok"]
    people: int
    exchanges: int


QUERY_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    400: {"model": ErrorBody}, 413: {"model": ErrorBody}, 415: {"model": ErrorBody}, 422: {"model": ErrorBody},
    403: {"model": RefusalBody, "description": "refused: my_number_given, bad_code, unknown_procedure, "
                                               "not_in_table or not_yet_in_force"},
    404: {"model": RefusalBody, "description": "refused: unknown_body"},
    503: {"model": RefusalBody, "description": "refused: unavailable (the network or an intermediate server is "
                                               "down); retry later"},
}  # fmt: skip
CODE_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    **{c: {"model": ErrorBody} for c in (400, 413, 415, 422)},
    404: {"model": ErrorBody, "description": "no such body"},
}
RECORD_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    422: {"model": ErrorBody}, 404: {"model": ErrorBody, "description": "not a code the portal was given"},
}


def answer_json(a: AnswerMessage) -> dict[str, Any]:
    """An answer as :class:`AnswerOut`'s JSON (built here once, for the documented route and the fast path)."""
    return {
        "exchange": a.exchange, "requester": a.requester, "code": a.code, "procedure": a.procedure,
        "provider": a.provider, "item": a.item, "found": a.found, "value": jsonable(a.value),
        "as_of": None if a.as_of is None else a.as_of.isoformat(),
        "refreshed_at": None if a.refreshed_at is None else a.refreshed_at.isoformat(),
        "age_seconds": None if a.age is None else a.age.total_seconds(),
    }  # fmt: skip


def refusal_response(r: Refusal) -> JSONResponse:
    status = STATUS[r.reason]
    loc = {Refused.MY_NUMBER: "code", Refused.BAD_CODE: "code", Refused.UNKNOWN_PROCEDURE: "procedure",
           Refused.NOT_IN_TABLE: "procedure", Refused.NOT_YET: "at"}.get(r.reason)  # fmt: skip
    detail = [{"loc": ["body", loc], "msg": mask_numbers(r.message)}] if loc else []
    headers = {"Retry-After": "60"} if status == 503 else None
    error = mask_numbers(f"refused ({r.reason.value}): {r.message}")
    body = {"error": error, "detail": detail, "reason": r.reason.value}
    return JSONResponse(body, status_code=status, headers=headers)


# -- the app ------------------------------------------------------------------------------------


class GroupCommit:
    """Queries that arrive together share one durable commit (group commit), each answered only after it.

    Every exchange writes its record; on SQLite with ``synchronous=FULL`` a commit per query would cost a
    disk flush per query. Handlers (on the event loop) put their query in the queue and wait; one task at
    a time takes every query queued at that moment and runs them, one after the other through
    :meth:`InformationNetwork.query`, inside one store transaction (the store nests theirs in it) in a
    worker thread, so the event loop keeps reading requests meanwhile. Should one of them raise, the whole
    group is rolled back and every query of it answers 500 (nothing of it was recorded). With
    ``writer_lock`` (the processes of ``twin serve --workers N`` on one SQLite file) a group first takes
    an exclusive ``flock`` on that file: a worker whose commit waits for another's is woken when it
    ends, where SQLite's busy handler would sleep in steps of up to 100 ms."""

    def __init__(self, network: InformationNetwork, writer_lock: str | None = None) -> None:
        self._network = network
        self._writer_lock = writer_lock
        self._pending: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self._running = False

    def _run(self, group: list[tuple[Any, ...]]) -> list[Any]:
        lock = None
        try:
            if self._writer_lock is not None:  # wait for the other workers' commits in the kernel, not in
                lock = open(self._writer_lock, "a+b")  # noqa: SIM115 -- SQLite's sleeping busy handler
                fcntl.flock(lock, fcntl.LOCK_EX)
            with self._network.store.transaction():
                return [self._network.query(*a) for a in group]
        except Exception as exc:  # the group is rolled back: none of it holds
            return [exc] * len(group)
        finally:
            if lock is not None:
                lock.close()  # releases the flock

    async def _drain(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending, []
                results = await anyio.to_thread.run_sync(self._run, [a for a, _ in group])
                for (_, fut), r in zip(group, results, strict=True):
                    if not fut.done():
                        fut.set_exception(r) if isinstance(r, Exception) else fut.set_result(r)
        finally:
            self._running = False

    async def query(self, *args: Any) -> Any:
        fut = asyncio.get_running_loop().create_future()
        self._pending.append((args, fut))
        if not self._running:
            self._running = True
            self._task = asyncio.create_task(self._drain())  # kept referenced while it runs
        return await fut


class FastQueries:
    """``POST /linkage/queries`` answered in front of FastAPI when the query is well formed; all else goes on.

    At a few thousand queries a second the framework (middleware, routing, validation of request and
    answer) costs several times the exchange itself. A query with a JSON content type and a declared
    length within the limit is read, parsed and validated here with the route's own model
    (:class:`QueryIn`, as FastAPI would: ``json.loads`` then validation) and sent to the same
    :class:`GroupCommit`; the answer or refusal is the same JSON as the route's. Anything else (another
    path, a missing or wrong content type, a body too large, invalid JSON or fields) is passed to the
    FastAPI app with the body it was sent, so every error keeps the documented shape."""

    PATH: Final = "/linkage/queries"

    def __init__(self, app: FastAPI, commits: GroupCommit, max_body: int = 1_000_000) -> None:
        self.app, self.commits, self.max_body = app, commits, max_body

    def __getattr__(self, name: str) -> Any:  # the FastAPI app's attributes (openapi(), state, routes ...)
        return getattr(self.app, name)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.PATH:
            await self.app(scope, receive, send)
            return
        ctype, declared = b"", -1
        for name, value in scope["headers"]:
            if name == b"content-type":
                ctype = value
            elif name == b"content-length":
                declared = int(value) if value.isdigit() else -1
        if ctype.split(b";")[0].strip().lower() != b"application/json" or not 0 < declared <= self.max_body:
            await self.app(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            chunks.append(chunk)
            more = message.get("more_body", False) and size <= self.max_body
        body = b"".join(chunks)
        try:
            q = QueryIn.model_validate(json.loads(body))
        except (ValueError, ValidationError):  # the route answers it, in its own words
            replayed = False

            async def again() -> Any:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": more}
                return await receive()

            await self.app(scope, again, send)
            return
        a = await self.commits.query(q.requester, q.code, q.procedure, q.provider, q.item.value, q.at)
        response = refusal_response(a) if isinstance(a, Refusal) else JSONResponse(answer_json(a))
        await response(scope, receive, send)


def create_app(store: Store, world: LinkageWorld | None = None, network: InformationNetwork | None = None,
               writer_lock: str | None = None) -> FastAPI:  # fmt: skip
    """The linkage API on ``store`` for ``world`` (default: the world recorded in the store, else 200 people);
    ``network`` instead of a world serves a network the caller built (tests). ``writer_lock``: a file that
    the processes serving one SQLite file lock around each commit (see :class:`GroupCommit`)."""
    if network is None:
        if world is None:
            seen = store.get(WORLD, "world")
            world = LinkageWorld(*seen) if seen is not None else LinkageWorld()  # type: ignore[misc]
        network = world.network(store)
    net = network
    people = world.people if world is not None else 0
    app = strict_app("Myna Twin information-provision network API", "1.0", __doc__.split("\n\n")[0])  # type: ignore[union-attr]
    app.state.network, app.state.world = net, world
    commits = GroupCommit(net, writer_lock)  # queries that arrive together share a commit

    @app.get("/health", response_model=HealthOut)
    def health() -> HealthOut:  # in a thread: reading the store waits while a group commits
        return HealthOut(status="ok", people=people, exchanges=net.exchanges())

    @app.post("/linkage/queries", response_model=AnswerOut, responses=QUERY_ERRORS, tags=["linkage"])
    async def query(q: QueryIn) -> AnswerOut | JSONResponse:
        """A body's intermediate server asks a provider for a data item about a person, under its agency code."""
        a = await commits.query(q.requester, q.code, q.procedure, q.provider, q.item.value, q.at)
        if isinstance(a, Refusal):
            return refusal_response(a)
        return JSONResponse(answer_json(a))

    @app.post("/linkage/codes", response_model=CodeOut, responses=CODE_ERRORS, tags=["codes"])
    def code(c: CodeIn) -> CodeOut | JSONResponse:
        """符号取得: the body's agency code for the person with this resident-register code."""
        if c.body not in net.directory:
            return JSONResponse({"error": mask_numbers(f"body {c.body!r} is not in the directory"),
                                 "detail": [{"loc": ["body", "body"], "msg": "not a body id"}]}, 404)  # fmt: skip
        return CodeOut(body=c.body, code=net.issuer.issue(c.body, c.resident_code).hex)

    @app.get("/linkage/records/{portal_code}", response_model=list[ExchangeRecordOut], responses=RECORD_ERRORS,
             tags=["records"])  # fmt: skip
    def records(
        portal_code: Annotated[str, Path(pattern="^[0-9a-f]{32}$", description="the person's code at body 'portal'")],
    ) -> list[ExchangeRecordOut] | JSONResponse:
        """情報提供等記録: every exchange about the person, oldest first (what Myna Portal shows)."""
        try:
            net.issuer.resident_code(PORTAL, AgencyCode(portal_code))
        except CodeError:
            return JSONResponse({"error": "portal_code: not a code the issuer gave the portal", "detail": []}, 404)
        return [ExchangeRecordOut.of(r) for r in net.records_of(AgencyCode(portal_code))]

    @app.get("/linkage/refusals", response_model=list[RefusalOut], responses={422: {"model": ErrorBody}},
             tags=["records"])  # fmt: skip
    def refusals(limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> list[RefusalOut]:
        """Refused queries, oldest first (at most ``limit``): who asked what, why; never a code or number."""
        out = []
        for _, r in net.store.scan("linkage.refusals", limit):
            out.append(RefusalOut(**dataclasses.asdict(r)))  # type: ignore[call-overload]
        return out

    @app.get("/linkage/procedures", response_model=list[RuleOut], tags=["table"])
    async def procedures() -> list[RuleOut]:
        """The lawful table: which procedure may ask which kind of body for which items, from when, and why."""
        return [RuleOut(procedure=r.procedure, title=r.title, requester=r.requester.value, provider=r.provider.value,
                        items=sorted(i.value for i in r.items), valid_from=r.valid_from, source=r.source)
                for r in net.table.rules]  # fmt: skip

    return FastQueries(app, commits)  # type: ignore[return-value]


def serve_app(store: str, **options: str) -> FastAPI:
    """The ``twin serve linkage`` factory: options ``people`` and ``seed`` (strings, from ``--set``)."""
    s, world = open_served(store, options, LinkageWorld, WORLD)
    lock = f"{store[len('sqlite:///'):]}.writer.lock" if store.startswith("sqlite:///") else None
    return create_app(s, world, writer_lock=lock)
