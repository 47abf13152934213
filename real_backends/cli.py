"""``twin serve``: run one of the twin's services as a real HTTP server (uvicorn, loopback by default).

A municipality's IT desk starts the payout office's server the way it would start any web
service: pick the service, point it at its database, choose where it listens::

    twin serve payout --store sqlite:///var/twin/payout.db --port 8080
    twin serve payout --store postgresql://twin@127.0.0.1:5432/twin --set households=100000
    twin serve eligibility --store sqlite:///elig.db --set insured=1000000 --workers 2
    twin serve linkage --store sqlite:///linkage.db --set people=10000
    twin serve points --store sqlite:///points.db --set people=10000
    twin serve points --store sqlite:///hub.db --set world=portal --set holders=100 --set epoch=2022-06-01

:data:`SERVICES` maps a service name to ``"module:factory"``; the factory is called as
``factory(store_url, **options)`` (options from ``--set KEY=VALUE``, as strings) and returns an
ASGI app. Adding a service is one line here. Without ``--store`` a service gets ``sqlite:///twin.db`` in the current
folder, except a portal, eligibility server or OCSP responder of a world set at another epoch, which is refused
(:func:`store_of`).
"""

from __future__ import annotations

import errno
import importlib
import json
import os
import secrets
import socket
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from typing import Annotated, Any

import typer

from twin.services.store import StoreError

SERVICES: dict[str, str] = {
    "payout": "real_backends.payout_api:serve_app",
    "ocsp": "real_backends.ocsp_api:serve_app",
    "portal": "real_backends.portal_hub:serve_app",
    "eligibility": "real_backends.eligibility_api:serve_app",
    "linkage": "real_backends.linkage_api:serve_app",
    "points": "real_backends.points_api:serve_app",
}

#: how the services' refusals of what a store holds begin (another world's ledger, enrolment or network: "this store
#: holds ...", "the store already holds ...", "the store's qualification book holds ..."); the CLI names the store
STORE_CONTENTS = ("this store", "the store")
#: the store a service uses when ``--store`` is not given
DEFAULT_STORE = "sqlite:///twin.db"
#: the services that read a served world's clock (real_backends.world_time.world_clock): for a world set at another
#: epoch than the default, its start is recorded on the store all of them share, so they are not given a default one
WORLD_CLOCKED = ("eligibility", "ocsp", "portal")

# one callback and no sub-commands, so that `twin serve SERVICE --store ...` needs no extra word
app = typer.Typer(help="Run a twin service as an HTTP server (uvicorn).", no_args_is_help=True,
                  context_settings={"allow_interspersed_args": True})


def refuse(message: str) -> typer.Exit:
    """Bad input to ``twin serve``: one line on stderr naming the problem, exit 2 (as ``twin run`` does)."""
    print(f"error: twin serve: {message}", file=sys.stderr)
    return typer.Exit(2)


def check_listen(host: str, port: int) -> None:
    """Fail now, with the address in the message, if ``host:port`` cannot be listened on (an unknown host,
    an address not on this machine, a port in use), instead of uvicorn's log line and exit 3."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise refuse(f"--host {host!r}: not a name or address that resolves ({e.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no conflict
        try:
            probe.bind(address)
        except OSError as e:
            why = "the port is in use" if e.errno == errno.EADDRINUSE else e.strerror
            raise refuse(f"cannot listen on {host}:{port}: {why}") from None


def factory(service: str) -> Callable[..., Any]:
    """The app factory registered for ``service``; a clear error naming the services that exist."""
    target = SERVICES.get(service)
    if target is None:
        raise refuse(f"unknown service {service!r}; choose one of: {', '.join(sorted(SERVICES))}")
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def parse_options(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in pairs:
        k, sep, v = p.partition("=")
        if not sep or not k:
            raise refuse(f"--set {p!r}: expected KEY=VALUE")
        out[k] = v
    return out


@app.callback(invoke_without_command=True)
def serve(
    service: Annotated[str, typer.Argument(help="the service to run: " + ", ".join(sorted(SERVICES)))],
    store: Annotated[str | None, typer.Option(
        help=f"sqlite:///PATH | postgresql://... | memory:// (default {DEFAULT_STORE}; a world of eligibility, ocsp or "
             "portal set at another --set epoch must name its store)")] = None,  # fmt: skip
    host: Annotated[str, typer.Option(help="address to listen on (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0: any free port)")] = 8000,
    option: Annotated[list[str], typer.Option("--set", help="service option KEY=VALUE (repeatable)")] = [],  # noqa: B006
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "warning",
    workers: Annotated[int, typer.Option(min=1, max=64, help="worker processes (uvicorn --workers)")] = 1,
) -> None:
    """Serve SERVICE until interrupted (SIGINT/SIGTERM stop it cleanly).

    Silent connections time out and connections are bounded (:mod:`real_backends.serving`); with
    ``--workers N`` the workers die with this process, even when it is killed with SIGKILL."""
    from real_backends import serving

    try:
        serving.limits()
    except ValueError as e:
        raise refuse(str(e)) from None
    from uvicorn.config import LOG_LEVELS  # refused here, before uvicorn starts, with the levels it knows

    if log_level not in LOG_LEVELS:
        raise refuse(f"--log-level {log_level!r}: choose one of: {', '.join(LOG_LEVELS)}")
    make = factory(service)
    options = parse_options(option)
    store = store_of(service, store, options)
    check_listen(host, port)
    try:  # built here first even with several workers: bad options and an unreachable store fail now,
        # and a store that needs loading (eligibility) is loaded once before the workers start
        asgi = make(store, **options)
    except (ValueError, OSError, StoreError) as e:  # a refusal of what the store holds names the store
        raise refuse(f"--store {shown(store)!r}: {e}" if str(e).startswith(STORE_CONTENTS) else str(e)) from None
    except sqlite3.Error as e:  # e.g. the path names a folder, or a file that is not a database
        raise refuse(f"--store {store!r}: cannot open the SQLite database: {e}") from None
    except Exception as e:  # e.g. psycopg.OperationalError: the database cannot be reached
        if not type(e).__module__.startswith("psycopg"):
            raise
        raise refuse(f"cannot open the store: {str(e).strip().splitlines()[0]}") from None
    if workers == 1:
        serving.run(asgi, host=host, port=port, log_level=log_level)
        return
    del asgi
    os.environ[WORKER_ENV] = json.dumps({"service": service, "store": store, "options": options})
    # the card services' challenges must be good at every worker and used once across all of them:
    # one secret and one used-challenge ledger for the lot (unless the operator set their own)
    from real_backends.portal_api import LEDGER_ENV, SECRET_ENV

    os.environ.setdefault(SECRET_ENV, secrets.token_hex(32))
    with tempfile.TemporaryDirectory(prefix="myna-serve-") as scratch:
        os.environ.setdefault(LEDGER_ENV, os.path.join(scratch, "used-challenges.sqlite"))
        serving.run("real_backends.cli:worker_app", factory=True, workers=workers, host=host, port=port,
                    log_level=log_level)  # fmt: skip


def shown(store: str) -> str:
    """``store`` as an error may print it: a password in a database URL (``postgresql://user:secret@host/db``) is
    starred."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(store)
    if parts.password is None:
        return store
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def store_of(service: str, store: str | None, options: dict[str, str]) -> str:
    """``--store``, or the default store. A world set at another epoch than the default records its clock's start on
    the store its portal, eligibility server and OCSP responder share: a default file in the current folder would be
    a store of its own, made by accident (a responder whose world lives on ``hub.db`` would answer on another clock,
    and leave a ``twin.db`` behind), so such a server must be given one."""
    if store is not None:
        return store
    epoch = options.get("epoch")
    if service in WORLD_CLOCKED and epoch is not None and not at_default_epoch(epoch):
        raise refuse(f"--set epoch={epoch[:40]}: a world set at another epoch than the default keeps its clock on "
                     f"its store, shared by its portal, eligibility and OCSP servers; name it with --store (the "
                     f"others' sqlite:///PATH, or memory:// for a clock of this server's own from this start)")
    return DEFAULT_STORE


def at_default_epoch(epoch: str) -> bool:
    """Is ``epoch`` the default (or not an epoch at all: the factory names that, as it does with a store given)?"""
    from real_backends.load.deployment import EPOCH, DeploymentSpec

    try:
        return DeploymentSpec(epoch=epoch).start == EPOCH
    except ValueError:
        return True


WORKER_ENV = "MYNA_SERVE_WORKER"


def worker_app() -> Any:
    """One uvicorn worker of ``twin serve --workers N``: the same factory call as the parent's (called by
    :func:`real_backends.serving.worker_app`, which first ties the worker's life to the parent's)."""
    spec = json.loads(os.environ[WORKER_ENV])
    return factory(spec["service"])(spec["store"], **spec["options"])
