"""The JPKI repository over HTTP (公的個人認証サービスの失効情報提供): OCSP answers and CRL downloads.

A hospital terminal that has just read a card's user-authentication certificate asks
``http://…/ocsp/auth`` whether it is still good, as RFC 6960 describes and RFC 5019 profiles for
high volume: a DER OCSPRequest POSTed as ``application/ocsp-request``, or the same bytes base64 in
the URL of a GET (cacheable by proxies). Answers for single CertIDs without a nonce come from the
responder's pre-signed cache; anything else (a nonce, several CertIDs, a cache miss) is signed live.
Relying parties that prefer lists download the CRL, whole per CA or the partition of one
municipality named in their holders' certificates (``/crl/auth/13101.crl``), DER as
``application/pkix-crl``; a CRL is signed once and served until the ledger changes or it ages.

Bad requests get a 4xx naming the problem and never take the server down: a body that is not an
OCSPRequest gets HTTP 400 with the RFC 6960 ``malformedRequest`` answer as body (so OCSP clients
still read a response) and the parse error in the ``X-OCSP-Error`` header; an unknown CA or
municipality is a 404, a body over 8 KiB a 413, another content type a 415, a method a route does
not take a 405 with an ``Allow`` header (RFC 9110 section 15.5.6). Messages quoting what was sent
mask anything that could be a My Number. The OpenAPI document lists exactly these answers. The hot path bypasses
FastAPI's routing (:class:`real_backends.fastpath.FastPath`, a plain ASGI layer) but runs the
same :func:`ocsp_http` as the documented routes.

The responder's now (thisUpdate, nextUpdate, the CRLs' dates, the certificates' validity) is the
served world's (:func:`served_clock`): the wall clock for a deployment at the default epoch
(2026-04-01); for one set at another (``--set epoch=2022-06-01``) two hours after it, counted from
the first start on ``--store`` (where the portal and eligibility server of that world read it too; ``twin serve``
refuses such a world without ``--store`` rather than make ``./twin.db``: :func:`real_backends.cli.store_of`).

Run it with ``uvicorn --factory real_backends.ocsp_api:app_from_env`` (the deployment comes from
``MYNA_BACKEND_SPEC``, see :mod:`real_backends.load.deployment`; its clock from this start).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any, Final
from urllib.parse import unquote

from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import FastAPI, Path, Request, Response

from real_backends.app import mask_numbers
from real_backends.fastpath import FastPath, HttpAnswer, as_response
from real_backends.load.deployment import Deployment, DeploymentSpec
from real_backends.world_time import lives_now, world_clock
from twin.services.jpki import CaKind, Jpki
from twin.services.jpki.der import DerError
from twin.services.jpki.errors import InvalidNameError
from twin.services.jpki.ocsp import MALFORMED_REQUEST, parse_request
from twin.services.store import MemoryStore, Store

OCSP_REQUEST: Final = "application/ocsp-request"
OCSP_RESPONSE: Final = "application/ocsp-response"
PKIX_CRL: Final = "application/pkix-crl"
PKIX_CERT: Final = "application/pkix-cert"
MAX_OCSP_BODY: Final = 8192  # 64 CertIDs with a nonce stay far below this
CRL_MAX_AGE: Final = dt.timedelta(hours=1)
KINDS: Final = {"auth": CaKind.AUTH, "sign": CaKind.SIGN}

Clock = Callable[[], dt.datetime]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def wall_clock() -> dt.datetime:
    """The current UTC time in whole seconds (OCSP and CRL times carry no fractions)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def problem(status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> HttpAnswer:
    """A plain-text error answer (the OCSP routes are binary, so no JSON here); client values masked."""
    return HttpAnswer(status, "text/plain; charset=utf-8", mask_numbers(message).encode(), headers)


class Repository:
    """The OCSP responder and CRL publisher of one JPKI centre, with a clock."""

    def __init__(self, jpki: Jpki, clock: Clock = wall_clock) -> None:
        self.jpki = jpki
        self.clock = clock
        self._crls: dict[tuple[CaKind, int | None], tuple[dt.datetime, int, bytes]] = {}

    def presign(self, deployment: Deployment) -> int:
        """Sign answers ahead for every holder certificate (both CAs, SHA-1 and SHA-256 CertIDs)."""
        from cryptography import x509

        certs = []
        for h in deployment.holders:
            certs.append(h.auth_certificate)
            certs.append(x509.load_der_x509_certificate(h.perso.sign_certificate))
        return self.jpki.ocsp.presign(certs, self.clock())

    def ocsp(self, request_der: bytes) -> HttpAnswer:
        answer = self.jpki.ocsp.respond(request_der, self.clock())
        if answer is MALFORMED_REQUEST or answer == MALFORMED_REQUEST:
            try:
                parse_request(request_der)
                reason = "not an OCSPRequest"
            except (DerError, ValueError, IndexError, TypeError) as exc:
                reason = str(exc) or type(exc).__name__
            reason = mask_numbers(reason.encode("ascii", "backslashreplace").decode("ascii")[:200])
            return HttpAnswer(400, OCSP_RESPONSE, answer, (("x-ocsp-error", f"malformed OCSP request: {reason}"),))
        return HttpAnswer(200, OCSP_RESPONSE, answer, (("cache-control", "max-age=300, public, no-transform"),))

    def crl(self, kind: CaKind, municipality_code: int | None) -> bytes:
        """The current CRL DER: re-signed when the ledger's revocations changed or it is an hour old."""
        now = self.clock()
        revoked = sum(1 for _ in self.jpki.store.revoked(kind))
        key = (kind, municipality_code)
        cached = self._crls.get(key)
        if cached is not None and cached[1] == revoked and now - cached[0] < CRL_MAX_AGE and cached[0] <= now:
            return cached[2]
        der = self.jpki.crl(kind, now, municipality_code).public_bytes(Encoding.DER)
        self._crls[key] = (now, revoked, der)
        return der


def _kind(name: str) -> CaKind | None:
    return KINDS.get(name)


def ocsp_http(repo: Repository, method: str, path: str, content_type: str | None, body: bytes) -> HttpAnswer:
    """Answer one request under ``/ocsp/``: POST with DER, or GET with base64 DER in the path."""
    rest = path[len("/ocsp/"):]
    kind_name, _, encoded = rest.partition("/")
    if _kind(kind_name) is None:
        return problem(404, f"OCSP responder {kind_name!r} does not exist; use /ocsp/auth or /ocsp/sign")
    if not encoded:  # /ocsp/<ca>: RFC 6960 POST
        if method != "POST":
            return problem(405, f"method {method} is not allowed on /ocsp/{kind_name}: POST a DER OCSPRequest "
                                f"here, or GET /ocsp/{kind_name}/<base64 DER> (RFC 5019)", (("allow", "POST"),))
        media = (content_type or "").split(";")[0].strip().lower()
        if media != OCSP_REQUEST:
            return problem(415, f"content-type {content_type!r} is not allowed; use {OCSP_REQUEST}")
        if not body:
            return problem(400, "empty body: POST a DER OCSPRequest")
        return repo.ocsp(body)
    if method == "GET":  # /ocsp/<ca>/<base64 DER>: RFC 5019 GET
        text = unquote(encoded)
        if len(text) > MAX_OCSP_BODY * 4 // 3 + 4:
            return problem(414, f"request in the URL is {len(text)} characters; at most {MAX_OCSP_BODY * 4 // 3 + 4}")
        try:
            altchars = b"-_" if "-" in text or "_" in text else None
            der = base64.b64decode(text + "=" * (-len(text) % 4), altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            return problem(400, "the URL path after /ocsp/<ca>/ is not base64 (RFC 5019 GET)")
        return repo.ocsp(der)
    return problem(405, f"method {method} is not allowed on /ocsp/{kind_name}/<request>; use GET",
                   (("allow", "GET"),))


def _binary(media_type: str, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description,
                              "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}  # fmt: skip
    if headers:
        answer["headers"] = headers
    return answer


def _text(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}


_MALFORMED = _binary(OCSP_RESPONSE, "not an OCSPRequest: the RFC 6960 malformedRequest answer (DER), the reason in "
                     "X-OCSP-Error; no request at all (an empty body, a URL that is not base64): plain text",
                     {"X-OCSP-Error": {"description": "why the request was not read", "schema": {"type": "string"}}})
_MALFORMED["content"]["text/plain"] = {"schema": {"type": "string"}}
_NO_SUCH = _text("no such CA, municipality or certificate (the message names what exists)")
CA_PARAM = Path(description="the CA: auth (利用者証明用) or sign (署名用)", json_schema_extra={"enum": list(KINDS)})
#: the 5-digit local government code of a municipality (prefecture 01-47), as in the holders' CRL URLs
MUNICIPALITY_PATTERN: Final = r"^(0[1-9]|[1-3][0-9]|4[0-7])[0-9]{3}$"


def add_repository_routes(app: FastAPI, repo: Repository) -> None:
    """The documented routes: OCSP (also served by the fast path), CRLs, CA certificates."""

    @app.post("/ocsp/{ca}", tags=["ocsp"], response_class=Response,
              responses={200: _binary(OCSP_RESPONSE, "the OCSPResponse (DER)"), 400: _MALFORMED, 404: _NO_SUCH,
                         413: _text(f"body over {MAX_OCSP_BODY} bytes"),
                         415: _text(f"a content type other than {OCSP_REQUEST}")},
              openapi_extra={"requestBody": {"required": True, "content": {OCSP_REQUEST: {"schema": {
                  "type": "string", "format": "binary", "maxLength": MAX_OCSP_BODY,
                  "description": "a DER OCSPRequest (RFC 6960 section 4.1)"}}}}})  # fmt: skip
    async def ocsp_post(ca: Annotated[str, CA_PARAM], request: Request) -> Response:
        """RFC 6960 POST: a DER OCSPRequest in, a DER OCSPResponse out."""
        body = await request.body()
        if len(body) > MAX_OCSP_BODY:
            return as_response(problem(413, f"body is too large; an OCSP request is at most {MAX_OCSP_BODY} bytes"))
        return as_response(ocsp_http(repo, "POST", f"/ocsp/{ca}", request.headers.get("content-type"), body))

    @app.get("/ocsp/{ca}/{encoded:path}", tags=["ocsp"], response_class=Response,
             responses={200: _binary(OCSP_RESPONSE, "the OCSPResponse (DER)"), 400: _MALFORMED, 404: _NO_SUCH,
                        414: _text("a request too long for a URL")})  # fmt: skip
    async def ocsp_get(ca: Annotated[str, CA_PARAM], encoded: Annotated[str, Path(
            description="the DER OCSPRequest in base64 or base64url, URL-encoded (RFC 5019 section 5)",
            json_schema_extra={"format": "ocsp-request-base64url"})]) -> Response:  # fmt: skip
        """RFC 5019 GET: the base64 DER OCSPRequest in the URL path."""
        return as_response(ocsp_http(repo, "GET", f"/ocsp/{ca}/{encoded}", None, b""))

    @app.get("/crl/{ca}.crl", tags=["crl"], response_class=Response,
             responses={200: _binary(PKIX_CRL, "the CA's full CRL (DER)"), 404: _NO_SUCH})
    async def full_crl(ca: Annotated[str, CA_PARAM]) -> Response:
        """The CA's full CRL (DER)."""
        kind = _kind(ca)
        if kind is None:
            return as_response(problem(404, f"CA {ca!r} does not exist; use auth or sign"))
        return Response(repo.crl(kind, None), media_type=PKIX_CRL)

    @app.get("/crl/{ca}/{municipality}.crl", tags=["crl"], response_class=Response,
             responses={200: _binary(PKIX_CRL, "the municipality's CRL partition (DER)"), 404: _NO_SUCH})
    async def partition_crl(ca: Annotated[str, CA_PARAM], municipality: Annotated[str, Path(
            description="5-digit local government code 01000-47999 (全国地方公共団体コード), e.g. 13101",
            json_schema_extra={"pattern": MUNICIPALITY_PATTERN})]) -> Response:  # fmt: skip
        """The CRL partition of one municipality (the distribution point in its holders' certificates)."""
        kind = _kind(ca)
        if kind is None:
            return as_response(problem(404, f"CA {ca!r} does not exist; use auth or sign"))
        if len(municipality) != 5 or not municipality.isdigit() or not municipality.isascii():
            return as_response(problem(404, f"municipality {municipality!r} is not a 5-digit code such as 13101"))
        try:
            der = repo.crl(kind, int(municipality))
        except InvalidNameError:  # 5 digits, but no municipality's code (prefecture 00 or over 47)
            return as_response(problem(404, f"municipality {municipality}: no such code; local government codes "
                                            "run 01000-47999 (prefecture 01-47)"))  # fmt: skip
        return Response(der, media_type=PKIX_CRL)

    @app.get("/ca/{name}", tags=["crl"], response_class=Response,
             responses={200: _binary(PKIX_CERT, "the CA certificate (DER)"), 404: _NO_SUCH})
    async def ca_certificate(name: Annotated[str, Path(description="auth.cer or sign.cer", json_schema_extra={
            "enum": [f"{k}.cer" for k in KINDS]})]) -> Response:  # fmt: skip
        """The CA certificate (``auth.cer`` / ``sign.cer``, DER)."""
        kind = _kind(name.removesuffix(".cer"))
        if kind is None or not name.endswith(".cer"):
            return as_response(problem(404, f"CA certificate {name!r} does not exist; use auth.cer or sign.cer"))
        der = repo.jpki.authority(kind).certificate.public_bytes(Encoding.DER)
        return Response(der, media_type=PKIX_CERT)


def _without_422(api: FastAPI) -> FastAPI:
    """Drop the 422 FastAPI documents for every route with parameters: these routes take plain strings
    and answer 400/404/413/414/415 as listed, never a 422."""
    build = api.openapi

    def openapi() -> dict[str, Any]:
        if not api.openapi_schema:
            schema = build()
            for item in schema.get("paths", {}).values():
                for op in item.values():
                    op.get("responses", {}).pop("422", None)
            schemas = schema.get("components", {}).get("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            if "components" in schema and not schemas:
                schema["components"].pop("schemas", None)
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    return api


def served_clock(deployment: Deployment, store: Store) -> Clock:
    """The served world's clock (:func:`real_backends.world_time.world_clock` on ``store``) in whole UTC seconds:
    at the default epoch the wall clock; at another, the world's time, from the start recorded on ``store``."""
    seconds = world_clock(deployment, store)
    if seconds is time.time:
        return wall_clock
    return lambda: dt.datetime.fromtimestamp(int(seconds()), dt.UTC)


def create_app(deployment: Deployment, clock: Clock | None = None, *, presign: bool = True) -> Any:
    """The OCSP/CRL server of ``deployment`` (an ASGI app: the fast path around a FastAPI app). Its clock (the
    answers' thisUpdate and nextUpdate, the certificates' validity) is ``clock``, or the served world's
    (:func:`served_clock`, counted from this start for a world set at another epoch than the default)."""
    repo = Repository(deployment.jpki, served_clock(deployment, MemoryStore()) if clock is None else clock)
    if presign:
        repo.presign(deployment)
    api = FastAPI(title="JPKI OCSP and CRL repository", version="1")
    add_repository_routes(api, repo)
    _without_422(api)

    def handle(method: str, path: str, content_type: str | None, body: bytes) -> HttpAnswer:
        return ocsp_http(repo, method, path, content_type, body)

    def too_large(declared: int | None) -> HttpAnswer:
        size = f"of {declared} bytes " if declared is not None else ""
        return problem(413, f"body {size}is too large; an OCSP request is at most {MAX_OCSP_BODY} bytes")

    return FastPath(api, lambda method, path: handle if path.startswith("/ocsp/") else None, MAX_OCSP_BODY, too_large)


def serve_app(store_url: str = "memory://", **options: str) -> Any:
    """``twin serve`` factory: the ledger is rebuilt in memory from the deployment spec in ``options``
    (``--set holders=N --set seed=S --set epoch=2022-06-01``). ``store_url`` is used only by a world set at another
    epoch than the default, to record when its clock started (as the portal and the eligibility server of that
    world do on theirs: on one store, they read the same time)."""
    from real_backends.stores import open_store

    deployment = Deployment.build(DeploymentSpec.from_options(options))
    if lives_now(deployment.spec):
        return create_app(deployment)
    return create_app(deployment, served_clock(deployment, open_store(store_url)))


def app_from_env() -> Any:
    """uvicorn ``--factory`` entry: the deployment named by ``MYNA_BACKEND_SPEC``."""
    return create_app(Deployment.build(DeploymentSpec.from_env()))
