"""``twin serve linkage``: the information-provision network over HTTP, on loopback, as a body's intermediate
server uses it: get its agency code for a person, ask a provider, read what the portal shows.

One server (``twin serve linkage --store sqlite:///... --set people=40 --workers 2``) for the module; the tap and log
checks run the same app in process (TestClient) where the network's message tap and log can be watched.
Every answer read here is also checked for a My Number (any of the world's, or any 12 digits with a
valid check digit).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from real_backends.linkage_api import REFRESHED, LinkageWorld, create_app, resident_code, serve_app
from real_backends.load.deployment import Deployment
from real_backends.load.server import twin_serve
from real_backends.stores import open_store
from twin.services.eligibility import EligibilityError, EligibilityService, QualificationBook
from twin.services.linkage import my_number_fields
from twin.services.registry import is_valid_my_number
from twin.services.store import MemoryStore

ROOT = Path(__file__).resolve().parents[2]
WORLD = LinkageWorld(people=40, seed=1)
AT = "2025-07-01T09:00:00+09:00"
JST = dt.timezone(dt.timedelta(hours=9))
TOWN = "muni:131016"  # person 0's town (Chiyoda)


def no_my_number(text: str) -> None:
    """No number of the world's people, and no 12 digits with a valid check digit, anywhere in ``text``."""
    assert not any(n in text for n in WORLD.my_numbers)
    # An agency code is 128 random bits in hex: about one in a thousand holds 12 digits between two letters
    # that pass the check digit (the world's secret is random, so that once made this test flaky). Codes
    # are set aside for the check-digit search, as my_number_fields does; the world's numbers are looked
    # for everywhere, codes included, above.
    rest = _HEX_CODE.sub("<code>", text)
    assert not [m for m in re.findall(r"(?<!\d)\d{12}(?!\d)", rest) if is_valid_my_number(m)]


_HEX_CODE = re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{32}(?![0-9A-Za-z])")


def test_the_check_for_a_my_number_sets_aside_codes_but_not_numbers() -> None:
    """The helper above is itself tested: a hex code with a valid-looking run passes, a bare number fails."""
    lookalike = next(f"{n:012d}" for n in range(10**11, 10**12) if is_valid_my_number(f"{n:012d}"))
    code = ("ab" + lookalike + "cdefabcdefabcdefab")[:32]  # a code's form, with a check-digit-valid run
    assert len(code) == 32
    no_my_number('{"code": "' + code + '"}')
    with pytest.raises(AssertionError):
        no_my_number('{"value": "' + lookalike + '"}')
    with pytest.raises(AssertionError):
        no_my_number('{"code": "' + WORLD.my_numbers[0] + 'abcdefabcdefabcdefab"}')


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('linkage') / 'linkage.db'}"


@pytest.fixture(scope="module")
def url(store_url: str) -> Iterator[str]:
    """As deployed: two workers on one SQLite file (their commits take turns)."""
    with twin_serve("linkage", store_url, {"people": str(WORLD.people), "seed": str(WORLD.seed)}, workers=2,
                    ready_path="/health") as u:  # fmt: skip
        yield u


@pytest.fixture(scope="module")
def http(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30) as c:
        yield c


def code(http: httpx.Client, body: str, person: int) -> str:
    r = http.post("/linkage/codes", json={"body": body, "resident_code": resident_code(person)})
    assert r.status_code == 200, r.text
    return r.json()["code"]


def ask(http: httpx.Client, **over: object) -> httpx.Response:
    q = {"requester": TOWN, "code": code(http, TOWN, 0), "procedure": "child_allowance", "provider": TOWN,
         "item": "local_tax_income", "at": AT, **over}  # fmt: skip
    r = http.post("/linkage/queries", json=q)
    no_my_number(r.text)
    return r


def test_a_lawful_query_answers_from_the_copy_with_its_age(http: httpx.Client) -> None:
    r = ask(http)
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["found"] is True and a["value"]["fiscal_year"] == 2025 and a["as_of"] == "2025-04-01"
    assert dt.datetime.fromisoformat(a["refreshed_at"]) == REFRESHED
    assert a["age_seconds"] == (dt.datetime.fromisoformat(AT) - REFRESHED).total_seconds()
    # another body asking about the same person: its own code, translated by the network, the same copy
    pension_code = code(http, "jps", 0)
    assert pension_code != a["code"]
    r2 = ask(http, requester="jps", code=pension_code, procedure="pension")
    assert r2.status_code == 200 and r2.json()["value"] == a["value"]


def insured(ended: bool) -> int:
    """The first person of the world insured with 協会けんぽ whose qualification has ended (or not)."""
    return next(i for i in range(WORLD.people)
                if (q := WORLD.qualification(i)) is not None and (q.valid_until is not None) == ended)  # fmt: skip


@pytest.mark.parametrize("ended", [False, True], ids=["current", "ended"])
def test_the_insurers_copy_is_the_qualification_the_book_holds_and_a_clinic_is_answered_the_same(
    http: httpx.Client, store_url: str, deployment: Deployment, ended: bool
) -> None:
    """Over HTTP the health insurer answers with the person's qualification as the insurers' book on the server's
    store holds it (insurer, insured number and branch, kind, first and last day; the copy dated its first day), and
    a clinic's eligibility check against that book by the same insured number answers the same numbers and dates:
    on a day it is current (for the ended one her last day, 2025-03-31 at 23:59:59 JST); after it ended, refused."""
    person = insured(ended)
    r = ask(http, code=code(http, TOWN, person), procedure="public_assistance", provider="kyokai",
            item="health_insurance")  # fmt: skip
    assert r.status_code == 200 and r.json()["found"], r.text
    copy, as_of = r.json()["value"], r.json()["as_of"]
    store = open_store(store_url)
    try:
        book = QualificationBook(store)
        (q,) = book.linked_to(WORLD.person_ref(person))
        clinic = EligibilityService(book, deployment.jpki)
        day = q.valid_until or dt.date.fromisoformat(AT[:10])
        answer = clinic.check_by_number(*q.key, q.holder.birth_date, dt.datetime.combine(day, dt.time(23, 59, 59), JST))
        if ended:
            with pytest.raises(EligibilityError) as refused:
                clinic.check_by_number(*q.key, q.holder.birth_date, dt.datetime.fromisoformat(AT))
            assert refused.value.code == "no_qualification"
    finally:
        store.close()  # type: ignore[attr-defined]
    until = None if q.valid_until is None else q.valid_until.isoformat()
    assert copy == {
        "insurer": "全国健康保険協会", "insurer_number": q.insurer_number, "insured_number": q.insured_number,
        "branch": q.branch, "kind": q.kind.value, "valid_from": q.valid_from.isoformat(), "valid_until": until,
    }  # fmt: skip
    assert as_of == copy["valid_from"] == "2020-04-01" and until == ("2025-03-31" if ended else None)
    assert (copy["insurer_number"], copy["insured_number"], copy["branch"]) == answer.insured
    assert (copy["kind"], copy["valid_from"], copy["valid_until"]) == (
        answer.insurer_kind, answer.valid_from.isoformat(), None if answer.valid_until is None
        else answer.valid_until.isoformat())  # fmt: skip
    assert q.insured_number == f"{70000 + person}" and q.insured_number not in WORLD.my_numbers


def test_an_insurers_end_reaches_the_served_answer_at_the_next_nightly_refresh(
    http: httpx.Client, store_url: str, deployment: Deployment
) -> None:
    """協会けんぽ ends a qualification from another process on the served store (the insurer's side, in process: no
    route ends one). The book holds the end at once, so a clinic refuses her; the server answers the old copy, with
    its age since REFRESHED, until the first 02:00 JST after the change, and from then the end, refreshed at 02:00 (the
    server's workers find the change in the store); a clinic's check on her last day answers the dates the copy names.
    No answer holds a My Number (``ask``)."""
    person = max(i for i in range(WORLD.people) if (q := WORLD.qualification(i)) is not None and q.valid_until is None)
    assert person != insured(False)  # not the person whose open-ended copy the test above reads
    changed, last_day = dt.datetime(2025, 7, 1, 15, tzinfo=JST), dt.date(2025, 6, 30)
    night = dt.datetime(2025, 7, 2, 2, tzinfo=JST)
    kyokai = code(http, TOWN, person)

    def copy_at(when: dt.datetime) -> dict[str, Any]:
        r = ask(http, code=kyokai, procedure="public_assistance", provider="kyokai", item="health_insurance",
                at=when.isoformat())  # fmt: skip
        assert r.status_code == 200 and r.json()["found"], r.text
        return r.json()  # type: ignore[no-any-return]

    assert copy_at(changed)["value"]["valid_until"] is None
    store = open_store(store_url)
    try:
        ended = WORLD.end_qualification(WORLD.network(store), person, last_day, changed)
        clinic = EligibilityService(QualificationBook(store), deployment.jpki)
        with pytest.raises(EligibilityError) as refused:
            clinic.check_by_number(*ended.key, ended.holder.birth_date, changed)
        assert refused.value.code == "no_qualification"
        before = night - dt.timedelta(seconds=1)
        stale = copy_at(before)  # the modelled failure: "insured", from the copy refreshed on 2025-06-20
        assert stale["value"]["valid_until"] is None and stale["age_seconds"] == (before - REFRESHED).total_seconds()
        for when in (night, night + dt.timedelta(hours=7)):
            fresh = copy_at(when)
            assert fresh["value"]["valid_until"] == "2025-06-30", fresh
            assert dt.datetime.fromisoformat(fresh["refreshed_at"]) == night
            assert fresh["age_seconds"] == (when - night).total_seconds()
        answer = clinic.check_by_number(*ended.key, ended.holder.birth_date,
                                        dt.datetime.combine(last_day, dt.time(23, 59, 59), JST))  # fmt: skip
    finally:
        store.close()  # type: ignore[attr-defined]
    value = fresh["value"]
    assert (value["valid_from"], value["valid_until"]) == (answer.valid_from.isoformat(), "2025-06-30")
    assert (value["insurer_number"], value["insured_number"], value["branch"]) == answer.insured


def old_layout(store: Any) -> None:
    """The store as an earlier version left it: its world, secret and copies, no qualification book."""
    with store.transaction() as tx:
        tx.put("linkage.api", "world", (WORLD.people, WORLD.seed))
        tx.put("linkage.api", "secret", b"s" * 32)
        tx.put("linkage.api", "seeded", True)


def test_a_store_seeded_before_the_copies_were_qualifications_is_refused_saying_so() -> None:
    store = MemoryStore()
    old_layout(store)
    with pytest.raises(ValueError, match="seeded by an earlier version.*use a fresh database"):
        create_app(store, WORLD)


def test_twin_serve_refuses_such_a_store_naming_it_and_changes_nothing(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from real_backends.cli import app as serve_cli

    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = open_store(url)
    old_layout(store)
    store.close()  # type: ignore[attr-defined]
    runner = CliRunner(env={"COLUMNS": "400"})  # the whole message on one line of the error box
    r = runner.invoke(serve_cli, ["linkage", "--store", url, "--set", f"people={WORLD.people}",
                                  "--set", f"seed={WORLD.seed}"])  # fmt: skip
    assert r.exit_code == 2, r.output
    assert f"--store {url!r}: this store holds a linkage world seeded by an earlier version" in r.output
    assert "use a fresh database" in r.output
    store = open_store(url)
    try:  # the refused start wrote nothing: no book, no copies
        assert store.count("eligibility.qualification") == 0 and store.get("linkage.api", "seeded") is True
    finally:
        store.close()  # type: ignore[attr-defined]


def test_a_query_by_my_number_is_refused_with_the_reason_and_never_echoed(http: httpx.Client) -> None:
    number = WORLD.my_numbers[0]
    r = ask(http, code=number)
    assert r.status_code == 403 and r.json()["reason"] == "my_number_given"
    assert r.json()["detail"][0]["loc"] == ["body", "code"]
    r = ask(http, requester=number)  # a number in another field: refused, and starred in the answer
    assert r.status_code == 404 and r.json()["reason"] == "unknown_body"
    listed = http.get("/linkage/refusals", params={"limit": 10_000})
    assert listed.status_code == 200
    no_my_number(listed.text)
    assert {x["reason"] for x in listed.json()} >= {"my_number_given", "unknown_body"}


def test_a_procedure_or_an_item_outside_the_lawful_table_is_refused(http: httpx.Client) -> None:
    r = ask(http, procedure="curiosity")
    assert r.status_code == 403 and r.json()["reason"] == "unknown_procedure"
    r = ask(http, provider="jps", item="local_tax_income")  # child allowance asks the pension service for pensions only
    assert r.status_code == 403 and r.json()["reason"] == "not_in_table"
    r = ask(http, provider="digital", item="benefit_account", at="2021-07-01T09:00:00+09:00")  # before 2022-10-11
    assert r.status_code == 403 and r.json()["reason"] == "not_yet_in_force"
    r = ask(http, code="0" * 32)
    assert r.status_code == 403 and r.json()["reason"] == "bad_code"


def test_the_exchange_appears_in_the_persons_records_and_nobody_elses(http: httpx.Client) -> None:
    before = http.get(f"/linkage/records/{code(http, 'portal', 0)}").json()
    assert ask(http, provider=TOWN, item="resident_record").status_code == 200
    mine = http.get(f"/linkage/records/{code(http, 'portal', 0)}")
    no_my_number(mine.text)
    new = mine.json()[len(before):]
    assert [(e["requester"], e["provider"], e["procedure"], e["item"], e["found"]) for e in new] == [
        (TOWN, TOWN, "child_allowance", "resident_record", True)]  # fmt: skip
    other = http.get(f"/linkage/records/{code(http, 'portal', 1)}").json()
    assert all(e["id"] not in {n["id"] for n in new} for e in other)
    # a code the portal was not given (here the town's code of the person) names nobody
    assert http.get(f"/linkage/records/{code(http, TOWN, 0)}").status_code == 404


def test_concurrent_queries_on_two_workers_each_get_their_own_exchange_and_record(http: httpx.Client) -> None:
    people = range(8, 24)
    codes = {p: code(http, WORLD.town(p), p) for p in people}
    portal = {p: code(http, "portal", p) for p in people}
    before = {p: len(http.get(f"/linkage/records/{portal[p]}").json()) for p in people}

    def one(k: int) -> httpx.Response:
        p = people[k % len(people)]
        q = {"requester": WORLD.town(p), "code": codes[p], "procedure": "public_housing", "provider": WORLD.town(p),
             "item": "resident_record", "at": AT}  # fmt: skip
        return http.post("/linkage/queries", json=q)

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, range(96)))
    assert [a.status_code for a in answers] == [200] * 96
    exchanges = [a.json()["exchange"] for a in answers]
    assert len(set(exchanges)) == 96  # no two commits of the two workers took the same number
    for p in people:
        new = http.get(f"/linkage/records/{portal[p]}").json()[before[p]:]
        assert len(new) == 96 // len(people) and all(e["procedure"] == "public_housing" for e in new)


def test_bad_input_is_a_422_naming_the_field_and_what_is_allowed(http: httpx.Client) -> None:
    r = ask(http, item="salary")
    assert r.status_code == 422 and "item" in r.json()["error"] and "local_tax_income" in r.json()["error"]
    r = ask(http, at="2025-07-01T09:00:00")  # no timezone
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "at"]
    r = http.post("/linkage/codes", json={"body": "jps", "resident_code": 10**11})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "resident_code"]
    number = WORLD.my_numbers[3]
    r = http.post("/linkage/codes", json={"body": "jps", "resident_code": number})  # a My Number as a string
    assert r.status_code == 422
    no_my_number(r.text)


def test_tap_no_message_between_bodies_and_no_answer_carries_a_my_number(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    app = create_app(store, WORLD)
    net = app.state.network
    known = set(WORLD.my_numbers)
    seen: list[object] = []

    def tap(message: object) -> None:
        seen.append(message)
        assert my_number_fields(message, known) == [], message

    net.taps.append(tap)
    client = TestClient(app)
    issue = net.issuer.issue
    at = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
    net.add_outage("jps", at + dt.timedelta(days=1), at + dt.timedelta(days=2))
    answers = []
    with caplog.at_level(logging.DEBUG):
        for person in range(WORLD.people):
            town = WORLD.town(person)
            for requester, procedure, provider, item in (
                (town, "public_assistance", "jps", "pension"),
                (town, "public_assistance", "kyokai", "health_insurance"),
                ("jps", "pension", town, "local_tax_income"),
                (town, "benefit_eligibility", "digital", "benefit_account"),
                (town, "child_allowance", "jps", "local_tax_income"),
            ):  # fmt: skip
                q = {"requester": requester, "code": issue(requester, resident_code(person)).hex,
                     "procedure": procedure, "provider": provider, "item": item, "at": at.isoformat()}  # fmt: skip
                answers.append(client.post("/linkage/queries", json=q))
            answers.append(client.post("/linkage/queries", json={**q, "code": WORLD.my_numbers[person]}))
        q = {**q, "procedure": "public_assistance", "item": "pension", "at": (at + dt.timedelta(days=1)).isoformat()}
        down = client.post("/linkage/queries", json=q)
        answers.append(down)
        answers.append(client.get("/linkage/refusals", params={"limit": 10_000}))
    assert down.status_code == 503 and down.json()["reason"] == "unavailable" and "Retry-After" in down.headers
    statuses = [a.status_code for a in answers[:-2]]
    assert statuses.count(200) == 4 * WORLD.people and statuses.count(403) == 2 * WORLD.people
    found = [a.json()["found"] for a in answers[:-2] if a.status_code == 200]
    # pension or insurer, the town's assessment, an account for one person in three
    assert found.count(True) == 2 * WORLD.people + len(range(0, WORLD.people, 3))
    assert len(seen) >= 4 * 4 * WORLD.people  # query, provide, supply, answer of every exchange
    for a in answers:
        no_my_number(a.text)
    assert any("my_number_given" in r.getMessage() for r in caplog.records)
    no_my_number("\n".join(r.getMessage() for r in caplog.records))


def test_wiring_the_world_is_kept_in_the_store_and_a_second_world_is_refused() -> None:
    store = MemoryStore()
    create_app(store, WORLD)
    assert create_app(store).state.world == WORLD  # reopened: the world recorded, not the default
    with pytest.raises(ValueError, match="people, seed = \\(40, 1\\)"):
        create_app(store, LinkageWorld(people=41, seed=1))


def test_twin_serve_linkage_bad_flags_exit_2_naming_the_option() -> None:
    run = subprocess.run([sys.executable, "-m", "twin.cli", "serve", "linkage", "--store", "memory://", "--set",
                          "people=many"], cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip() == (
        "error: twin serve: linkage: --set people: 'many' must be a whole number in [1, 1,000,000]"
    ), run.stderr
    # the same factory call, for the other mistakes (the CLI turns each ValueError into exit 2)
    with pytest.raises(ValueError, match="allowed: people, seed"):
        serve_app("memory://", colour="red")
    with pytest.raises(ValueError, match="people: 0 must be a whole number in"):
        serve_app("memory://", people="0")
