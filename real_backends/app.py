"""What every Myna Twin HTTP service does the same way: strict JSON in, clear 4xx errors out, never a 5xx for bad input.

A public counter turns away a form that is unreadable, in the wrong language or too thick to
process, and says why; it does not close the counter. These helpers give every FastAPI service
that behaviour. The whole API is three names:

``strict_app(title, version, description="", max_body_bytes=1_000_000) -> FastAPI``
    A FastAPI app (OpenAPI at ``/openapi.json``) with :func:`install` applied.
``install(app, max_body_bytes=1_000_000) -> FastAPI``
    Adds to an existing app: a body size limit (413, checked on ``Content-Length`` and while
    streaming), a JSON content-type check for requests with a body (415), and error handlers
    that turn malformed JSON (400), validation errors (422, listing each field, value and
    rule) and HTTP errors into :class:`ErrorBody` JSON. Other exceptions become a 500 with no
    internal detail (that is a bug to fix, never an answer to bad input).
``StrictModel``
    A pydantic base model for request and response messages: unknown fields are refused and
    instances are immutable. (Mark number and flag fields ``Field(strict=True)`` so that ``"5"``
    is not silently read as 5: FastAPI validates parsed JSON, so a model-wide strict mode would
    also refuse ISO date strings.)

Errors always have the shape ``{"error": "<one sentence>", "detail": [{"loc": [...], "msg": "..."}]}``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

if TYPE_CHECKING:
    from twin.services.linkage import ExchangeRecord
    from twin.services.store import Store

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]

JSON_TYPES = ("application/json",)
W = TypeVar("W", bound="SizedWorld")


class StrictModel(BaseModel):
    """Base of request/response messages: unknown fields refused, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ExchangeOut(StrictModel):
    """情報提供等記録: one exchange about a person: who asked which body for what item, under which procedure,
    when, and whether a copy was found (Myna Portal's やりとり履歴)."""

    # built from twin.services.linkage.ExchangeRecord by `of`, here once for the portal hub and the linkage API

    id: int
    at: dt.datetime
    requester: str = Field(description="body id of the body that asked, e.g. muni:131016, portal")
    provider: str = Field(description="body id of the body that answered, e.g. jps, digital")
    procedure: str
    item: str
    found: bool

    @classmethod
    def of(cls, record: ExchangeRecord) -> Self:
        return cls(**{name: getattr(record, name) for name in cls.model_fields})


class ExchangeRecordOut(ExchangeOut):
    """情報提供等記録 with the date of the data in the copy that answered (the linkage API's record)."""

    copy_as_of: dt.date | None


class ErrorItem(BaseModel):
    loc: list[str | int] = []
    msg: str


class ErrorBody(BaseModel):
    """The body of every 4xx/5xx answer."""

    error: str
    detail: list[ErrorItem] = []


#: 12 or more digits in a row (ASCII or full-width, as a form may hold them), or 4-4-4 groups: what a
#: My Number looks like when a client puts one where it does not belong
_NUMBER_RE = re.compile(r"(?<![0-9０-９])[0-9０-９]{12,}|(?<![0-9])[0-9]{4}[- ][0-9]{4}[- ][0-9]{4}(?![0-9])")
MASK = "************"


def jsonable(value: object) -> object:
    """A service's value (a linkage copy, a portal item) as JSON: dataclasses as objects, enums by value,
    dates as ISO strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    return value


def mask_numbers(text: str) -> str:
    """``text`` with every run that could be a My Number (12+ digits, or 4-4-4) replaced by ``MASK``.

    Error bodies quote what the client sent, so that they can see what was wrong; a My Number sent
    by mistake must not come back (nor reach a log) through that quote."""
    return _NUMBER_RE.sub(MASK, text)


def error_response(status: int, error: str, detail: list[dict] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    """A JSON error in the :class:`ErrorBody` shape (anything that looks like a My Number masked)."""
    detail = [{**d, "msg": mask_numbers(str(d.get("msg", "")))} for d in detail or []]
    return JSONResponse({"error": mask_numbers(error), "detail": detail}, status_code=status, headers=headers)


def _clip(v: object, n: int = 80) -> str:
    s = repr(v)
    return s if len(s) <= n else s[: n - 3] + "..."


def _validation_detail(exc: RequestValidationError) -> list[dict]:
    out = []
    for e in exc.errors():
        loc = [x for x in e.get("loc", ()) if isinstance(x, str | int)]
        msg = str(e.get("msg", "invalid"))
        if "input" in e and e.get("type") != "missing":
            msg += f" (got {_clip(e['input'])})"
        out.append({"loc": loc, "msg": msg})
    return out


class _LimitBody:
    """ASGI middleware: 413 for bodies over ``limit`` bytes, 415 for a body that is not JSON."""

    def __init__(self, app: ASGIApp, limit: int, exempt: tuple[str, ...]) -> None:
        self.app, self.limit, self.exempt = app, limit, exempt

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        length = headers.get(b"content-length")
        if length is not None:
            try:
                n = int(length)
            except ValueError:
                await error_response(400, f"Content-Length: {_clip(length.decode('latin-1'))} is not a number")(
                    scope, receive, send)  # fmt: skip
                return
            if n > self.limit:
                await error_response(413, f"request body of {n} bytes is over the limit of {self.limit} bytes")(
                    scope, receive, send)  # fmt: skip
                return
        ctype = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
        has_body = (length is not None and length != b"0") or b"transfer-encoding" in headers
        if has_body and ctype not in JSON_TYPES and not scope["path"].startswith(self.exempt):
            await error_response(415, f"content type {ctype or '(none)'!r} is not accepted: send application/json")(
                scope, receive, send)  # fmt: skip
            return
        seen = 0
        limit = self.limit

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(seen, limit)
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge as e:  # read outside FastAPI's handlers (none today): the same answer
            await error_response(413, str(e.detail))(scope, receive, send)


class _TooLarge(StarletteHTTPException):
    """Raised from ``receive`` once a body without a (true) length grows over the limit.

    An HTTPException so that FastAPI's body parsing passes it on as it is (anything else it
    reports as a 400 "error parsing the body") and the handler answers 413."""

    def __init__(self, seen: int, limit: int) -> None:
        super().__init__(413, f"request body of over {seen} bytes is over the limit of {limit} bytes")
        self.seen = seen


def install(app: FastAPI, max_body_bytes: int = 1_000_000, exempt_paths: tuple[str, ...] = ()) -> FastAPI:
    """Body limit, JSON-only bodies (except under ``exempt_paths``), and clear JSON errors; returns ``app``."""
    if max_body_bytes <= 0:
        raise ValueError(f"max_body_bytes: {max_body_bytes} must be > 0")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            e = next(e for e in errors if e.get("type") == "json_invalid")
            why = (e.get("ctx") or {}).get("error", "invalid JSON")
            return error_response(400, f"request body is not valid JSON: {why}")
        detail = _validation_detail(exc)
        first = detail[0] if detail else {"loc": [], "msg": "invalid"}
        where = ".".join(str(x) for x in first["loc"]) or "request"
        return error_response(422, f"{where}: {first['msg']}", detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(json.JSONDecodeError)
    async def _json(request: Request, exc: json.JSONDecodeError) -> JSONResponse:
        return error_response(400, f"request body is not valid JSON: {exc.msg} at position {exc.pos}")

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal error: the request was not completed; it is safe to retry")

    app.add_middleware(_LimitBody, limit=max_body_bytes, exempt=exempt_paths)
    document_error_bodies(app)
    return app


def document_error_bodies(app: FastAPI) -> FastAPI:
    """Make ``app``'s OpenAPI document say what its 422s look like: :class:`ErrorBody`, not FastAPI's default.

    FastAPI documents every route with parameters as answering its ``HTTPValidationError``; the
    handler :func:`install` adds answers an :class:`ErrorBody` instead. A client (or schemathesis)
    reading the document must see the shape it will get."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in body.pop("$defs", {}).items():
            schemas.setdefault(name, sub)
        schemas.setdefault("ErrorBody", body)
        ours = {"$ref": "#/components/schemas/ErrorBody"}
        for item in schema.get("paths", {}).values():
            for op in item.values():
                answer = op.get("responses", {}).get("422") if isinstance(op, dict) else None
                if answer is not None:
                    answer["description"] = "Validation error: each field, value and rule in ``detail``"
                    answer["content"] = {"application/json": {"schema": ours}}
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def strict_app(title: str, version: str, description: str = "", max_body_bytes: int = 1_000_000) -> FastAPI:
    """A FastAPI app with :func:`install` applied (OpenAPI document at ``/openapi.json``)."""
    return install(FastAPI(title=title, version=version, description=description), max_body_bytes)


#: a served world's sizes: (name, lowest, highest) for each, in the order of the world's fields
Bounds = tuple[tuple[str, int, int], ...]


def check_whole_numbers(world: object, bounds: Bounds, prefix: str = "") -> None:
    """A served world's sizes (``twin serve SERVICE --set name=N``): each named attribute a whole number in
    ``[lo, hi]``, else ``ValueError("{prefix}{name}: {v!r} must be a whole number in [lo, hi]")``."""
    for name, lo, hi in bounds:
        v = getattr(world, name)
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise ValueError(f"{prefix}{name}: {v!r} must be a whole number in [{lo:,}, {hi:,}]")


class SizedWorld:
    """A served world made from a few whole numbers (``twin serve SERVICE --set name=N``: payout, linkage, points).

    A subclass is a frozen dataclass whose fields are the sizes; it names its ``SERVICE`` and its ``SIZES``
    (``(name, lo, hi)`` for each field, in their order), and each size is checked when a world is made."""

    SERVICE: ClassVar[str]
    SIZES: ClassVar[Bounds]

    def __post_init__(self) -> None:
        check_whole_numbers(self, self.SIZES, prefix=f"{self.SERVICE}: ")


def open_served(store_url: str, options: Mapping[str, str], world: type[W], table: str) -> tuple[Store, W | None]:
    """What the ``twin serve`` factory of a service with a :class:`SizedWorld` does before it builds its app:
    checks the ``--set`` options, opens the store, and makes the world they ask for.

    Each option must be one of the world's ``SIZES``, its value (a string) a whole number in its range; a
    refusal names the service, the option, the value and what is allowed
    (``points: unknown option(s) ['colour']; allowed: people, seed, cards``,
    ``points: --set people: 'many' must be a whole number in [1, 130,000,000]``), before the store is opened.
    Without options the world is None: the app serves the world its store records, or its default one. With
    options, the world recorded in ``table`` (key ``"world"``: the sizes in ``SIZES``' order) with the options
    set over it, so that ``--set seed=2`` on a store of 5,000 people keeps the 5,000 (the app then refuses a
    store that records another world)."""
    from real_backends.stores import open_store

    names = [name for name, _, _ in world.SIZES]
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise ValueError(f"{world.SERVICE}: unknown option(s) {unknown}; allowed: {', '.join(names)}")
    given: dict[str, object] = {}
    for name, text in options.items():
        try:
            given[name] = int(text)
        except ValueError:
            given[name] = text  # refused just below, quoted as it was given
    sizes = tuple(b for b in world.SIZES if b[0] in given)
    check_whole_numbers(SimpleNamespace(**given), sizes, prefix=f"{world.SERVICE}: --set ")
    store = open_store(store_url)
    if not given:
        return store, None
    seen = store.get(table, "world")
    # a store written before the world had its last sizes records fewer: those keep the world's defaults
    recorded = dict(zip(names, seen, strict=False)) if seen is not None else {}  # type: ignore[call-overload]
    return store, world(**{**recorded, **given})


__all__ = ["MASK", "Bounds", "ErrorBody", "ExchangeOut", "ExchangeRecordOut", "SizedWorld", "StrictModel",
           "check_whole_numbers", "document_error_bodies", "error_response", "install", "mask_numbers", "open_served",
           "strict_app"]  # fmt: skip
