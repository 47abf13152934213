"""The eligibility service and the OCSP responder of a world set at another epoch live then, as its portal does.

Specification: a deployment set on 2022-06-01 (``--set epoch=2022-06-01``) has its insured people's qualifications,
birth dates and card-use registrations as many days before its epoch as the default world's are before 2026-04-01,
and its eligibility and OCSP servers read the world's clock (two hours after the epoch, counted from the first
start on the store): a holder qualified in 2022 is answered, one whose qualification ended a year before the epoch
is refused, the OCSP answers are of 2022. A store enrolled for one epoch is refused for another, naming both; an
epoch that is not a date is refused naming the field and value. Served as separate processes on one SQLite file,
the portal started first, the eligibility server and the OCSP responder read one clock and one book.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from typer.testing import CliRunner

from real_backends import eligibility_api, ocsp_api
from real_backends.cli import app as serve_cli
from real_backends.eligibility_book import (
    INSURER,
    card_use_day,
    ensure_enrolled,
    insured_number,
    insured_people,
    is_qualified,
    is_registered,
)
from real_backends.load.deployment import Deployment, DeploymentSpec
from real_backends.load.server import twin_serve
from real_backends.portal_api import CHALLENGE_TTL_S, card_answer
from real_backends.portal_hub import world_clock
from real_backends.stores import open_store
from twin.services.store import MemoryStore, StoreError

SPEC = DeploymentSpec(seed=20220601, holders=8, revoked_every=4, key_pool=2, epoch="2022-06-01")
EPOCH = dt.datetime(2022, 6, 1, 0, 30, tzinfo=dt.UTC)
START = EPOCH + dt.timedelta(hours=2)  # the world's clock at its first start
PIN = "1234"
BAD_EPOCH = r"deployment epoch: '2022-06-31' is not allowed; use an ISO date \(2022-06-01\)"


@pytest.fixture(scope="module")
def deployment() -> Deployment:
    return Deployment.build(SPEC)


@pytest.fixture(scope="module")
def app(deployment: Deployment):  # noqa: ANN201
    """The eligibility API as ``twin serve eligibility`` builds it (authenticator from the environment)."""
    return eligibility_api.create_app(deployment, book=ensure_enrolled(MemoryStore(), deployment, 40))


def call(app, method: str, path: str, **kw) -> httpx.Response:  # noqa: ANN001
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://clinic") as c:
            return await c.request(method, path, **kw)

    return asyncio.run(go())


def card_check(app, holder) -> httpx.Response:  # noqa: ANN001
    token = call(app, "GET", "/eligibility/challenge").json()["challenge"]
    return call(app, "POST", "/eligibility/card", json=card_answer(token, holder.reader(), PIN))


def near_start(seconds: float) -> bool:
    """A time of the world's clock shortly after its start (the module's servers started minutes ago at most)."""
    return START.timestamp() - 5 <= seconds <= START.timestamp() + 900


def test_the_clinic_checks_a_card_in_2022_against_the_qualifications_of_2022(app, deployment: Deployment) -> None:
    challenge = call(app, "GET", "/eligibility/challenge").json()
    assert near_start(challenge["expires_at"]), "the challenge expires on the world's clock, in 2022"
    holder = deployment.holders[0]
    assert is_qualified(holder) and is_registered(holder) and not holder.revoked
    r = card_check(app, holder)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["insurer_number"], body["insured_number"]) == (INSURER, insured_number(holder))
    assert body["valid_from"] == "2016-06-01"  # six years before the epoch (2020-04-01 before 2026-04-01)
    registered = dt.date.fromisoformat(body["card_use_registered_on"])
    assert registered == card_use_day(holder, EPOCH.date()) == dt.date(2017, 5, 1) and not body["registered_now"]


def test_a_holder_whose_qualification_ended_a_year_before_the_epoch_is_refused(app, deployment: Deployment) -> None:
    ended = deployment.holders[6]
    assert not is_qualified(ended) and is_registered(ended) and not ended.revoked
    r = card_check(app, ended)
    assert r.status_code == 404 and r.json()["code"] == "no_qualification", r.text
    by_number = {"insurer_number": INSURER, "insured_number": insured_number(ended), "branch": "00",
                 "birth_date": ended.perso.basic_info.birth_date.isoformat()}  # fmt: skip
    assert call(app, "POST", "/eligibility/number", json=by_number).json()["code"] == "no_qualification"


def test_the_synthetic_insured_people_are_dated_from_the_epoch(app, deployment: Deployment) -> None:
    then, now = insured_people(SPEC.seed, 32, EPOCH.date()), insured_people(SPEC.seed, 32)
    shift = EPOCH.date() - dt.date(2026, 4, 1)
    assert all(then.birth_date(j) == now.birth_date(j) + shift for j in range(32)), "the same ages on the epoch"
    current = next(j for j in range(32) if not then.ended[j])
    insurer, number, branch = then.key(current)
    r = call(app, "POST", "/eligibility/number", json={"insurer_number": insurer, "insured_number": number,
                                                       "branch": branch,
                                                       "birth_date": then.birth_date(current).isoformat()})  # fmt: skip
    assert r.status_code == 200 and r.json()["valid_from"] == "2017-06-01", r.text  # five years before the epoch


def test_the_ocsp_responder_answers_on_the_worlds_clock(deployment: Deployment) -> None:
    root = deployment.jpki.authority("auth").certificate
    server = ocsp_api.create_app(deployment)

    def status(i: int) -> ocsp.OCSPResponse:
        request = ocsp.OCSPRequestBuilder().add_certificate(deployment.holders[i].auth_certificate, root,
                                                           hashes.SHA1()).build()  # fmt: skip
        r = call(server, "POST", "/ocsp/auth", content=request.public_bytes(Encoding.DER),
                 headers={"content-type": ocsp_api.OCSP_REQUEST})  # fmt: skip
        assert r.status_code == 200
        return ocsp.load_der_ocsp_response(r.content)

    good, lost = status(0), status(3)
    assert good.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert near_start(good.this_update_utc.timestamp()) and good.next_update_utc > good.this_update_utc
    assert lost.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert lost.revocation_time_utc == EPOCH + dt.timedelta(hours=1) < lost.this_update_utc
    crl = x509.load_der_x509_crl(call(server, "GET", "/crl/auth.crl").content)
    assert near_start(crl.last_update_utc.timestamp())


def test_servers_on_one_store_read_the_clock_recorded_there(deployment: Deployment, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'world.db'}"
    store = open_store(url)
    first = ocsp_api.served_clock(deployment, store)
    time.sleep(2.5)  # a portal started later on the store reads the OCSP responder's start, not its own
    portal = world_clock(deployment, open_store(url))
    assert abs(first().timestamp() - portal()) < 1.01 and near_start(portal())
    default = Deployment.build(DeploymentSpec(holders=1))
    assert ocsp_api.served_clock(default, MemoryStore()) is ocsp_api.wall_clock  # the default world: today
    ocsp_api.serve_app(f"sqlite:///{tmp_path / 'not-made.db'}", holders="1")
    assert not (tmp_path / "not-made.db").exists(), "at the default epoch the OCSP server opens no store"


def test_a_store_enrolled_at_one_epoch_is_refused_at_another_naming_both(deployment: Deployment) -> None:
    store = MemoryStore()
    ensure_enrolled(store, deployment)
    today = Deployment.build(DeploymentSpec(seed=SPEC.seed, holders=SPEC.holders, revoked_every=4, key_pool=2))
    with pytest.raises(StoreError, match=r"another enrolment: epoch=2022-06-01T00:30:00\+00:00 "
                                         r"\(asked 2026-04-01T00:30:00\+00:00\)"):  # fmt: skip
        ensure_enrolled(store, today)
    ensure_enrolled(store, deployment)  # the same world again: a restart, nothing loaded


def test_an_epoch_that_is_not_a_date_is_refused_naming_the_field_and_value() -> None:
    with pytest.raises(ValueError, match=BAD_EPOCH):
        eligibility_api.serve_app("memory://", holders="1", epoch="2022-06-31")
    with pytest.raises(ValueError, match=BAD_EPOCH):
        ocsp_api.serve_app("memory://", holders="1", epoch="2022-06-31")
    for service in ("eligibility", "ocsp"):
        done = CliRunner().invoke(serve_cli, [service, "--store", "memory://", "--set", "epoch=2022-06-31"])
        assert done.exit_code == 2
        assert done.output.startswith("error: twin serve: deployment epoch: '2022-06-31' is not allowed"), done.output


@pytest.mark.slow
def test_the_eligibility_server_the_portal_and_the_ocsp_responder_on_one_store_read_one_clock(
    tmp_path: Path, deployment: Deployment
) -> None:
    """Three processes on one SQLite file, started seconds apart: the portal first (the order once refused: the
    eligibility server finds the holders' enrolment it would have loaded, and adds its registrations), then the
    eligibility server and the OCSP responder; all three read the clock the first recorded, and one book."""
    options = {"holders": str(SPEC.holders), "seed": str(SPEC.seed), "epoch": SPEC.epoch}
    store = f"sqlite:///{tmp_path / 'world.db'}"
    holder = deployment.holders[0]
    with twin_serve("portal", store, options) as portal_url:
        time.sleep(3)  # each server recording its own start would be seconds behind the first
        with (
            twin_serve("eligibility", store, options) as eligibility_url,
            twin_serve("ocsp", store, options) as ocsp_url,
            httpx.Client(timeout=30) as client,
        ):
            clinic = client.get(f"{eligibility_url}/eligibility/challenge").json()
            portal = client.get(f"{portal_url}/portal/challenge").json()
            request = ocsp.OCSPRequestBuilder().add_certificate(  # with a nonce: signed now, not pre-signed
                holder.auth_certificate, deployment.jpki.authority("auth").certificate, hashes.SHA1()
            ).add_extension(x509.OCSPNonce(b"n" * 16), critical=False).build()
            answer = client.post(f"{ocsp_url}/ocsp/auth", content=request.public_bytes(Encoding.DER),
                                 headers={"content-type": ocsp_api.OCSP_REQUEST})  # fmt: skip
            assert near_start(clinic["expires_at"]) and abs(portal["expires_at"] - clinic["expires_at"]) < 1.5
            this_update = ocsp.load_der_ocsp_response(answer.content).this_update_utc.timestamp()
            assert abs(this_update - (clinic["expires_at"] - CHALLENGE_TTL_S)) < 2
            checked = client.post(f"{eligibility_url}/eligibility/card",
                                  json=card_answer(clinic["challenge"], holder.reader(), PIN)).json()  # fmt: skip
            assert checked["card_use_registered_on"] == "2017-05-01", checked
            session = client.post(f"{portal_url}/portal/login",
                                  json=card_answer(portal["challenge"], holder.reader(), PIN)).json()  # fmt: skip
            me = {"authorization": f"Bearer {session['session']}"}
            card = client.get(f"{portal_url}/portal/me/insurance-card", headers=me).json()
            assert (card["qualified"], card["registered_on"]) == (True, "2017-05-01"), card  # the same book
