"""Phase 2's two 7,500-point parts over HTTP: ``POST /phase2/insurance-linking`` and
``POST /phase2/account-registration``.

Specification: a resident who reserved a MyKey ID and applied for phase 2 with a cashless service gets 7,500
points for the card used as the health-insurance card and 7,500 for a registered public-benefit account, each
once, from 2022-06-30, and only when the insurers' qualification book records that she had registered the card
as the health-insurance card by the day (健康保険証利用登録: the eligibility comes from the book, not the
request) / the account register holds her account on the day (the served world puts the card holders' records
there: residents 3, 7, 11 are not linked by the insurer, so never registered; resident 10 registered on
2022-08-14; 2, 5, 8, 11 registered no account; resident 3 registered one on 2022-07-18). The points go to the
service of her phase-2 application, are claimed and reimbursed to the yen, and count in the totals. In a world
with cards (``cards=12``), only the MyKey ID holder's own valid card applies: no card, an unknown one, another
resident's, a revoked or an expired one is a 403 that grants nothing and leaves the Idempotency-Key unused.
"""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest
from fastapi.testclient import TestClient

from real_backends.points_api import INSURER, PointsWorld, create_app
from twin.services.eligibility import QualificationBook
from twin.services.store import MemoryStore

WORLD = PointsWorld(people=30, seed=1, cards=12)
INS, ACC = "/phase2/insurance-linking", "/phase2/account-registration"


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(MemoryStore(), WORLD))


def phase2(c: TestClient, person: int, operator: str = "suica") -> str:
    """Resident ``person`` reserves with her card and applies for phase 2; her MyKey ID."""
    r = c.post("/reservations", json={"person": person, "on": "2020-04-30", "card_serial": WORLD.card_serial(person)})
    assert r.status_code == 200, r.text
    mykey = r.json()["mykey"]
    applied = c.post("/applications", headers={"Idempotency-Key": f"apply-{person}"}, json={
        "mykey": mykey, "phase": "phase2", "operator": operator, "service_account": f"{operator}-{person}",
        "card_applied_on": "2020-03-01", "on": "2022-01-05"}).json()  # fmt: skip
    assert applied["ok"], applied
    return mykey


def link(c: TestClient, route: str, mykey: str, on: str, key: str, card: int | None) -> httpx.Response:
    body: dict = {"mykey": mykey, "on": on}
    if card is not None:
        body["card_serial"] = WORLD.card_serial(card)
    return c.post(route, headers={"Idempotency-Key": key}, json=body)


def test_both_parts_once_each_from_2022_06_30_settled_to_the_yen(client: TestClient) -> None:
    mykey = phase2(client, 0)  # linked; account registered 2022-03-29
    early = link(client, INS, mykey, "2022-06-29", "ins-early", 0).json()
    assert early["reason"] == "not_open" and early["points"] == 0, early
    first = link(client, INS, mykey, "2022-06-30", "ins", 0).json()
    assert first["ok"] and first["points"] == 7_500, first
    assert link(client, INS, mykey, "2022-06-30", "ins", 0).json() == first  # the same key: the first answer
    again = link(client, INS, mykey, "2022-07-01", "ins-2", 0).json()
    assert again["reason"] == "already_granted" and again["points"] == 0, again
    reused = link(client, INS, mykey, "2022-07-02", "ins", 0)  # the same key for another request
    assert reused.status_code == 422 and "already used" in reused.json()["error"], reused.text
    acc = link(client, ACC, mykey, "2022-07-01", "acc", 0).json()
    assert acc["ok"] and acc["points"] == 7_500 and acc["grant"] == first["grant"] + 1, acc
    assert link(client, ACC, mykey, "2022-07-02", "acc-2", 0).json()["reason"] == "already_granted"
    person = client.get(f"/people/{mykey}").json()["phases"]["phase2"]
    assert (person["operator"], person["purchase"], person["insurance_linking"], person["account_registration"]) == (
        "suica", 0, 7_500, 7_500)  # fmt: skip
    claim = client.post("/claims", headers={"Idempotency-Key": "c"}, json={"operator": "suica", "until": "2022-07-31"})
    c = claim.json()["claim"]
    assert c["points"] == 15_000 and c["grants"] == [first["grant"], acc["grant"]], claim.text
    paid = client.post(f"/claims/{c['id']}/reimbursement", json={"on": "2022-08-20"}).json()
    assert paid["reimbursed_on"] == "2022-08-20"
    t = client.get("/totals").json()
    assert (t["granted"], t["claimed"], t["reimbursed"]) == (15_000, 15_000, 15_000), t
    assert client.get("/invariants").json()["ok"] is True


def test_each_part_needs_its_record_in_the_insurers_book_or_the_account_register(client: TestClient) -> None:
    three = phase2(client, 3)  # qualification not linked by the insurer; account registered on 2022-07-18
    assert link(client, INS, three, "2022-07-20", "i3", 3).json()["reason"] == "not_eligible"
    assert link(client, ACC, three, "2022-07-17", "a3", 3).json()["reason"] == "not_eligible"  # not yet
    assert link(client, ACC, three, "2022-07-18", "a3-b", 3).json()["points"] == 7_500
    two = phase2(client, 2, "paypay")  # linked, no account
    assert link(client, ACC, two, "2022-07-20", "a2", 2).json()["reason"] == "not_eligible"
    assert link(client, INS, two, "2022-07-20", "i2", 2).json()["points"] == 7_500
    assert client.get("/totals").json()["granted"] == 15_000 and client.get("/invariants").json()["ok"] is True


def test_the_insurance_part_follows_the_day_the_person_registered_the_card_in_the_qualification_book(
    client: TestClient,
) -> None:
    book = QualificationBook(client.app.state.store)  # the insurers' book the world wrote on the served store
    registered = WORLD.card_use_registered_on(10)
    assert registered == dt.date(2022, 8, 14) and book.card_use("resident-10").on == registered  # type: ignore[union-attr]
    ten = phase2(client, 10)  # linked by the insurer from 2015, registered the card only on 2022-08-14
    day_before = (registered - dt.timedelta(days=1)).isoformat()
    assert link(client, INS, ten, day_before, "i10", 10).json()["reason"] == "not_eligible"
    assert link(client, INS, ten, registered.isoformat(), "i10-b", 10).json()["points"] == 7_500
    three = phase2(client, 3)  # the insurer had not linked her qualification: she could not register
    assert link(client, INS, three, "2022-08-01", "i3", 3).json()["reason"] == "not_eligible"
    book.link((INSURER, "P0000003", "00"), "resident-3")  # the insurer links it; she registers in Myna Portal
    assert link(client, INS, three, "2022-08-02", "i3-b", 3).json()["reason"] == "not_eligible"  # linked is not enough
    book.register_card_use("resident-3", dt.date(2022, 8, 2), key="portal-3")
    assert link(client, INS, three, "2022-08-02", "i3-c", 3).json()["points"] == 7_500
    assert client.get("/totals").json()["granted"] == 15_000 and client.get("/invariants").json()["ok"] is True


def test_a_part_needs_a_phase_2_application_and_a_reserved_mykey(client: TestClient) -> None:
    r = client.post("/reservations", json={"person": 1, "on": "2020-07-01", "card_serial": WORLD.card_serial(1)})
    mykey = r.json()["mykey"]  # reserved, never applied
    assert link(client, INS, mykey, "2022-07-01", "i1", 1).json()["reason"] == "no_application"
    assert link(client, INS, "ABCDEFGH", "2022-07-01", "i-none", 1).json()["reason"] == "not_reserved"
    assert client.get("/totals").json()["granted"] == 0


def refused(c: TestClient, r: httpx.Response, mykey: str, says: str) -> None:
    """A 403 naming the card and saying ``says``, nothing granted."""
    assert r.status_code == 403, r.text
    assert says in r.json()["error"] and r.json()["detail"][0]["loc"] == ["body", "card_serial"], r.text
    assert not re.search(r"[0-9]{12}", r.text)
    phase = c.get(f"/people/{mykey}").json()["phases"]["phase2"]
    assert phase["insurance_linking"] == phase["account_registration"] == 0
    assert c.get("/totals").json()["granted"] == 0 and c.get("/invariants").json()["ok"] is True


@pytest.mark.parametrize("route", [INS, ACC])
def test_only_the_mykey_holders_own_valid_card_applies(client: TestClient, route: str) -> None:
    mykey = phase2(client, 0)
    refused(client, link(client, route, mykey, "2022-07-01", "k", None), mykey, "present the card")
    r = link(client, route, mykey, "2022-07-01", "k", 4)  # resident 4's good card
    refused(client, r, mykey, f"card_serial {WORLD.card_serial(4)}: a valid card, but not the MyKey ID holder's")
    r = client.post(route, headers={"Idempotency-Key": "k"}, json={"mykey": mykey, "on": "2022-07-01",
                                                                   "card_serial": 10**9})  # fmt: skip
    refused(client, r, mykey, "card_serial 1000000000: no certificate of the JPKI centre has this serial")
    # the refusals left the key unused: the same key with her card grants
    assert link(client, route, mykey, "2022-07-01", "k", 0).json()["points"] == 7_500


def test_a_revoked_or_expired_card_grants_nothing(client: TestClient) -> None:
    lost = phase2(client, 9)  # reserved 2020-04-30, the day before the card was reported lost
    refused(client, link(client, ACC, lost, "2022-08-10", "a9", 9), lost, "the certificate was revoked on 2020-05-01")
    four = phase2(client, 4)  # resident 4's certificate expired on 2024-10-08
    refused(client, link(client, INS, four, "2024-10-09", "i4", 4), four, "the certificate expired on 2024-10-08")


def test_a_world_without_cards_has_nobody_linked_or_registered() -> None:
    c = TestClient(create_app(MemoryStore(), PointsWorld(people=30, seed=1)))
    mykey = c.post("/reservations", json={"person": 0, "on": "2020-07-01"}).json()["mykey"]
    assert c.post("/applications", headers={"Idempotency-Key": "a"}, json={
        "mykey": mykey, "phase": "phase2", "operator": "waon", "service_account": "w-0",
        "card_applied_on": "2020-03-01", "on": "2022-01-05"}).json()["ok"]  # fmt: skip
    for route in (INS, ACC):
        d = c.post(route, headers={"Idempotency-Key": route}, json={"mykey": mykey, "on": "2022-07-01"}).json()
        assert d["reason"] == "not_eligible" and d["points"] == 0, d


def test_the_document_lists_both_routes_with_the_card_refusal() -> None:
    doc = TestClient(create_app(MemoryStore(), WORLD)).get("/openapi.json").json()
    for route in (INS, ACC):
        post = doc["paths"][route]["post"]
        assert post["responses"]["403"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"}  # fmt: skip
        assert "revoked" in post["responses"]["403"]["description"] and "7,500" in post["description"]
        assert any(p["name"] == "Idempotency-Key" and p["required"] for p in post["parameters"])
    assert set(doc["components"]["schemas"]["LinkingIn"]["properties"]) == {"mykey", "on", "card_serial"}


def test_with_the_emulated_card_a_renewed_card_read_at_the_terminal_applies_and_the_old_one_does_not() -> None:
    """Resident 6 renews her card on 2022-06-01 at the counter (an emulated card personalised by the world's own
    JPKI centre); the terminal reads the serial of its user-authentication certificate from the card (APDUs to
    the emulated card OS); with it she reserves and gets both parts, and the same card read for resident 0's MyKey
    ID is refused. No My Number or PIN goes into a request or an answer."""
    from emulators.card_os import MynaCardOS
    from emulators.demo import personalise
    from emulators.jpki_client import JpkiClient
    from emulators.readers import InProcessReader
    from real_backends.load.deployment import _Counter, resident
    from twin.services.jpki import KeySource

    world = PointsWorld(people=30, seed=1, cards=12)  # its own centre: the renewal is issued there
    c = TestClient(create_app(MemoryStore(), world))
    renewed = dt.datetime(2022, 6, 1, 1, tzinfo=dt.UTC)
    perso = personalise(resident(1, 6), _Counter(world.jpki).for_person(world.person(6)),  # type: ignore[arg-type]
                        KeySource(2, pool_size=2), renewed)  # fmt: skip
    reader = InProcessReader(MynaCardOS(perso))
    reader.connect()  # the card in the post-office terminal's reader
    serial = JpkiClient(reader).read_certificate("auth").serial_number
    reader.disconnect()
    assert serial != world.card_serial(6)  # a new certificate, not the 2020 one
    r = c.post("/reservations", json={"person": 6, "on": "2022-06-02", "card_serial": serial})
    assert r.status_code == 200, r.text
    mykey = r.json()["mykey"]
    assert c.post("/applications", headers={"Idempotency-Key": "a6"}, json={
        "mykey": mykey, "phase": "phase2", "operator": "waon", "service_account": "waon-6",
        "card_applied_on": "2022-05-01", "on": "2022-06-02"}).json()["ok"]  # fmt: skip
    for route, key in ((INS, "ins-6"), (ACC, "acc-6")):
        d = c.post(route, headers={"Idempotency-Key": key}, json={"mykey": mykey, "on": "2022-07-01",
                                                                  "card_serial": serial})  # fmt: skip
        assert d.status_code == 200 and d.json()["points"] == 7_500, d.text
        assert not re.search(r"[0-9]{12}", d.text)
    zero = c.post("/reservations", json={"person": 0, "on": "2022-06-02", "card_serial": world.card_serial(0)})
    other = c.post(INS, headers={"Idempotency-Key": "i0"}, json={"mykey": zero.json()["mykey"], "on": "2022-07-01",
                                                                  "card_serial": serial})  # fmt: skip
    assert other.status_code == 403 and "not the MyKey ID holder's" in other.json()["error"], other.text
    assert c.get("/totals").json()["granted"] == 15_000
