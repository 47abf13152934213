"""Generated requests from the points API's own OpenAPI document (schemathesis, in process): never a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from real_backends.points_api import PointsWorld, create_app
from twin.services.store import MemoryStore

app = create_app(MemoryStore(), PointsWorld(people=30, seed=1))
valid = schemathesis.openapi.from_asgi("/openapi.json", app)
# GET /health, /totals and /invariants take no input at all, so there is nothing to break in them
invalid = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path_regex="^/(health|totals|invariants)$")
invalid.config.generation.update(modes=[schemathesis.GenerationMode.NEGATIVE])
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])  # fmt: skip


@pytest.mark.slow
@valid.parametrize()
@SETTINGS
def test_no_request_that_fits_the_schema_gets_a_server_error(case: schemathesis.Case) -> None:
    r = case.call()
    assert r.status_code < 500, f"{case.method} {case.path} -> {r.status_code}: {r.text[:300]}"
    if r.status_code >= 400:
        assert r.json()["error"], "every refusal says what was wrong"


@pytest.mark.slow
@invalid.parametrize()
@SETTINGS
def test_requests_that_break_the_schema_get_a_4xx_with_a_reason(case: schemathesis.Case) -> None:
    r = case.call()
    assert r.status_code < 500, f"{case.method} {case.path} -> {r.status_code}: {r.text[:300]}"
    if r.status_code >= 400:
        assert r.json()["error"], "every refusal says what was wrong"
