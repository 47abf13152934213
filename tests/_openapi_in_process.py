"""Generated requests from a service's own OpenAPI document, sent in process (schemathesis over ASGI).

The payout and points APIs are fuzzed the same way: requests that fit the document and requests that
break it, 25 of each kind per route with a fixed seed, and no answer may be a 5xx; every refusal says in
its body what was wrong. A test module makes its two tests with one call and names them itself, so that
pytest collects them there::

    test_valid, test_invalid = openapi_fuzz_tests(create_app(MemoryStore(), World(...)), no_input=("health",))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])  # fmt: skip


def _check(case: schemathesis.Case) -> None:
    r = case.call()
    assert r.status_code < 500, f"{case.method} {case.path} -> {r.status_code}: {r.text[:300]}"
    if r.status_code >= 400:
        assert r.json()["error"], "every refusal says what was wrong"


def openapi_fuzz_tests(app: Any, no_input: tuple[str, ...]) -> tuple[Callable[..., None], Callable[..., None]]:
    """Two slow tests of ``app`` (an ASGI app with ``/openapi.json``): requests that fit its document, and
    requests that break it (the GET routes named in ``no_input`` take no input at all, so there is nothing to
    break in them); neither may get a 5xx, and every 4xx carries an ``error``."""
    valid = schemathesis.openapi.from_asgi("/openapi.json", app)
    invalid = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path_regex=f"^/({'|'.join(no_input)})$")
    invalid.config.generation.update(modes=[schemathesis.GenerationMode.NEGATIVE])

    @pytest.mark.slow
    @valid.parametrize()
    @SETTINGS
    def no_request_that_fits_the_schema_gets_a_server_error(case: schemathesis.Case) -> None:
        _check(case)

    @pytest.mark.slow
    @invalid.parametrize()
    @SETTINGS
    def requests_that_break_the_schema_get_a_4xx_with_a_reason(case: schemathesis.Case) -> None:
        _check(case)

    return no_request_that_fits_the_schema_gets_a_server_error, requests_that_break_the_schema_get_a_4xx_with_a_reason
