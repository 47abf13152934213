"""A MyKey ID over HTTP needs a valid My Number card where the served world has cards (``--set cards=N``).

At the post-office terminal the card's user-authentication certificate is read; a card that the JPKI centre
does not know, that was reported lost (revoked) or whose certificate has expired reserves nothing. The served
world's residents 0..11 hold cards issued on 2020-03-02; resident 9's was reported lost on 2020-05-01
(``LOST_EVERY``); each certificate expires on the 5th birthday after its issue (2024-03 .. 2025-03).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from real_backends import points_api
from real_backends.load.server import twin_serve
from real_backends.points_api import PointsWorld, create_app
from twin.services.store import MemoryStore

WORLD = PointsWorld(people=30, seed=1, cards=12)
LOST = 9  # every tenth card was reported lost on 2020-05-01


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(MemoryStore(), WORLD))


def reservation(person: int, on: str = "2020-07-01", card: int | None = None) -> dict:
    body: dict = {"person": person, "on": on}
    if card is not None:
        body["card_serial"] = WORLD.card_serial(card)
    return body


def mykey_of(person: int) -> str:
    """The MyKey ID the world gives ``person`` (worked out apart from the server: the same secret)."""
    mykey = PointsWorld(people=WORLD.people, seed=WORLD.seed).ledger(MemoryStore()).reserve(WORLD.person(person))
    assert isinstance(mykey, str)
    return mykey


def refused_and_nothing_granted(c: TestClient, r: httpx.Response, person: int, says: str) -> None:
    """``r`` is a 403 naming the card and saying ``says``; afterwards the person holds no MyKey ID, an application
    and a top-up with the one they would have had are refused, and nothing is reserved or granted."""
    assert r.status_code == 403, r.text
    assert says in r.json()["error"] and r.json()["detail"][0]["loc"] == ["body", "card_serial"], r.text
    mykey = mykey_of(person)
    assert c.get(f"/people/{mykey}").status_code == 404
    applied = c.post("/applications", headers={"Idempotency-Key": f"a-{person}"}, json={
        "mykey": mykey, "phase": "phase1", "operator": "suica", "service_account": f"acct-{person}",
        "card_applied_on": "2020-03-01", "on": "2020-07-02"}).json()  # fmt: skip
    assert applied["reason"] == "not_reserved", applied
    topped = c.post("/top-ups", json={"operator": "suica", "operator_txn": f"t-{person}", "amount_yen": 20_000,
                                      "service_account": f"acct-{person}", "on": "2020-09-02"}).json()  # fmt: skip
    assert topped["points"] == 0 and topped["reason"] == "no_application", topped
    assert c.get("/months/phase1").json()["months"] == [] and c.get("/totals").json()["granted"] == 0
    assert c.get("/invariants").json()["ok"] is True


def test_a_valid_card_reserves_and_without_it_or_with_anothers_nothing_is_reserved(client: TestClient) -> None:
    assert client.get("/health").json()["cards"] == 12
    refused_and_nothing_granted(client, client.post("/reservations", json=reservation(3)), 3, "present the card")
    r = client.post("/reservations", json=reservation(3, card=4))
    refused_and_nothing_granted(client, r, 3, f"card_serial {WORLD.card_serial(4)}: a valid card, but not resident 3's")
    r = client.post("/reservations", json=reservation(3, card=3))
    assert r.status_code == 200 and r.json() == {"mykey": mykey_of(3), "reserved_on": "2020-07-01"}, r.text
    assert client.get("/months/phase1").json()["months"] == [{"month": "2020-07", "reservations": 1,
                                                              "applications": 0}]  # fmt: skip


def test_a_revoked_card_reserves_nothing_and_the_refusal_logs_no_my_number(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    r = client.post("/reservations", json=reservation(LOST, card=LOST))
    refused_and_nothing_granted(client, r, LOST, "the certificate was revoked on 2020-05-01 (loss)")
    # nothing that looks like a My Number (12 digits) in the answer or in any log line of the refusal
    assert not re.search(r"[0-9]{12}", r.text + caplog.text), caplog.text
    # the same card before it was reported lost was good: the date of the reservation decides
    assert client.post("/reservations", json=reservation(LOST, "2020-04-30", card=LOST)).status_code == 200


def test_an_expired_card_reserves_nothing(client: TestClient) -> None:
    expiry = "2024-10-08"  # resident 4 was born on 1966-10-08 (from the seed): the 5th birthday after 2020-03-02
    r = client.post("/reservations", json=reservation(4, "2024-10-09", card=4))
    refused_and_nothing_granted(client, r, 4, f"the certificate expired on {expiry}; renew it at the town hall")


def test_an_unknown_or_not_yet_valid_card_reserves_nothing(client: TestClient) -> None:
    r = client.post("/reservations", json={"person": 5, "on": "2020-07-01", "card_serial": 10**9})
    refused_and_nothing_granted(client, r, 5, "card_serial 1000000000: no certificate of the JPKI centre has")
    r = client.post("/reservations", json=reservation(5, "2020-03-01", card=5))  # the day before it was issued
    refused_and_nothing_granted(client, r, 5, "the certificate is valid only from 2020-03-02")
    r = client.post("/reservations", json={"person": 5, "on": "2020-07-01", "card_serial": 10**11})  # 12 digits
    assert r.status_code == 422 and r.json()["error"].startswith("body.card_serial: Input should be less than or "
                                                                  "equal to 99999999999"), r.text  # fmt: skip


def test_the_document_says_a_reservation_may_be_refused_for_the_card() -> None:
    doc = TestClient(create_app(MemoryStore(), WORLD)).get("/openapi.json").json()
    answers = doc["paths"]["/reservations"]["post"]["responses"]
    assert answers["403"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    assert "revoked" in answers["403"]["description"]
    assert "card_serial" in doc["components"]["schemas"]["ReservationIn"]["properties"]


def test_a_world_of_cards_needs_a_store_of_that_world_and_no_more_cards_than_people() -> None:
    store = MemoryStore()
    create_app(store, PointsWorld(people=30, seed=1))  # a ledger without cards ...
    with pytest.raises(ValueError, match=r"people, seed, cards = \(30, 1, 0\), not \(30, 1, 12\)"):
        create_app(store, WORLD)  # ... does not become one with cards
    with pytest.raises(ValueError, match=r"^points: cards: 31 must be at most people \(30\)"):
        PointsWorld(people=30, cards=31)
    old = MemoryStore()  # a store written before the worlds had cards records (people, seed)
    with old.transaction() as tx:
        tx.put(points_api.WORLD, "world", (30, 1))
    assert create_app(old).state.world == PointsWorld(people=30, seed=1, cards=0)


@pytest.mark.slow
def test_twin_serve_points_with_cards_over_loopback(tmp_path: Path) -> None:
    opts = {"people": "30", "seed": "1", "cards": "12"}
    with twin_serve("points", f"sqlite:///{tmp_path / 'points.db'}", opts, ready_path="/health") as url:
        assert httpx.get(f"{url}/health").json()["cards"] == 12
        good = httpx.post(f"{url}/reservations", json=reservation(3, card=3))
        lost = httpx.post(f"{url}/reservations", json=reservation(LOST, card=LOST))
        assert good.status_code == 200 and good.json()["mykey"] == mykey_of(3), good.text
        assert lost.status_code == 403 and "revoked on 2020-05-01" in lost.json()["error"], lost.text
