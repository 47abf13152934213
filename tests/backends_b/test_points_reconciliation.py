"""The state's reconciliation of My Number Points over HTTP: ``POST /reconciliation``.

Specification: the operators send their customer records (who holds each account) and their grant reports (the
points they credited per grant); the answer says, to the yen, each phase's budget, what was granted and what is
left, what the operators claimed and the state reimbursed, and every wrong grant with its reason: a grant to an
account whose holder is not the person the MyKey ID was reserved for (misdirected, with the support desk that keyed
the application in: the 2023 record's 113 cases in 90 municipalities), points credited beyond the ledger's decision
(undecided) and a decision not credited (missing). It changes nothing, and names no person, MyKey ID or key. A
customer record naming a resident not in the world is a 404, an account listed twice with different holders a 409,
each naming the line; lines beyond the limit or out of range are a 422.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from real_backends.points_api import MAX_LINES, PointsWorld, create_app
from twin.services.store import MemoryStore

WORLD = PointsWorld(people=30, seed=1)
DESK = "muni:131016"


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(MemoryStore(), WORLD))


def apply(c: TestClient, person: int, account: str, desk: str | None = None) -> str:
    mykey = c.post("/reservations", json={"person": person, "on": "2020-07-01"}).json()["mykey"]
    body = {"mykey": mykey, "phase": "phase1", "operator": "paypay", "service_account": account,
            "card_applied_on": "2020-03-01", "on": "2020-09-10"}  # fmt: skip
    if desk is not None:
        body["desk"] = desk
    d = c.post("/applications", headers={"Idempotency-Key": f"apply-{person}"}, json=body).json()
    assert d["ok"], d
    return mykey


def top_up(c: TestClient, account: str, yen: int, txn: str) -> dict:
    d = c.post("/top-ups", json={"operator": "paypay", "operator_txn": txn, "service_account": account,
                                 "amount_yen": yen, "on": "2020-09-15"}).json()  # fmt: skip
    assert d["ok"], d
    return d


def world_with_a_wrong_grant(c: TestClient) -> tuple[list[str], dict[int, dict]]:
    """Residents 0-3 apply with their own PayPay accounts; resident 4's application is keyed in at a support desk
    onto resident 5's account (pp-5), as in 2023; each account is topped up; the grants by resident."""
    mykeys = [apply(c, i, f"pp-{i}") for i in range(4)] + [apply(c, 4, "pp-5", desk=DESK)]
    grants = {i: top_up(c, f"pp-{i}", 16_000, f"t{i}") for i in range(4)}  # 4,000 points each
    grants[4] = top_up(c, "pp-5", 8_000, "t4")  # 2,000 points for resident 4, credited to resident 5's account
    return mykeys, grants


def customers() -> list[dict]:
    return [{"operator": "paypay", "service_account": f"pp-{i}", "person": i} for i in range(6)]


def reports(grants: dict[int, dict]) -> list[dict]:
    return [{"operator": "paypay", "grant": g["grant"], "points": g["points"]} for g in grants.values()]


def test_a_grant_keyed_onto_another_persons_account_is_found_with_its_desk_and_the_money_adds_up(client):
    mykeys, grants = world_with_a_wrong_grant(client)
    claim = client.post("/claims", headers={"Idempotency-Key": "c1"},
                        json={"operator": "paypay", "until": "2020-09-30"})  # fmt: skip
    assert claim.json()["claim"]["points"] == 18_000
    client.post(f"/claims/{claim.json()['claim']['id']}/reimbursement", json={"on": "2020-10-20"})
    late = top_up(client, "pp-1", 400, "t6")  # 100 points more, not claimed; the operator's report leaves it out
    assert late["points"] == 100
    extra = {"operator": "paypay", "grant": grants[2]["grant"], "points": 300}  # credited twice: undecided

    before = client.get("/totals").json()
    r = client.post("/reconciliation", json={"customers": customers(), "grant_reports": [*reports(grants), extra]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert client.get("/totals").json() == before  # the reconciliation changed nothing

    granted = 4 * 4_000 + 2_000 + 100
    assert (out["granted_yen"], out["claimed_yen"], out["reimbursed_yen"]) == (18_100, 18_000, 18_000)
    assert (out["unclaimed_yen"], out["awaiting_reimbursement_yen"]) == (100, 0)
    assert (out["claims"], out["claims_reimbursed"], out["grants_checked"]) == (1, 1, 6)
    assert out["phases"]["phase1"] == {"budget_yen": 247_800_000_000, "granted_yen": granted,
                                       "remaining_yen": 247_800_000_000 - granted}  # fmt: skip
    assert out["phases"]["phase2"]["granted_yen"] == 0
    (wrong,) = [f for f in out["findings"] if f["kind"] == "misdirected"]
    assert (wrong["grant"], wrong["points"], wrong["desk"], wrong["operator"]) == (grants[4]["grant"], 2_000, DESK,
                                                                                   "paypay")  # fmt: skip
    assert "not name the person the MyKey ID was reserved for" in wrong["reason"]
    assert (out["misdirected_grants"], out["misdirected_yen"], out["desks_with_misdirected_grants"]) == (1, 2_000, 1)
    assert out["misdirected_by_desk"] == {DESK: 1}
    assert (out["undecided_yen"], out["missing_yen"]) == (300, 100)
    kinds = sorted((f["kind"], f["points"]) for f in out["findings"])
    assert kinds == [("misdirected", 2_000), ("missing", 100), ("undecided", 300)]
    assert out["invariants_ok"] is True
    assert not any(m in r.text for m in mykeys) and "resident-" not in r.text and "apply-" not in r.text


def test_a_clean_ledger_reconciles_without_findings_and_an_unlisted_account_has_no_known_holder(client):
    mykeys = [apply(client, i, f"pp-{i}") for i in range(3)]
    grants = {i: top_up(client, f"pp-{i}", 20_000, f"t{i}") for i in range(3)}
    clean = client.post("/reconciliation", json={"customers": customers(), "grant_reports": reports(grants)}).json()
    assert clean["findings"] == [] and clean["misdirected_grants"] == 0 and clean["granted_yen"] == 15_000
    unlisted = client.post("/reconciliation", json={"customers": customers()[1:], "grant_reports": reports(grants)})
    (f,) = unlisted.json()["findings"]
    assert (f["kind"], f["grant"], f["desk"]) == ("misdirected", grants[0]["grant"], None)
    assert unlisted.json()["misdirected_by_desk"] == {"-": 1} and len(mykeys) == 3


def test_bad_input_is_refused_naming_the_line(client):
    world_with_a_wrong_grant(client)
    stranger = [*customers(), {"operator": "paypay", "service_account": "pp-x", "person": 30}]
    r = client.post("/reconciliation", json={"customers": stranger, "grant_reports": []})
    assert r.status_code == 404 and "customers[6].person: 30: no such resident" in r.json()["error"], r.text
    assert r.json()["detail"][0]["loc"] == ["body", "customers", 6, "person"]
    twice = [*customers(), {"operator": "paypay", "service_account": "pp-5", "person": 4}]
    r = client.post("/reconciliation", json={"customers": twice, "grant_reports": []})
    assert r.status_code == 409 and "listed twice with different holders" in r.json()["error"], r.text
    too_many = [{"operator": "paypay", "grant": 1, "points": 1}] * (MAX_LINES + 1)
    r = client.post("/reconciliation", json={"customers": [], "grant_reports": too_many})
    assert r.status_code == 422 and "grant_reports" in r.text
    r = client.post("/reconciliation", json={"customers": [], "grant_reports": [{"operator": "paypay", "grant": 0,
                                                                                  "points": 5}]})  # fmt: skip
    assert r.status_code == 422 and "grant" in r.text
    r = client.post("/applications", headers={"Idempotency-Key": "bad-desk"}, json={
        "mykey": "ABCDEFGH", "phase": "phase1", "operator": "paypay", "service_account": "x",
        "card_applied_on": "2020-03-01", "on": "2020-09-10", "desk": "131016"})  # fmt: skip
    assert r.status_code == 422 and "desk" in r.text


def test_the_route_is_documented() -> None:
    doc = TestClient(create_app(MemoryStore(), WORLD)).get("/openapi.json").json()
    post = doc["paths"]["/reconciliation"]["post"]
    assert post["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReconciliationOut"}  # fmt: skip
    for status in ("404", "409", "422"):
        assert post["responses"][status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"}  # fmt: skip
    assert "to the yen" in post["description"]
    assert "desk" in doc["components"]["schemas"]["ApplicationIn"]["properties"]
