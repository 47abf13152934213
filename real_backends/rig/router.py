"""A health-checking router in front of two payout servers (an active/standby pair, 現用系/待機系).

When the primary server of a payout office dies, the counter does not close: requests go to the
standby. :class:`Router` is a small asyncio reverse proxy (an ASGI app; serve it with uvicorn):
every ``interval`` seconds it asks each backend's ``/health`` (a refused connection marks it down at
once; a slow answer only after ``slow_checks`` in a row, since a busy server is not a dead one);
requests go to the first backend in priority order that is up. A request the chosen backend cannot answer (connection
refused or reset) marks it down at once and gets a 502; with no backend up the answer is 503.
The router never re-sends a request itself: the client retries with the same idempotency key,
which is what makes a retry safe. Every change of the active backend is recorded in
:attr:`Router.events` with its time (``time.monotonic``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import httpx

HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"upgrade", b"host", b"content-length",
              b"content-encoding"}


@dataclass(frozen=True)
class RouterEvent:
    at: float  # time.monotonic()
    backend: str
    up: bool
    why: str


class Router:
    """ASGI reverse proxy over ``backends`` (base URLs, priority order) with active and passive health checks."""

    def __init__(self, backends: list[str], interval: float = 0.05, timeout: float = 120.0,
                 health_timeout: float = 1.0, slow_checks: int = 3) -> None:  # fmt: skip
        if not backends:
            raise ValueError("backends: at least one backend URL is needed")
        if interval <= 0:
            raise ValueError(f"interval: {interval} must be > 0 seconds")
        self.backends, self.interval, self.timeout = list(backends), interval, timeout
        self.health_timeout, self.slow_checks = health_timeout, slow_checks
        self._slow = dict.fromkeys(backends, 0)
        self.up = dict.fromkeys(backends, True)
        self.events: list[RouterEvent] = []
        self.served: dict[str, int] = dict.fromkeys(backends, 0)
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task | None = None

    def active(self) -> str | None:
        return next((b for b in self.backends if self.up[b]), None)

    def _mark(self, backend: str, up: bool, why: str) -> None:
        if self.up[backend] != up:
            self.up[backend] = up
            self.events.append(RouterEvent(time.monotonic(), backend, up, why))

    async def _health_loop(self) -> None:
        assert self._client is not None
        while True:
            for b in self.backends:
                try:
                    r = await self._client.get(b + "/health", timeout=self.health_timeout)
                    self._slow[b] = 0
                    self._mark(b, r.status_code == 200, f"health check answered {r.status_code}")
                except httpx.TimeoutException:
                    self._slow[b] += 1
                    if self._slow[b] >= self.slow_checks:
                        self._mark(b, False, f"health check timed out {self._slow[b]} times in a row")
                except httpx.HTTPError as e:
                    self._mark(b, False, f"health check failed: {type(e).__name__}")
            await asyncio.sleep(self.interval)

    async def _lifespan(self, receive: Callable, send: Callable) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._client = httpx.AsyncClient(limits=httpx.Limits(max_connections=64), timeout=self.timeout)
                self._task = asyncio.create_task(self._health_loop())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._task is not None:
                    self._task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._task
                if self._client is not None:
                    await self._client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def __call__(self, scope: MutableMapping[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            m = await receive()
            body += m.get("body", b"")
            if not m.get("more_body"):
                break
        backend = self.active()
        if backend is None or self._client is None:
            await _answer(send, 503, "no backend is up: the router is waiting for a health check to pass")
            return
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP]
        url = backend + scope["path"] + (("?" + scope["query_string"].decode()) if scope["query_string"] else "")
        try:
            r = await self._client.request(scope["method"], url, content=body, headers=headers)
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as e:
            self._mark(backend, False, f"request failed: {type(e).__name__}")
            await _answer(send, 502, f"backend {backend} failed during the request ({type(e).__name__}); retry")
            return
        except httpx.TimeoutException:
            await _answer(send, 504, f"backend {backend} did not answer within {self.timeout} s; retry")
            return
        self.served[backend] += 1
        out = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in r.headers.items()
               if k.lower().encode() not in HOP_BY_HOP]  # fmt: skip
        out.append((b"content-length", str(len(r.content)).encode()))
        await send({"type": "http.response.start", "status": r.status_code, "headers": out})
        await send({"type": "http.response.body", "body": r.content})


async def _answer(send: Callable, status: int, error: str) -> None:
    body = json.dumps({"error": error, "detail": []}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
