"""Myna Portal login: challenge, the card signs it, the server checks everything, a session comes back.

Specification: a holder with a valid card and the right PIN logs in; the same challenge never logs
anyone in twice (also across uvicorn workers); an expired challenge, a revoked or foreign
certificate, a signature by another key or over other bytes, a forged challenge and malformed
fields are each refused with their own 4xx and a message naming the problem.
"""

from __future__ import annotations

import asyncio
import base64

import httpx
import numpy as np
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from real_backends.load.server import serve
from real_backends.portal_api import CardAuthenticator, MemoryLedger, card_answer, create_app

from .conftest import SPEC

PIN = "1234"


class Clock:
    def __init__(self, t: float = 1_790_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(deployment, clock):
    rng = np.random.default_rng(5)
    auth = CardAuthenticator(deployment.jpki, b"k" * 32, MemoryLedger(), clock=clock,
                             nonce_bytes=lambda n: rng.bytes(n))
    return create_app(deployment, auth)


def call(app, method: str, path: str, **kw) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as c:
            return await c.request(method, path, **kw)

    return asyncio.run(go())


def challenge(app) -> str:
    return call(app, "GET", "/portal/challenge").json()["challenge"]


def test_a_valid_card_logs_in_and_the_session_names_its_certificate(app, deployment):
    holder = deployment.holders[0]
    body = card_answer(challenge(app), holder.reader(), PIN)
    r = call(app, "POST", "/portal/login", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["serial"] == f"{holder.auth_certificate.serial_number:x}"
    me = call(app, "GET", "/portal/me", headers={"authorization": f"Bearer {r.json()['session']}"})
    assert me.json() == {"serial": r.json()["serial"]}


def test_a_challenge_is_single_use(app, deployment):
    body = card_answer(challenge(app), deployment.holders[1].reader(), PIN)
    assert call(app, "POST", "/portal/login", json=body).status_code == 200
    again = call(app, "POST", "/portal/login", json=body)
    assert again.status_code == 409 and "already used" in again.json()["detail"]


def test_an_expired_challenge_is_refused(app, deployment, clock):
    body = card_answer(challenge(app), deployment.holders[1].reader(), PIN)
    clock.t += 121
    r = call(app, "POST", "/portal/login", json=body)
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_a_revoked_card_is_refused(app, deployment):
    lost = deployment.holders[3]
    assert lost.revoked
    r = call(app, "POST", "/portal/login", json=card_answer(challenge(app), lost.reader(), PIN))
    assert r.status_code == 403 and r.json()["detail"] == "certificate: revoked (loss)", "the outcome once"


def test_a_certificate_the_centre_never_issued_is_refused(app, stranger):
    r = call(app, "POST", "/portal/login", json=card_answer(challenge(app), stranger.reader(), PIN))
    assert r.status_code == 403 and "not_in_ledger" in r.json()["detail"]


def test_a_signature_over_another_challenge_or_by_another_card_is_refused(app, deployment):
    token = challenge(app)
    other = card_answer(challenge(app), deployment.holders[0].reader(), PIN)
    body = {**card_answer(token, deployment.holders[0].reader(), PIN), "signature": other["signature"]}
    r = call(app, "POST", "/portal/login", json=body)
    assert r.status_code == 401 and "does not verify" in r.json()["detail"]
    # signed with another key of the same card (the signature key) but sent with the auth certificate
    holder = deployment.holders[1]
    token = challenge(app)
    signature = holder.perso.sign_key.sign(token.encode(), padding.PKCS1v15(), hashes.SHA256())
    body = {**card_answer(token, holder.reader(), PIN), "signature": base64.urlsafe_b64encode(signature).decode()}
    r = call(app, "POST", "/portal/login", json=body)
    assert r.status_code == 401 and "does not verify" in r.json()["detail"]


def test_forged_and_malformed_inputs_get_named_4xx(app, deployment):
    good = card_answer(challenge(app), deployment.holders[0].reader(), PIN)
    # well formed but not issued here: authentication fails (401), as for a forged session
    forged = call(app, "POST", "/portal/login", json={**good, "challenge": "A" * 75})
    assert forged.status_code == 401 and "not one this server issued" in forged.json()["detail"]
    # base64url bytes that are no certificate: the credential is refused (403), the request was well formed
    fresh = card_answer(challenge(app), deployment.holders[0].reader(), PIN)
    bad_cert = call(app, "POST", "/portal/login", json={**fresh, "certificate": "AAAA"})
    assert bad_cert.status_code == 403 and "certificate: not a DER" in bad_cert.json()["detail"]
    not_b64 = call(app, "POST", "/portal/login", json={**good, "certificate": "A"})  # 4k+1 characters never decode
    assert not_b64.status_code == 422 and not_b64.json()["detail"][0]["loc"] == ["body", "certificate"]
    extra = call(app, "POST", "/portal/login", json={**good, "pin": "1234"})
    assert extra.status_code == 422 and "pin" in extra.text and "1234" not in extra.json()["detail"][0]["msg"]
    missing = call(app, "POST", "/portal/login", json={"challenge": "x"})
    assert missing.status_code == 422 and "certificate" in missing.text
    not_json = call(app, "POST", "/portal/login", content=b"\x30\x03", headers={"content-type": "application/der"})
    assert not_json.status_code == 415 and "send application/json" in not_json.json()["detail"]
    huge = call(app, "POST", "/portal/login", content=b"{" * 20000, headers={"content-type": "application/json"})
    assert huge.status_code == 413
    nobody = call(app, "GET", "/portal/me", headers={"authorization": "Basic x"})
    assert nobody.status_code == 401 and "Bearer" in nobody.json()["detail"]


def test_an_over_limit_chunked_body_is_413_and_a_wrong_content_type_415(app):
    async def chunks():  # no length: httpx sends it chunked
        for _ in range(20):
            yield b" " * 4096

    r = call(app, "POST", "/portal/login", content=chunks(), headers={"content-type": "application/json"})
    assert r.request.headers["transfer-encoding"] == "chunked" and r.status_code == 413, r.text
    assert "at most 16384" in r.json()["detail"]
    r = call(app, "POST", "/portal/login", content=b"challenge=x", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert r.json()["detail"] == "content-type 'text/plain' is not allowed; send application/json"


def test_refusals_and_422s_mask_twelve_digit_numbers(app):
    for body in ({"challenge": "123456789012", "certificate": "AAAA", "signature": "AAAA"},
                 {"challenge": 123456789012, "certificate": "AAAA", "signature": "AAAA"},
                 {"challenge": "AAAA", "certificate": "AAAA", "signature": "AAAA", "my_number": "123456789012"},
                 {"challenge": "1234 5678 9012", "certificate": "AAAA", "signature": "AAAA"}):  # fmt: skip
        r = call(app, "POST", "/portal/login", json=body)
        assert 400 <= r.status_code < 500 and "123456789012" not in r.text and "5678 9012" not in r.text, r.text
    r = call(app, "POST", "/portal/login", content=b"{}", headers={"content-type": "application/123456789012"})
    assert r.status_code == 415 and "123456789012" not in r.text and "************" in r.text


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(challenge_text=st.text(min_size=1, max_size=120), cert=st.binary(max_size=300), sig=st.binary(max_size=300))
def test_no_garbage_answer_gets_a_5xx_or_a_session(app, challenge_text, cert, sig):
    def enc(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).decode() or "A"

    for token in (challenge_text, challenge(app)):
        body = {"challenge": token, "certificate": enc(cert), "signature": enc(sig)}
        r = call(app, "POST", "/portal/login", json=body)
        assert 400 <= r.status_code < 500


@pytest.mark.system
def test_two_workers_share_the_used_challenge_ledger(deployment):
    with serve("portal", SPEC, workers=2) as url, httpx.Client(base_url=url) as client:
        holder = deployment.holders[0]
        body = card_answer(client.get("/portal/challenge").json()["challenge"], holder.reader(), PIN)
        first = client.post("/portal/login", json=body)
        assert first.status_code == 200, first.text
        replays = []
        for _ in range(6):  # fresh connections land on either worker
            with httpx.Client(base_url=url) as other:
                replays.append(other.post("/portal/login", json=body).status_code)
        assert replays == [409] * 6
