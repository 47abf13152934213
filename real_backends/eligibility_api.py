"""Online eligibility confirmation over HTTP (オンライン資格確認): a clinic's reception asks the centre.

The face-authentication reader at a clinic's reception gets a challenge from the central service,
the patient keys the card's PIN, the card signs the challenge, and the reader posts certificate,
signature and the patient's consent choices: ``POST /eligibility/card``. The challenge is checked
as for the portal (issued here, fresh, single use: :class:`real_backends.portal_api.CardAuthenticator`),
then :meth:`twin.services.eligibility.EligibilityService.check_by_card` does the rest (chain, OCSP,
signature, the holder's current qualification). A patient with only the old insurance card is
checked by insured number and birth date: ``POST /eligibility/number``. Either answer names the qualification as
the insurers' book holds it: insurer, insured number and branch, insurer kind, high-cost limit category, and its
first and last day (``valid_from``, ``valid_until``: null while it lasts; a check on the last day is answered, one
the day after is refused ``no_qualification``), the dates Myna Portal shows in わたしの情報 for the same person.

A card answers only once its holder has registered it as the health-insurance card (健康保険証利用登録,
in the insurers' qualification book). A card that is not registered on the day is refused with 403 and
``code: card_not_registered``; the reader then offers the first registration (初回登録) and, when the
patient agrees, posts the check again with ``register_card_use: true``: the book registers the card
under its own rule (once per person, refused with 404 ``no_qualification`` without a linked current
qualification) after the certificate was checked, and the check answers, saying the registration day
(``card_use_registered_on``) and that it was made now (``registered_now``). The registration's
idempotency key is derived from the request's single-use challenge.

Each :class:`~twin.services.eligibility.EligibilityError` becomes a 4xx with its ``code`` and
message: 400 malformed input, 401 identity not confirmed (or a challenge not issued here), 403 a
certificate that is not good (or no certificate at all) or a birth date that does not match, 404 no
current qualification, 409 a challenge used before or a card registered only on a later day than the
check's. A body that breaks the documented schema (missing or unknown fields, the
base64url and digit patterns) is a 422 naming each field and rule; one that is not JSON a 415.
The deployment's holders are enrolled with the national health insurance association (協会けんぽ),
every 7th with a qualification that ended a year before the epoch; all but every 5th registered the
card as the insurance card (:func:`real_backends.eligibility_book.card_use_day`). Today, for the checks,
the challenges and the pre-signed OCSP answers, is the served world's
(:func:`real_backends.world_time.world_clock`): the wall clock at the default epoch (2026-04-01); for a
deployment set at another (``--set epoch=2022-06-01``) two hours after it, counted from the first start on
the store, which the portal of that world on the same store reads too.

The qualifications live in the server's store (``twin serve eligibility --store sqlite:///elig.db
--set insured=1000000``): on first start it is loaded with the holders and a synthetic remainder
up to ``insured`` people (:mod:`real_backends.eligibility_book`), on later starts reused. Under
uvicorn's ``--factory`` the store and size come from ``MYNA_ELIGIBILITY_STORE`` and
``MYNA_ELIGIBILITY_INSURED``. The JPKI side (certificates, OCSP) is rebuilt in memory from the spec.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any, Final, Literal, TypeVar

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from real_backends.app import mask_numbers
from real_backends.eligibility_book import INSURER, ensure_enrolled, insured_number, is_qualified, is_registered
from real_backends.fastpath import FastPath, HttpAnswer, as_response
from real_backends.load.deployment import EPOCH, Deployment, DeploymentSpec
from real_backends.portal_api import (
    BASE64URL,
    MAX_BODY,
    CardAuthenticator,
    ChallengeOut,
    LoginRefused,
    Problem,
    ValidationProblem,
    _aware_now,
    authenticator_from_env,
    install_common,
    is_json,
    validation_problem,
)
from real_backends.world_time import world_clock
from twin.services.eligibility import Consent, EligibilityError, EligibilityService, QualificationBook
from twin.services.store import MemoryStore

STATUS_OF: Final = {
    "identity_not_confirmed": 401, "bad_signature": 401, "bad_certificate": 403,
    "no_qualification": 404, "unknown_insured": 404, "not_found": 404, "unknown_person": 404,
    "card_not_registered": 403, "already_registered": 409, "key_reused": 409, "ocsp_unavailable": 503,
}  # fmt: skip


def status_of(code: str) -> int:
    """The HTTP status of an eligibility refusal code (400 for other bad_*, 403 by default).

    ``bad_certificate`` (base64url bytes that are no DER certificate) is a 403 like any certificate
    that is not good: the request was well formed, the credential in it is refused."""
    if code in STATUS_OF:
        return STATUS_OF[code]
    return 400 if code.startswith("bad_") else 403


class CardCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    challenge: str = Field(min_length=1, max_length=200, pattern=BASE64URL,
                           description="the token from GET /eligibility/challenge (base64url)")  # fmt: skip
    certificate: str = Field(min_length=1, max_length=8000, pattern=BASE64URL,
                             description="base64url DER auth certificate")  # fmt: skip
    signature: str = Field(min_length=1, max_length=1000, pattern=BASE64URL,
                           description="base64url signature over the challenge")  # fmt: skip
    consent_medication: bool = False
    consent_checkup: bool = False
    facility_type: Literal["hospital", "clinic", "dental", "pharmacy"] = "clinic"
    register_card_use: bool = Field(
        False, description="初回登録: the patient agreed on the reader to register the card as the health-insurance "
        "card (健康保険証利用登録) if it is not yet; without it a card not registered is refused (403 "
        "card_not_registered)")  # fmt: skip


class NumberCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    insurer_number: str = Field(pattern=r"^([0-9]{6}|[0-9]{8})$", description="保険者番号: 6 or 8 digits")
    insured_number: str = Field(pattern=r"^[0-9A-Za-z-]{1,20}$",
                                description="被保険者記号・番号: 1-20 letters, digits or '-'")  # fmt: skip
    branch: str = Field(pattern=r"^[0-9]{2}$", description="枝番: two digits, e.g. 00")
    birth_date: dt.date
    facility_type: Literal["hospital", "clinic", "dental", "pharmacy"] = "clinic"


class AnswerOut(BaseModel):
    insurer_number: str
    insured_number: str
    branch: str
    insurer_kind: str
    limit_category: str
    valid_from: dt.date = Field(description="the qualification's first day (資格取得年月日)")
    valid_until: dt.date | None = Field(
        description="its last day (the day before 資格喪失年月日): answered on it, refused no_qualification the day "
        "after; null while it lasts")  # fmt: skip
    share_medication: bool
    share_checkup: bool
    method: str
    card_use_registered_on: dt.date | None = Field(
        None, description="card checks: the day the card was registered as the health-insurance card")
    registered_now: bool = Field(False, description="card checks: this check registered it (初回登録 at the reader)")


class Refusal(BaseModel):
    detail: str
    code: str | None = Field(None, description="the rule that refused, e.g. revoked, card_not_registered, "
                                               "no_qualification, birth_date_mismatch")  # fmt: skip


def _out(answer: Any) -> AnswerOut:
    insurer, number, branch = answer.insured
    return AnswerOut(insurer_number=insurer, insured_number=number, branch=branch, insurer_kind=answer.insurer_kind,
                     limit_category=answer.limit_category, valid_from=answer.valid_from,
                     valid_until=answer.valid_until, share_medication=answer.share_medication,
                     share_checkup=answer.share_checkup,
                     method=answer.method, card_use_registered_on=answer.card_use_registered_on,
                     registered_now=answer.registered_now)  # fmt: skip


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise EligibilityError(f"bad_{what}_encoding", f"{what}: not base64url") from None


REFUSALS: Final[dict[int | str, dict[str, Any]]] = {
    **{c: {"model": Problem} for c in (400, 413, 415)},
    401: {"model": Refusal, "description": "identity not confirmed: no PIN signature, one that does not verify, or a "
                                           "challenge not issued here"},
    403: {"model": Refusal, "description": "a certificate that is not good (revoked, expired, ...), a birth date that "
                                           "does not match, or (code card_not_registered) a card not registered as the "
                                           "health-insurance card: send register_card_use, or check by insured number"},
    404: {"model": Refusal, "description": "no current qualification (no_qualification; also when registering on the "
                                           "spot), or an insured number not registered"},
    409: {"model": Refusal, "description": "a challenge used before, or a card registered only on a later day "
                                           "(already_registered)"},
    422: {"model": ValidationProblem, "description": "a field missing, unknown, of the wrong type or pattern"},
}
M = TypeVar("M", bound=BaseModel)


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of a route whose handler parses ``model`` itself."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _json(status: int, payload: object) -> HttpAnswer:
    return HttpAnswer(status, "application/json", json.dumps(payload, ensure_ascii=False).encode())


class Checks:
    """The two checks as plain handlers (:data:`real_backends.fastpath.Handler`): bytes in, answer out.

    Served by the fast path and by the documented FastAPI routes alike. A body is parsed and
    validated in one pass by pydantic-core; a field error is a 422 in FastAPI's shape (``detail``:
    a list of ``type``/``loc``/``msg``) that does not echo the values sent (a body may hold a My
    Number); a body that is not JSON by its content type is a 415.
    """

    def __init__(self, service: EligibilityService, auth: CardAuthenticator) -> None:
        self.service = service
        self.auth = auth

    def _parse(self, model: type[M], content_type: str | None, body: bytes) -> M | HttpAnswer:
        if not is_json(content_type):
            shown = mask_numbers((content_type or "")[:60])
            return _json(415, {"detail": f"content-type {shown!r} is not allowed; send application/json"})
        try:
            return model.model_validate_json(body)
        except ValidationError as e:
            errors = e.errors(include_url=False, include_input=False, include_context=False)
            return _json(422, validation_problem([{**err, "loc": ["body", *err["loc"]]} for err in errors]))

    def _answer(self, check: Callable[[], Any]) -> HttpAnswer:
        try:
            answer = check()
        except EligibilityError as exc:  # messages quote the numbers sent: masked if they could be a My Number
            return _json(status_of(exc.code), {"detail": mask_numbers(str(exc)), "code": exc.code})
        except LoginRefused as exc:
            return _json(exc.status, {"detail": mask_numbers(str(exc))})
        return HttpAnswer(200, "application/json", _out(answer).model_dump_json().encode())

    def card(self, method: str, path: str, content_type: str | None, body: bytes) -> HttpAnswer:
        check = self._parse(CardCheck, content_type, body)
        if isinstance(check, HttpAnswer):
            return check

        def run() -> Any:
            self.auth.claim(check.challenge)
            return self.service.check_by_card(
                _b64(check.certificate, "certificate"), _aware_now(self.auth.clock()),
                challenge=check.challenge.encode(), signature=_b64(check.signature, "signature"),
                consent=Consent(check.consent_medication, check.consent_checkup), facility_type=check.facility_type,
                registration_key=registration_key(check.challenge) if check.register_card_use else None,
            )  # fmt: skip

        return self._answer(run)

    def number(self, method: str, path: str, content_type: str | None, body: bytes) -> HttpAnswer:
        check = self._parse(NumberCheck, content_type, body)
        if isinstance(check, HttpAnswer):
            return check
        return self._answer(lambda: self.service.check_by_number(
            check.insurer_number, check.insured_number, check.branch, check.birth_date,
            _aware_now(self.auth.clock()), facility_type=check.facility_type))  # fmt: skip


def registration_key(challenge: str) -> str:
    """The idempotency key of a registration made on the spot: the request's challenge, used once, hashed."""
    return "reader " + hashlib.sha256(challenge.encode()).hexdigest()[:40]


def enrol(deployment: Deployment) -> QualificationBook:
    """A book in memory holding the deployment's card holders only."""
    return ensure_enrolled(MemoryStore(), deployment)


def create_app(
    deployment: Deployment, auth: CardAuthenticator | None = None, book: QualificationBook | None = None
) -> Any:
    """The eligibility API of ``deployment`` on ``book`` (default: its holders, in memory); OCSP answers pre-signed.

    Today, for the checks, the challenges and the OCSP answers, is the served world's
    (:func:`real_backends.world_time.world_clock` on the book's store: the wall clock at the default epoch) unless
    ``auth`` brings its own clock. An ASGI app: the two checks on the fast path
    (:class:`real_backends.fastpath.FastPath`) in front of the FastAPI app that documents them and serves the rest."""
    book = enrol(deployment) if book is None else book
    auth = auth or authenticator_from_env(deployment.jpki, world_clock(deployment, book.store))
    service = EligibilityService(book, deployment.jpki)
    deployment.jpki.ocsp.presign([h.auth_certificate for h in deployment.holders], _aware_now(auth.clock()), ("sha1",))
    checks = Checks(service, auth)
    app = FastAPI(title="Online eligibility confirmation", version="1")
    install_common(app)

    @app.exception_handler(EligibilityError)
    async def refused(request: Request, exc: EligibilityError) -> JSONResponse:
        return JSONResponse({"detail": mask_numbers(str(exc)), "code": exc.code}, status_of(exc.code))

    @app.get("/eligibility/challenge", response_model=ChallengeOut, tags=["eligibility"])
    async def challenge() -> ChallengeOut:
        c = auth.challenge()
        return ChallengeOut(challenge=c.token, expires_at=c.expires_at)

    @app.post("/eligibility/card", response_model=AnswerOut, responses=REFUSALS, tags=["eligibility"],
              openapi_extra=json_body(CardCheck))  # fmt: skip
    async def by_card(request: Request) -> Response:
        """Check by My Number card: the card's PIN signature over a challenge from this server. The card must be
        registered as the health-insurance card (403 ``card_not_registered``), or registered now on the spot
        (``register_card_use``)."""
        return as_response(checks.card("POST", request.url.path, request.headers.get("content-type"),
                                     await request.body()))  # fmt: skip

    @app.post("/eligibility/number", response_model=AnswerOut, responses=REFUSALS, tags=["eligibility"],
              openapi_extra=json_body(NumberCheck))  # fmt: skip
    async def by_number(request: Request) -> Response:
        """Check by insured number and birth date (the old insurance card): nothing is shared."""
        return as_response(checks.number("POST", request.url.path, request.headers.get("content-type"),
                                       await request.body()))  # fmt: skip

    hot = {("POST", "/eligibility/card"): checks.card, ("POST", "/eligibility/number"): checks.number}

    def too_large(declared: int | None) -> HttpAnswer:
        return _json(413, {"detail": f"body of {declared if declared is not None else 'over ' + str(MAX_BODY)} "
                                     f"bytes is too large; at most {MAX_BODY}"})  # fmt: skip

    return FastPath(app, lambda method, path: hot.get((method, path)), MAX_BODY, too_large)


def serve_app(store_url: str = "memory://", **options: str) -> Any:
    """``twin serve`` factory: the JPKI centre and cards rebuilt from the deployment spec in ``options``
    (``--set holders=N --set seed=S``), the qualifications in ``store_url``, loaded on first start with
    ``insured`` people (``--set insured=1000000``; default: the card holders only)."""
    from real_backends.stores import open_store

    options = dict(options)
    insured = _count("--set insured", options.pop("insured", None))
    deployment = Deployment.build(DeploymentSpec.from_options(options))
    return create_app(deployment, book=ensure_enrolled(open_store(store_url), deployment, insured))


def app_from_env() -> Any:
    """The uvicorn ``--factory`` entry: spec, store and size from the environment (see :data:`STORE_ENV`)."""
    import os

    from real_backends.stores import open_store

    deployment = Deployment.build(DeploymentSpec.from_env())
    insured = _count(INSURED_ENV, os.environ.get(INSURED_ENV))
    store = open_store(os.environ.get(STORE_ENV, "memory://"))
    return create_app(deployment, book=ensure_enrolled(store, deployment, insured))


STORE_ENV: Final = "MYNA_ELIGIBILITY_STORE"
INSURED_ENV: Final = "MYNA_ELIGIBILITY_INSURED"


def _count(what: str, text: str | None) -> int | None:
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{what}={text!r}: not an integer") from None


def load_target(name: str, deployment: Deployment, rng: np.random.Generator) -> Any:
    """The load driver's send function for ``eligibility-card`` or ``eligibility-insurance``."""
    from real_backends.load.driver import card_target, server_ms

    qualified = [h for h in deployment.holders if is_qualified(h) and not h.revoked]
    if name == "eligibility-card":  # the cards registered as the insurance card: a check answered, as most are
        return card_target(deployment, "/eligibility/card", challenge_path="/eligibility/challenge",
                           holders=[h for h in qualified if is_registered(h)],
                           extra=lambda k: {"consent_medication": True})  # fmt: skip
    bodies = [{"insurer_number": INSURER, "insured_number": insured_number(h), "branch": "00",
               "birth_date": h.perso.basic_info.birth_date.isoformat()} for h in qualified]

    async def send(client: Any, i: int) -> tuple[int, float]:
        r = await client.post("/eligibility/number", json=bodies[i % len(bodies)])
        return r.status_code, server_ms(r)

    return send


__all__ = ["EPOCH", "INSURER", "create_app", "enrol", "insured_number", "is_qualified", "is_registered", "load_target",
           "registration_key", "status_of"]  # fmt: skip
