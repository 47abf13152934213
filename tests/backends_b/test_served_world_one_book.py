"""Myna Portal and the eligibility server on one store are one world, whichever starts first.

Specification: the portal and the eligibility server of one deployment load the same enrolment of its card holders
(``real_backends.eligibility_book.enrol_holders``), so the second to start on a store finds what it would have
written: started in either order, in process on one store, they leave the same qualification book (the same rows,
the same marks), and the eligibility server's registrations on assumed days are made once, by it. A store holding
another world's enrolment (another seed, holders or epoch) is refused by either, naming the difference; a store
holding the book an earlier portal loaded for itself is refused, saying so. The portal's health-insurance copy is
the book's qualification: its わたしの情報 and a clinic's eligibility check of the same person name the same insurer,
insured number, start and end as the book holds them, at the default epoch and at 2022-06-01, and a holder whose
qualification ended is shown its end in the portal and refused at the clinic, where a check on her last day (the
clinic's clock set there) was answered with that end and one a second later, the next day in Japan, is refused.
When the insurer ends a qualification later, the clinic refuses her at once and the portal shows the old copy, with its
age, until the first nightly refresh (02:00 JST) after the change, and her last day from then.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from real_backends import eligibility_api, portal_hub
from real_backends.eligibility_book import (
    CARD_USE_LOAD,
    ENDED_ON,
    INSURER,
    REMAINDER_LOAD,
    enrol_holders,
    enrolment_id,
    ensure_enrolled,
    holder_qualification,
    insured_number,
    is_qualified,
    is_registered,
    qualifications,
)
from real_backends.load.deployment import Deployment, DeploymentSpec, resident
from real_backends.portal_api import CardAuthenticator, MemoryLedger, card_answer
from real_backends.world_time import EPOCH_DAY, world_day
from twin.services.eligibility import Qualification, QualificationBook, worlds
from twin.services.eligibility.qualifications import LOADS
from twin.services.linkage import my_number_fields
from twin.services.store import MemoryStore, StoreError

PIN = "1234"
JST = dt.timezone(dt.timedelta(hours=9))
#: holder 6's qualification ended a year and a day before the epoch; holder 4 did not register the card
DEFAULT = DeploymentSpec(seed=20261206, holders=8, revoked_every=0, key_pool=2)
THEN = DeploymentSpec(seed=20261206, holders=8, revoked_every=0, key_pool=2, epoch="2022-06-01")
BOOK = ("eligibility.qualification", "eligibility.link", "eligibility.load", "eligibility.card_use",
        "eligibility.card_use.keys")  # fmt: skip


@pytest.fixture(scope="module")
def default() -> Deployment:
    return Deployment.build(DEFAULT)


@pytest.fixture(scope="module")
def then() -> Deployment:
    return Deployment.build(THEN)


def call(app: Any, method: str, path: str, **kw: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://twin") as c:
            return await c.request(method, path, **kw)

    return asyncio.run(go())


def eligibility(deployment: Deployment, store: MemoryStore, insured: int | None = None) -> Any:
    """The eligibility server as ``twin serve eligibility`` builds it on ``store``."""
    return eligibility_api.create_app(deployment, book=ensure_enrolled(store, deployment, insured))


def book_of(store: MemoryStore) -> dict[str, list[tuple[object, object]]]:
    return {t: list(store.scan(t)) for t in BOOK}


@pytest.mark.parametrize("insured", [None, 40])
def test_the_portal_and_the_eligibility_server_leave_one_book_whichever_starts_first(
    default: Deployment, insured: int | None
) -> None:
    clinic_first, portal_first = MemoryStore(), MemoryStore()
    eligibility(default, clinic_first, insured)
    portal_hub.create_app(default, clinic_first)
    portal_hub.create_app(default, portal_first)  # refused the eligibility server's book before
    assert portal_first.get(LOADS, CARD_USE_LOAD) is None, "the portal registers nobody on assumed days"
    eligibility(default, portal_first, insured)
    assert book_of(portal_first) == book_of(clinic_first)
    size = len(default.holders) if insured is None else insured
    assert clinic_first.count("eligibility.qualification") == size
    assert clinic_first.count("eligibility.card_use") == sum(map(is_registered, default.holders)) > 0
    for store in (clinic_first, portal_first):  # a restart of either finds its world: nothing more is loaded
        portal_hub.create_app(default, store)
        eligibility(default, store, insured)
    assert book_of(portal_first) == book_of(clinic_first)
    assert clinic_first.get(LOADS, REMAINDER_LOAD) == (None if insured is None else enrolment_id(DEFAULT, 40))


def test_a_store_loaded_in_one_load_before_the_remainder_had_its_own_is_used_as_it_is(default: Deployment) -> None:
    store = MemoryStore()
    QualificationBook(store).load_initial(qualifications(default, 40), load_id=enrolment_id(DEFAULT, 40))
    ensure_enrolled(store, default, 40)  # adds the registrations only
    before = book_of(store)
    assert store.count("eligibility.qualification") == 40 and store.get(LOADS, REMAINDER_LOAD) is None
    portal_hub.create_app(default, store)
    ensure_enrolled(store, default, 40)
    assert book_of(store) == before
    with pytest.raises(StoreError, match=r"insured=40 \(asked 8\)"):
        ensure_enrolled(store, default)


def test_a_person_who_registered_in_the_portal_before_the_clinic_started_keeps_her_registration(
    default: Deployment,
) -> None:
    store = MemoryStore()
    portal = portal_hub.create_app(default, store).state.hub
    now = dt.datetime(2026, 9, 21, 3, tzinfo=dt.UTC)
    portal.register_insurance_card("holder-0", default.holders[0].auth_certificate.serial_number, "mine", now)
    book = ensure_enrolled(store, default)
    assert book.card_use("holder-0").on == dt.date(2026, 9, 21)  # type: ignore[union-attr]
    assert book.card_use("holder-1") is not None and book.card_use("holder-4") is None


def test_a_store_of_another_world_is_refused_by_either_naming_the_difference(
    default: Deployment, then: Deployment
) -> None:
    store = MemoryStore()
    portal_hub.create_app(then, store)
    with pytest.raises(StoreError, match=r"another enrolment: epoch=2022-06-01T00:30:00\+00:00 "
                                         r"\(asked 2026-04-01T00:30:00\+00:00\)"):  # fmt: skip
        ensure_enrolled(store, default)
    other = Deployment.build(DeploymentSpec(seed=5, holders=3, revoked_every=0, key_pool=2))
    clinic = MemoryStore()
    ensure_enrolled(clinic, other, 20)
    with pytest.raises(StoreError, match=r"another enrolment: seed=5 \(asked 20261206\), holders=3 \(asked 8\), "
                                         r"insured=3 \(asked 8\)"):  # fmt: skip
        portal_hub.create_app(default, clinic)
    with pytest.raises(StoreError, match=r"insured=20 \(asked 30\)"):  # the same world, another remainder
        ensure_enrolled(clinic, other, 30)
    enrol_holders(clinic, other)  # the portal of that world takes it, whatever its remainder


def test_a_store_holding_the_book_an_earlier_portal_loaded_is_refused_saying_so(default: Deployment) -> None:
    store = MemoryStore()
    QualificationBook(store).load_initial([], load_id=("portal world", DEFAULT.seed, DEFAULT.holders))
    for start in (lambda: ensure_enrolled(store, default), lambda: portal_hub.create_app(default, store)):
        with pytest.raises(StoreError, match=r"holds the load \('portal world', 20261206, 8\), not the enrolment of "
                                             r"a served world's card holders .* use a fresh database"):  # fmt: skip
            start()


def clinic_at(deployment: Deployment, store: MemoryStore, at: dt.datetime) -> Any:
    """An eligibility server of the world on ``store`` whose clock stands at ``at``."""
    auth = CardAuthenticator(deployment.jpki, b"c" * 32, MemoryLedger(), clock=at.timestamp)
    return eligibility_api.create_app(deployment, auth, book=ensure_enrolled(store, deployment))


def as_shown(q: Qualification) -> list[str | None]:
    """A qualification's insurer number, insured number, branch, kind, first and last day, as the JSON says them."""
    return [q.insurer_number, q.insured_number, q.branch, q.kind.value, q.valid_from.isoformat(),
            None if q.valid_until is None else q.valid_until.isoformat()]  # fmt: skip


def test_the_served_worlds_dates_are_the_worlds_rule_at_their_epoch(default: Deployment, then: Deployment) -> None:
    """The served holders' qualifications are twin.services.eligibility.worlds' rule with the card's facts: the default
    epoch is the same date on both sides, and a world at another epoch moves every date by the days between them."""
    assert EPOCH_DAY == worlds.DEFAULT_EPOCH
    for deployment in (default, then):
        epoch = deployment.spec.start.date()
        for h in deployment.holders:
            q = holder_qualification(h, epoch)
            assert q.key == (worlds.INSURER, f"{70000 + h.index}", "00") and q.linked_person == f"holder-{h.index}"
            assert q.valid_from == world_day(dt.date(2020, 4, 1), epoch) == epoch - dt.timedelta(days=2191)
            assert q.valid_until == (None if h.index % 7 != 6 else epoch - dt.timedelta(days=366))


def login(portal: Any, deployment: Deployment, i: int) -> dict[str, str]:
    token = call(portal, "GET", "/portal/challenge").json()["challenge"]
    r = call(portal, "POST", "/portal/login", json=card_answer(token, deployment.holders[i].reader(), PIN))
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()['session']}"}


def health_insurance(portal: Any, deployment: Deployment, i: int) -> dict[str, Any]:
    """Holder ``i``'s health-insurance item in わたしの情報."""
    info = call(portal, "GET", "/portal/me/information", headers=login(portal, deployment, i)).json()
    (item,) = [x for x in info if x["item"] == "health_insurance" and x["found"]]
    return item  # type: ignore[no-any-return]


@pytest.mark.parametrize("spec", [DEFAULT, THEN], ids=["2026-04-01", "2022-06-01"])
@pytest.mark.parametrize("first", ["portal", "eligibility"])
def test_the_portal_and_a_clinics_check_name_the_same_insurer_start_and_end(
    spec: DeploymentSpec, first: str, request: pytest.FixtureRequest
) -> None:
    deployment: Deployment = request.getfixturevalue("default" if spec is DEFAULT else "then")
    store = MemoryStore()
    starts: dict[str, Callable[[], Any]] = {"portal": lambda: portal_hub.create_app(deployment, store),
                                            "eligibility": lambda: eligibility(deployment, store)}  # fmt: skip
    apps = {name: starts[name]() for name in sorted(starts, key=lambda n: n != first)}
    epoch = spec.start.date()
    holder = deployment.holders[0]
    assert is_qualified(holder) and is_registered(holder)
    token = call(apps["eligibility"], "GET", "/eligibility/challenge").json()["challenge"]
    clinic = call(apps["eligibility"], "POST", "/eligibility/card", json=card_answer(token, holder.reader(), PIN))
    assert clinic.status_code == 200, clinic.text
    seen = health_insurance(apps["portal"], deployment, 0)
    assert seen["provider"] == "kyokai" and seen["as_of"] == clinic.json()["valid_from"], seen
    shown, checked = seen["value"], clinic.json()
    fields = ("insurer_number", "insured_number", "branch", "kind", "valid_from", "valid_until")
    held = as_shown(QualificationBook(store).get((INSURER, insured_number(holder), "00")))
    assert [shown[f] for f in fields] == [checked["insurer_kind" if f == "kind" else f] for f in fields] == held
    assert shown["valid_until"] is None and shown["insurer"] == "全国健康保険協会"
    assert shown["valid_from"] == world_day(dt.date(2020, 4, 1), epoch).isoformat()  # the book's own start
    ended = deployment.holders[6]
    assert not is_qualified(ended)
    gone = health_insurance(apps["portal"], deployment, 6)["value"]
    assert (gone["insurer_number"], gone["insured_number"]) == (INSURER, insured_number(ended))
    assert gone["valid_until"] == world_day(ENDED_ON, epoch).isoformat()  # 2025-03-31 or 2021-05-31
    by_number = {"insurer_number": INSURER, "insured_number": insured_number(ended), "branch": "00",
                 "birth_date": ended.perso.basic_info.birth_date.isoformat()}  # fmt: skip
    refused = call(apps["eligibility"], "POST", "/eligibility/number", json=by_number)
    assert refused.status_code == 404 and refused.json()["code"] == "no_qualification", refused.text
    # a clinic of the same world whose clock reads her last day: answered, with the end the portal shows and the
    # book holds; a second later, the next day in Japan, refused
    last = dt.datetime.combine(world_day(ENDED_ON, epoch), dt.time(23, 59, 59), dt.timezone(dt.timedelta(hours=9)))
    answered = call(clinic_at(deployment, store, last), "POST", "/eligibility/number", json=by_number)
    assert answered.status_code == 200, answered.text
    held = as_shown(QualificationBook(store).get((INSURER, insured_number(ended), "00")))
    assert [gone[f] for f in fields] == [answered.json()["insurer_kind" if f == "kind" else f] for f in fields] == held
    after = call(clinic_at(deployment, store, last + dt.timedelta(seconds=1)), "POST", "/eligibility/number",
                 json=by_number)  # fmt: skip
    assert after.status_code == 404 and after.json()["code"] == "no_qualification", after.text
    card = call(apps["portal"], "GET", "/portal/me/insurance-card", headers=login(apps["portal"], deployment, 6))
    assert card.json()["qualified"] is False


def test_an_insurers_end_reaches_the_portal_at_the_next_nightly_refresh_while_the_clinic_refuses_at_once(
    default: Deployment,
) -> None:
    """The insurer ends holder 0's qualification in the served world (``portal_hub.end_qualification``, in process:
    no route ends one), five days after her last day. A clinic of the same store refuses her at once; the portal's
    わたしの情報 shows the old copy ("insured", refreshed 300 days before the epoch, with that age) until the first
    02:00 JST after the change, and from then her last day, refreshed at 02:00; a clinic's check on that day answers
    the dates the portal shows. No message between bodies and no answer holds a My Number."""
    store, now = MemoryStore(), [dt.datetime(2026, 6, 10, 15, tzinfo=JST).timestamp()]
    auth = CardAuthenticator(default.jpki, b"p" * 32, MemoryLedger(), clock=lambda: now[0])
    portal = portal_hub.create_app(default, store, auth)
    numbers = {resident(DEFAULT.seed, h.index).my_number for h in default.holders}
    leaks: list[list[str]] = []
    portal.state.hub.network.taps.append(lambda m: leaks.append(my_number_fields(m, numbers)))
    holder = default.holders[0]
    key = (INSURER, insured_number(holder), "00")
    seeded = DEFAULT.start - dt.timedelta(days=300)

    def shown() -> dict[str, Any]:
        item = health_insurance(portal, default, 0)
        assert my_number_fields(item, numbers) == []
        return item

    assert shown()["value"]["valid_until"] is None
    changed, last_day = dt.datetime.fromtimestamp(now[0], JST), dt.date(2026, 6, 5)
    portal_hub.end_qualification(portal.state.hub, key, last_day, changed)
    by_number = {"insurer_number": INSURER, "insured_number": key[1], "branch": "00",
                 "birth_date": holder.perso.basic_info.birth_date.isoformat()}  # fmt: skip
    refused = call(clinic_at(default, store, changed), "POST", "/eligibility/number", json=by_number)
    assert refused.status_code == 404 and refused.json()["code"] == "no_qualification", refused.text
    night = dt.datetime(2026, 6, 11, 2, tzinfo=JST)
    now[0] = night.timestamp() - 1
    stale = shown()  # the modelled failure: the portal says insured while the clinic refuses her
    assert stale["value"]["valid_until"] is None and dt.datetime.fromisoformat(stale["refreshed_at"]) == seeded
    assert stale["age_seconds"] == now[0] - seeded.timestamp()
    now[0] = night.timestamp() + 1800
    fresh = shown()
    assert fresh["value"]["valid_until"] == "2026-06-05" and fresh["age_seconds"] == 1800
    assert dt.datetime.fromisoformat(fresh["refreshed_at"]) == night
    last = dt.datetime.combine(last_day, dt.time(23, 59, 59), JST)
    answered = call(clinic_at(default, store, last), "POST", "/eligibility/number", json=by_number)
    assert answered.status_code == 200, answered.text
    fields = ("insurer_number", "insured_number", "branch", "kind", "valid_from", "valid_until")
    held = as_shown(QualificationBook(store).get(key))
    assert [fresh["value"][f] for f in fields] == [answered.json()["insurer_kind" if f == "kind" else f]
                                                   for f in fields] == held  # fmt: skip
    assert leaks and not any(leaks)
