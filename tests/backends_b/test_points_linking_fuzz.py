"""Generated requests from the points API's own OpenAPI document (schemathesis, in process) on a world with cards,
where the reservation and phase 2's linking parts check the card: never a 5xx, every refusal says why."""

from __future__ import annotations

from _openapi_in_process import openapi_fuzz_tests

from real_backends.points_api import PointsWorld, create_app
from twin.services.store import MemoryStore

(test_no_request_that_fits_the_schema_gets_a_server_error,
 test_requests_that_break_the_schema_get_a_4xx_with_a_reason) = openapi_fuzz_tests(
    create_app(MemoryStore(), PointsWorld(people=30, seed=1, cards=12)),
    no_input=("health", "totals", "invariants"))  # fmt: skip
