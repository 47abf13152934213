"""Generated requests from the payout API's own OpenAPI document (schemathesis): never a 5xx, whatever is sent."""

from __future__ import annotations

from _openapi_in_process import openapi_fuzz_tests

from real_backends.payout_api import PayoutWorld, create_app
from twin.services.store import MemoryStore

(test_no_request_that_fits_the_schema_gets_a_server_error,
 test_requests_that_break_the_schema_get_a_4xx_with_a_reason) = openapi_fuzz_tests(
    create_app(MemoryStore(), PayoutWorld(households=30, seed=1)), no_input=("health", "totals"))  # fmt: skip
