"""``twin serve points``: My Number Points over HTTP, in process (TestClient) and once through the real command.

A resident reserves, applies once, the operator reports top-ups and gets 25 % up to 5,000 points, claims
them, and the state reimburses the claim. The bad inputs the issue names: a second application of one
person, and a top-up over the cap, are refused and nothing is granted twice; retries with the same key
get the first answer, the same key with another payload a 422.
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import httpx
import pytest
from fastapi.testclient import TestClient

from real_backends import points_api
from real_backends.load.server import twin_serve
from real_backends.points_api import PointsWorld, create_app, serve_app
from twin.services.store import MemoryStore

WORLD = PointsWorld(people=20, seed=1)


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(MemoryStore(), WORLD))


def reserve(c: TestClient, person: int, on: str = "2020-06-20") -> str:
    r = c.post("/reservations", json={"person": person, "on": on})
    assert r.status_code == 200, r.text
    return r.json()["mykey"]


def application(mykey: str, account: str = "suica-0007", operator: str = "suica", on: str = "2020-07-01") -> dict:
    return {"mykey": mykey, "phase": "phase1", "operator": operator, "service_account": account,
            "card_applied_on": "2020-03-01", "on": on}  # fmt: skip


def top_up(txn: str, amount: int, on: str = "2020-09-02", account: str = "suica-0007") -> dict:
    return {"operator": "suica", "operator_txn": txn, "service_account": account, "amount_yen": amount, "on": on}


def test_a_reservation_is_the_same_mykey_on_every_call_and_keeps_its_first_day(client: TestClient) -> None:
    first = client.post("/reservations", json={"person": 7, "on": "2020-06-20"}).json()
    again = client.post("/reservations", json={"person": 7, "on": "2020-07-03"}).json()
    assert first == again and first["reserved_on"] == "2020-06-20" and len(first["mykey"]) == 8
    assert reserve(client, 8) != first["mykey"]
    # the same world gives the same MyKey IDs on a fresh store (reproducible)
    assert reserve(TestClient(create_app(MemoryStore(), WORLD)), 7) == first["mykey"]
    r = client.post("/reservations", json={"person": 20, "on": "2020-06-20"})
    assert r.status_code == 404 and "residents 0..19" in r.json()["error"]


def test_the_whole_way_reserve_apply_top_up_claim_reimburse(client: TestClient) -> None:
    mykey = reserve(client, 7)
    d = client.post("/applications", json=application(mykey), headers={"Idempotency-Key": "app-7"}).json()
    assert d["ok"] is True
    g = client.post("/top-ups", json=top_up("t1", 12_000)).json()
    assert (g["ok"], g["points"]) == (True, 3_000)
    g2 = client.post("/top-ups", json=top_up("t2", 12_000)).json()
    assert g2["points"] == 2_000  # 25 % of 12,000 is 3,000, but only 2,000 are left of the 5,000 cap
    person = client.get(f"/people/{mykey}").json()
    assert person["phases"]["phase1"] == {"operator": "suica", "applied_on": "2020-07-01", "purchase": 5_000,
                                          "insurance_linking": 0, "account_registration": 0}  # fmt: skip
    c = client.post("/claims", json={"operator": "suica", "until": "2020-09-30"}, headers={"Idempotency-Key": "c1"})
    claim = c.json()["claim"]
    assert claim["points"] == 5_000 and claim["grants"] == [g["grant"], g2["grant"]]
    paid = client.post(f"/claims/{claim['id']}/reimbursement", json={"on": "2020-10-20"}).json()
    assert paid["reimbursed_on"] == "2020-10-20"
    again = client.post(f"/claims/{claim['id']}/reimbursement", json={"on": "2020-11-20"}).json()
    assert again == paid  # paying a paid claim changes nothing
    assert client.get("/totals").json()["granted"] == 5_000
    assert client.get("/totals").json() == {"granted": 5_000, "claimed": 5_000, "reimbursed": 5_000,
                                            "budget_yen": {"phase1": 247_800_000_000, "phase2": 400_000}}  # fmt: skip
    assert client.get("/invariants").json() == {"ok": True, "message": ""}
    months = client.get("/months/phase1").json()["months"]
    assert months == [{"month": "2020-06", "reservations": 1, "applications": 0},
                      {"month": "2020-07", "reservations": 0, "applications": 1}]  # fmt: skip


def test_a_second_application_and_a_top_up_over_the_cap_are_refused_and_nothing_is_granted_twice(
    client: TestClient,
) -> None:
    mykey = reserve(client, 3)
    first = client.post("/applications", json=application(mykey, "suica-3"), headers={"Idempotency-Key": "a"})
    assert first.json()["ok"]
    # twice for one person: another key, another service: refused, whatever the key
    second = client.post("/applications", json=application(mykey, "waon-3", "waon"), headers={"Idempotency-Key": "b"})
    assert second.status_code == 200 and second.json()["reason"] == "already_applied"
    assert client.post("/top-ups", json=top_up("x1", 20_000, account="suica-3")).json()["points"] == 5_000
    over = client.post("/top-ups", json=top_up("x2", 20_000, account="suica-3")).json()
    assert (over["ok"], over["reason"], over["points"]) == (False, "cap_reached", 0)
    # the operator sends its first report again: the same answer, no second grant
    again = client.post("/top-ups", json=top_up("x1", 20_000, account="suica-3")).json()
    assert again["points"] == 5_000 and again["grant"] is not None
    # nothing went to the account named by the refused application
    assert client.post("/top-ups", json=top_up("w1", 20_000, account="waon-3") | {"operator": "waon"}).json()[
        "reason"] == "no_application"  # fmt: skip
    assert client.get("/totals").json()["granted"] == 5_000
    assert client.get(f"/people/{mykey}").json()["phases"]["phase1"]["purchase"] == 5_000
    assert client.get("/invariants").json()["ok"] is True


def test_retries_with_a_key_get_the_first_answer_and_another_payload_under_it_a_422(client: TestClient) -> None:
    mykey = reserve(client, 5)
    body = application(mykey, "paypay-5", "paypay")
    first = client.post("/applications", json=body, headers={"Idempotency-Key": "k5"})
    assert first.json()["ok"] and client.post("/applications", json=body, headers={"Idempotency-Key": "k5"}).json() \
        == first.json()  # fmt: skip
    other = client.post("/applications", json={**body, "on": "2020-07-02"}, headers={"Idempotency-Key": "k5"})
    assert other.status_code == 422 and "idempotency key 'k5'" in other.json()["error"]
    assert client.post("/top-ups", json=top_up("t", 100, account="paypay-5") | {"operator": "paypay"}).json()["ok"]
    clash = client.post("/top-ups", json=top_up("t", 200, account="paypay-5") | {"operator": "paypay"})
    assert clash.status_code == 409 and clash.json()["detail"][0]["loc"] == ["body", "operator_txn"]
    c1 = client.post("/claims", json={"operator": "paypay", "until": "2020-09-30"}, headers={"Idempotency-Key": "c"})
    c2 = client.post("/claims", json={"operator": "paypay", "until": "2020-09-30"}, headers={"Idempotency-Key": "c"})
    assert c1.json() == c2.json() and c1.json()["claim"]["points"] == 25
    c3 = client.post("/claims", json={"operator": "paypay", "until": "2020-10-31"}, headers={"Idempotency-Key": "c"})
    assert c3.status_code == 422
    fresh = client.post("/claims", json={"operator": "paypay", "until": "2020-10-31"}, headers={"Idempotency-Key": "d"})
    assert fresh.json() == {"claim": None}  # everything up to then is claimed already: nothing claimed twice
    assert client.get("/totals").json()["claimed"] == 25


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/reservations", {"person": -1, "on": "2020-06-20"}, "person"),
    ("/reservations", {"person": 1, "on": "2020-02-30"}, "on"),
    ("/reservations", {"person": "1", "on": "2020-06-20"}, "person"),
    ("/top-ups", top_up("t", 0), "amount_yen"),
    ("/top-ups", {**top_up("t", 10), "extra": 1}, "extra"),
    ("/claims", {"operator": "nobody", "until": "2020-09-30"}, "operator"),
])  # fmt: skip
def test_bad_input_is_a_422_naming_the_field(client: TestClient, path: str, body: dict, field: str) -> None:
    r = client.post(path, json=body, headers={"Idempotency-Key": "k"})
    assert r.status_code == 422, r.text
    assert any(field in map(str, d["loc"]) for d in r.json()["detail"]), r.json()


def test_a_my_number_typed_as_the_service_account_never_comes_back(client: TestClient) -> None:
    mykey = reserve(client, 9)
    client.post("/applications", json=application(mykey, "123456789018"), headers={"Idempotency-Key": "m"})
    r = client.post("/applications", json=application(mykey, "123456789018"), headers={"Idempotency-Key": "m2"})
    assert "123456789018" not in r.text
    r = client.post("/applications", json={**application(mykey), "service_account": "1234 5678 9018"},
                    headers={"Idempotency-Key": "m"})  # fmt: skip
    assert r.status_code == 422 and "5678" not in r.text


def test_unknown_mykey_and_claim_are_404_and_a_store_of_another_world_is_refused() -> None:
    assert set(get_args(points_api.Operator)) == set(points_api.OPERATORS)  # the schema lists the served operators
    c = TestClient(create_app(MemoryStore(), WORLD))
    assert c.get("/people/ABCDEFGH").status_code == 404
    assert c.post("/claims/7/reimbursement", json={"on": "2020-10-01"}).status_code == 404
    store = MemoryStore()
    create_app(store, WORLD)
    with pytest.raises(ValueError, match=r"people, seed, cards = \(20, 1, 0\), not \(30, 1, 0\)"):
        create_app(store, PointsWorld(people=30, seed=1))
    with pytest.raises(ValueError, match=r"^points: unknown option\(s\) \['colour'\]; allowed: people, seed, cards$"):
        serve_app("memory://", colour="red")
    many = r"^points: --set people: 'many' must be a whole number in \[1, 130,000,000\]$"
    with pytest.raises(ValueError, match=many):
        serve_app("memory://", people="many")


@pytest.mark.slow
def test_twin_serve_points_answers_over_loopback_and_keeps_its_ledger_across_a_restart(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'points.db'}"
    with twin_serve("points", store, {"people": "20", "seed": "1"}) as url:
        assert httpx.get(f"{url}/health").json() == {
            "status": "ok",
            "people": 20,
            "cards": 0,
            "operators": ["dbarai", "paypay", "rakuten", "suica", "waon"],
        }
        mykey = httpx.post(f"{url}/reservations", json={"person": 7, "on": "2020-06-20"}).json()["mykey"]
        assert httpx.post(f"{url}/applications", json=application(mykey), headers={"Idempotency-Key": "a"}).json()["ok"]
        assert httpx.post(f"{url}/top-ups", json=top_up("t1", 20_000)).json()["points"] == 5_000
    with twin_serve("points", store) as url:  # the world and the ledger come back from the store
        assert httpx.get(f"{url}/people/{mykey}").json()["phases"]["phase1"]["purchase"] == 5_000
        assert httpx.post(f"{url}/top-ups", json=top_up("t1", 20_000)).json()["points"] == 5_000  # a retry
        assert httpx.get(f"{url}/totals").json()["granted"] == 5_000
        assert httpx.get(f"{url}/invariants").json()["ok"] is True
