"""Generated requests from the points API's OpenAPI document, served over the portal's world (schemathesis, in
process, ``real_backends/points_hub.py``): never a 5xx."""

from __future__ import annotations

from _openapi_in_process import openapi_fuzz_tests

from real_backends import points_api

(test_no_request_that_fits_the_schema_gets_a_server_error,
 test_requests_that_break_the_schema_get_a_4xx_with_a_reason) = openapi_fuzz_tests(
    points_api.serve_app("memory://", world="portal", holders="4", seed="1", epoch="2022-06-01"),
    no_input=("health", "totals", "invariants"))  # fmt: skip
