"""The failover rig: a payout run of a whole (synthetic) nation while the primary server is killed.

A payout office's primary server dies with SIGKILL halfway through the 2020 special cash
payment's busiest day. The standby takes over behind the router, clients retry what failed with
the same idempotency keys, and at the end of the day every household must have been paid exactly
once: nothing lost, nothing paid twice. :func:`run_failover` stages exactly that on this machine:
two ``twin serve payout`` processes on one durable store (SQLite file or PostgreSQL), the
:class:`~real_backends.rig.router.Router` in front, and a client that submits every household's
application in batches, has them verified, puts them in transfer batches and answers for the
bank. It kills the primary during the application phase, then checks the books through the API
and directly in the store, and returns a :class:`RigResult` (failover time, every failed request).

:func:`run_standby_failover` kills the database instead: the two servers share a PostgreSQL
primary with a streaming-replication hot standby (:class:`~real_backends.rig.pgpair.PostgresPair`),
the primary's postmaster gets SIGKILL mid-run, a :class:`~real_backends.rig.pgpair.FailoverManager`
promotes the standby, and the servers reconnect to it through a multi-host URL. With synchronous
commit no acknowledged application may be lost; with asynchronous commit the result counts those
that were (``RigResult.lost``).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from real_backends.payout_api import MAX_BATCH, PayoutWorld
from real_backends.rig.router import Router, RouterEvent
from real_backends.serving import uvicorn_options
from real_backends.stores.pgserver import free_port

ROOT = Path(__file__).resolve().parents[2]
APPLY_ON, VERIFY_ON = dt.date(2020, 5, 11), dt.date(2020, 5, 12)
PAY_ON, BANK_ON = dt.date(2020, 5, 13), dt.date(2020, 5, 14)
RETRYABLE = {500, 502, 503, 504}


class RigError(RuntimeError):
    """The rig could not stage the run (a server did not start, a request was refused for a wrong reason)."""


@dataclass(frozen=True)
class RigConfig:
    households: int = 100_000
    seed: int = 0
    batch: int = MAX_BATCH
    kill_at: float = 0.5  # fraction of the application requests sent before the primary is killed
    health_interval: float = 0.05
    max_attempts: int = 400
    standby: bool = False  # kill the PostgreSQL primary (a promoted standby takes over), not an app server
    synchronous: bool = True  # standby mode: synchronous_standby_names names the standby
    failover_checks: int = 2  # standby mode: failed health checks of the primary before the promotion

    def __post_init__(self) -> None:
        if self.failover_checks < 1:
            raise ValueError(f"failover_checks: {self.failover_checks} must be >= 1")
        if not 1 <= self.batch <= MAX_BATCH:
            raise ValueError(f"batch: {self.batch} must be in [1, {MAX_BATCH}]")
        if not 0.0 <= self.kill_at < 1.0:
            raise ValueError(f"kill_at: {self.kill_at} must be in [0, 1)")


@dataclass(frozen=True)
class FailedRequest:
    at: float  # when the attempt was sent, seconds since the run started
    ended: float  # when it failed
    phase: str
    path: str
    attempt: int
    error: str


@dataclass
class RigResult:
    config: RigConfig
    store: str
    killed_at: float  # seconds since start
    detected_at: float | None  # the router marked the primary down
    recovered_at: float | None  # first successful answer after the kill
    duration: float
    requests: int
    failures: list[FailedRequest]
    events: list[tuple[float, str, bool, str]]
    served: dict[str, int]
    phases: dict[str, float]
    paid: int
    entitled: int
    payments_in_store: int
    transfers_per_household_max: int
    unpaid: list[int]
    invariants_ok: bool
    timeline: list[tuple[float, float, str, int]] = field(default_factory=list)  # (start, seconds, phase, status)
    acknowledged: int = 0  # applications the client got an "accepted" answer for
    lost: list[int] = field(default_factory=list)  # acknowledged applications the store no longer holds
    duplicated: int = 0  # households in more than one transfer batch
    database: dict[str, Any] | None = None  # standby mode: the database failover (times since the run started)

    @property
    def failover_seconds(self) -> float | None:
        return None if self.recovered_at is None else self.recovered_at - self.killed_at

    @property
    def exactly_once(self) -> bool:
        return (self.paid == self.entitled == self.payments_in_store and self.transfers_per_household_max == 1
                and not self.unpaid and not self.lost and self.duplicated == 0 and self.invariants_ok)  # fmt: skip


class _Replica:
    def __init__(self, name: str, store: str, world: PayoutWorld, workdir: Path) -> None:
        self.name, self.port = name, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop()
        cmd = [sys.executable, "-m", "twin.cli", "serve", "payout", "--store", store, "--port", str(self.port),
               "--set", f"households={world.households}", "--set", f"seed={world.seed}"]  # fmt: skip
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_healthy(self, timeout: float = 120.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RigError(f"replica {self.name} exited with {self.proc.returncode} before it was healthy "
                               f"(see {self.log.name})")  # fmt: skip
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RigError(f"replica {self.name} not healthy after {timeout} s (see {self.log.name})")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


class _RouterThread:
    def __init__(self, router: Router) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # the router is a server like the others: header and idle timeouts and a connection cap, so a
        # client that connects and says nothing cannot hold it (real_backends/serving.py)
        cfg = uvicorn.Config(router, host="127.0.0.1", port=self.port, log_level="error", lifespan="on",
                             **uvicorn_options())  # fmt: skip
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(target=self.server.run, name="router", daemon=True)
        self.thread.start()
        end = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > end or not self.thread.is_alive():
                raise RigError("the router did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


class _Client:
    """Sends through the router; retries transport errors and 5xx with the same body and key."""

    def __init__(self, base: str, config: RigConfig, t0: float) -> None:
        self.http = httpx.Client(base_url=base, timeout=120.0)
        self.config, self.t0 = config, t0
        self.failures: list[FailedRequest] = []
        self.timeline: list[tuple[float, float, str, int]] = []
        self.requests = 0
        self.successes: list[tuple[float, float]] = []  # (sent, answered) of each successful request

    def call(self, phase: str, method: str, path: str, body: Any = None, key: str | None = None) -> Any:
        headers = {"Idempotency-Key": key} if key is not None else {}
        for attempt in range(1, self.config.max_attempts + 1):
            start = time.monotonic()
            self.requests += 1
            try:
                r = self.http.request(method, path, json=body, headers=headers)
            except httpx.TransportError as e:
                error, status = f"{type(e).__name__}: {e}"[:200], 0
            else:
                status = r.status_code
                if status < 300:
                    end = time.monotonic()
                    self.timeline.append((start - self.t0, end - start, phase, status))
                    self.successes.append((start - self.t0, end - self.t0))
                    return r.json()
                if status not in RETRYABLE:
                    raise RigError(f"{method} {path}: refused with {status}: {r.text[:300]}")
                error = f"{status}: {r.json().get('error', '')}"[:200]
            now = time.monotonic()
            self.timeline.append((start - self.t0, now - start, phase, status))
            self.failures.append(FailedRequest(start - self.t0, now - self.t0, phase, path, attempt, error))
            time.sleep(min(0.01 * 2**attempt, 0.25))
        raise RigError(f"{method} {path}: still failing after {self.config.max_attempts} attempts")


def _application_json(world: PayoutWorld, h: int) -> dict:
    a = world.application_for(h)
    acc = a.account
    return {"household": h, "applicant": a.applicant, "channel": "online", "signature_verified": True,
            "on": APPLY_ON.isoformat(), "account": {"bank_code": acc.bank_code, "branch_code": acc.branch_code,  # type: ignore[union-attr]
            "account_type": str(acc.account_type), "number": acc.number, "holder": acc.holder}}  # type: ignore[union-attr]  # fmt: skip


def run_failover(config: RigConfig, store: str, workdir: Path) -> RigResult:
    """Stage the run on ``store`` (an empty ``sqlite:///`` file or PostgreSQL database).

    The servers' logs go to ``workdir``. Raises :class:`RigError` if the run cannot complete.
    """
    if config.standby:
        raise RigError("standby mode starts its own PostgreSQL pair: use run_standby_failover(config, workdir)")
    return _drill(config, store, workdir, None)


def run_standby_failover(config: RigConfig, workdir: Path) -> RigResult:
    """The drill with the database as the casualty: a PostgreSQL primary and hot standby are started
    (in a temporary folder, stopped afterwards), the primary's postmaster is SIGKILLed mid-run and
    the standby promoted; both app servers stay up and reconnect. ``config.standby`` must be set."""
    if not config.standby:
        raise RigError("run_standby_failover needs RigConfig(standby=True)")
    from real_backends.rig.pgpair import FailoverManager, PostgresPair

    with PostgresPair(synchronous=config.synchronous) as pair:
        manager = FailoverManager(pair, interval=config.health_interval, checks=config.failover_checks).start()
        try:
            return _drill(config, pair.url, workdir, (pair, manager))
        finally:
            manager.stop()


def _drill(config: RigConfig, store: str, workdir: Path, db: tuple[Any, Any] | None) -> RigResult:
    workdir.mkdir(parents=True, exist_ok=True)
    world = PayoutWorld(config.households, config.seed)
    entitled = [h for h in range(config.households) if world.roll.entitled(h)]
    replicas: list[_Replica] = []
    router_thread = None
    try:
        replicas.append(_Replica("primary", store, world, workdir))
        replicas[0].wait_healthy()
        replicas.append(_Replica("standby", store, world, workdir))
        replicas[1].wait_healthy()
        router = Router([r.url for r in replicas], interval=config.health_interval)
        router_thread = _RouterThread(router)
        t0 = time.monotonic()
        client = _Client(router_thread.url, config, t0)
        phases: dict[str, float] = {}
        killed: list[float] = []
        acknowledged: list[int] = []
        replication: dict[str, Any] = {}

        def kill_primary() -> None:
            if db is None:
                killed.append(time.monotonic() - t0)
                os.kill(replicas[0].proc.pid, signal.SIGKILL)
            else:
                db[0].kill_primary()
                killed.append(db[0].killed_at - t0)

        # 1. applications, in batches; the primary dies while one batch is in flight
        batches = [entitled[i : i + config.batch] for i in range(0, len(entitled), config.batch)]
        kill_index = int(len(batches) * config.kill_at)
        for i, hs in enumerate(batches):
            if i == kill_index:
                if db is not None:
                    replication.update(db[0].replication())
                threading.Timer(0.02, kill_primary).start()
            items = [{"key": f"app-{h}", "application": _application_json(world, h)} for h in hs]
            out = client.call("apply", "POST", "/applications/batch", {"items": items})
            bad = [d for d in out["decisions"] if d["outcome"] != "accepted"]
            if bad:
                raise RigError(f"application batch {i}: {len(bad)} not accepted, e.g. {bad[0]}")
            acknowledged.extend(hs)
        phases["apply"] = time.monotonic() - t0
        # 2. verification until nothing waits
        while client.call("verify", "POST", "/verifications", {"on": VERIFY_ON.isoformat()})["decisions"]:
            pass
        phases["verify"] = time.monotonic() - t0
        # 3. transfer batches and the bank's answers
        n = 0
        while True:
            b = client.call("disburse", "POST", "/disbursements", {"on": PAY_ON.isoformat(), "limit": 5_000},
                            key=f"disbursement-{n}")  # fmt: skip
            n += 1
            if b["batch"] is None:
                break
            lines = [{"household": t["household"], "outcome": "confirmed", "amount": t["amount"]}
                     for t in b["transfers"]]  # fmt: skip
            client.call("bank", "POST", f"/disbursements/{b['batch']}/bank-results",
                        {"on": BANK_ON.isoformat(), "confirmations": lines})  # fmt: skip
        phases["pay"] = time.monotonic() - t0
        totals = client.call("check", "GET", "/totals")
        inv = client.http.get("/invariants", params={"full": "true"}).json()
        duration = time.monotonic() - t0
        check = _check_store(store, world, acknowledged)
        kill_t = killed[0] if killed else float("nan")
        down = [e for e in router.events if e.backend == replicas[0].url and not e.up and e.at - t0 >= kill_t]
        detected = (down[0].at - t0) if down else None
        database = None
        if db is None:  # the first answer after the kill came from the standby server
            recovered = next((end for _, end in client.successes if end > kill_t), None)
        else:  # a request sent after the kill can only have written to the promoted standby
            recovered = next((end for sent, end in client.successes if sent > kill_t), None)
            manager = db[1]
            detected = None if manager.detected_at is None else manager.detected_at - t0
            database = {"synchronous": config.synchronous, "replication_before_kill": replication,
                        "promoted_at": None if manager.promoted_at is None else manager.promoted_at - t0}  # fmt: skip
        return RigResult(
            config=config, store=store.split("://")[0], killed_at=kill_t, detected_at=detected,
            recovered_at=recovered, duration=duration, requests=client.requests, failures=client.failures,
            events=[(e.at - t0, "primary" if e.backend == replicas[0].url else "standby", e.up, e.why)
                    for e in router.events],
            served={("primary" if b == replicas[0].url else "standby"): n for b, n in router.served.items()},
            phases=phases, paid=int(totals["paid"]), entitled=len(entitled), invariants_ok=bool(inv.get("ok")),
            timeline=client.timeline, acknowledged=len(acknowledged), database=database, **check,
        )  # fmt: skip
    finally:
        if router_thread is not None:
            router_thread.stop()
        for r in replicas:
            r.stop()
        left = [r.name for r in replicas if r.proc.poll() is None]
        if left:
            raise RigError(f"replica process(es) {left} still running after the run")


def _check_store(store_url: str, world: PayoutWorld, acknowledged: list[int]) -> dict[str, Any]:
    """Count payments and transfers straight from the store, not through the service that wrote them,
    and find the acknowledged applications it does not hold (no household file)."""
    from real_backends.stores import open_store
    from twin.services.payout.books import BATCHES, FILES, PAYMENTS

    store = open_store(store_url)
    try:
        per: dict[int, int] = {}
        for _, batch in store.scan(BATCHES):
            for t in batch.transfers:  # type: ignore[attr-defined]
                per[t.household] = per.get(t.household, 0) + 1
        files = dict(store.scan(FILES))
        unpaid = [h for h in range(world.households) if world.roll.entitled(h)
                  and (h not in files or files[h].status.value != "paid")]  # type: ignore[attr-defined]  # fmt: skip
        return {"payments_in_store": store.count(PAYMENTS), "transfers_per_household_max": max(per.values(), default=0),
                "duplicated": sum(1 for n in per.values() if n > 1), "unpaid": unpaid[:100],
                "lost": [h for h in acknowledged if h not in files]}  # fmt: skip
    finally:
        close = getattr(store, "close", None)
        if close is not None:
            close()


__all__ = ["FailedRequest", "RigConfig", "RigError", "RigResult", "RouterEvent", "run_failover", "run_standby_failover"]
