"""Myna Portal as the hub, over HTTP: the routes behind the login (``twin serve portal``).

After ``POST /portal/login`` (``real_backends/portal_api.py``) the session token names the holder's
authentication certificate; every route here resolves it to the person through the certificate
centre and calls :class:`twin.services.portal.MynaPortal`:

- ``GET /portal/me/information``: わたしの情報, each item fetched through the information-provision
  network under the portal's agency code, with the copy's age;
- ``GET /portal/me/exchanges``: every exchange any body made about the person;
- ``GET /portal/me/notices``, ``POST /portal/me/notices/{id}/read``: お知らせ;
- ``GET /portal/me/account``, ``POST /portal/me/account``: the public-benefit account, registered,
  changed or deleted with a document signed by the card's signature key;
- ``GET /portal/me/insurance-card``, ``POST /portal/me/insurance-card`` (``Idempotency-Key``): the card's
  registration as the health-insurance card (健康保険証利用登録), once, with the card of the session, valid
  at that moment and the person's own, for a person to whom an insurer has linked a current qualification;
  recorded with its day in the insurers' qualification book (on the same store);
- ``GET /portal/me/deductions``: deduction certificates for the year-end adjustment or a tax return;
- ``POST /portal/me/consents``, ``GET /portal/me/consents``: the four basic items for a private
  party, against a signed consent (bad signature, expired or revoked certificate: refused).

The served world is built from the deployment spec (its card holders are the people; each has an
income assessment and resident record at a municipality, a health-insurance record, a pension record if
born before 1961, a notice and deduction certificates), so a client with the same spec holds the matching
cards. Their qualifications are the insurers' qualification book of the world, the one the eligibility server
answers from (:func:`real_backends.eligibility_book.enrol_holders`, loaded by whichever of the two starts first
on the store): 協会けんぽ from six years before the epoch, every 7th ended a year and a day before it; the
health insurer's copy on the network is that qualification (``linkage.insurance_copy``), so わたしの情報 and a
clinic's check say the same. The copies are seeded as refreshed 300 days before the epoch; after that each body's
intermediate server registers its business system's changes at the first nightly refresh after them (02:00 JST,
assumed: ``linkage.nightly_refresh``; a night with nothing recorded registers nothing). An insurer ending a
qualification (:func:`end_qualification`, in process: no route ends one) ends it in the book at once, so a clinic
refuses her from the day after her last; わたしの情報 shows the old copy, with its age, until that night's refresh,
and the end from then. A spec with another ``epoch`` than the default 2026-04-01 (``--set epoch=2022-06-01``)
issues the cards that day, moves those dates with it, dates the tax records (the residence-tax
assessment and its notice, the deduction certificates) in the year before the epoch's (2025 by default) and runs the
portal's clock from it (:func:`real_backends.world_time.world_clock`): the world My Number Points serves with
``--set world=portal`` (``real_backends/points_hub.py``), on the same store, whose phase-2 parts follow the
registrations made here. Its state lives in the ``--store`` (SQLite by default), shared by all workers. Refusals are
JSON ``{"detail": ...}``: 400 malformed, 401 bad signature or session, 403 certificate not valid or not
the person's, 404 not found, 409 conflict, 415 a body that is not JSON, 422 refused by the rules
(``detail`` one sentence) or fields invalid (``detail`` the list of type, place and rule of each, as
on the login routes, never the value sent); 405 names in ``Allow`` every method of the path.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import os
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, RootModel

from real_backends import portal_api
from real_backends.app import ExchangeOut, jsonable, mask_numbers
from real_backends.eligibility_book import enrol_holders
from real_backends.load.deployment import Deployment, DeploymentSpec, resident
from real_backends.portal_api import CardAuthenticator, LoginRefused, Problem, ValidationProblem
from real_backends.world_time import tax_year, world_clock
from twin.services.accounts import BankAccount, PublicBenefitAccounts
from twin.services.eligibility.qualifications import CardUseRegistration, EligibilityError, InsuredKey, Qualification
from twin.services.jpki.profile import japan_date
from twin.services.linkage import (
    BodyKind,
    CodeIssuer,
    Directory,
    InformationNetwork,
    Item,
    TableResidentCodes,
    TaxAssessment,
    directory,
    end_insurance,
    nightly_refresh,
    record_insurance,
)
from twin.services.portal import (
    DeductionCertificate,
    FourItems,
    Kind,
    MynaPortal,
    Person,
    PortalRefusal,
    Purpose,
    TablePeople,
)
from twin.services.portal import Problem as Why
from twin.services.store import Store

STATUS: Final = {
    Why.MALFORMED: 400, Why.BAD_SIGNATURE: 401, Why.CERTIFICATE: 403, Why.NOT_YOURS: 403,
    Why.NOT_FOUND: 404, Why.CONFLICT: 409, Why.REFUSED: 422,
}  # fmt: skip


class Unprocessable(RootModel[ValidationProblem | Problem]):
    """A 422 of a signed request: fields that broke the schema (``detail`` a list, as every route answers), or a
    request the rules refuse (``detail`` one sentence)."""


INVALID: Final = "a field missing, unknown, of the wrong type or out of range (the values sent are not echoed)"
REFUSALS: Final[dict[int | str, dict[str, Any]]] = {
    **{c: {"model": Problem} for c in (400, 401, 403, 404, 409, 413)},
    422: {"model": ValidationProblem, "description": INVALID},
}
#: the signed POSTs: a body that is not JSON (415), and 422 for invalid fields or a refusal by the rules
SIGNED: Final[dict[int | str, dict[str, Any]]] = {
    415: {"model": Problem},
    422: {"model": Unprocessable, "description": f"{INVALID}; or refused by the rules (detail one sentence)"},
}
#: the card-use registration: 403 a certificate expired or revoked since the login, 409 already registered, and
#: 422 also for a person without a current qualification or an Idempotency-Key used for another request
CARD_USE_REFUSALS: Final[dict[int | str, dict[str, Any]]] = {
    403: {"model": Problem, "description": "the session's authentication certificate has expired or was revoked"},
    409: {"model": Problem, "description": "the card is already registered as the insurance card (since the day "
                                           "named)"},
    422: {"model": Unprocessable, "description": f"{INVALID}; or no qualification current today is linked to you, "
                                                 "or the Idempotency-Key was used for another request"},
}  # fmt: skip
IdemKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=200,
                                description="the same key again returns the first answer; a new key for each new "
                                            "request")]  # fmt: skip
SEEDED: Final = "portal.meta"
#: the holders born before this year (65 or older at the default epoch) draw the old-age basic pension
PENSIONED_BORN_BEFORE: Final = 1961
READINGS: Final = {  # the deployment's synthetic names (real_backends.load.deployment) in katakana
    "佐藤": "サトウ", "鈴木": "スズキ", "高橋": "タカハシ", "田中": "タナカ", "伊藤": "イトウ", "渡辺": "ワタナベ",
    "山本": "ヤマモト", "中村": "ナカムラ", "太郎": "タロウ", "花子": "ハナコ", "健一": "ケンイチ", "陽子": "ヨウコ",
    "翔": "ショウ", "美咲": "ミサキ",
}  # fmt: skip


# -- the served world ------------------------------------------------------------------------------


def _municipality(code5: str, bodies: Directory) -> str:
    """The body id of the municipality holding a 5-digit municipal code: itself, or for a ward of a designated
    city (e.g. 27128 大阪市中央区) the city (the nearest code at or below it in the prefecture, 27100)."""
    munis = sorted(
        b.id for b in bodies.of_kind(BodyKind.MUNICIPALITY) if b.id[5:7] == code5[:2] and b.id[5:10] <= code5
    )
    return munis[-1]


def build_portal(deployment: Deployment, store: Store) -> MynaPortal:
    """The portal over the deployment's holders, seeded once per store."""
    people, table = [], {}
    d = directory()
    for h in deployment.holders:
        r = resident(deployment.spec.seed, h.index)
        rrc = 10**10 + 7919 * (h.index + 1)
        table[r.my_number] = rrc
        items = FourItems(r.info.name, r.info.address, r.info.birth_date, r.info.sex)
        family, _, given = r.info.name.partition("\u3000")
        reading = f"{READINGS.get(family, 'ヤマダ')}\u3000{READINGS.get(given, 'タロウ')}"
        people.append(Person(r.resident_id, h.index, rrc, _municipality(r.municipality_code, d), items, reading,
                             r.my_number))  # fmt: skip
    with store.transaction() as tx:  # the issuer's key: random on the first start, then kept with the codes it made
        secret = tx.get(SEEDED, "issuer_secret")
        if secret is None:
            secret = os.urandom(32)
            tx.put(SEEDED, "issuer_secret", secret)
    issuer = CodeIssuer(secret, d.number)  # type: ignore[arg-type]
    network = InformationNetwork(store, d, issuer, TableResidentCodes(table), refresh_schedule=nightly_refresh)
    accounts = PublicBenefitAccounts(store, lambda i: people[i].reading if 0 <= i < len(people) else None)
    book = enrol_holders(store, deployment)  # the world's one book, whichever of portal and eligibility starts first
    portal = MynaPortal(store, network, deployment.jpki, TablePeople(people), accounts, qualifications=book)
    # seeded once, in one transaction with its mark: on an SQL store the writer lock (SQLite's BEGIN IMMEDIATE,
    # PostgreSQL's advisory lock) makes a second process that starts at the same moment wait and then find the
    # mark, and a start killed half-way leaves nothing, so the next start seeds once (not a second copy of the
    # notices and deduction certificates, which are appended)
    with store.transaction() as tx:
        if tx.get(SEEDED, "seeded") is None:
            _seed(portal, people, deployment.spec)
            tx.put(SEEDED, "seeded", True)
    return portal


def _seed(portal: MynaPortal, people: list[Person], spec: DeploymentSpec) -> None:
    """Each person's records at the bodies, a notice and deduction certificates, of the world's tax year (the year
    before the epoch's: 2025 at the default epoch). The health insurer's copy is the person's qualification as the
    qualification book holds it (:func:`twin.services.linkage.record_insurance`), so that わたしの情報 and a clinic's
    eligibility check say the same insurer, start and end."""
    net, book = portal.network, portal.qualifications
    assert book is not None  # build_portal always connects the book
    refreshed = spec.start - dt.timedelta(days=300)
    year = tax_year(spec)
    touched = set()
    for p in people:
        town = net.agency(p.municipality)
        assessed = TaxAssessment(year, 2_000_000 + 10_000 * p.resident, p.resident % 5 != 0)
        town.record(p.my_number, Item.LOCAL_TAX_INCOME, assessed, dt.date(year, 4, 1))
        town.record(p.my_number, Item.RESIDENT_RECORD, (p.items.address, "世帯主"), dt.date(year, 1, 1))
        touched.add(p.municipality)
        if p.items.birth_date.year < PENSIONED_BORN_BEFORE:
            net.agency("jps").record(p.my_number, Item.PENSION, ("老齢基礎年金", 780_000), dt.date(year, 4, 1))
        record_insurance(net, p.my_number, book.linked_to(p.person_ref))
        portal.post_notice(p.municipality, town.code_for(p.my_number), "住民税決定通知",
                           f"{fiscal_year_name(year)}の住民税が決定しました。", refreshed)  # fmt: skip
        portal.deposit_deduction(p.person_ref, DeductionCertificate("みらい生命", Kind.LIFE_INSURANCE, year, 84_000))
        portal.deposit_deduction(p.person_ref, DeductionCertificate("ひかり銀行", Kind.HOUSING_LOAN, year, 21_500_000))
        portal.deposit_deduction(p.person_ref, DeductionCertificate("健康保険", Kind.MEDICAL, year, 132_400))
    for body in (*sorted(touched), "jps", "kyokai"):
        net.agency(body).refresh(refreshed)


def end_qualification(portal: MynaPortal, key: InsuredKey, last_day: dt.date, at: dt.datetime) -> Qualification:
    """The insurer's side of the served world, in process (an operator's, a test's; no route of the portal ends a
    qualification): the insurer ends the qualification ``key`` on ``last_day`` at ``at``
    (:func:`twin.services.linkage.end_insurance`, under the My Number of the person it is linked to). The world's book
    holds the end at once, so a clinic's check of the same store refuses her from the day after ``last_day``; the
    insurer's copy on the network follows at the next nightly refresh after ``at`` (02:00 JST), and until then
    わたしの情報 shows the old copy with its age. :class:`EligibilityError`: ``unknown_insured``, ``bad_period``, or
    ``not_linked`` (no person of the world is linked to it, so no copy of it exists)."""
    book = portal.qualifications
    if book is None:
        raise EligibilityError("no_book", "this portal holds no qualification book")
    q = book.get(key)
    person = None if q.linked_person is None else portal.people.person(q.linked_person)
    if person is None:
        raise EligibilityError("not_linked", f"insured number {key}: linked to no person of this world")
    return end_insurance(portal.network, book, person.my_number, key, last_day, at)


def fiscal_year_name(year: int) -> str:
    """The Japanese fiscal year (年度) beginning in April of ``year``, by its era: 令和7年度 for 2025, 令和元年度 for
    2019 (the era began on 2019-05-01, and the fiscal year is named by it), 平成30年度 for 2018."""
    if year >= 2019:
        return "令和元年度" if year == 2019 else f"令和{year - 2018}年度"
    return f"平成{year - 1988}年度"


# -- messages ----------------------------------------------------------------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OwnItemOut(BaseModel):
    provider: str = Field(description="body id of the provider, e.g. muni:131016, jps, digital")
    item: str = Field(description="data item (the lawful table's information category)")
    found: bool
    value: Any = Field(default=None, description="the copy's value, as JSON")
    as_of: dt.date | None = Field(default=None, description="the date the data refers to")
    refreshed_at: dt.datetime | None = Field(default=None, description="when the copy was last refreshed")
    age_seconds: float | None = Field(default=None, description="age of the copy when asked")
    refused: str | None = Field(default=None, description="why the network refused this item, if it did")


class NoticeOut(BaseModel):
    id: int
    sender: str
    title: str
    text: str
    sent_at: dt.datetime
    read_at: dt.datetime | None


class AccountIn(Strict):
    bank_code: str = Field(max_length=8, description="4 digits (full-width accepted)")
    branch_code: str = Field(max_length=8, description="3 digits")
    account_type: str = Field(max_length=16, description="普通, 当座 or 貯蓄 (or ordinary/current/savings)")
    number: str = Field(max_length=16, description="7 digits")
    holder: str = Field(max_length=80, description="holder name in katakana")


class AccountOut(BaseModel):
    registered: bool
    bank_code: str | None = None
    branch_code: str | None = None
    account_type: str | None = None
    number: str | None = None
    holder: str | None = None


class AccountAct(Strict):
    action: Literal["register", "change", "delete"]
    account: AccountIn | None = Field(default=None, description="required for register and change, absent for delete")
    effective: dt.date = Field(description="from which day the change holds: today (in Japan) or later; an earlier "
                               "day is refused (422)")
    signature: str = Field(min_length=1, max_length=1000, description="base64url RSA PKCS#1 v1.5 SHA-256 over "
                           "signing_bytes('public_benefit_account', account_fields(...))")  # fmt: skip
    certificate: str = Field(min_length=1, max_length=8000, description="base64url DER signature certificate")


class InsuranceCardOut(BaseModel):
    """The card's use as the health-insurance card: the qualification linked to you today, and your registration."""

    qualified: bool = Field(description="an insurer has linked a qualification current today to you")
    insurer_number: str | None = Field(default=None, description="the insurer of that qualification (6 or 8 digits)")
    insurer_kind: str | None = Field(default=None, description="society, association, national or elderly")
    registered: bool = Field(description="you registered the card as your health-insurance card (健康保険証利用登録)")
    registered_on: dt.date | None = Field(default=None, description="the day (Japan time) you registered it")


class DeductionOut(BaseModel):
    issuer: str
    kind: str
    year: int
    amount: int


class DeductionsOut(BaseModel):
    year: int
    purpose: str
    certificates: list[DeductionOut]
    totals: dict[str, int] = Field(description="yen per kind")
    left_out: int = Field(description="certificates of the year not usable for this purpose")


class ConsentIn(Strict):
    party: str = Field(min_length=1, max_length=120, description="the private party receiving the items")
    purpose: str = Field(min_length=1, max_length=200)
    valid_until: dt.datetime = Field(description="timezone-aware; at most 366 days ahead")
    signature: str = Field(min_length=1, max_length=1000, description="over signing_bytes('consent_four_items', ...)")
    certificate: str = Field(min_length=1, max_length=8000, description="base64url DER signature certificate")


class FourItemsOut(BaseModel):
    name: str
    address: str
    birth_date: dt.date
    sex: str = Field(description="1 male, 2 female (JIS X 0303)")


class ConsentOut(BaseModel):
    party: str
    purpose: str
    given_at: dt.datetime
    valid_until: dt.datetime


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise PortalRefusal(Why.MALFORMED, f"{what}: not base64url") from None


def _now(auth: CardAuthenticator) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(auth.clock()), dt.UTC)


# -- routes -------------------------------------------------------------------------------------------


def router(portal: MynaPortal, auth: CardAuthenticator) -> APIRouter:
    r = APIRouter(prefix="/portal/me", tags=["hub"], responses=REFUSALS)

    async def session(authorization: str = Header(default="", max_length=400)) -> tuple[str, int]:
        """The person and the serial of the authentication certificate the session was opened with."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise LoginRefused(401, "authorization: send 'Bearer <session>' from POST /portal/login")
        serial = auth.session_serial(token)
        return portal.person_of_serial(serial).person_ref, serial

    async def holder(who: tuple[str, int] = Depends(session)) -> str:
        return who[0]

    me_dep = Depends(holder)

    @r.get("/information", response_model=list[OwnItemOut])
    async def information(me: str = me_dep) -> list[OwnItemOut]:
        """わたしの情報: each item through the information-provision network, with the copy's age."""
        out = []
        for i in portal.own_information(me, _now(auth)):
            age = None if i.age is None else i.age.total_seconds()
            out.append(OwnItemOut(provider=i.provider, item=i.item, found=i.found, value=jsonable(i.value),
                                  as_of=i.as_of, refreshed_at=i.refreshed_at, age_seconds=age,
                                  refused=i.refused))  # fmt: skip
        return out

    @r.get("/exchanges", response_model=list[ExchangeOut])
    async def exchanges(me: str = me_dep) -> list[ExchangeOut]:
        """やりとり履歴: every exchange about you (who asked whom, what, for which procedure, when)."""
        return [ExchangeOut.of(e) for e in portal.exchange_records(me)]

    @r.get("/notices", response_model=list[NoticeOut])
    async def notices(me: str = me_dep) -> list[NoticeOut]:
        """お知らせ, newest first."""
        return [NoticeOut(**dataclasses.asdict(n)) for n in portal.notices(me)]

    @r.post("/notices/{notice_id}/read", response_model=NoticeOut)
    async def read(notice_id: Annotated[int, Path(ge=1, le=2**62)], me: str = me_dep) -> NoticeOut:
        return NoticeOut(**dataclasses.asdict(portal.mark_read(me, notice_id, _now(auth))))

    @r.get("/account", response_model=AccountOut)
    async def account(me: str = me_dep) -> AccountOut:
        """The public-benefit account registered today (公金受取口座)."""
        a = portal.account(me, _now(auth).date())
        return AccountOut(registered=False) if a is None else _account_out(a)

    @r.post("/account", response_model=AccountOut, responses=SIGNED)
    async def account_act(act: AccountAct, me: str = me_dep) -> AccountOut:
        """Register, change or delete the account; the request is signed with the card's signature key."""
        acc = None if act.account is None else BankAccount(**act.account.model_dump())
        got = portal.account_act(me, act.action, acc, act.effective, _b64(act.signature, "signature"),
                                 _b64(act.certificate, "certificate"), _now(auth))  # fmt: skip
        return AccountOut(registered=False) if got is None else _account_out(got)

    @r.get("/insurance-card", response_model=InsuranceCardOut)
    async def insurance_card(me: str = me_dep) -> InsuranceCardOut:
        """Whether an insurer has linked a qualification current today to you, and whether (since when) your card
        is registered as your health-insurance card."""
        return _insurance_out(*portal.insurance_card(me, japan_date(_now(auth))))

    @r.post("/insurance-card", response_model=InsuranceCardOut, responses=CARD_USE_REFUSALS)
    async def register_insurance_card(key: IdemKey, who: tuple[str, int] = Depends(session)) -> InsuranceCardOut:
        """健康保険証利用登録: register the card you logged in with as your health-insurance card, once. The card's
        authentication certificate must be valid now (403 if it has expired or was revoked since the login) and an
        insurer must have linked a qualification current today to you (422 otherwise); the insurers'
        qualification book records today's date (Japan time). A second registration is a 409 naming the day of
        the first; the same Idempotency-Key again returns the first answer; a key you used for another request
        is a 422. A refusal records nothing and leaves the key unused."""
        me, serial = who
        now = _now(auth)
        portal.register_insurance_card(me, serial, key, now)
        return _insurance_out(*portal.insurance_card(me, japan_date(now)))

    @r.get("/deductions", response_model=DeductionsOut)
    async def deductions(
        year: Annotated[int, Query(ge=2000, le=2100)],
        purpose: Annotated[Purpose, Query()] = Purpose.YEAR_END_ADJUSTMENT,
        me: str = me_dep,
    ) -> DeductionsOut:
        """Deduction certificates collected for the year, for the year-end adjustment or a tax return."""
        b = portal.deductions(me, year, purpose)
        certs = [DeductionOut(issuer=c.issuer, kind=c.kind.value, year=c.year, amount=c.amount) for c in b.certificates]
        return DeductionsOut(year=b.year, purpose=b.purpose.value, certificates=certs, totals=b.totals,
                             left_out=b.left_out)  # fmt: skip

    @r.post("/consents", response_model=FourItemsOut, responses=SIGNED)
    async def consent(c: ConsentIn, me: str = me_dep) -> FourItemsOut:
        """The four basic items for a private party, against the person's signed consent."""
        if c.valid_until.tzinfo is None:
            raise PortalRefusal(Why.MALFORMED, "valid_until: give a timezone (e.g. +09:00)")
        items = portal.give_four_items(me, c.party, c.purpose, c.valid_until, _b64(c.signature, "signature"),
                                       _b64(c.certificate, "certificate"), _now(auth))  # fmt: skip
        return FourItemsOut(**dataclasses.asdict(items))

    @r.get("/consents", response_model=list[ConsentOut])
    async def consents(me: str = me_dep) -> list[ConsentOut]:
        """Every consent you signed: who received your four items, for what, when."""
        return [ConsentOut(**dataclasses.asdict(c)) for c in portal.consents(me)]

    return r


def _insurance_out(q: Qualification | None, registration: CardUseRegistration | None) -> InsuranceCardOut:
    return InsuranceCardOut(qualified=q is not None, insurer_number=None if q is None else q.insurer_number,
                            insurer_kind=None if q is None else q.kind.value, registered=registration is not None,
                            registered_on=None if registration is None else registration.on)  # fmt: skip


def _account_out(a: BankAccount) -> AccountOut:
    return AccountOut(registered=True, bank_code=a.bank_code, branch_code=a.branch_code,
                      account_type=str(a.account_type), number=a.number, holder=a.holder)  # fmt: skip


def install(app: FastAPI, portal: MynaPortal, auth: CardAuthenticator) -> FastAPI:
    """Add the hub routes and the refusal -> status mapping to the portal login app."""
    app.include_router(router(portal, auth))
    app.state.hub = portal

    @app.exception_handler(PortalRefusal)
    async def refused(request: Request, exc: PortalRefusal) -> JSONResponse:
        return JSONResponse({"detail": mask_numbers(str(exc))}, STATUS[exc.problem])

    return app


def create_app(deployment: Deployment, store: Store, auth: CardAuthenticator | None = None) -> FastAPI:
    """The portal: login (``portal_api``) and the hub routes, over one authenticator (default: one with
    :func:`world_clock`)."""
    auth = auth or portal_api.authenticator_from_env(deployment.jpki, world_clock(deployment, store))
    app = portal_api.create_app(deployment, auth)
    app.title = "Myna Portal"
    return install(app, build_portal(deployment, store), auth)


def card_sign(reader: Any, password: str, document: bytes) -> dict[str, str]:
    """The client side: the card in ``reader`` signs ``document`` with its signature key (after the password)."""
    from emulators.card_files import JPKI_AID
    from emulators.jpki_client import JpkiClient

    reader.connect()
    try:
        client = JpkiClient(reader)
        client.select_ap(JPKI_AID, force=True)
        client.verify("sign", password)
        cert = client.read_certificate_der("sign")
        signature = client.sign(document, "sign")
    finally:
        reader.disconnect()
    enc = base64.urlsafe_b64encode
    return {"certificate": enc(cert).rstrip(b"=").decode(), "signature": enc(signature).rstrip(b"=").decode()}


def serve_app(store_url: str = "sqlite:///twin.db", **options: str) -> Any:
    """``twin serve portal`` factory: login plus the hub; deployment from ``--set holders=N --set seed=S``."""
    from real_backends.stores import open_store

    return create_app(Deployment.build(DeploymentSpec.from_options(options)), open_store(store_url))


def app_from_env() -> FastAPI:
    from twin.services.store import MemoryStore

    return create_app(Deployment.build(DeploymentSpec.from_env()), MemoryStore())
