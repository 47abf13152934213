"""Schemathesis over the hub routes' OpenAPI document, logged in with an emulated card.

Whatever schemathesis generates for the documented hub routes (bodies, paths, query strings), with a
valid session or none, no answer is a 5xx and none holds a My Number.
"""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import schemathesis
from hypothesis import HealthCheck, settings

from real_backends.load.deployment import Deployment, DeploymentSpec, resident
from real_backends.portal_api import CardAuthenticator, MemoryLedger, card_answer
from real_backends.portal_hub import create_app
from twin.services.linkage import my_number_fields
from twin.services.store import MemoryStore

SPEC = DeploymentSpec(seed=20261206, holders=3, revoked_every=0, key_pool=2)
_deployment = Deployment.build(SPEC)
_rng = np.random.default_rng(17)
_auth = CardAuthenticator(_deployment.jpki, b"f" * 32, MemoryLedger(), nonce_bytes=lambda n: _rng.bytes(n))
_app = create_app(_deployment, MemoryStore(), _auth)
_numbers = {resident(SPEC.seed, h.index).my_number for h in _deployment.holders}


def _session() -> str:
    async def go() -> str:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app), base_url="http://portal") as c:
            token = (await c.get("/portal/challenge")).json()["challenge"]
            body = card_answer(token, _deployment.holders[0].reader(), "1234")
            return (await c.post("/portal/login", json=body)).json()["session"]

    return asyncio.run(go())


BEARER = {"authorization": f"Bearer {_session()}"}
schema = schemathesis.openapi.from_asgi("/openapi.json", _app).include(path_regex="^/portal/me/")
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


def test_the_fuzzed_routes_include_the_insurance_card_registration():
    assert {"/portal/me/insurance-card", "/portal/me/account"} <= set(_app.openapi()["paths"])


@schema.parametrize()
@FUZZ
def test_hub_routes_never_answer_5xx_or_a_my_number(case):
    for headers in (BEARER, None):
        response = case.call(headers=headers)
        assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code}"
        assert my_number_fields(response.text, _numbers) == []
