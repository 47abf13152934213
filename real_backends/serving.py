"""How every twin server runs under uvicorn: silent connections time out, connections are bounded,
workers die with their supervisor.

A public office closes its counter to a visitor who stands there saying nothing, and when the hall
is full it asks the ones who are only waiting to leave before it turns away the ones with business.
A server that keeps every connection a client opens until the client speaks runs out of file
descriptors (about 21,000 silent connections took one down), and then refuses real requests. Here:

- **header timeout** (``HEADER_TIMEOUT_S``, 10 s): from the connection (or the first byte of the
  next request on a kept-alive one) to the end of the request headers. A connection that sent
  nothing is closed; one that sent part of a request gets ``408 Request Timeout`` (RFC 9110
  section 15.5.9) and is closed.
- **body timeout** (``BODY_TIMEOUT_S``, 30 s): between two pieces of a request body. The app
  reading it sees the client disconnect.
- **keep-alive timeout** (``KEEP_ALIVE_S``, 5 s): uvicorn's ``timeout_keep_alive``, idle time
  between requests.
- **connection limit** (``MAX_CONNECTIONS`` per process, 4,096, lowered to fit ``RLIMIT_NOFILE``
  whose soft limit is raised to the hard one): at the limit a new connection makes room by closing
  the longest-idle connection that has no request being answered (silent, half-sent headers or
  kept alive); only when every connection is busy is the new one answered ``503`` and closed.
  The listen backlog is kept at half the limit or less, so that a client that sends its request
  as it connects is read before a flood can push it out. Silent connections thus cost a real
  client nothing, and the server's descriptors stay bounded whatever a client opens.
- **in-flight limit** (``MAX_IN_FLIGHT`` per process, 1,024): requests beyond it get uvicorn's
  ``503 Service Unavailable`` at once instead of queueing without bound (``limit_concurrency``,
  counted on requests only: uvicorn's own check also counts idle connections, which would let
  silent clients turn real requests away).
- **workers die with their parent**: with ``--workers N`` each worker asks the kernel for SIGTERM
  when its supervisor dies (``prctl(PR_SET_PDEATHSIG)``), even by SIGKILL, so no orphan keeps the
  port; a worker whose parent is already gone when it starts exits at once.

All of these are uvicorn's HTTP protocol (httptools) with the checks added
(:class:`GuardedHttpToolsProtocol`), passed to uvicorn as ``http=``. The limits can be set per
process through the environment (``MYNA_SERVE_HEADER_TIMEOUT_S`` and so on, see :func:`limits`),
which the workers inherit. :func:`run` is the one way the twin starts uvicorn (``twin serve``,
``python -m real_backends.serving --factory module:app``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import importlib
import logging
import os
import resource
import signal
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

HEADER_TIMEOUT_S: Final = 10.0
BODY_TIMEOUT_S: Final = 30.0
KEEP_ALIVE_S: Final = 5
MAX_CONNECTIONS: Final = 4096
MAX_IN_FLIGHT: Final = 1024
GRACEFUL_SHUTDOWN_S: Final = 10
FD_RESERVE: Final = 256  # descriptors kept for stores, logs, listening sockets and the event loop
ENV_PREFIX: Final = "MYNA_SERVE_"
FACTORY_ENV: Final = "MYNA_SERVE_FACTORY"
PARENT_ENV: Final = "MYNA_SERVE_PARENT"
PR_SET_PDEATHSIG: Final = 1


@dataclass(frozen=True)
class Limits:
    header_timeout_s: float = HEADER_TIMEOUT_S
    body_timeout_s: float = BODY_TIMEOUT_S
    keep_alive_s: float = KEEP_ALIVE_S
    max_connections: int = MAX_CONNECTIONS
    max_in_flight: int = MAX_IN_FLIGHT

    def __post_init__(self) -> None:
        for name in ("header_timeout_s", "body_timeout_s", "keep_alive_s"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or isinstance(v, bool) or not 0 < v <= 3600:
                raise ValueError(f"{ENV_PREFIX}{name.upper()}: {v!r} is not allowed; use seconds in (0, 3600]")
        for name in ("max_connections", "max_in_flight"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 1_000_000:
                raise ValueError(f"{ENV_PREFIX}{name.upper()}: {v!r} is not allowed; use a whole number 1-1000000")


def limits(env: dict[str, str] | None = None) -> Limits:
    """The limits of this process: the defaults, each overridable by ``MYNA_SERVE_<NAME>`` in ``env``."""
    env = os.environ if env is None else env
    kw: dict[str, Any] = {}
    for name, kind in (("header_timeout_s", float), ("body_timeout_s", float), ("keep_alive_s", float),
                       ("max_connections", int), ("max_in_flight", int)):  # fmt: skip
        text = env.get(ENV_PREFIX + name.upper())
        if text:
            try:
                kw[name] = kind(text)
            except ValueError:
                raise ValueError(f"{ENV_PREFIX}{name.upper()}={text!r}: not a number") from None
    return Limits(**kw)


def raise_fd_limit() -> int:
    """Raise this process's soft ``RLIMIT_NOFILE`` to its hard limit; the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def connection_cap(configured: int, fd_soft_limit: int) -> int:
    """The connection limit that fits in ``fd_soft_limit`` descriptors (one per connection)."""
    return max(16, min(configured, fd_soft_limit - FD_RESERVE))


# per server (uvicorn's ServerState), the connections with no request being answered, oldest first
_IDLE: weakref.WeakKeyDictionary[Any, OrderedDict[GuardedHttpToolsProtocol, None]] = weakref.WeakKeyDictionary()
_LIMITS: Limits | None = None


def _process_limits() -> tuple[Limits, int]:
    global _LIMITS
    if _LIMITS is None:
        _LIMITS = limits()
    return _LIMITS, connection_cap(_LIMITS.max_connections, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def _plain(status: str, text: str, *extra: str) -> bytes:
    body = text.encode()
    head = [f"HTTP/1.1 {status}", "content-type: text/plain; charset=utf-8", "connection: close", *extra,
            f"content-length: {len(body)}"]  # fmt: skip
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


_TIMEOUT_408 = _plain("408 Request Timeout", "the request was not received in time; the connection is closed\n")
_FULL_503 = _plain("503 Service Unavailable", "every connection is busy; retry in a second\n", "retry-after: 1")


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header/body timeouts, an idle-first connection limit and an
    in-flight request limit (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits, self._cap = _process_limits()
        self._timer: asyncio.TimerHandle | None = None
        self._in_request = False  # a request's bytes have started to arrive and its headers are not complete
        self._idle = _IDLE.setdefault(self.server_state, OrderedDict())

    # -- connections -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._cap and not self._make_room():
            self.connections.discard(self)
            transport.write(_FULL_503)
            transport.close()
            return
        self._idle[self] = None
        self._arm(self._limits.header_timeout_s, self._header_timeout)

    def _make_room(self) -> bool:
        """Close the longest-idle connection (not this one); False when none is idle."""
        for victim in self._idle:
            if victim is not self:
                del self._idle[victim]
                victim._close()
                return True
        return False

    def _close(self) -> None:
        self._disarm()
        self._idle.pop(self, None)
        self.connections.discard(self)  # room now: the transport reports the loss on the next loop turn
        if not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._idle.pop(self, None)
        super().connection_lost(exc)

    # -- timers ------------------------------------------------------------------------------
    def _arm(self, seconds: float, action: Any) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, action)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _header_timeout(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self._in_request:  # part of a request came: say why it is being closed
            self.transport.write(_TIMEOUT_408)
        self._close()

    def _body_timeout(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_started:
            self.transport.write(_TIMEOUT_408)  # the app reading the body sees the client disconnect
        self._close()

    # -- parser callbacks --------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_request = True
        if self._timer is None:  # the next request on a kept-alive connection: its headers are timed too
            self._arm(self._limits.header_timeout_s, self._header_timeout)

    def on_headers_complete(self) -> None:
        self._in_request = False
        self._disarm()
        self._idle.pop(self, None)
        # uvicorn answers 503 when limit_concurrency is reached; count requests being answered only
        self.limit_concurrency = 0 if len(self.tasks) >= self._limits.max_in_flight else None
        super().on_headers_complete()
        if any(name in (b"content-length", b"transfer-encoding") and value != b"0" for name, value in self.headers):
            self._arm(self._limits.body_timeout_s, self._body_timeout)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        if self._timer is not None:
            self._arm(self._limits.body_timeout_s, self._body_timeout)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # starts a pipelined request if one is waiting
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._idle[self] = None  # kept alive: idle (uvicorn's keep-alive timer runs) until the next request


# -- running --------------------------------------------------------------------------------------


def die_with_parent(parent_pid: int | None = None) -> bool:
    """Ask the kernel to SIGTERM this process when its parent dies (Linux ``PR_SET_PDEATHSIG``).

    If ``parent_pid`` is given and the parent is already gone (re-parented), SIGTERM this process
    now. False where ``prctl`` does not exist (not Linux); then nothing is done."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return False
    if prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG): {os.strerror(err)}")
    if parent_pid is not None and os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)
    return True


def load(target: str) -> Any:
    """``module:attribute`` -> the attribute."""
    module, _, name = target.partition(":")
    if not module or not name:
        raise ValueError(f"{target!r}: expected module:attribute")
    return getattr(importlib.import_module(module), name)


def worker_app() -> Any:
    """The app factory of one uvicorn worker: die with the supervisor, then call ``$MYNA_SERVE_FACTORY``."""
    parent = os.environ.get(PARENT_ENV)
    die_with_parent(int(parent) if parent else None)
    raise_fd_limit()
    return load(os.environ[FACTORY_ENV])()


def uvicorn_options() -> dict[str, Any]:
    """What every twin server passes to uvicorn besides app, host and port.

    The listen backlog is at most half the connection limit: asyncio accepts up to ``backlog``
    connections in one go before it reads from any, so a client that connected and sent its
    request at once cannot be pushed out as idle by a flood accepted in the same batch."""
    lim = limits()
    cap = connection_cap(lim.max_connections, raise_fd_limit())
    return {"http": GuardedHttpToolsProtocol, "timeout_keep_alive": lim.keep_alive_s,
            "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S, "access_log": False,
            "backlog": max(16, min(2048, cap // 2))}  # fmt: skip


def run(app: Any, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, factory: bool = False,
        log_level: str = "warning", ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None) -> None:  # fmt: skip
    """Serve ``app`` (an ASGI app, or with ``factory`` a ``module:function`` string) until stopped.

    With ``workers > 1`` ``app`` must be a ``module:function`` factory: each worker calls it after
    :func:`die_with_parent`. With ``ssl_certfile`` and ``ssl_keyfile`` uvicorn serves HTTPS (TLS in
    the worker, as a deployment without a terminating proxy would)."""
    import uvicorn

    tls = {"ssl_certfile": ssl_certfile, "ssl_keyfile": ssl_keyfile} if ssl_certfile else {}

    limits()  # a bad MYNA_SERVE_* setting fails here, in the parent, with its name
    raise_fd_limit()
    if workers > 1:
        if not (factory and isinstance(app, str)):
            raise ValueError("workers > 1 needs the app as a 'module:factory' string")
        os.environ[FACTORY_ENV] = app
        os.environ[PARENT_ENV] = str(os.getpid())
        uvicorn.run("real_backends.serving:worker_app", factory=True, workers=workers, host=host, port=port,
                    log_level=log_level, **uvicorn_options(), **tls)  # fmt: skip
        return
    if factory and isinstance(app, str):
        app = load(app)()
    uvicorn.run(app, host=host, port=port, log_level=log_level, **uvicorn_options(), **tls)


def main(argv: list[str] | None = None) -> None:
    """``python -m real_backends.serving --factory module:function [--host H] [--port P] [--workers N]``."""
    p = argparse.ArgumentParser(prog="python -m real_backends.serving", description=main.__doc__)
    p.add_argument("--factory", required=True, help="module:function returning the ASGI app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--log-level", default="warning")
    p.add_argument("--ssl-certfile", default=None, help="PEM certificate: serve HTTPS (with --ssl-keyfile)")
    p.add_argument("--ssl-keyfile", default=None, help="PEM private key of --ssl-certfile")
    a = p.parse_args(argv)
    if bool(a.ssl_certfile) != bool(a.ssl_keyfile):
        p.error("--ssl-certfile and --ssl-keyfile go together")
    if not 1 <= a.workers <= 64:
        p.error(f"--workers: {a.workers} is not allowed; use 1-64")
    run(a.factory, host=a.host, port=a.port, workers=a.workers, factory=True, log_level=a.log_level,
        ssl_certfile=a.ssl_certfile, ssl_keyfile=a.ssl_keyfile)


if __name__ == "__main__":
    main()
