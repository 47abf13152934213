"""Myna Portal as the hub, over HTTP in process, with the emulated cards (no pcscd).

Specification: after a card login, a holder sees her own information fetched through the linkage
(with the copies' age), every exchange about her (including the portal's own fetches), her notices;
registers, changes and deletes her public-benefit account with a document her card signed (agencies
then read it through the network, from 2022-10-11); collects deduction certificates for the year-end
adjustment; gives a private party her four basic items against a signed consent; and registers the
card she logged in with as her health-insurance card, once (when an insurer has linked a current
qualification to her). A bad signature, another person's card, an expired or revoked certificate
are refused. No answer ever holds a My Number.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import numpy as np
import pytest
from cryptography import x509
from linkage_world import JST

from emulators.demo import DEMO_SIGN_PASSWORD
from real_backends.load.deployment import Deployment, DeploymentSpec, resident
from real_backends.portal_api import CardAuthenticator, MemoryLedger, card_answer
from real_backends.portal_hub import card_sign, create_app
from twin.services.accounts import BankAccount
from twin.services.jpki import RevocationReason
from twin.services.linkage import AnswerMessage, Refusal, Refused, my_number_fields
from twin.services.portal import PortalRefusal, Problem, account_fields, consent_fields, signing_bytes
from twin.services.store import MemoryStore

SPEC = DeploymentSpec(seed=20261204, holders=7, revoked_every=0, key_pool=2)  # holder 6's qualification ended
PIN = "1234"
START = 1_790_000_000.0  # 2026-09-21, inside the cards' validity


class Clock:
    def __init__(self) -> None:
        self.t = START

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def deployment() -> Deployment:
    return Deployment.build(SPEC)


@pytest.fixture
def hub(deployment):
    clock = Clock()
    rng = np.random.default_rng(3)
    auth = CardAuthenticator(
        deployment.jpki, b"h" * 32, MemoryLedger(), clock=clock, nonce_bytes=lambda n: rng.bytes(n)
    )
    store = MemoryStore()
    app = create_app(deployment, store, auth)
    numbers = {resident(SPEC.seed, h.index).my_number for h in deployment.holders}
    leaks: list[tuple[str, list[str]]] = []

    def check(message: object) -> None:  # every message between bodies, checked for My Numbers
        if bad := my_number_fields(message, numbers):
            leaks.append((type(message).__name__, bad))

    app.state.hub.network.taps.append(check)
    yield app, clock, numbers
    assert leaks == [], f"My Numbers crossed between bodies: {leaks}"


def call(app, method: str, path: str, numbers=frozenset(), **kw) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as c:
            return await c.request(method, path, **kw)

    r = asyncio.run(go())
    if r.headers.get("content-type", "").startswith("application/json"):
        assert my_number_fields(r.json(), numbers) == [], f"{path} answered with a My Number"
    return r


def login(app, holder) -> dict[str, str]:
    token = call(app, "GET", "/portal/challenge").json()["challenge"]
    r = call(app, "POST", "/portal/login", json=card_answer(token, holder.reader(), PIN))
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()['session']}"}


def portal_of(app):
    return app.state.hub  # set by real_backends.portal_hub.install


ACCOUNT = {"bank_code": "0005", "branch_code": "123", "account_type": "普通", "number": "1234567"}


def portal_of_people(deployment, i):  # the katakana reading the served world registered for holder i
    from real_backends.portal_hub import READINGS

    family, _, given = resident(SPEC.seed, i).info.name.partition("\u3000")
    return f"{READINGS[family]}\u3000{READINGS[given]}"


def signed_account(holder, action: str, account: dict | None, effective: dt.date) -> dict:
    acc = None if account is None else BankAccount(**account)
    document = signing_bytes("public_benefit_account", account_fields(action, acc, effective))
    return {"action": action, "account": account, "effective": effective.isoformat(),
            **card_sign(holder.reader(), DEMO_SIGN_PASSWORD, document)}  # fmt: skip


def test_routes_need_a_session(hub):
    app, _, numbers = hub
    r = call(app, "GET", "/portal/me/information", numbers)
    assert r.status_code == 401 and "Bearer" in r.json()["detail"]


def test_own_information_comes_through_the_linkage_and_shows_in_the_exchange_records(hub, deployment):
    app, clock, numbers = hub
    me = login(app, deployment.holders[1])
    info = call(app, "GET", "/portal/me/information", numbers, headers=me).json()
    tax = next(i for i in info if i["item"] == "local_tax_income")
    assert tax["found"] and tax["provider"] == "muni:271004" and tax["value"]["fiscal_year"] == 2025
    refreshed = dt.datetime.fromisoformat(tax["refreshed_at"])
    assert tax["age_seconds"] == pytest.approx(clock.t - refreshed.timestamp())
    assert next(i for i in info if i["item"] == "benefit_account")["found"] is False
    exchanges = call(app, "GET", "/portal/me/exchanges", numbers, headers=me).json()
    assert len(exchanges) == len(info) and {e["requester"] for e in exchanges} == {"portal"}
    assert {e["procedure"] for e in exchanges} == {"own_information"}
    other = login(app, deployment.holders[2])
    assert call(app, "GET", "/portal/me/exchanges", numbers, headers=other).json() == []


def test_notices_are_listed_and_marked_read_only_by_their_addressee(hub, deployment):
    app, _, numbers = hub
    me, other = login(app, deployment.holders[0]), login(app, deployment.holders[1])
    (notice,) = call(app, "GET", "/portal/me/notices", numbers, headers=me).json()
    assert notice["title"] == "住民税決定通知" and notice["read_at"] is None
    assert call(app, "POST", f"/portal/me/notices/{notice['id']}/read", numbers, headers=other).status_code == 404
    read = call(app, "POST", f"/portal/me/notices/{notice['id']}/read", numbers, headers=me).json()
    assert read["read_at"] is not None


def test_the_account_is_registered_changed_and_deleted_with_the_card_and_agencies_read_it(hub, deployment):
    app, clock, numbers = hub
    holder = deployment.holders[0]
    me = login(app, holder)
    account = {**ACCOUNT, "holder": portal_of_people(deployment, 0)}
    day = dt.datetime.fromtimestamp(clock.t, dt.UTC).date()
    r = call(
        app, "POST", "/portal/me/account", numbers, headers=me, json=signed_account(holder, "register", account, day)
    )
    assert r.status_code == 200, r.text
    assert call(app, "GET", "/portal/me/account", numbers, headers=me).json()["number"] == "1234567"
    # an agency reads it through the network (benefit eligibility, from 2022-10-11)
    hub_core = portal_of(app)
    person = hub_core.person("holder-0")
    town = hub_core.network.agency(person.municipality)
    at = dt.datetime.fromtimestamp(clock.t, JST)
    answer = hub_core.network.query(person.municipality, town.code_for(person.my_number), "benefit_eligibility",
                                    "digital", "benefit_account", at)  # fmt: skip
    assert isinstance(answer, AnswerMessage) and answer.value.number == "1234567"
    again = call(
        app, "POST", "/portal/me/account", numbers, headers=me, json=signed_account(holder, "register", account, day)
    )
    assert again.status_code == 409
    changed = {**account, "number": "7654321"}
    r = call(
        app, "POST", "/portal/me/account", numbers, headers=me, json=signed_account(holder, "change", changed, day)
    )
    assert r.status_code == 200 and r.json()["number"] == "7654321"
    r = call(app, "POST", "/portal/me/account", numbers, headers=me, json=signed_account(holder, "delete", None, day))
    assert r.status_code == 200 and r.json() == {"registered": False, "bank_code": None, "branch_code": None,
                                                 "account_type": None, "number": None, "holder": None}  # fmt: skip
    gone = hub_core.network.query(person.municipality, town.code_for(person.my_number), "benefit_eligibility",
                                  "digital", "benefit_account", at)  # fmt: skip
    assert isinstance(gone, AnswerMessage) and not gone.found


def test_account_acts_with_a_bad_signature_or_another_card_or_a_wrong_holder_are_refused(hub, deployment):
    app, clock, numbers = hub
    holder, stranger = deployment.holders[2], deployment.holders[3]
    me = login(app, holder)
    day = dt.datetime.fromtimestamp(clock.t, dt.UTC).date()
    account = {**ACCOUNT, "holder": portal_of_people(deployment, 2)}
    body = signed_account(holder, "register", account, day)
    tampered = {**body, "account": {**account, "number": "9999999"}}  # signed another account
    r = call(app, "POST", "/portal/me/account", numbers, headers=me, json=tampered)
    assert r.status_code == 401 and "does not verify" in r.json()["detail"]
    theirs = signed_account(stranger, "register", account, day)
    r = call(app, "POST", "/portal/me/account", numbers, headers=me, json=theirs)
    assert r.status_code == 403 and "another person's card" in r.json()["detail"]
    wrong = {**account, "holder": "ベツジン\u3000タロウ"}
    r = call(
        app, "POST", "/portal/me/account", numbers, headers=me, json=signed_account(holder, "register", wrong, day)
    )
    assert r.status_code == 422 and "holder name does not match" in r.json()["detail"]
    assert call(app, "GET", "/portal/me/account", numbers, headers=me).json()["registered"] is False


def test_deduction_certificates_are_collected_per_purpose(hub, deployment):
    app, _, numbers = hub
    me = login(app, deployment.holders[4])
    yea = call(app, "GET", "/portal/me/deductions?year=2025", numbers, headers=me).json()
    assert yea["totals"] == {"life_insurance": 84_000, "housing_loan": 21_500_000} and yea["left_out"] == 1
    ret = call(app, "GET", "/portal/me/deductions?year=2025&purpose=tax_return", numbers, headers=me).json()
    assert ret["totals"]["medical"] == 132_400 and ret["left_out"] == 0
    assert call(app, "GET", "/portal/me/deductions?year=2024", numbers, headers=me).json()["certificates"] == []


def consent_body(holder, until: dt.datetime, party: str = "みらい証券", purpose: str = "口座開設の本人確認") -> dict:
    document = signing_bytes("consent_four_items", consent_fields(party, purpose, until))
    return {"party": party, "purpose": purpose, "valid_until": until.isoformat(),
            **card_sign(holder.reader(), DEMO_SIGN_PASSWORD, document)}  # fmt: skip


def test_the_four_items_go_to_a_private_party_only_with_a_valid_signed_consent(hub, deployment):
    app, clock, numbers = hub
    holder = deployment.holders[5]
    me = login(app, holder)
    until = dt.datetime.fromtimestamp(clock.t + 86400 * 30, JST).replace(microsecond=0)
    r = call(app, "POST", "/portal/me/consents", numbers, headers=me, json=consent_body(holder, until))
    assert r.status_code == 200, r.text
    info = resident(SPEC.seed, 5).info
    assert r.json() == {"name": info.name, "address": info.address, "birth_date": info.birth_date.isoformat(),
                        "sex": info.sex}  # fmt: skip
    (given,) = call(app, "GET", "/portal/me/consents", numbers, headers=me).json()
    assert given["party"] == "みらい証券"
    bad = {**consent_body(holder, until), "party": "別の会社"}  # signature over another party
    assert call(app, "POST", "/portal/me/consents", numbers, headers=me, json=bad).status_code == 401
    past = dt.datetime.fromtimestamp(clock.t - 60, JST).replace(microsecond=0)
    assert (
        call(app, "POST", "/portal/me/consents", numbers, headers=me, json=consent_body(holder, past)).status_code
        == 422
    )


def test_a_consent_signed_with_a_revoked_certificate_is_refused(deployment):
    spec = DeploymentSpec(seed=20261205, holders=2, revoked_every=0, key_pool=2)
    d = Deployment.build(spec)
    clock = Clock()
    auth = CardAuthenticator(d.jpki, b"r" * 32, MemoryLedger(), clock=clock)
    app = create_app(d, MemoryStore(), auth)
    holder = d.holders[1]
    me = login(app, holder)
    sign_cert = x509.load_der_x509_certificate(holder.perso.sign_certificate)
    d.jpki.revoke(sign_cert, RevocationReason.LOSS, dt.datetime.fromtimestamp(clock.t - 10, dt.UTC))
    until = dt.datetime.fromtimestamp(clock.t + 3600, JST).replace(microsecond=0)
    r = call(app, "POST", "/portal/me/consents", headers=me, json=consent_body(holder, until))
    assert r.status_code == 403 and "revoked" in r.json()["detail"]


def test_a_consent_signed_with_an_expired_certificate_is_refused(hub, deployment):
    """In the core (a login session cannot outlive the card's certificates): the same card, five years on."""
    app, _, _ = hub
    holder = deployment.holders[5]
    after = dt.datetime(2031, 6, 1, tzinfo=dt.UTC)  # the signature certificate expired 2031-03
    until = after + dt.timedelta(days=1)
    body = consent_body(holder, until)
    with pytest.raises(PortalRefusal) as refused:
        portal_of(app).give_four_items("holder-5", body["party"], body["purpose"], until,
                                       _raw(body["signature"]), _raw(body["certificate"]), after)  # fmt: skip
    assert refused.value.problem is Problem.CERTIFICATE and "expired" in str(refused.value)


def _raw(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_the_portal_asks_for_accounts_only_from_when_the_rule_holds(hub, deployment):
    hub_core = portal_of(hub[0])
    items = hub_core.own_information("holder-0", dt.datetime(2022, 3, 1, tzinfo=JST))
    (acc,) = [i for i in items if i.item == "benefit_account"]
    assert acc.refused == Refused.NOT_YET.value
    assert isinstance(hub_core.network.query("portal", "123456789018", "own_information", "jps", "pension",
                                             dt.datetime(2022, 3, 1, tzinfo=JST)), Refusal)  # fmt: skip


def test_twin_serve_portal_builds_login_and_hub_from_set_options():
    from real_backends.cli import factory

    app = factory("portal")("memory://", holders="2", revoked_every="0")
    paths = set(app.openapi()["paths"])
    assert {"/portal/login", "/portal/me/information", "/portal/me/account", "/portal/me/consents"} <= paths
    with pytest.raises(ValueError, match="not an integer"):
        factory("portal")("memory://", holders="many")


def test_a_restart_on_the_same_store_keeps_codes_records_and_seeds_once(deployment):
    from real_backends.portal_hub import build_portal

    store = MemoryStore()
    first = build_portal(deployment, store)
    at = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    n = len(first.own_information("holder-2", at))
    again = build_portal(deployment, store)  # a new process on the same store
    assert len(again.exchange_records("holder-2")) == n  # the exchanges made before the restart
    assert again.own_information("holder-2", at)[0].found  # same issuer key: the codes still match
    assert len(again.exchange_records("holder-2")) == 2 * n
    assert len(again.notices("holder-2")) == 1  # seeded once


def register_card(app, me: dict, key: str, numbers=frozenset()) -> httpx.Response:
    return call(app, "POST", "/portal/me/insurance-card", numbers, headers={**me, "Idempotency-Key": key})


def test_the_card_is_registered_as_the_insurance_card_once_on_the_day_in_japan(hub, deployment):
    app, clock, numbers = hub
    me = login(app, deployment.holders[0])  # the emulated card: challenge signed after the PIN
    assert call(app, "GET", "/portal/me/insurance-card", numbers, headers=me).json() == {
        "qualified": True, "insurer_number": "01130012", "insurer_kind": "association", "registered": False,
        "registered_on": None}  # fmt: skip
    first = register_card(app, me, "reg-0", numbers)
    assert first.status_code == 200, first.text
    assert first.json()["registered"] is True and first.json()["registered_on"] == "2026-09-21"  # 23:13 in Japan
    assert call(app, "GET", "/portal/me/insurance-card", numbers, headers=me).json() == first.json()
    clock.t += 3600  # 00:13 on the 22nd in Japan, logged in again: a retry under the same key gets the first answer
    me = login(app, deployment.holders[0])
    replay = register_card(app, me, "reg-0", numbers)
    assert (replay.status_code, replay.json()) == (200, first.json())
    again = register_card(app, me, "reg-0b", numbers)
    assert again.status_code == 409 and "already registered" in again.json()["detail"], again.text
    assert "since 2026-09-21" in again.json()["detail"]
    book = portal_of(app).qualifications
    assert book.card_use_registered("holder-0", dt.date(2026, 9, 21))
    assert not book.card_use_registered("holder-0", dt.date(2026, 9, 20))
    other = login(app, deployment.holders[1])  # another person: her own registration, not holder 0's
    assert call(app, "GET", "/portal/me/insurance-card", numbers, headers=other).json()["registered"] is False
    reused = register_card(app, other, "reg-0", numbers)  # holder 0's key for another request
    assert reused.status_code == 422 and "already used" in reused.json()["detail"], reused.text
    assert register_card(app, other, "reg-1", numbers).json()["registered_on"] == "2026-09-22"


def test_a_person_without_a_qualification_is_refused_and_nothing_is_recorded(hub, deployment):
    app, _, numbers = hub
    me = login(app, deployment.holders[6])  # her qualification ended a year and a day before the epoch (2025-03-31)
    r = register_card(app, me, "reg-6", numbers)
    assert r.status_code == 422 and "no health-insurance qualification" in r.json()["detail"], r.text
    assert call(app, "GET", "/portal/me/insurance-card", numbers, headers=me).json() == {
        "qualified": False, "insurer_number": None, "insurer_kind": None, "registered": False,
        "registered_on": None}  # fmt: skip
    assert portal_of(app).qualifications.card_use("holder-6") is None


def test_a_card_revoked_after_the_login_cannot_register_and_a_request_needs_a_session_and_a_key(deployment):
    spec = DeploymentSpec(seed=20261205, holders=2, revoked_every=0, key_pool=2)
    d = Deployment.build(spec)  # its own centre: the test revokes a certificate
    clock = Clock()
    app = create_app(d, MemoryStore(), CardAuthenticator(d.jpki, b"q" * 32, MemoryLedger(), clock=clock))
    me = login(app, d.holders[0])
    assert call(app, "POST", "/portal/me/insurance-card", headers={"Idempotency-Key": "k"}).status_code == 401
    missing = call(app, "POST", "/portal/me/insurance-card", headers=me)
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    d.jpki.revoke(d.holders[0].auth_certificate, RevocationReason.LOSS, dt.datetime.fromtimestamp(clock.t - 10, dt.UTC))
    r = register_card(app, me, "k")
    assert r.status_code == 403 and "revoked" in r.json()["detail"], r.text
    assert app.state.hub.qualifications.card_use("holder-0") is None


def test_the_registration_route_is_documented_with_its_refusals(hub):
    doc = call(hub[0], "GET", "/openapi.json").json()
    post = doc["paths"]["/portal/me/insurance-card"]["post"]
    assert {"200", "401", "403", "409", "422"} <= set(post["responses"])
    assert "health-insurance card" in post["description"] and "409" in post["description"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in post["parameters"])
    assert doc["paths"]["/portal/me/insurance-card"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"] == {"$ref": "#/components/schemas/InsuranceCardOut"}  # fmt: skip


def test_a_405_allows_every_method_of_the_path(hub):
    app, _, numbers = hub
    for path, allowed in (("/portal/me/account", "GET, POST"), ("/portal/me/consents", "GET, POST"),
                          ("/portal/me/insurance-card", "GET, POST"),
                          ("/portal/me/information", "GET"), ("/portal/me/notices/1/read", "POST"),
                          ("/portal/login", "POST")):  # fmt: skip
        for method in ("OPTIONS", "PUT", "DELETE"):
            r = call(app, method, path, numbers)
            assert (r.status_code, r.headers.get("allow")) == (405, allowed), (method, path)


def test_invalid_fields_answer_the_documented_422_without_the_values_sent(hub, deployment):
    app, _, numbers = hub
    me = login(app, deployment.holders[0])
    number = sorted(numbers)[0]
    account = {"action": "register", "account": {**ACCOUNT, "holder": number}, "effective": number,
               "signature": number, "certificate": ""}  # fmt: skip
    consent = {"party": number, "valid_until": number, "my_number": number}
    for path, body in (("/portal/me/account", account), ("/portal/me/consents", consent)):
        r = call(app, "POST", path, numbers, headers=me, json=body)
        assert r.status_code == 422, r.text
        assert number not in r.text and all({"type", "loc", "msg"} == set(p) for p in r.json()["detail"]), r.text
    doc = call(app, "GET", "/openapi.json").json()
    for path in ("/portal/me/account", "/portal/me/consents"):
        answer = doc["paths"][path]["post"]["responses"]["422"]["content"]["application/json"]["schema"]
        assert answer == {"$ref": "#/components/schemas/Unprocessable"}
        assert doc["paths"][path]["get"]["responses"]["422"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ValidationProblem"}  # fmt: skip
    assert doc["components"]["schemas"]["Unprocessable"]["anyOf"] == [
        {"$ref": "#/components/schemas/ValidationProblem"}, {"$ref": "#/components/schemas/Problem"}]  # fmt: skip
