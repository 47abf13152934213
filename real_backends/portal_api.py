"""Myna Portal login (マイナポータル) by JPKI challenge-response with the card's authentication key.

A resident opens the portal, the server hands out a challenge (a random nonce with an expiry), the
resident's reader has the card sign it with the user-authentication key after the 4-digit PIN
(:meth:`emulators.jpki_client.JpkiClient.authenticate`), and the browser posts certificate and
signature back. The server then checks, in order: the challenge is one it issued (HMAC), still
fresh and never presented before (single use, even across workers when the used-challenge ledger
is an SQLite file); the certificate chains to the JPKI user-authentication root, is in its validity
period and in the CA's ledger; the responder's OCSP answer for it says good; and the signature
verifies under the certificate's key. Only then does it return a session token.

Challenges and sessions are stateless HMAC tokens (so any uvicorn worker can check them); only the
used-challenge ledger is shared. Every refusal is a 4xx naming what was wrong: 400 a field that is
not base64url, 401 a challenge this server did not issue or that expired, or a bad signature, 403 a
certificate that is not a certificate or not (or no longer) valid, 409 a replayed challenge, 413 a
body too large, 415 a body that is not JSON, 422 fields missing, unknown, of the wrong type or
breaking a documented pattern (the answer names type, place and rule, never the value sent).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import sqlite3
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp as x509_ocsp
from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match

from real_backends.app import mask_numbers
from real_backends.load.deployment import Deployment, DeploymentSpec
from twin.services.assurance import AssuranceRefused, AuthResult, for_certificate, require
from twin.services.jpki import CaKind, Jpki, JpkiError, Outcome, cert_id
from twin.services.jpki import der as jder

SECRET_ENV: Final = "MYNA_PORTAL_SECRET"
LEDGER_ENV: Final = "MYNA_PORTAL_LEDGER"
CHALLENGE_TTL_S: Final = 120.0
SESSION_TTL_S: Final = 1800.0
MAX_BODY: Final = 16384
_MAC_LEN: Final = 16
#: the methods of RFC 9110 section 9.3 and PATCH (RFC 5789), in the order an ``Allow`` lists them
METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")
#: base64url as the card-side clients send it: unpadded or padded, never a length that cannot decode
BASE64URL: Final = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}(?:==)?|[A-Za-z0-9_-]{3}=?)?$"


class LoginRefused(Exception):
    """A login (or card check) refused: ``status`` is the HTTP status, the message says why."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


def _b64d(text: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise LoginRefused(400, f"{what}: not base64url") from None


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class UsedChallenges(Protocol):
    def claim(self, nonce: bytes, expires_at: float) -> bool:
        """True the first time ``nonce`` is presented, False on every later presentation."""
        ...


class MemoryLedger:
    """Used challenges of this process (enough for one worker); expired entries are swept."""

    def __init__(self) -> None:
        self._used: dict[bytes, float] = {}
        self._lock = threading.Lock()
        self._sweep_at = 0.0

    def claim(self, nonce: bytes, expires_at: float) -> bool:
        with self._lock:
            now = time.time()
            if now > self._sweep_at:
                self._used = {k: v for k, v in self._used.items() if v > now}
                self._sweep_at = now + 60
            if nonce in self._used:
                return False
            self._used[nonce] = expires_at
            return True


class SqliteLedger:
    """Used challenges in an SQLite file shared by every worker on the host (primary key = nonce)."""

    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE IF NOT EXISTS used (nonce BLOB PRIMARY KEY, expires REAL) WITHOUT ROWID")
        self._lock = threading.Lock()

    def claim(self, nonce: bytes, expires_at: float) -> bool:
        with self._lock:
            try:
                self._db.execute("INSERT INTO used VALUES (?, ?)", (nonce, expires_at))
            except sqlite3.IntegrityError:
                return False
            return True


@dataclass(frozen=True)
class Challenge:
    token: str
    expires_at: float


class CardAuthenticator:
    """Issues challenges and checks signed answers against one JPKI centre (the relying-party side)."""

    def __init__(
        self,
        jpki: Jpki,
        secret: bytes,
        ledger: UsedChallenges | None = None,
        *,
        clock: Callable[[], float] = time.time,
        nonce_bytes: Callable[[int], bytes] = os.urandom,
        challenge_ttl_s: float = CHALLENGE_TTL_S,
    ) -> None:
        if not isinstance(secret, bytes) or len(secret) < 16:
            raise ValueError("secret: use at least 16 random bytes")
        self.jpki = jpki
        self._secret = secret
        self.ledger = MemoryLedger() if ledger is None else ledger
        self.clock = clock
        self._nonce_bytes = nonce_bytes  # a seeded source in tests; os.urandom in service (unguessable)
        self.challenge_ttl_s = challenge_ttl_s
        self._root = jpki.authority(CaKind.AUTH).certificate

    def _mac(self, data: bytes) -> bytes:
        return hmac.new(self._secret, data, hashlib.sha256).digest()[:_MAC_LEN]

    def challenge(self) -> Challenge:
        expires = self.clock() + self.challenge_ttl_s
        body = self._nonce_bytes(32) + struct.pack(">d", expires)
        return Challenge(_b64e(body + self._mac(body)), expires)

    def claim(self, token: str) -> None:
        """Accept ``token`` once: issued here (HMAC), not expired, never presented before."""
        raw = _b64d(token, "challenge")
        if len(raw) != 32 + 8 + _MAC_LEN or not hmac.compare_digest(self._mac(raw[:40]), raw[40:]):
            raise LoginRefused(401, "challenge: not one this server issued (GET a fresh challenge)")
        (expires,) = struct.unpack(">d", raw[32:40])
        if self.clock() > expires:
            raise LoginRefused(401, "challenge: expired; GET a fresh challenge")
        if not self.ledger.claim(raw[:32], expires):
            raise LoginRefused(409, "challenge: already used (a challenge answers one login only)")

    def verify(self, token: str, certificate_b64: str, signature_b64: str) -> x509.Certificate:
        """The checked authentication certificate; :class:`LoginRefused` names the first failure."""
        self.claim(token)
        der = _b64d(certificate_b64, "certificate")
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            raise LoginRefused(403, "certificate: not a DER X.509 certificate") from None
        now = _aware_now(self.clock())
        result = self.jpki.validate(cert, now, CaKind.AUTH)
        if result.outcome is not Outcome.VALID:
            raise LoginRefused(403, f"certificate: {refusal(result.outcome.value, result.detail)}")
        status = self.ocsp_status(cert, now)
        if status is not x509_ocsp.OCSPCertStatus.GOOD:
            raise LoginRefused(403, f"certificate: OCSP says {status.name.lower()}")
        signature = _b64d(signature_b64, "signature")
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise LoginRefused(403, "certificate: not an RSA key")
        try:
            key.verify(signature, token.encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise LoginRefused(401, "signature: does not verify over the challenge with the certificate's key") \
                from None
        return cert

    def authenticate(
        self, token: str, certificate_b64: str, signature_b64: str, route: str = "portal.login"
    ) -> tuple[x509.Certificate, AuthResult]:
        """:meth:`verify`, then the assurance levels the token reached, checked against ``route``'s requirement."""
        cert = self.verify(token, certificate_b64, signature_b64)
        try:
            return cert, require(route, for_certificate(cert))
        except (AssuranceRefused, JpkiError) as exc:
            raise LoginRefused(403, str(exc)) from None

    def ocsp_status(self, cert: x509.Certificate, now: Any) -> x509_ocsp.OCSPCertStatus:
        """What the JPKI OCSP responder says about ``cert`` (its pre-signed answer when it has one)."""
        request = jder.seq(jder.seq(jder.seq(jder.seq(cert_id(self._root, cert.serial_number)))))
        answer = x509_ocsp.load_der_ocsp_response(self.jpki.ocsp.respond(request, now))
        if answer.response_status is not x509_ocsp.OCSPResponseStatus.SUCCESSFUL:
            return x509_ocsp.OCSPCertStatus.UNKNOWN
        return answer.certificate_status

    # ---- sessions ---------------------------------------------------------------------------
    def session(self, cert: x509.Certificate) -> tuple[str, float]:
        expires = self.clock() + SESSION_TTL_S
        body = struct.pack(">d", expires) + cert.serial_number.to_bytes(20, "big")
        return _b64e(body + self._mac(b"session" + body)), expires

    def session_serial(self, token: str) -> int:
        raw = _b64d(token, "session")
        if len(raw) != 28 + _MAC_LEN or not hmac.compare_digest(self._mac(b"session" + raw[:28]), raw[28:]):
            raise LoginRefused(401, "session: not issued by this server")
        (expires,) = struct.unpack(">d", raw[:8])
        if self.clock() > expires:
            raise LoginRefused(401, "session: expired; log in again")
        return int.from_bytes(raw[8:28], "big")


def refusal(outcome: str, detail: str | None) -> str:
    """``outcome (detail)``, the outcome once: "revoked (loss)", not "revoked (revoked (loss))"."""
    if not detail or detail == outcome:
        return outcome
    return detail if detail.startswith(outcome) else f"{outcome} ({detail})"


def _aware_now(ts: float) -> Any:
    import datetime as dt

    return dt.datetime.fromtimestamp(int(ts), dt.UTC)


def card_answer(token: str, reader: Any, pin: str) -> dict[str, str]:
    """The client side: have the card in ``reader`` sign ``token``; the JSON body to POST."""
    from emulators.jpki_client import JpkiClient

    reader.connect()
    try:
        cert, signature = JpkiClient(reader).authenticate(pin, token.encode())
    finally:
        reader.disconnect()
    return {"challenge": token, "certificate": _b64e(cert), "signature": _b64e(signature)}


class ChallengeOut(BaseModel):
    challenge: str = Field(description="base64url token; sign its ASCII bytes with the card's auth key")
    expires_at: float = Field(description="POSIX time after which the challenge is refused")


class CardAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    challenge: str = Field(min_length=1, max_length=200, pattern=BASE64URL,
                           description="the token from GET .../challenge (base64url)")  # fmt: skip
    certificate: str = Field(min_length=1, max_length=8000, pattern=BASE64URL,
                             description="base64url DER auth certificate")  # fmt: skip
    signature: str = Field(min_length=1, max_length=1000, pattern=BASE64URL,
                           description="base64url RSA PKCS#1 v1.5 SHA-256")  # fmt: skip


class SessionOut(BaseModel):
    session: str
    expires_at: float
    serial: str = Field(description="serial of the authentication certificate, hex")


class Problem(BaseModel):
    detail: str


class FieldProblem(BaseModel):
    type: str = Field(description="pydantic's error type, e.g. missing, string_pattern_mismatch")
    loc: list[str | int]
    msg: str


class ValidationProblem(BaseModel):
    """A 422: each field that broke the schema; the values sent are not echoed (a body may hold a My Number)."""

    detail: list[FieldProblem]


#: the media types a JSON body may be sent as
def is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class _CardApiEdge:
    """Pure ASGI middleware: refuse bodies over :data:`MAX_BODY` (413) before reading them, and time
    the app in a ``server-timing`` header (the load driver subtracts it from the client's latency).

    Starlette's ``@app.middleware("http")`` would do the same through a task group and memory
    streams per request; at a few thousand checks a second that alone costs a core's tenth.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        content_type, has_body = None, False
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > MAX_BODY:
                    shown = mask_numbers(value.decode("latin-1")[:40])
                    await JSONResponse({"detail": f"body of {shown} bytes is too large; at most {MAX_BODY}"}, 413)(
                        scope, receive, send)  # fmt: skip
                    return
                has_body = has_body or value != b"0"
            elif name == b"transfer-encoding":
                has_body = True
            elif name == b"content-type":
                content_type = value.decode("latin-1")
        if has_body and scope["method"] in ("POST", "PUT", "PATCH") and not is_json(content_type):
            shown = mask_numbers((content_type or "")[:60])
            await JSONResponse({"detail": f"content-type {shown!r} is not allowed; send application/json"}, 415)(
                scope, receive, send)  # fmt: skip
            return
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > MAX_BODY:  # chunked bodies carry no length: count them as they arrive
                raise _BodyTooLarge
            return message

        async def timed(message: dict) -> None:
            if message["type"] == "http.response.start":
                timing = b"app;dur=%.3f" % ((time.perf_counter() - started) * 1000)
                message = {**message, "headers": [*message.get("headers", ()), (b"server-timing", timing)]}
            await send(message)

        try:
            await self.app(scope, limited, timed)
        except _BodyTooLarge:
            await JSONResponse({"detail": f"body of over {MAX_BODY} bytes is too large; at most {MAX_BODY}"}, 413)(
                scope, receive, send)  # fmt: skip


class _BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a chunked body grows over the limit: an HTTPException, so that
    FastAPI's body parsing passes it on (anything else becomes its 400 "error parsing the body")."""

    def __init__(self) -> None:
        super().__init__(413, f"body of over {MAX_BODY} bytes is too large; at most {MAX_BODY}")


def validation_problem(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """The body of a 422: type, place and rule of each error (messages masked), never the value sent."""
    return {"detail": [{"type": str(e.get("type", "invalid")), "loc": list(e.get("loc", ())),
                        "msg": mask_numbers(str(e.get("msg", "invalid")))} for e in errors]}  # fmt: skip


def install_common(app: FastAPI) -> None:
    """Body-size and content-type checks, server timing, the LoginRefused -> JSON 4xx mapping and 422s
    that do not echo what was sent: shared by the card-based APIs."""
    app.add_middleware(_CardApiEdge)

    @app.exception_handler(LoginRefused)
    async def refused(request: Request, exc: LoginRefused) -> JSONResponse:
        return JSONResponse({"detail": mask_numbers(str(exc))}, exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_problem(list(exc.errors())), 422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        headers = exc.headers
        if exc.status_code == 405:  # Starlette names the methods of the first route of the path only
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(app, request.scope))}
        return JSONResponse({"detail": mask_numbers(str(exc.detail))}, exc.status_code, headers=headers)


def allowed_methods(app: FastAPI, scope: dict[str, Any]) -> list[str]:
    """Every method some route of ``app`` answers on the path of ``scope``, in RFC 9110 order: the ``Allow``
    of a 405 (section 15.5.6). A path served by several routes, one per method (GET and POST
    /portal/me/account), allows all of them. Each method is asked of the routes themselves (an
    included router is one route in FastAPI that matches for all of its own)."""
    return [m for m in METHODS if any(r.matches({**scope, "method": m})[0] is Match.FULL for r in app.router.routes)]


REFUSALS: Final[dict[int | str, dict[str, Any]]] = {
    **{code: {"model": Problem} for code in (400, 401, 403, 409, 413, 415)},
    422: {"model": ValidationProblem, "description": "a field missing, unknown, of the wrong type or pattern"},
}


def add_login_routes(app: FastAPI, auth: CardAuthenticator, prefix: str = "/portal") -> None:
    @app.get(f"{prefix}/challenge", response_model=ChallengeOut, tags=["login"])
    async def get_challenge() -> ChallengeOut:
        c = auth.challenge()
        return ChallengeOut(challenge=c.token, expires_at=c.expires_at)

    @app.post(f"{prefix}/login", response_model=SessionOut, responses=REFUSALS, tags=["login"])
    async def login(answer: CardAnswer) -> SessionOut:
        cert, _ = auth.authenticate(answer.challenge, answer.certificate, answer.signature, "portal.login")
        token, expires = auth.session(cert)
        return SessionOut(session=token, expires_at=expires, serial=f"{cert.serial_number:x}")

    @app.get(f"{prefix}/me", responses=REFUSALS, tags=["login"])
    async def me(authorization: str = Header(default="", max_length=400)) -> dict[str, str]:
        """Who the session belongs to (the auth certificate's serial)."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise LoginRefused(401, "authorization: send 'Bearer <session>' from POST /portal/login")
        return {"serial": f"{auth.session_serial(token):x}"}


def authenticator_from_env(jpki: Jpki, clock: Callable[[], float] = time.time) -> CardAuthenticator:
    """Secret and ledger from ``MYNA_PORTAL_SECRET`` (hex) and ``MYNA_PORTAL_LEDGER`` (SQLite path); ``clock``
    the served world's (the wall clock unless the world is set at another time)."""
    secret_hex = os.environ.get(SECRET_ENV)
    try:
        secret = bytes.fromhex(secret_hex) if secret_hex else os.urandom(32)
    except ValueError:
        raise ValueError(f"{SECRET_ENV}: not hex") from None
    path = os.environ.get(LEDGER_ENV)
    return CardAuthenticator(jpki, secret, SqliteLedger(path) if path else MemoryLedger(), clock=clock)


def create_app(deployment: Deployment, auth: CardAuthenticator | None = None) -> FastAPI:
    """The portal login server of ``deployment`` (OCSP answers pre-signed for its holders)."""
    auth = auth or authenticator_from_env(deployment.jpki)
    deployment.jpki.ocsp.presign([h.auth_certificate for h in deployment.holders], _aware_now(auth.clock()), ("sha1",))
    app = FastAPI(title="Myna Portal login", version="1")
    install_common(app)
    add_login_routes(app, auth)
    return app


def serve_app(store_url: str = "memory://", **options: str) -> Any:
    """``twin serve`` factory: the ledger is rebuilt in memory from the deployment spec in ``options``
    (``--set holders=N --set seed=S``); ``store_url`` is not used by this service."""
    return create_app(Deployment.build(DeploymentSpec.from_options(options)))


def app_from_env() -> FastAPI:
    return create_app(Deployment.build(DeploymentSpec.from_env()))
