"""Bad requests to the OCSP/CRL server: always a 4xx that names the problem, and the server goes on.

Runs against the ASGI app in process (the same fast path and routes uvicorn serves) and, for the
transport-level cases (oversized and truncated bodies), against a live server.
"""

from __future__ import annotations

import asyncio
import base64
import socket
from urllib.parse import urlparse

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from real_backends.ocsp_api import MAX_OCSP_BODY, create_app
from twin.services.jpki.ocsp import MALFORMED_REQUEST

OCSP = {"content-type": "application/ocsp-request"}


@pytest.fixture(scope="module")
def app(deployment):
    return create_app(deployment, presign=False)


def call(app, method: str, path: str, **kw) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://jpki") as c:
            return await c.request(method, path, **kw)

    return asyncio.run(go())


def good_request(deployment) -> bytes:
    h = deployment.holders[0]
    req = ocsp.OCSPRequestBuilder().add_certificate(h.auth_certificate, deployment.jpki.auth_ca.certificate,
                                                    hashes.SHA256())
    return req.build().public_bytes(Encoding.DER)


def test_garbage_der_gets_400_with_the_rfc6960_malformed_answer_and_the_reason(app):
    r = call(app, "POST", "/ocsp/auth", content=b"\x30\x82\xff\xff nonsense", headers=OCSP)
    assert r.status_code == 400
    assert r.content == MALFORMED_REQUEST
    assert r.headers["x-ocsp-error"].startswith("malformed OCSP request: ")
    assert "runs past the end" in r.headers["x-ocsp-error"]


def test_a_truncated_request_is_malformed_not_a_crash(app, deployment):
    der = good_request(deployment)
    for cut in (1, 5, len(der) // 2, len(der) - 1):
        r = call(app, "POST", "/ocsp/auth", content=der[:cut], headers=OCSP)
        assert r.status_code == 400 and r.content == MALFORMED_REQUEST


def test_wrong_content_type_is_415_naming_the_allowed_one(app, deployment):
    r = call(app, "POST", "/ocsp/auth", content=good_request(deployment), headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert "use application/ocsp-request" in r.text and "'text/plain'" in r.text


def test_oversized_body_is_413(app):
    r = call(app, "POST", "/ocsp/auth", content=b"\x30" * (MAX_OCSP_BODY + 1), headers=OCSP)
    assert r.status_code == 413 and f"at most {MAX_OCSP_BODY}" in r.text


def test_unknown_responder_crl_and_municipality_are_404_with_the_allowed_names(app):
    assert "use /ocsp/auth or /ocsp/sign" in call(app, "POST", "/ocsp/root", content=b"0", headers=OCSP).text
    assert "use auth or sign" in call(app, "GET", "/crl/root.crl").text
    r = call(app, "GET", "/crl/auth/1310.crl")
    assert r.status_code == 404 and "5-digit code" in r.text


def test_get_with_a_path_that_is_not_base64_is_400(app):
    r = call(app, "GET", "/ocsp/auth/%%%not-base64!!")
    assert r.status_code == 400 and "not base64" in r.text


def test_other_methods_are_405_with_the_allowed_method_in_allow(app):
    """RFC 9110 section 15.5.6: a 405 says in ``Allow`` what the resource takes."""
    r = call(app, "PUT", "/ocsp/auth", content=b"")
    assert r.status_code == 405 and r.headers["allow"] == "POST" and "POST a DER OCSPRequest" in r.text
    r = call(app, "GET", "/ocsp/auth")
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    r = call(app, "POST", "/ocsp/sign/MAo=", content=b"0", headers=OCSP)
    assert r.status_code == 405 and r.headers["allow"] == "GET"
    r = call(app, "DELETE", "/crl/auth.crl")
    assert r.status_code == 405 and "GET" in r.headers["allow"]


@pytest.mark.parametrize("code", ["99999", "00000", "48000", "00999"])
def test_a_crl_partition_of_no_municipality_is_404_not_500(app, code):
    """Five digits that are no local government code (prefecture 00 or over 47) name no partition."""
    r = call(app, "GET", f"/crl/auth/{code}.crl")
    assert r.status_code == 404 and "01000-47999" in r.text


def test_messages_quoting_the_path_mask_twelve_digit_numbers(app):
    for path in ("/ocsp/123456789012", "/crl/123456789012.crl", "/ca/123456789012.cer"):
        r = call(app, "POST" if path.startswith("/ocsp") else "GET", path, content=b"0", headers=OCSP)
        assert r.status_code == 404 and "123456789012" not in r.text and "************" in r.text, path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=600), kind=st.sampled_from(["auth", "sign", "x"]), via_get=st.booleans())
def test_no_byte_string_makes_the_responder_fail(app, body, kind, via_get):
    if via_get:
        r = call(app, "GET", f"/ocsp/{kind}/" + base64.b64encode(body).decode())
    else:
        r = call(app, "POST", f"/ocsp/{kind}", content=body, headers=OCSP)
    assert r.status_code < 500
    if r.status_code == 200:
        assert ocsp.load_der_ocsp_response(r.content) is not None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_valid_requests_get_an_answer_or_a_4xx(app, deployment, data):
    der = bytearray(good_request(deployment))
    for _ in range(data.draw(st.integers(1, 4))):
        der[data.draw(st.integers(0, len(der) - 1))] = data.draw(st.integers(0, 255))
    r = call(app, "POST", "/ocsp/auth", content=bytes(der), headers=OCSP)
    assert r.status_code in (200, 400)


def raw_exchange(url: str, payload: bytes) -> bytes:
    parsed = urlparse(url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.system
def test_a_live_server_answers_413_to_a_huge_declared_body_and_keeps_serving(ocsp_server, deployment):
    head = b"POST /ocsp/auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\n"
    answer = raw_exchange(ocsp_server, head + b"Content-Length: 100000000\r\nConnection: close\r\n\r\n0000")
    assert answer.startswith(b"HTTP/1.1 413")
    truncated = raw_exchange(ocsp_server, head + b"Content-Length: 500\r\nConnection: close\r\n\r\n\x30\x82")
    assert not truncated.startswith(b"HTTP/1.1 5")  # the client hung up mid-body: nothing or a 4xx
    r = httpx.post(f"{ocsp_server}/ocsp/auth", content=good_request(deployment), headers=OCSP)
    assert r.status_code == 200
