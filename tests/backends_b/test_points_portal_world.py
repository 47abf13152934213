"""My Number Points and Myna Portal over one world (``twin serve points --set world=portal``), in process.

Specification: the points service serves the portal's card holders, checks their cards at the portal's JPKI centre
and asks the portal's account register and insurers' qualification book on the same store; nothing is registered
on assumed days. A holder who has not registered a public-benefit account is refused phase 2's account part
(``not_eligible``); once she registers one in the portal with her card's signature, the part is granted for the
days the account was registered, 7,500 points once. An account deleted in the portal is not registered from the
day the deletion takes effect, and the part applied for on such a day is refused. The insurance part follows the
card's registration as the health-insurance card in the portal (from its day, Japan time); a holder whose
qualification has ended cannot register, and the part stays refused. A card reported lost reserves
nothing. The standalone points world and the hub world refuse each other's store. No answer holds a My Number.
Served as two processes on one SQLite file, the portal's clock runs from the world's epoch (2022), and the points
server sees what the portal recorded.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from emulators.demo import DEMO_SIGN_PASSWORD
from real_backends import points_api
from real_backends.eligibility_book import is_qualified
from real_backends.load.deployment import Deployment, DeploymentSpec, resident
from real_backends.load.server import twin_serve
from real_backends.points_api import PointsWorld
from real_backends.points_hub import HubPointsWorld, hub_world
from real_backends.portal_api import CardAuthenticator, MemoryLedger, card_answer
from real_backends.portal_hub import READINGS, card_sign, fiscal_year_name, world_clock
from real_backends.portal_hub import create_app as portal_app
from twin.services.accounts import BankAccount
from twin.services.linkage import my_number_fields
from twin.services.portal import account_fields, signing_bytes
from twin.services.store import MemoryStore, StoreError

#: a world set in 2022 (its cards issued on 2022-06-01), when phase 2's linking parts were granted; holder 5's card
#: was reported lost an hour after it was issued, and holder 6's qualification ended on 2021-05-31
SPEC = DeploymentSpec(seed=20220601, holders=7, revoked_every=6, key_pool=2, epoch="2022-06-01")
PIN = "1234"
JST = dt.timezone(dt.timedelta(hours=9))
INS, ACC = "/phase2/insurance-linking", "/phase2/account-registration"


def noon_in_japan(day: str) -> float:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(12), JST).timestamp()


class Clock:
    def __init__(self) -> None:
        self.t = noon_in_japan("2022-07-01")

    def __call__(self) -> float:
        return self.t


@dataclass
class Hub:
    deployment: Deployment
    clock: Clock
    portal: TestClient
    points: TestClient
    world: HubPointsWorld
    numbers: frozenset[str]

    def call(self, client: TestClient, method: str, path: str, **kw: object) -> dict:
        r = client.request(method, path, **kw)  # type: ignore[arg-type]
        assert my_number_fields(r.json(), self.numbers) == [], f"{path} answered with a My Number"
        return {"status": r.status_code, **(r.json() if isinstance(r.json(), dict) else {"list": r.json()})}


@pytest.fixture(scope="module")
def deployment() -> Deployment:
    return Deployment.build(SPEC)


@pytest.fixture
def hub(deployment: Deployment) -> Iterator[Hub]:
    store, clock, rng = MemoryStore(), Clock(), np.random.default_rng(5)
    auth = CardAuthenticator(deployment.jpki, b"h" * 32, MemoryLedger(), clock=clock, nonce_bytes=rng.bytes)
    portal: FastAPI = portal_app(deployment, store, auth)
    world = HubPointsWorld(deployment, portal.state.hub)  # the portal's own people, centre and registers
    numbers = frozenset(resident(SPEC.seed, h.index).my_number for h in deployment.holders)
    with TestClient(portal) as p, TestClient(points_api.create_app(store, world)) as q:
        yield Hub(deployment, clock, p, q, world, numbers)


def phase2(hub: Hub, i: int) -> str:
    """Holder ``i`` reserves a MyKey ID with her card and applies for phase 2 with Suica; her MyKey ID."""
    r = hub.call(hub.points, "POST", "/reservations",
                 json={"person": i, "on": "2022-06-15", "card_serial": hub.world.card_serial(i)})  # fmt: skip
    assert r["status"] == 200, r
    applied = hub.call(hub.points, "POST", "/applications", headers={"Idempotency-Key": f"apply-{i}"}, json={
        "mykey": r["mykey"], "phase": "phase2", "operator": "suica", "service_account": f"suica-{i}",
        "card_applied_on": "2022-05-01", "on": "2022-06-15"})  # fmt: skip
    assert applied["ok"], applied
    return r["mykey"]  # type: ignore[no-any-return]


def part(hub: Hub, route: str, mykey: str, i: int, on: str, key: str) -> dict:
    return hub.call(hub.points, "POST", route, headers={"Idempotency-Key": key},
                    json={"mykey": mykey, "on": on, "card_serial": hub.world.card_serial(i)})  # fmt: skip


def login(hub: Hub, i: int) -> dict[str, str]:
    token = hub.call(hub.portal, "GET", "/portal/challenge")["challenge"]
    r = hub.call(hub.portal, "POST", "/portal/login", json=card_answer(token, hub.deployment.holders[i].reader(), PIN))
    assert r["status"] == 200, r
    return {"authorization": f"Bearer {r['session']}"}


def account_act(hub: Hub, i: int, me: dict[str, str], action: str, effective: str) -> dict:
    """Holder ``i`` registers, changes or deletes her account in the portal, signed with her card."""
    reading = hub.world.portal.person(hub.world.person(i)).reading
    account = None if action == "delete" else {"bank_code": "0005", "branch_code": "123", "account_type": "普通",
                                               "number": "1234567" if action == "register" else "7654321",
                                               "holder": reading}  # fmt: skip
    day = dt.date.fromisoformat(effective)
    document = signing_bytes(
        "public_benefit_account", account_fields(action, None if account is None else BankAccount(**account), day)
    )
    body = {"action": action, "account": account, "effective": effective,
            **card_sign(hub.deployment.holders[i].reader(), DEMO_SIGN_PASSWORD, document)}  # fmt: skip
    return hub.call(hub.portal, "POST", "/portal/me/account", headers=me, json=body)


def test_the_world_starts_with_nobody_registered_on_assumed_days(hub: Hub) -> None:
    portal = hub.world.portal
    assert portal.accounts.registered_count() == 0
    assert all(portal.qualifications.card_use(hub.world.person(i)) is None for i in range(SPEC.holders))  # type: ignore[union-attr]
    health = hub.call(hub.points, "GET", "/health")
    assert (health["people"], health["cards"]) == (7, 7)


def test_the_account_part_follows_the_account_registered_in_the_portal(hub: Hub) -> None:
    mykey = phase2(hub, 0)
    refused = part(hub, ACC, mykey, 0, "2022-07-01", "acc-1")
    assert (refused["ok"], refused["reason"], refused["points"]) == (False, "not_eligible", 0), refused
    me = login(hub, 0)
    assert account_act(hub, 0, me, "register", "2022-07-01")["registered"] is True
    before = part(hub, ACC, mykey, 0, "2022-06-30", "acc-2")  # the account was registered from 2022-07-01 only
    assert before["reason"] == "not_eligible", before
    granted = part(hub, ACC, mykey, 0, "2022-07-01", "acc-3")
    assert (granted["ok"], granted["points"]) == (True, 7_500), granted
    assert part(hub, ACC, mykey, 0, "2022-07-02", "acc-4")["reason"] == "already_granted"
    assert part(hub, ACC, mykey, 0, "2022-07-01", "acc-3") == granted  # the same key again: the first answer
    person = hub.call(hub.points, "GET", f"/people/{mykey}")
    assert person["phases"]["phase2"]["account_registration"] == 7_500
    assert hub.call(hub.points, "GET", "/invariants")["ok"] is True


def test_an_account_cannot_be_registered_backdated_to_claim_a_day_already_past(hub: Hub) -> None:
    """The part is granted for an account registered on the day: registering one "from" a past day would buy
    points for a day she had none, so the portal refuses an effective day before today (in Japan)."""
    mykey = phase2(hub, 2)
    hub.clock.t = noon_in_japan("2022-07-10")
    back = account_act(hub, 2, login(hub, 2), "register", "2022-07-01")
    assert back["status"] == 422 and "effective: 2022-07-01 is before today (2022-07-10 in Japan)" in back["detail"]
    assert part(hub, ACC, mykey, 2, "2022-07-01", "acc-back")["reason"] == "not_eligible"
    assert account_act(hub, 2, login(hub, 2), "register", "2022-07-10")["registered"] is True
    assert part(hub, ACC, mykey, 2, "2022-07-09", "acc-eve")["reason"] == "not_eligible"
    assert part(hub, ACC, mykey, 2, "2022-07-10", "acc-day")["points"] == 7_500


def test_an_account_deleted_in_the_portal_is_not_registered_from_the_day_the_deletion_takes_effect(hub: Hub) -> None:
    mykey = phase2(hub, 1)
    me = login(hub, 1)
    assert account_act(hub, 1, me, "register", "2022-07-01")["registered"] is True
    hub.clock.t = noon_in_japan("2022-07-03")  # a session lasts 30 minutes: she logs in again
    changed = account_act(hub, 1, login(hub, 1), "change", "2022-07-03")
    assert changed["number"] == "7654321", changed  # a changed account still counts
    hub.clock.t = noon_in_japan("2022-07-05")
    assert account_act(hub, 1, login(hub, 1), "delete", "2022-07-05")["registered"] is False
    gone = part(hub, ACC, mykey, 1, "2022-07-05", "acc-gone")
    assert gone["reason"] == "not_eligible", gone
    assert part(hub, ACC, mykey, 1, "2022-07-20", "acc-later")["reason"] == "not_eligible"
    had = part(hub, ACC, mykey, 1, "2022-07-04", "acc-had")  # she had the changed account on that day
    assert (had["ok"], had["points"]) == (True, 7_500), had


def test_the_insurance_part_follows_the_card_registered_as_the_insurance_card_in_the_portal(hub: Hub) -> None:
    i = next(h.index for h in hub.deployment.holders if is_qualified(h) and not h.revoked)
    mykey = phase2(hub, i)
    assert part(hub, INS, mykey, i, "2022-07-01", "ins-1")["reason"] == "not_eligible"
    me = login(hub, i)
    shown = hub.call(hub.portal, "GET", "/portal/me/insurance-card", headers=me)
    assert (shown["qualified"], shown["registered"]) == (True, False), shown
    hub.clock.t = noon_in_japan("2022-07-02")
    me = login(hub, i)  # the next day, in a new session
    done = hub.call(hub.portal, "POST", "/portal/me/insurance-card", headers={**me, "Idempotency-Key": "card-use"})
    assert (done["status"], done["registered_on"]) == (200, "2022-07-02"), done
    assert part(hub, INS, mykey, i, "2022-07-01", "ins-2")["reason"] == "not_eligible"  # registered the day after
    granted = part(hub, INS, mykey, i, "2022-07-02", "ins-3")
    assert (granted["ok"], granted["points"]) == (True, 7_500), granted
    assert hub.call(hub.points, "GET", f"/people/{mykey}")["phases"]["phase2"]["insurance_linking"] == 7_500


def test_a_holder_whose_qualification_ended_cannot_register_and_the_insurance_part_stays_refused(hub: Hub) -> None:
    i = next(h.index for h in hub.deployment.holders if not is_qualified(h) and not h.revoked)  # holder 6
    mykey = phase2(hub, i)
    me = login(hub, i)
    r = hub.call(hub.portal, "POST", "/portal/me/insurance-card", headers={**me, "Idempotency-Key": "card-use"})
    assert r["status"] == 422 and "qualification" in r["detail"], r
    assert part(hub, INS, mykey, i, "2022-07-01", "ins-1")["reason"] == "not_eligible"


def test_a_lost_card_reserves_nothing(hub: Hub) -> None:
    r = hub.call(hub.points, "POST", "/reservations",
                 json={"person": 5, "on": "2022-06-15", "card_serial": hub.world.card_serial(5)})  # fmt: skip
    assert r["status"] == 403 and "revoked" in r["error"], r
    other = hub.call(hub.points, "POST", "/reservations",
                     json={"person": 0, "on": "2022-06-15", "card_serial": hub.world.card_serial(1)})  # fmt: skip
    assert other["status"] == 403 and "not resident 0's" in other["error"], other


def test_the_tax_records_of_a_world_set_in_2022_are_2021s(hub: Hub) -> None:
    """The year-end adjustment year before the epoch's: the deduction certificates, the residence-tax assessment and
    its notice are 2021's (令和3年度), not the default world's 2025."""
    me = login(hub, 0)
    yea = hub.call(hub.portal, "GET", "/portal/me/deductions?year=2021", headers=me)
    assert yea["totals"] == {"life_insurance": 84_000, "housing_loan": 21_500_000} and yea["left_out"] == 1, yea
    assert {c["year"] for c in yea["certificates"]} == {2021}
    assert hub.call(hub.portal, "GET", "/portal/me/deductions?year=2025", headers=me)["certificates"] == []
    notices = hub.call(hub.portal, "GET", "/portal/me/notices", headers=me)["list"]
    assert [n["text"] for n in notices] == ["令和3年度の住民税が決定しました。"]
    own = {i["item"]: i for i in hub.call(hub.portal, "GET", "/portal/me/information", headers=me)["list"]}
    assert (own["local_tax_income"]["as_of"], own["resident_record"]["as_of"]) == ("2021-04-01", "2021-01-01"), own


def test_the_fiscal_year_is_named_by_its_era() -> None:
    assert [fiscal_year_name(y) for y in (2025, 2021, 2020, 2019, 2018, 2015)] == [
        "令和7年度", "令和3年度", "令和2年度", "令和元年度", "平成30年度", "平成27年度"]  # fmt: skip


def test_the_standalone_world_and_the_hub_world_refuse_each_others_store(deployment: Deployment) -> None:
    hub_store, own_store = MemoryStore(), MemoryStore()
    hub_world(deployment, hub_store).ledger(hub_store)
    with pytest.raises(ValueError, match=r"a portal's world \(twin serve points --set world=portal\)"):
        PointsWorld(people=10, seed=1, cards=2).ledger(hub_store)
    PointsWorld(people=10, seed=1, cards=2).ledger(own_store)
    with pytest.raises(StoreError, match=r"holds the load \('points world', 10, 1, 2\), not the enrolment of a "
                                         r"served world's card holders"):  # the portal's world is not built on it
        hub_world(deployment, own_store)
    with pytest.raises(ValueError, match="must be on the portal's store"):
        hub_world(deployment, MemoryStore()).ledger(hub_store)


def test_twin_serve_points_takes_the_portal_world_and_names_bad_options() -> None:
    app = points_api.serve_app("memory://", world="portal", holders="2", seed="3", epoch="2022-06-01")
    assert TestClient(app).get("/health").json()["cards"] == 2
    with pytest.raises(ValueError, match=r"--set world: 'mars' is not allowed; use world=portal"):
        points_api.serve_app("memory://", world="mars")
    with pytest.raises(ValueError, match=r"world=portal: --set people: unknown option; allowed: base_url, epoch"):
        points_api.serve_app("memory://", world="portal", people="10")
    with pytest.raises(ValueError, match=r"deployment epoch: '2022-06-31' is not allowed; use an ISO date"):
        points_api.serve_app("memory://", world="portal", epoch="2022-06-31")


def test_the_portal_clock_of_a_world_set_at_another_epoch_runs_from_it_for_every_start_on_the_store(
    deployment: Deployment,
) -> None:
    store = MemoryStore()
    clock = world_clock(deployment, store)
    start = SPEC.start + dt.timedelta(hours=2)  # after the lost card was reported (an hour after the epoch)
    assert abs(clock() - start.timestamp()) < 60
    later = world_clock(deployment, store)  # another worker, or a restart: the same time, from the recorded start
    assert abs(later() - clock()) < 1
    assert world_clock(Deployment.build(DeploymentSpec(holders=1)), MemoryStore()) is time.time  # today's world


@pytest.mark.slow
def test_two_servers_on_one_sqlite_store_are_one_world(tmp_path: Path) -> None:
    """``twin serve portal`` and ``twin serve points --set world=portal`` over loopback, one SQLite file: a holder
    registers in the portal (whose clock runs from the epoch) and the points server, another process, grants."""
    spec = {"holders": "4", "seed": "7", "epoch": "2022-06-01"}  # holder 3's card was reported lost
    client_side = Deployment.build(DeploymentSpec.from_options(spec))
    i = 0  # insured (from 2016-06-01) and not registered: the points server started with the portal alone
    store = f"sqlite:///{tmp_path / 'hub.db'}"
    with (
        twin_serve("portal", store, spec) as portal_url,
        twin_serve("points", store, {"world": "portal", **spec}) as points_url,
        httpx.Client(base_url=portal_url, timeout=30) as portal,
        httpx.Client(base_url=points_url, timeout=30) as points,
    ):
        serial = client_side.holders[i].auth_certificate.serial_number
        mykey = points.post("/reservations", json={"person": i, "on": "2022-06-15", "card_serial": serial}).json()
        applied = points.post("/applications", headers={"Idempotency-Key": "apply"}, json={
            "mykey": mykey["mykey"], "phase": "phase2", "operator": "paypay", "service_account": "pp-1",
            "card_applied_on": "2022-05-01", "on": "2022-06-15"}).json()  # fmt: skip
        assert applied["ok"], applied

        def part(route: str, key: str) -> dict:
            body = {"mykey": mykey["mykey"], "on": "2022-07-01", "card_serial": serial}
            return points.post(route, headers={"Idempotency-Key": key}, json=body).json()  # type: ignore[no-any-return]

        assert part(ACC, "acc-1")["reason"] == part(INS, "ins-1")["reason"] == "not_eligible"
        token = portal.get("/portal/challenge").json()["challenge"]
        session = portal.post("/portal/login", json=card_answer(token, client_side.holders[i].reader(), PIN)).json()
        me = {"authorization": f"Bearer {session['session']}"}
        card = portal.post("/portal/me/insurance-card", headers={**me, "Idempotency-Key": "card-use"}).json()
        assert card["registered_on"] == "2022-06-01", card  # the portal's clock: the epoch's day, not today's
        family, _, given = resident(7, i).info.name.partition("\u3000")  # the account holder: the name's reading
        account = {"bank_code": "0005", "branch_code": "123", "account_type": "普通", "number": "1234567",
                   "holder": f"{READINGS[family]}\u3000{READINGS[given]}"}  # fmt: skip
        document = signing_bytes("public_benefit_account",
                                 account_fields("register", BankAccount(**account), dt.date(2022, 6, 1)))  # fmt: skip
        body = {"action": "register", "account": account, "effective": "2022-06-01",
                **card_sign(client_side.holders[i].reader(), DEMO_SIGN_PASSWORD, document)}  # fmt: skip
        r = portal.post("/portal/me/account", headers=me, json=body)
        assert r.status_code == 200, r.text
        assert (part(ACC, "acc-2")["points"], part(INS, "ins-2")["points"]) == (7_500, 7_500)
