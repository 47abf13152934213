"""The hot routes of a service answered in front of FastAPI: plain ASGI, same handler as the documented route.

At a few thousand requests a second the framework costs more than the work: a FastAPI request
passes half a dozen middleware layers, route matching, dependency solving, ``json.loads`` plus
model validation, then response validation and serialisation. The OCSP responder and the
eligibility checks each have one or two routes that carry nearly all the traffic. For those,
:class:`FastPath` sits in front of the FastAPI app and calls a plain handler
``handler(method, path, content_type, body) -> HttpAnswer``; every other request goes on to FastAPI.
The documented FastAPI route calls the *same* handler, so the OpenAPI document, the in-process
tests and the fast path cannot drift apart.

What the layer guarantees: bodies over ``max_body`` are refused with 413 before or while they are
read (a declared ``Content-Length`` or the bytes received, whichever shows it first); a handler
that raises gets a 500 that says nothing internal (the exception is logged: that is a bug to fix);
every answer carries ``server-timing: app;dur=<ms>`` for the load driver.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


#: ``handler(method, path, content_type, body)``: the whole request as plain values, the whole answer back
Handler = Callable[[str, str, str | None, bytes], HttpAnswer]
#: ``route(method, path)``: the handler for a hot route, or None to pass the request on to FastAPI
Route = Callable[[str, str], Handler | None]


def as_response(answer: HttpAnswer) -> Any:
    """``answer`` as a Starlette response, for the documented FastAPI route that shares the handler."""
    from starlette.responses import Response

    return Response(answer.body, answer.status, dict(answer.headers), media_type=answer.content_type)


def _internal_error() -> HttpAnswer:
    return HttpAnswer(500, "text/plain; charset=utf-8", b"internal error: the request was not completed")


class FastPath:
    """Plain ASGI in front of ``app``: requests ``route`` claims are answered by their handler."""

    def __init__(self, app: Any, route: Route, max_body: int, too_large: Callable[[int | None], HttpAnswer]) -> None:
        self.app = app
        self.route = route
        self.max_body = max_body
        self.too_large = too_large  # the 413 answer, given the declared length (None: found while reading)

    def __getattr__(self, name: str) -> Any:  # the FastAPI app's attributes (openapi(), routes, state ...)
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.route(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if handler is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        content_type = None
        declared = 0
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"content-length":
                declared = int(value) if value.isdigit() else -1
        if declared < 0 or declared > self.max_body:
            answer = self.too_large(declared)
        else:
            chunks, size, more = [], 0, True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body:
                    break
                chunks.append(chunk)
                more = message.get("more_body", False)
            if size > self.max_body:
                answer = self.too_large(None)
            else:
                raw_path = scope.get("raw_path") or scope["path"].encode()
                try:
                    answer = handler(scope["method"], raw_path.decode("latin-1").split("?")[0], content_type,
                                     b"".join(chunks))  # fmt: skip
                except Exception:
                    log.exception("unhandled error on %s %s", scope["method"], scope["path"])
                    answer = _internal_error()
        spent_ms = (time.perf_counter() - started) * 1000
        headers = [(b"content-type", answer.content_type.encode()), (b"content-length", str(len(answer.body)).encode()),
                   (b"server-timing", f"app;dur={spent_ms:.3f}".encode())]  # fmt: skip
        headers += [(k.encode(), v.encode()) for k, v in answer.headers]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})


__all__ = ["FastPath", "Handler", "HttpAnswer", "Route", "as_response"]
