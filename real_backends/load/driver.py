"""The load driver: an open stream of real requests against a backend, timed from when each was due.

A load generator that sends the next request only when the previous one returned measures the
server's pace, not the users': when the server stalls, the generator stalls too and the slow
period is under-sampled (coordinated omission). Here every request has an intended send time from
:mod:`.arrivals`; the dispatcher starts it at that time whatever is still in flight, a semaphore
bounds how many are on the wire at once (requests beyond it queue in the client, and that wait
counts), and latency is ``completed - intended``. The server's own processing time comes back in
its ``Server-Timing`` header and is kept beside it (the queueing model's service time). Requests go
out through the lean keep-alive client of :mod:`.http`, so that the driver, which shares the cores
with the server, spends as little as it can per request.

Targets (:data:`TARGETS`): ``ocsp`` (POST, pre-signed answers), ``ocsp-get`` (RFC 5019 GET),
``ocsp-live`` (POST with a fresh nonce: signed per request), ``portal`` (challenge, the emulated
card signs it through its APDU interface, login), and the eligibility checks when that API runs.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from real_backends.load.deployment import Deployment, Holder
from real_backends.load.http import HttpClient, Reply

Send = Callable[[HttpClient, int], Awaitable[tuple[int, float]]]
OCSP_HEADERS: Final = {"content-type": "application/ocsp-request"}
TIMEOUT_STATUS: Final = -1  # a request that timed out
ERROR_STATUS: Final = -2  # a transport error (connection refused, reset)


def server_ms(response: Reply) -> float:
    """The ``Server-Timing: app;dur=X`` of a response in milliseconds, NaN when absent."""
    value = response.headers.get("server-timing", "")
    for part in value.split(";"):
        if part.startswith("dur="):
            try:
                return float(part[4:])
            except ValueError:
                return float("nan")
    return float("nan")


def _ocsp_der(deployment: Deployment, cert: x509.Certificate, nonce: bytes | None = None) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, deployment.jpki.auth_ca.certificate, hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(Encoding.DER)


def ocsp_target(deployment: Deployment, method: str = "POST", live: bool = False,
                rng: np.random.Generator | None = None) -> Send:
    """OCSP questions about the holders' certificates in turn (good and revoked alike)."""
    certs = [h.auth_certificate for h in deployment.holders]
    ders = [_ocsp_der(deployment, c) for c in certs]
    paths = ["/ocsp/auth/" + base64.b64encode(d).decode().replace("/", "%2F") for d in ders]
    rng = rng if rng is not None else np.random.default_rng(0)

    async def send(client: HttpClient, i: int) -> tuple[int, float]:
        k = i % len(ders)
        if method == "GET":
            r = await client.get(paths[k])
        else:
            body = _ocsp_der(deployment, certs[k], rng.bytes(16)) if live else ders[k]
            r = await client.post("/ocsp/auth", content=body, headers=OCSP_HEADERS)
        return r.status_code, server_ms(r)

    return send


def card_target(deployment: Deployment, answer_path: str, pin: str = "1234",
                extra: Callable[[int], dict[str, object]] | None = None,
                challenge_path: str = "/portal/challenge", holders: list[Holder] | None = None) -> Send:
    """Challenge, card signature through the emulated card's APDUs, answer (default: holders not revoked)."""
    from real_backends.portal_api import card_answer

    holders = [h for h in deployment.holders if not h.revoked] if holders is None else holders
    readers = [h.reader() for h in holders]
    locks = [asyncio.Lock() for _ in readers]

    async def send(client: HttpClient, i: int) -> tuple[int, float]:
        c = await client.get(challenge_path)
        if c.status_code != 200:
            return c.status_code, server_ms(c)
        k = i % len(readers)
        async with locks[k]:  # one terminal per card: APDU exchanges do not interleave
            body: dict[str, object] = card_answer(c.json()["challenge"], readers[k], pin)
        if extra is not None:
            body.update(extra(k))
        r = await client.post(answer_path, json=body)
        return r.status_code, server_ms(c) + server_ms(r)

    return send


TARGETS: Final = ("ocsp", "ocsp-get", "ocsp-live", "portal", "eligibility-card", "eligibility-insurance")


def make_target(name: str, deployment: Deployment, rng: np.random.Generator) -> Send:
    if name == "ocsp":
        return ocsp_target(deployment)
    if name == "ocsp-get":
        return ocsp_target(deployment, "GET")
    if name == "ocsp-live":
        return ocsp_target(deployment, live=True, rng=rng)
    if name == "portal":
        return card_target(deployment, "/portal/login")
    if name in ("eligibility-card", "eligibility-insurance"):
        from real_backends.eligibility_api import load_target

        return load_target(name, deployment, rng)
    raise ValueError(f"target: {name!r} is not allowed; use one of {', '.join(TARGETS)}")


@dataclass(frozen=True)
class Samples:
    """One row per request: intended send time (s from start), latency (s), HTTP status, server ms."""

    intended: np.ndarray
    latency: np.ndarray
    status: np.ndarray
    server_ms: np.ndarray
    concurrency: int

    @property
    def ok(self) -> np.ndarray:
        return (self.status >= 200) & (self.status < 400)


async def drive(url: str, send: Send, arrivals: np.ndarray, *, concurrency: int = 64,
                timeout_s: float = 10.0) -> Samples:
    """Send request ``i`` at ``arrivals[i]`` seconds from now through ``send``; gather the samples."""
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"--concurrency: {concurrency!r} is not allowed; use an integer >= 1")
    n = len(arrivals)
    done = np.full(n, np.nan)
    status = np.zeros(n, dtype=np.int64)
    spent = np.full(n, np.nan)
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)
    async with HttpClient(url, max_connections=concurrency, timeout_s=timeout_s) as client:
        t0 = loop.time() + 0.05

        async def one(i: int) -> None:
            async with gate:
                try:
                    status[i], spent[i] = await send(client, i)
                except TimeoutError:
                    status[i] = TIMEOUT_STATUS
                except OSError:  # refused, reset, closed mid-answer, not HTTP (ConnectionError)
                    status[i] = ERROR_STATUS
            done[i] = loop.time() - t0

        tasks = set()
        for i, due in zip(itertools.count(), arrivals, strict=False):
            delay = t0 + due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(i))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        while tasks:
            await asyncio.gather(*list(tasks))
    return Samples(np.asarray(arrivals, dtype=float), done - arrivals, status, spent, concurrency)


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
