"""The eligibility API: a clinic checks a patient by card (challenge, PIN signature) or by insured number.

Specification: a qualified holder's card gets the qualification, with the consent the patient gave;
the old insurance card route shares nothing; a revoked card, a card whose holder's qualification
ended, a card not registered as the insurance card (健康保険証利用登録), a wrong birth date, an unknown
insured number, a replayed challenge and malformed fields are each refused with their own 4xx and
code; a reader registers a card on the spot (初回登録) and the check then answers. Either answer carries the
qualification's first and last day as the book holds them: a qualification ending on day D (Japan time) is answered
through D with valid_until D and refused from 00:00 of D+1, by card and by number.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import pytest

from real_backends.eligibility_api import INSURER, create_app, enrol, insured_number, is_qualified, is_registered
from real_backends.portal_api import CardAuthenticator, MemoryLedger, card_answer

PIN = "1234"


@pytest.fixture(scope="module")
def app(deployment):
    return create_app(deployment, CardAuthenticator(deployment.jpki, b"e" * 32, MemoryLedger()))


def call(app, method: str, path: str, **kw) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://clinic") as c:
            return await c.request(method, path, **kw)

    return asyncio.run(go())


def card_check(app, holder, **extra) -> httpx.Response:
    token = call(app, "GET", "/eligibility/challenge").json()["challenge"]
    body = {**card_answer(token, holder.reader(), PIN), **extra}
    return call(app, "POST", "/eligibility/card", json=body)


def test_a_qualified_card_holder_gets_the_qualification_and_the_consent_given(app, deployment):
    holder = deployment.holders[0]
    assert is_qualified(holder) and not holder.revoked
    r = card_check(app, holder, consent_medication=True, facility_type="pharmacy")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["insurer_number"], body["insured_number"], body["branch"]) == (INSURER, insured_number(holder), "00")
    assert body["share_medication"] and not body["share_checkup"] and body["method"] == "card"


def test_a_card_not_registered_as_the_insurance_card_is_refused_until_the_reader_registers_it(app, deployment):
    holder = deployment.holders[4]
    assert is_qualified(holder) and not holder.revoked and not is_registered(holder)
    r = card_check(app, holder)
    assert r.status_code == 403 and r.json()["code"] == "card_not_registered", r.text
    assert "not registered for use as the health-insurance card" in r.json()["detail"]
    assert card_check(app, holder).json()["code"] == "card_not_registered", "the refusal registered nothing"
    number = {"insurer_number": INSURER, "insured_number": insured_number(holder), "branch": "00",
              "birth_date": holder.perso.basic_info.birth_date.isoformat()}  # fmt: skip
    assert call(app, "POST", "/eligibility/number", json=number).status_code == 200, "the insurance card still works"
    first = card_check(app, holder, register_card_use=True, consent_medication=True)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["registered_now"] and body["insured_number"] == insured_number(holder) and body["share_medication"]
    then = card_check(app, holder)  # registered: the card answers without asking again
    assert then.status_code == 200 and not then.json()["registered_now"]
    assert then.json()["card_use_registered_on"] == body["card_use_registered_on"] is not None
    again = card_check(app, holder, register_card_use=True)  # registered once: nothing more is made
    assert not again.json()["registered_now"]
    assert again.json()["card_use_registered_on"] == body["card_use_registered_on"]
    registered = card_check(app, deployment.holders[0]).json()  # registered at enrolment, in 2021-2022
    assert registered["card_use_registered_on"] < "2022-11-01" and not registered["registered_now"]


def test_the_answer_carries_the_qualifications_dates_and_is_given_through_its_last_day(deployment):
    """The clinic's clock is set: open-ended, the answer's valid_until is null; ended by the insurer on day D, the
    check is answered at 23:59:59 JST of D with valid_until D and refused at 00:00 of D+1, by card and by number."""
    holder = deployment.holders[1]
    assert is_qualified(holder) and is_registered(holder) and not holder.revoked
    book = enrol(deployment)
    clock = [dt.datetime(2026, 4, 2, 1, tzinfo=dt.UTC).timestamp()]
    clinic = create_app(deployment, CardAuthenticator(deployment.jpki, b"e" * 32, MemoryLedger(),
                                                      clock=lambda: clock[0]), book)  # fmt: skip
    key = (INSURER, insured_number(holder), "00")
    by_number = {"insurer_number": INSURER, "insured_number": key[1], "branch": "00",
                 "birth_date": holder.perso.basic_info.birth_date.isoformat()}  # fmt: skip
    checks = {"card": lambda: card_check(clinic, holder),
              "number": lambda: call(clinic, "POST", "/eligibility/number", json=by_number)}  # fmt: skip
    for check in checks.values():
        r = check()
        assert r.status_code == 200, r.text
        assert (r.json()["valid_from"], r.json()["valid_until"]) == (book.get(key).valid_from.isoformat(), None)
    last_day = dt.date(2026, 4, 20)
    book.end(key, last_day)
    clock[0] = dt.datetime.combine(last_day, dt.time(23, 59, 59), dt.timezone(dt.timedelta(hours=9))).timestamp()
    for method, check in checks.items():
        r = check()
        assert r.status_code == 200 and r.json()["method"] == method, r.text
        assert (r.json()["valid_from"], r.json()["valid_until"]) == ("2020-04-01", "2026-04-20")
    clock[0] += 1  # 2026-04-21 00:00 JST
    for method, check in checks.items():
        r = check()
        assert r.status_code == 404 and r.json()["code"] == "no_qualification", (method, r.text)


def test_the_document_states_the_registration_and_its_refusal(app):
    doc = call(app.app, "GET", "/openapi.json").json()
    card = doc["paths"]["/eligibility/card"]["post"]
    props = card["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert props["register_card_use"]["type"] == "boolean" and props["register_card_use"]["default"] is False
    assert "card_not_registered" in card["responses"]["403"]["description"]
    answer = doc["components"]["schemas"]["AnswerOut"]["properties"]
    assert {"card_use_registered_on", "registered_now"} <= answer.keys()
    schema = doc["components"]["schemas"]["AnswerOut"]
    assert {"valid_from", "valid_until"} <= set(schema["required"])  # always sent; valid_until null while it lasts
    assert {"type": "null"} in answer["valid_until"]["anyOf"] and "資格喪失" in answer["valid_until"]["description"]


def test_a_revoked_card_is_refused(app, deployment):
    r = card_check(app, deployment.holders[3])
    assert r.status_code == 403 and r.json()["code"] == "revoked"


def test_a_holder_whose_qualification_ended_gets_404(app, deployment):
    holder = deployment.holders[6]
    assert not is_qualified(holder) and not holder.revoked
    r = card_check(app, holder)
    assert r.status_code == 404 and r.json()["code"] == "no_qualification"


def test_a_replayed_challenge_is_409(app, deployment):
    token = call(app, "GET", "/eligibility/challenge").json()["challenge"]
    body = card_answer(token, deployment.holders[1].reader(), PIN)
    assert call(app, "POST", "/eligibility/card", json=body).status_code == 200
    again = call(app, "POST", "/eligibility/card", json=body)
    assert again.status_code == 409 and "already used" in again.json()["detail"]


def test_a_signature_over_other_bytes_is_401_bad_signature(app, deployment):
    token = call(app, "GET", "/eligibility/challenge").json()["challenge"]
    other = call(app, "GET", "/eligibility/challenge").json()["challenge"]
    body = {**card_answer(token, deployment.holders[1].reader(), PIN),
            "signature": card_answer(other, deployment.holders[1].reader(), PIN)["signature"]}
    r = call(app, "POST", "/eligibility/card", json=body)
    assert r.status_code == 401 and r.json()["code"] == "bad_signature"


def test_check_by_insured_number_shares_nothing_and_checks_the_birth_date(app, deployment):
    holder = deployment.holders[2]
    body = {"insurer_number": INSURER, "insured_number": insured_number(holder), "branch": "00",
            "birth_date": holder.perso.basic_info.birth_date.isoformat()}
    r = call(app, "POST", "/eligibility/number", json=body)
    assert r.status_code == 200 and r.json()["method"] == "number" and not r.json()["share_medication"]
    wrong = call(app, "POST", "/eligibility/number", json={**body, "birth_date": "1900-01-01"})
    assert wrong.status_code == 403 and wrong.json()["code"] == "birth_date_mismatch"
    unknown = call(app, "POST", "/eligibility/number", json={**body, "insured_number": "99999"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_insured"
    bad = call(app, "POST", "/eligibility/number", json={**body, "branch": "x"})  # the documented pattern
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "branch"]
    assert bad.json()["detail"][0]["type"] == "string_pattern_mismatch"


def test_malformed_fields_are_422_naming_the_field(app):
    r = call(app, "POST", "/eligibility/number", json={"insurer_number": INSURER, "branch": "00",
                                                       "insured_number": "1", "birth_date": "not a date"})
    assert r.status_code == 422 and "birth_date" in r.text
    r = call(app, "POST", "/eligibility/card", json={"challenge": "x", "certificate": "x", "signature": "x",
                                                     "my_number": "123456789012"})
    assert r.status_code == 422 and "my_number" in r.text and "123456789012" not in r.json()["detail"][0]["msg"]
    r = call(app, "POST", "/eligibility/card", json={"challenge": "x", "certificate": "x", "signature": "x",
                                                     "facility_type": "spa"})
    assert r.status_code == 422 and "facility_type" in r.text


def test_the_fast_path_and_the_documented_routes_answer_alike(app, deployment):
    """The hot routes are answered in front of FastAPI; its documented routes must say the same."""
    documented = app.app  # the FastAPI app behind the fast path
    holder = deployment.holders[2]
    good = {"insurer_number": INSURER, "insured_number": insured_number(holder), "branch": "00",
            "birth_date": holder.perso.basic_info.birth_date.isoformat()}  # fmt: skip
    requests = [
        {"json": good}, {"json": {**good, "birth_date": "1900-01-01"}}, {"json": {**good, "colour": "red"}},
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        {"content": b"insured=1", "headers": {"content-type": "application/x-www-form-urlencoded"}},
    ]  # fmt: skip
    for kw in requests:
        fast = call(app, "POST", "/eligibility/number", **kw)
        slow = call(documented, "POST", "/eligibility/number", **kw)
        assert (fast.status_code, fast.json()) == (slow.status_code, slow.json()), kw
        assert "server-timing" in fast.headers
    statuses = [call(app, "POST", "/eligibility/number", **kw).status_code for kw in requests]
    assert statuses == [200, 403, 422, 422, 415]
    token = call(documented, "GET", "/eligibility/challenge").json()["challenge"]
    r = call(documented, "POST", "/eligibility/card", json=card_answer(token, holder.reader(), PIN))
    assert r.status_code == 200 and r.json()["insured_number"] == insured_number(holder)
    big = call(app, "POST", "/eligibility/card", content=b"x" * 20_000, headers={"content-type": "application/json"})
    assert big.status_code == 413 and "at most 16384" in big.json()["detail"]


def test_refusals_mask_twelve_digit_numbers_and_the_schema_states_the_digit_rules(app):
    body = {"insurer_number": "123456789012", "insured_number": "1", "branch": "00", "birth_date": "2000-01-01"}
    r = call(app, "POST", "/eligibility/number", json=body)
    assert r.status_code == 422 and "123456789012" not in r.text
    r = call(app, "POST", "/eligibility/number", json={**body, "insurer_number": INSURER,
                                                       "insured_number": "123456789012"})  # fmt: skip
    assert r.status_code == 404 and r.json()["code"] == "unknown_insured"
    assert "123456789012" not in r.text and "************" in r.json()["detail"]
    doc = call(app.app, "GET", "/openapi.json").json()
    number = doc["paths"]["/eligibility/number"]["post"]
    props = number["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert props["insurer_number"]["pattern"] == "^([0-9]{6}|[0-9]{8})$" and props["branch"]["pattern"] == "^[0-9]{2}$"
    assert "422" in number["responses"], "the 422 this route answers is documented"
    card = doc["paths"]["/eligibility/card"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {card["properties"][k]["pattern"] for k in ("challenge", "certificate", "signature")} == {
        "^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}(?:==)?|[A-Za-z0-9_-]{3}=?)?$"}
