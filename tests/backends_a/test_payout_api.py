"""The payout API: idempotent submissions and disbursements, clear 4xx for bad input, the same books on every store."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from real_backends.payout_api import PayoutWorld, create_app

WORLD = PayoutWorld(households=60, seed=3)


def form(h: int, **change: object) -> dict:
    a = WORLD.application_for(h)
    acc = a.account
    body = {"household": h, "applicant": a.applicant, "channel": "online", "signature_verified": True,
            "on": "2020-05-11", "account": {"bank_code": acc.bank_code, "branch_code": acc.branch_code,
            "account_type": "普通", "number": acc.number, "holder": acc.holder}}  # fmt: skip
    return {**body, **change}


@pytest.fixture
def client(make_store) -> TestClient:
    return TestClient(create_app(make_store(), WORLD), raise_server_exceptions=False)


def test_the_same_key_and_payload_get_the_first_answer_and_another_payload_a_422(client: TestClient) -> None:
    first = client.post("/applications", json=form(1), headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 200 and first.json()["outcome"] == "accepted"
    again = client.post("/applications", json=form(1), headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 200 and again.content == first.content
    other = client.post("/applications", json=form(2), headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 422
    assert other.json()["error"] == "idempotency key 'k-1' was already used for a different submission"
    dup = client.post("/applications", json=form(1), headers={"Idempotency-Key": "k-2"})
    assert dup.json()["outcome"] == "rejected" and dup.json()["reason"] == "duplicate", "a new key cannot pay twice"
    assert client.get("/totals").json()["counts"] == {"accepted": 1, "replayed": 1, "rejected:key_reused": 1,
                                                      "rejected:duplicate": 1}  # fmt: skip


def test_a_whole_payout_through_the_api_pays_each_household_once_on_every_store(client: TestClient) -> None:
    entitled = [h for h in range(WORLD.households) if WORLD.roll.entitled(h)]
    items = [{"key": f"app-{h}", "application": form(h)} for h in entitled]
    first = client.post("/applications/batch", json={"items": items})
    assert [d["outcome"] for d in first.json()["decisions"]] == ["accepted"] * len(entitled)
    replay = client.post("/applications/batch", json={"items": items})
    assert replay.json() == first.json(), "a retried batch replays every item's first answer"
    verified = client.post("/verifications", json={"on": "2020-05-12", "limit": 500}).json()["decisions"]
    assert {d["outcome"] for d in verified} == {"verified"} and len(verified) == len(entitled)
    batch = client.post("/disbursements", json={"on": "2020-05-13"}, headers={"Idempotency-Key": "d-0"}).json()
    assert client.post("/disbursements", json={"on": "2020-05-13"}, headers={"Idempotency-Key": "d-0"}).json() == batch
    reuse = client.post("/disbursements", json={"on": "2020-05-14"}, headers={"Idempotency-Key": "d-0"})
    assert reuse.status_code == 422 and "already used for a different disbursement" in reuse.json()["error"]
    assert sorted(t["household"] for t in batch["transfers"]) == entitled
    assert batch["total"] == int(WORLD.roll.total)
    lines = [{"household": t["household"], "outcome": "confirmed", "amount": t["amount"]} for t in batch["transfers"]]
    bank_file = {"on": "2020-05-14", "confirmations": lines}
    rec = client.post(f"/disbursements/{batch['batch']}/bank-results", json=bank_file)
    assert rec.json()["confirmed"] == len(entitled) and rec.json()["missing"] == []
    again = client.post(f"/disbursements/{batch['batch']}/bank-results", json=bank_file).json()
    assert again["confirmed"] == 0 and again["duplicates"] == len(entitled), "a resent bank file pays nobody twice"
    totals = client.get("/totals").json()
    assert totals["paid"] == len(entitled) and totals["paid_amount"] == int(WORLD.roll.total)
    assert client.get("/invariants", params={"full": "true"}).json() == {"ok": True, "message": ""}
    assert client.get(f"/households/{entitled[0]}").json()["status"] == "paid"
    empty = client.post("/disbursements", json={"on": "2020-05-13"}, headers={"Idempotency-Key": "d-1"}).json()
    assert empty["batch"] is None and empty["transfers"] == []


def test_a_bank_file_for_a_batch_never_sent_is_a_404_that_changes_nothing(memory_client: TestClient) -> None:
    before = memory_client.get("/totals").json()
    line = {"household": 1, "outcome": "confirmed", "amount": 100_000}
    r = memory_client.post("/disbursements/4242/bank-results", json={"on": "2020-05-14", "confirmations": [line]})
    assert r.status_code == 404 and r.json()["error"].startswith("no disbursement batch 4242"), r.text
    assert memory_client.get("/totals").json() == before
    assert memory_client.get("/invariants", params={"full": "true"}).json()["ok"] is True


@pytest.mark.parametrize(
    ("request_kw", "status", "message"),
    [
        ({"content": b'{"household": 1,', "headers": {"content-type": "application/json"}}, 400,
         "request body is not valid JSON"),
        ({"content": b"household=1", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 415,
         "content type 'application/x-www-form-urlencoded' is not accepted: send application/json"),
        ({"content": b" " * 1_000_001, "headers": {"content-type": "application/json"}}, 413,
         "request body of 1000001 bytes is over the limit of 1000000 bytes"),
        ({"json": {**form(1), "pin": "1234"}}, 422, "body.pin: Extra inputs are not permitted"),
        ({"json": {**form(1), "household": "1"}}, 422, "body.household: Input should be a valid integer (got '1')"),
        ({"json": {**form(1), "household": -5}}, 422, "body.household: Input should be greater than or equal to 0"),
        ({"json": {**form(1), "channel": "fax"}}, 422, "body.channel: Input should be 'mail' or 'online'"),
        ({"json": {**form(1), "on": "2020-02-30"}}, 422, "body.on: Input should be a valid date"),
        ({"json": {**form(1), "on": "1999-01-01"}}, 422, "body.on: Input should be greater than or equal to 2007"),
        ({"json": [1, 2]}, 422, "body: Input should be a valid dictionary"),
    ],
)  # fmt: skip
def test_bad_input_gets_a_4xx_naming_the_problem_and_the_server_keeps_serving(
    client: TestClient, request_kw: dict, status: int, message: str
) -> None:
    kw = dict(request_kw)  # the parameters are shared by the store variants: do not consume them
    r = client.post("/applications", headers={"Idempotency-Key": "k", **kw.pop("headers", {})}, **kw)
    assert r.status_code == status, r.text
    assert r.json()["error"].startswith(message)
    assert client.post("/applications", json=form(1), headers={"Idempotency-Key": "k"}).status_code == 200


def test_a_missing_key_a_non_business_day_and_an_unknown_route_are_refused_clearly(client: TestClient) -> None:
    r = client.post("/applications", json=form(1))
    assert r.status_code == 422 and r.json()["error"] == "header.Idempotency-Key: Field required"
    r = client.post("/disbursements", json={"on": "2020-05-16"}, headers={"Idempotency-Key": "d"})
    assert r.status_code == 422 and r.json()["error"].startswith("on: 2020-05-16 is not a business day")
    assert client.get("/nowhere").status_code == 404


def test_a_store_recorded_for_another_world_is_refused(make_store) -> None:
    store = make_store()
    create_app(store, WORLD)
    with pytest.raises(ValueError, match="holds a payout ledger for households, seed = \\(60, 3\\), not 61, 3"):
        create_app(store, PayoutWorld(61, 3))
    assert create_app(store).state.world == WORLD, "without a world the one recorded in the store is used"


def test_openapi_publishes_one_schema_per_message() -> None:
    from twin.services.store import MemoryStore

    doc = TestClient(create_app(MemoryStore(), WORLD)).get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    for name in ("ApplicationIn", "ApplicationBatchIn", "DecisionOut", "DisbursementIn", "DisbursementOut",
                 "BankFileIn", "ReconciliationOut", "ErrorBody"):  # fmt: skip
        assert name in schemas
    assert schemas["ApplicationIn"]["additionalProperties"] is False


@pytest.fixture
def memory_client() -> TestClient:
    from twin.services.store import MemoryStore

    return TestClient(create_app(MemoryStore(), WORLD), raise_server_exceptions=False)


def test_the_same_key_and_application_on_another_day_is_refused_not_replayed(memory_client: TestClient) -> None:
    """The date is part of the submission: a replay of the first answer would hide that the second
    form was received on another day (and under the programme's rules of that day)."""
    first = memory_client.post("/applications", json=form(1), headers={"Idempotency-Key": "k-on"})
    assert first.status_code == 200 and first.json()["outcome"] == "accepted"
    later = memory_client.post("/applications", json=form(1, on="2020-05-12"), headers={"Idempotency-Key": "k-on"})
    assert later.status_code == 422, later.text
    assert later.json()["error"] == "idempotency key 'k-on' was already used for a different submission"
    assert later.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    same = memory_client.post("/applications", json=form(1), headers={"Idempotency-Key": "k-on"})
    assert same.content == first.content, "the same key, form and day still get the first answer"
    item = {"key": "k-on", "application": form(1, on="2020-05-13")}
    batch = memory_client.post("/applications/batch", json={"items": [item]}).json()["decisions"][0]
    assert batch["outcome"] == "rejected" and batch["reason"] == "key_reused"


def _chunks(total: int, size: int = 65536):
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


def test_an_over_limit_chunked_body_is_413_not_400(memory_client: TestClient) -> None:
    """Without Content-Length the limit is found while reading: still 413 (RFC 9110 section 15.5.14)."""
    r = memory_client.post("/applications", content=_chunks(1_200_000), headers={
        "Idempotency-Key": "k", "content-type": "application/json"})  # fmt: skip
    assert "content-length" not in r.request.headers and r.request.headers["transfer-encoding"] == "chunked"
    assert r.status_code == 413, r.text
    assert r.json()["error"].startswith("request body of over ") and "limit of 1000000 bytes" in r.json()["error"]
    small = memory_client.post("/applications", content=iter([b'{"household": 1}']), headers={
        "Idempotency-Key": "k", "content-type": "application/json"})  # fmt: skip
    assert small.status_code == 422, "a chunked body under the limit is read and validated"


@pytest.mark.parametrize(("path", "kw"), [
    ("/applications", {"json": form(1, household=123456789012)}),
    ("/applications", {"json": form(1, members=[123456789012])}),
    ("/applications", {"json": {**form(1), "my_number": "123456789012"}}),
    ("/applications", {"json": form(1, on="1234-5678-9012")}),
    ("/applications", {"json": form(1, account={"bank_code": "123456789012", "branch_code": "1",
                                                "account_type": "普通", "number": "1", "holder": "ア"})}),
    ("/applications", {"json": form(1, applicant="１２３４５６７８９０１２")}),
    ("/disbursements/123456789012/bank-results", {"json": {"on": "2020-05-13", "confirmations": []}}),
    ("/verifications", {"json": {"on": "2020-05-13", "limit": 123456789012}}),
])  # fmt: skip
def test_error_bodies_mask_twelve_digit_numbers_the_client_sent(memory_client: TestClient, path: str, kw: dict) -> None:
    r = memory_client.post(path, headers={"Idempotency-Key": "123456789012"}, **kw)
    # a refusal: a 4xx, or for a well-formed form the ledger's rejection (its message quotes the form)
    assert 400 <= r.status_code < 500 or (r.status_code == 200 and r.json()["outcome"] == "rejected"), r.text
    assert "123456789012" not in r.text and "１２３４５６７８９０１２" not in r.text and "1234-5678-9012" not in r.text
    if r.status_code != 404:
        assert "************" in r.text, r.text
    reused = memory_client.post("/applications", json=form(2), headers={"Idempotency-Key": "123456789012"})
    if reused.status_code == 422:  # the key is quoted in the refusal: masked too
        assert "123456789012" not in reused.text


def test_whole_numbers_sent_as_json_floats_are_whole_numbers(memory_client: TestClient) -> None:
    """JSON Schema's ``integer`` includes ``7.0``; strings, booleans and fractions stay refused."""
    ok = memory_client.post("/applications", json=form(1, household=1.0), headers={"Idempotency-Key": "f"})
    assert ok.status_code == 200 and ok.json()["household"] == 1
    for bad in ("1", True, 1.5):
        r = memory_client.post("/applications", json=form(1, household=bad), headers={"Idempotency-Key": f"f{bad}"})
        assert r.status_code == 422 and r.json()["error"].startswith("body.household"), bad


def test_the_document_says_what_the_errors_and_dates_look_like(memory_client: TestClient) -> None:
    doc = memory_client.get("/openapi.json").json()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    invariants = doc["paths"]["/invariants"]["get"]["responses"]["422"]
    assert invariants["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    r = memory_client.get("/invariants", params={"full": "maybe"})
    assert r.status_code == 422 and set(r.json()) == {"error", "detail"}, "the documented shape"
    on = doc["components"]["schemas"]["ApplicationIn"]["properties"]["on"]
    assert on["format"] == "date" and "2007-01-01" in on["description"]
    import re

    assert re.fullmatch(on["pattern"], "2007-01-01") and not re.fullmatch(on["pattern"], "2006-12-31")
    assert not re.fullmatch(on["pattern"], "2100-01-01")
    assert memory_client.get("/households/null").status_code == 404, "a path that names no household"
