"""`twin serve eligibility --store ... --set insured=N --workers 2`: the qualification book on SQLite or PostgreSQL.

Specification: the first start loads the card holders and a synthetic remainder up to ``insured``
people into the store, and the holders' registrations of the card as the insurance card, once, however
many workers start (a store loaded before the registrations gets them); card checks and checks by insured number
anywhere in the table are answered from it; a restart reuses the loaded store; a store that holds
another enrolment, or a bad ``insured``, is refused at start with a message naming it and exit 2.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from real_backends.cli import app as serve_cli
from real_backends.eligibility_book import (
    card_use_day,
    enrolment_id,
    ensure_enrolled,
    insured_people,
    is_qualified,
    is_registered,
    qualifications,
)
from real_backends.load.deployment import Deployment, DeploymentSpec
from real_backends.load.server import twin_serve
from real_backends.portal_api import card_answer
from real_backends.stores import open_store
from twin.services.eligibility import QualificationBook

ROOT = Path(__file__).resolve().parents[2]
SPEC = DeploymentSpec(seed=11, holders=12, revoked_every=4)
INSURED = 20_000


@pytest.fixture(scope="module")
def deployment() -> Deployment:
    return Deployment.build(SPEC)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'elig.db'}"
    return request.getfixturevalue("pg_url")


def serving(store: str, insured: int = INSURED, workers: int = 2):
    """The server as an operator starts it; stopping it checks that no process of it is left."""
    options = {"seed": str(SPEC.seed), "holders": str(SPEC.holders), "insured": str(insured)}
    return twin_serve("eligibility", store, options, workers=workers)


def test_a_served_book_of_20000_insured_answers_cards_and_numbers_and_survives_a_restart(
    store_url: str, deployment: Deployment
) -> None:
    people = insured_people(SPEC.seed, INSURED - SPEC.holders)
    rng = np.random.default_rng(3)
    with serving(store_url) as url, httpx.Client(base_url=url, timeout=30) as c:
        holder = next(h for h in deployment.holders if is_qualified(h) and not h.revoked)
        token = c.get("/eligibility/challenge").json()["challenge"]
        r = c.post("/eligibility/card", json={**card_answer(token, holder.reader(), "1234"), "consent_checkup": True})
        assert r.status_code == 200, r.text
        assert r.json()["insured_number"] == f"{70000 + holder.index}" and r.json()["share_checkup"] is True
        unregistered = next(h for h in deployment.holders if is_qualified(h) and not is_registered(h) and not h.revoked)
        token = c.get("/eligibility/challenge").json()["challenge"]
        r = c.post("/eligibility/card", json=card_answer(token, unregistered.reader(), "1234"))
        assert r.status_code == 403 and r.json()["code"] == "card_not_registered"
        ended = next(h for h in deployment.holders if not is_qualified(h) and not h.revoked)
        token = c.get("/eligibility/challenge").json()["challenge"]
        r = c.post("/eligibility/card", json=card_answer(token, ended.reader(), "1234"))
        assert r.status_code == 404 and r.json()["code"] == "no_qualification"
        for j in rng.choice(len(people), size=60, replace=False):  # anywhere in the table
            insurer, number, branch = people.key(int(j))
            body = {"insurer_number": insurer, "insured_number": number, "branch": branch,
                    "birth_date": people.birth_date(int(j)).isoformat()}  # fmt: skip
            r = c.post("/eligibility/number", json=body)
            if people.ended[j]:
                assert r.status_code == 404 and r.json()["code"] == "no_qualification"
            else:
                assert r.status_code == 200 and r.json()["insured_number"] == number, r.text
            wrong = {**body, "birth_date": "1901-01-01"}
            assert c.post("/eligibility/number", json=wrong).json()["code"] == "birth_date_mismatch"
        for _ in range(6):  # each call on a new connection: challenges are good at, and used once across, both workers
            token = httpx.get(url + "/eligibility/challenge").json()["challenge"]
            body = card_answer(token, holder.reader(), "1234")
            assert httpx.post(url + "/eligibility/card", json=body).status_code == 200
            replay = httpx.post(url + "/eligibility/card", json=body)
            assert replay.status_code == 409 and replay.json()["detail"].startswith("challenge: already used")
    store = open_store(store_url)
    assert store.count("eligibility.qualification") == INSURED == store.count("eligibility.link"), "loaded once"
    started = time.monotonic()
    with serving(store_url, workers=1) as url:  # a restart reuses the store: no second load
        j = int(np.flatnonzero(~people.ended)[0])
        insurer, number, branch = people.key(j)
        r = httpx.post(url + "/eligibility/number", json={"insurer_number": insurer, "insured_number": number,
                                                          "branch": branch, "birth_date": str(people.birth_date(j))})
        assert r.status_code == 200
    assert store.count("eligibility.qualification") == INSURED
    assert store.count("eligibility.card_use") == sum(map(is_registered, deployment.holders)), "registered once"
    assert time.monotonic() - started < 600  # generous: the point is it did not fail on a duplicate load


def test_a_store_loaded_before_the_registrations_gets_them_once_through_the_book(
    tmp_path: Path, deployment: Deployment
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'old.db'}")
    QualificationBook(store).load_initial(qualifications(deployment, SPEC.holders),
                                          load_id=enrolment_id(SPEC, SPEC.holders))  # as loaded before  # fmt: skip
    assert store.count("eligibility.card_use") == 0
    for _ in range(2):  # a restart replays nothing
        book = ensure_enrolled(store, deployment)
        assert store.count("eligibility.card_use") == sum(map(is_registered, deployment.holders)) > 0
    for h in deployment.holders:
        r = book.card_use(f"holder-{h.index}")
        assert (r.on if r else None) == card_use_day(h)


def test_a_store_holding_another_enrolment_or_a_bad_size_is_refused_at_start(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'elig.db'}"
    runner = CliRunner(env={"COLUMNS": "300"})  # the whole message on one line of the error box
    base = ["eligibility", "--store", store, "--set", "holders=4", "--set", "seed=3"]
    r = runner.invoke(serve_cli, [*base, "--set", "insured=2"])
    assert r.exit_code == 2 and "insured: 2 is not allowed; use 4..5000000" in r.output
    r = runner.invoke(serve_cli, [*base, "--set", "insured=lots"])
    assert r.exit_code == 2 and "--set insured='lots': not an integer" in r.output
    ensure_enrolled(open_store(store), Deployment.build(DeploymentSpec(seed=3, holders=4)), 50)
    r = runner.invoke(serve_cli, [*base, "--set", "insured=60"])
    assert r.exit_code == 2, r.output
    assert "the store already holds another enrolment: insured=50 (asked 60)" in r.output
    assert f"--store {store!r}: the store already holds" in r.output  # the refused store is named
    assert open_store(store).count("eligibility.qualification") == 50, "the refused start changed nothing"
