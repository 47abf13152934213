"""Invariants under failover: the real payout ledger and JPKI ledger, replicated, failed over, checked hourly.

When the east data centre is lost, the west one takes over with whatever replication delivered.
Two promises must survive that: a household is never paid twice and no application the portal
acknowledged is lost (the payout ledger, 給付台帳), and a revoked certificate is never reported
good (JPKI revocation status, 失効情報). This module runs the real services from
:mod:`twin.services` over a sample for the first days of the horizon: households apply and are
verified, batched and paid by a scripted bank; certificates are issued, revoked and checked
through each site's OCSP responder with its pre-signed answers. Both ledgers sit on
:mod:`.replication` with the option's mode, and fail over when the aggregate year says the
payout service or the CA failed over (plus one drill mid-run if it did not). Every simulated hour
and at the end the world is compared with what clients were told. A breach that the replication
mode allows (asynchronous: the last commits were never shipped) is counted exactly as data lost;
any other breach is a violation, and with synchronous replication there must be none.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twin.metrics import Metrics
from twin.models.failover.engine import ServiceYear
from twin.models.failover.params import Params
from twin.models.failover.replication import (
    Clock,
    LoggedJpkiStore,
    LogShipper,
    ReplicatedStore,
    apply_jpki_change,
)
from twin.report import Paragraph, Section, Table

JST = dt.timezone(dt.timedelta(hours=9))


@dataclass
class AgentResult:
    """What the real services went through, and every breach found."""

    payout_mode: str
    jpki_mode: str
    hours_checked: int = 0
    payout_failovers: int = 0
    jpki_failovers: int = 0
    drills: int = 0
    applications_acknowledged: int = 0
    applications_lost: int = 0
    transfers_by_bank: int = 0
    households_paid_twice: int = 0
    payout_commits_lost: int = 0
    revocations_acknowledged: int = 0
    revocations_lost: int = 0
    revoked_reported_good: int = 0
    revocations_refused: int = 0
    issuances_lost: int = 0
    jpki_commits_lost: int = 0
    status_checks: int = 0
    violations: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "violations"}
        out["violations"] = len(self.violations)
        out["violation_examples"] = self.violations[:5]
        return out


def _schedule(
    year: ServiceYear, hours: int, drill: float, start: dt.date, business: Any
) -> tuple[list[tuple[float, float]], int]:
    """Failovers (start, repaired) inside the agent horizon; one drill mid-run when there are none.

    The drill is at 11:18 on the first business day from the middle of the run: office hours, when
    writes are in flight.
    """
    events = [(float(a), float(b)) for a, b in zip(year.failover_at, year.failover_until, strict=True) if a < hours]
    if year.single_site:  # nothing to fail over to: the service waits for its site
        return [], 0
    if events:
        return events, 0
    day = hours // 48
    while day < hours // 24 - 1 and not business(start + dt.timedelta(days=day)):
        day += 1
    at = day * 24 + 11.3
    return [(at, at + drill)], 1


class _PayoutWorld:
    """Households, the payout ledger on a replicated store, and a bank that pays what it is sent."""

    def __init__(self, p: Params, start: dt.date, clock: Clock, rng: np.random.Generator, res: AgentResult) -> None:
        from twin.services.accounts import PublicBenefitAccounts
        from twin.services.payout import Channel, EntitlementRoll, PayoutLedger, Programme
        from twin.services.registry import ResidentRegistry
        from twin.services.store import MemoryStore

        n = p.agent.households
        size = rng.integers(1, 5, n)
        hh = np.repeat(np.arange(n), size)
        head = np.r_[True, hh[1:] != hh[:-1]]
        store = MemoryStore()
        self.reg = ResidentRegistry.load(
            store, as_of=start - dt.timedelta(days=30), municipality=np.full(hh.size, 13101),
            age=np.where(head, rng.integers(20, 90, hh.size), rng.integers(0, 90, hh.size)),
            sex=rng.integers(1, 3, hh.size), household=hh, is_head=head, rng=rng,
        )  # fmt: skip
        self.programme = Programme(
            reference_date=start - dt.timedelta(days=1), opens=start, closes=start + dt.timedelta(days=400),
            channels=frozenset({Channel.MAIL}),
        )  # fmt: skip
        self.roll = EntitlementRoll.from_registry(self.reg, self.programme)
        rep = p.services["payout"].replication
        self.store = ReplicatedStore(store, rep.mode, clock, lag_hours=rep.lag_seconds / 3600,
                                     backup_hours=rep.backup_interval_hours)  # fmt: skip
        self._accounts = lambda: PublicBenefitAccounts(self.store, self.reg.reading)
        self._Ledger = PayoutLedger
        self.ledger = PayoutLedger(self.store, self.programme, self.roll, accounts=self._accounts())
        self.order = [int(h) for h in rng.permutation(n)]
        self.acknowledged: dict[int, float] = {}  # household -> hour the client was told "accepted"
        self.bank_paid: dict[int, int] = {}
        self.bank_inbox: list[tuple[float, Any]] = []
        self.res = res
        self.rng = rng

    def restart(self) -> None:
        """A new ledger process on the (new) active store: it knows only what the store holds."""
        self.ledger = self._Ledger(self.store, self.programme, self.roll, accounts=self._accounts())

    def apply(self, day: dt.date, t: float) -> None:
        from twin.services.accounts import BankAccount
        from twin.services.payout import Application, Channel, Outcome

        if not self.order:
            return
        h = self.order.pop()
        head = self.roll.head_of(h)
        account = BankAccount("0001", "123", "普通", f"{head % 10**7:07d}", self.reg.reading(head) or "")
        key = f"form-{h}"
        d = self.ledger.submit(Application(h, head, Channel.MAIL, account), key=key, on=day)
        if self.rng.random() < 0.05:  # the client did not see the answer and sends the same form again
            d2 = self.ledger.submit(Application(h, head, Channel.MAIL, account), key=key, on=day)
            if d2.outcome is not d.outcome:
                self.res.violations.append(f"household {h}: a retried submission changed its answer")
        if d.outcome is Outcome.ACCEPTED:
            self.acknowledged[h] = t
            self.res.applications_acknowledged += 1

    def office_hour(self, day: dt.date, hour: int, t: float) -> None:
        from twin.services.payout import BankConfirmation, BankOutcome

        for aid in self.ledger.pending_verification():
            self.ledger.verify(aid, day)
        if hour == 9:
            due = [b for when, b in self.bank_inbox if when <= t]
            self.bank_inbox = [(w, b) for w, b in self.bank_inbox if w > t]
            for batch in due:
                for tr in batch.transfers:
                    self.bank_paid[tr.household] = self.bank_paid.get(tr.household, 0) + 1
                    self.res.transfers_by_bank += 1
                answers = [BankConfirmation(tr.household, BankOutcome.CONFIRMED, tr.amount) for tr in batch.transfers]
                self.ledger.record_bank_results(batch.id, answers, day)
        if hour == 15:
            batch = self.ledger.make_batch(day, True)
            if batch is not None:
                self.bank_inbox.append((t + 18.0, batch))  # paid by the bank at 09:00 the next day

    def check(self, full: bool = False) -> None:
        from twin.services.payout import InvariantViolation, Status

        lost_commits = self.store.shipper.lost
        try:
            self.ledger.check_invariants(full=full)
        except InvariantViolation as e:
            if not lost_commits:
                self.res.violations.append(f"payout ledger: {e}")
        missing = [h for h in self.acknowledged if self.ledger.status(h) is Status.ENTITLED]
        lost_times = {round(t, 9) for tk in self.store.shipper.takeovers for t, _ in tk.lost}
        for h in missing:
            if round(self.acknowledged[h], 9) not in lost_times:
                self.res.violations.append(f"household {h}: acknowledged application lost although it was shipped")
            self.acknowledged.pop(h)
            self.res.applications_lost += 1
        twice = sum(1 for v in self.bank_paid.values() if v > 1)
        if twice > self.res.households_paid_twice and not lost_commits:
            self.res.violations.append(f"{twice} households paid twice with no commit lost")
        self.res.households_paid_twice = twice
        self.res.payout_commits_lost = lost_commits


class _Site:
    def __init__(self, jpki: Any, logged: LoggedJpkiStore) -> None:
        self.jpki, self.logged = jpki, logged


class _JpkiWorld:
    """Two JPKI sites with their own ledgers and OCSP caches; the active one ships its ledger's changes."""

    def __init__(self, p: Params, t0: dt.datetime, clock: Clock, rng: np.random.Generator, res: AgentResult) -> None:
        from twin.services.jpki import Jpki, KeySource
        from twin.services.jpki import MemoryStore as JpkiMemory

        self.res, self.rng, self.clock, self.t0 = res, rng, clock, t0
        self.invalidate = p.agent.standby_cache_invalidation
        rep = p.services["jpki_ca"].replication
        self._rep = (rep.mode, rep.lag_seconds / 3600, rep.backup_interval_hours)
        keys = KeySource(7, pool_size=4)
        self.sites = []
        for _ in range(2):
            logged = LoggedJpkiStore(JpkiMemory(), self._sink)
            self.sites.append(_Site(None, logged))
        self.active = 0
        self.shipper: LogShipper | None = None
        for s in self.sites:  # both sites founded identically (same keys, same time): equal ledgers
            s.jpki = Jpki.bootstrap(t0, keys, store=s.logged)
        a, b = self.sites[0].logged.inner, self.sites[1].logged.inner
        if [a.get(i) for i in range(a.FIRST_SERIAL, a.next_serial())] != [
            b.get(i) for i in range(b.FIRST_SERIAL, b.next_serial())
        ]:
            raise RuntimeError("the two JPKI sites were founded with different ledgers")
        self._new_shipper()
        self.certs: list[Any] = []
        for i in range(p.agent.certificates):
            cert = self.site.jpki.issue_auth_certificate(
                keys.generate().public_key(), dt.date(1970 + i % 40, 1 + i % 12, 1 + i % 28), t0, 13101,
                person_ref=f"person-{i}",
            )  # fmt: skip
            self.certs.append(cert)
        self.issuer = self.site.jpki.auth_ca.certificate
        self.revoked_at: dict[int, float] = {}
        self.lost_serials: set[int] = set()
        self.shipper.ship(0.0)

    @property
    def site(self) -> _Site:
        return self.sites[self.active]

    @property
    def standby(self) -> _Site:
        return self.sites[1 - self.active]

    def _sink(self, change: tuple) -> None:
        if self.shipper is not None:
            self.shipper.commit(change)

    def _new_shipper(self) -> None:
        standby = self.standby
        on_revoked = standby.jpki.ocsp.invalidate if self.invalidate else None
        mode, lag, backup = self._rep
        old = self.shipper
        self.shipper = LogShipper(mode, self.clock, lambda ch: apply_jpki_change(standby.logged.inner, ch, on_revoked),
                                  lag_hours=lag, backup_hours=backup)  # fmt: skip
        if old is not None:
            self.shipper.takeovers = old.takeovers

    def when(self, t: float) -> dt.datetime:
        return self.t0 + dt.timedelta(hours=t)

    def fail_over(self, t: float) -> None:
        assert self.shipper is not None
        taken = self.shipper.take_over(t)
        for _, ch in taken.lost:
            if ch[0] == "mark_revoked":
                self.lost_serials.add(ch[1])
                self.res.revocations_lost += 1
            elif ch[0] == "add" and ch[1].role.value == "holder":
                self.res.issuances_lost += 1
        self.active = 1 - self.active
        self.shipper.connected = False

    def repaired(self) -> None:
        """The lost site is rebuilt as a copy of the active ledger, with an empty OCSP cache."""
        from twin.services.jpki import ResponseCache

        self.standby.logged.inner = copy.deepcopy(self.site.logged.inner)
        self.standby.jpki.ocsp.cache = ResponseCache()
        self._new_shipper()

    def presign(self, t: float) -> None:
        now = self.when(t)
        for s in self.sites:
            known = [(c, s.logged.inner.get(c.serial_number)) for c in self.certs]
            live = [c for c, rec in known if rec is not None and rec.revoked_at is None]
            s.jpki.ocsp.presign(live, now, hashes=("sha1",))

    def revoke(self, t: float) -> None:
        live = [c for c in self.certs if c.serial_number not in self.revoked_at]
        if not live:
            return
        from twin.services.jpki import UnknownCertificateError

        cert = live[int(self.rng.integers(len(live)))]
        try:
            self.site.jpki.revoke(cert, "loss", self.when(t))
        except UnknownCertificateError:  # its issuance was lost in a takeover: this site never issued it
            self.res.revocations_refused += 1
            return
        self.revoked_at[cert.serial_number] = t
        self.res.revocations_acknowledged += 1

    def check_status(self, cert: Any, t: float) -> None:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.x509 import ocsp

        req = ocsp.OCSPRequestBuilder().add_certificate(cert, self.issuer, hashes.SHA1()).build()
        der = self.site.jpki.ocsp.respond(req.public_bytes(serialization.Encoding.DER), self.when(t))
        status = ocsp.load_der_ocsp_response(der).certificate_status
        self.res.status_checks += 1
        serial = cert.serial_number
        if serial in self.revoked_at and status is ocsp.OCSPCertStatus.GOOD:
            self.res.revoked_reported_good += 1
            if serial not in self.lost_serials:
                self.res.violations.append(
                    f"certificate {serial:#x}: revoked at hour {self.revoked_at[serial]:.2f}, reported good at "
                    f"hour {t:.2f} by the {'west' if self.active else 'east'} site"
                )

    def sample_checks(self, t: float, k: int) -> None:
        revoked = [c for c in self.certs if c.serial_number in self.revoked_at]
        pool = revoked if revoked and self.rng.random() < 0.5 else self.certs
        for _ in range(k):
            self.check_status(pool[int(self.rng.integers(len(pool)))], t)


def check_option(
    p: Params, start: dt.date, n_days: int, year: dict[str, ServiceYear], rng: np.random.Generator
) -> AgentResult:
    """Run the real services through the option's failovers; return counts and violations."""
    from twin.sim.holidays import is_holiday

    hours = min(p.agent.days, n_days) * 24
    res = AgentResult(p.services["payout"].replication.mode, p.services["jpki_ca"].replication.mode)
    clock = Clock()
    payout = _PayoutWorld(p, start, clock, rng, res)
    jpki = _JpkiWorld(p, dt.datetime.combine(start, dt.time(), JST), clock, rng, res)
    def business(d: dt.date) -> bool:
        return _business(d, is_holiday)

    pay_events, d1 = _schedule(year["payout"], hours, p.agent.drill_hours, start, business)
    ca_events, d2 = _schedule(year["jpki_ca"], hours, p.agent.drill_hours, start, business)
    res.drills = d1 + d2
    events = [(a, "payout_down") for a, _ in pay_events] + [(b, "payout_up") for _, b in pay_events]
    events += [(a, "ca_down") for a, _ in ca_events] + [(b, "ca_up") for _, b in ca_events]
    events.sort()
    pay_standby, ca_standby = True, True
    business_days = max(1, sum(1 for d in range(hours // 24) if _business(start + dt.timedelta(days=d), is_holiday)))
    apply_rate = 0.8 * p.agent.households / (business_days * 8)
    ei = 0
    for h in range(hours):
        day = start + dt.timedelta(days=h // 24)
        hour = h % 24
        ops: list[tuple[float, str]] = []
        if hour == 0:
            ops.append((float(h), "presign"))
        if _business(day, is_holiday) and 9 <= hour < 17:
            ops += [(h + u, "apply") for u in rng.random(rng.poisson(apply_rate))]
            ops.append((h + 0.5, "office"))
        ops += [(h + u, "revoke") for u in rng.random(rng.poisson(p.agent.revocations_per_day / 24))]
        ops.append((h + 0.99, "status"))
        while ei < len(events) and events[ei][0] < h + 1:
            ops.append(events[ei])
            ei += 1
        for t, what in sorted(ops):
            clock.now = t
            payout.store.shipper.ship(t)
            if jpki.shipper is not None:
                jpki.shipper.ship(t)
            if what == "apply":
                payout.apply(day, t)
            elif what == "office":
                payout.office_hour(day, hour, t)
            elif what == "revoke":
                jpki.revoke(t)
            elif what == "status":
                jpki.sample_checks(t, p.agent.status_checks_per_hour)
            elif what == "presign":
                jpki.presign(t)
            elif what == "payout_down" and pay_standby:
                payout.store.fail_over(t)
                payout.restart()
                res.payout_failovers += 1
                pay_standby = False
            elif what == "payout_up" and not pay_standby:
                payout.store.resync()
                pay_standby = True
            elif what == "ca_down" and ca_standby:
                jpki.fail_over(t)
                res.jpki_failovers += 1
                ca_standby = False
            elif what == "ca_up" and not ca_standby:
                jpki.repaired()
                ca_standby = True
        payout.check()
        res.hours_checked += 1
    payout.check(full=True)
    end = float(hours)
    for cert in jpki.certs:
        jpki.check_status(cert, end)
    res.jpki_commits_lost = jpki.shipper.lost if jpki.shipper else 0
    if res.payout_mode == "sync" and (res.applications_lost or res.households_paid_twice or res.payout_commits_lost):
        res.violations.append("synchronous replication lost payout data")
    if res.jpki_mode == "sync" and (res.revocations_lost or res.jpki_commits_lost):
        res.violations.append("synchronous replication lost JPKI revocations")
    return res


def _business(day: dt.date, is_holiday: Any) -> bool:
    return day.weekday() < 5 and not is_holiday(day)


def add_metrics(m: Metrics, option: str, res: AgentResult) -> None:
    for k, v in res.summary().items():
        if isinstance(v, int | float) and not isinstance(v, bool):
            m.add(f"agent_{k}", v, option=option)


def section(results: dict[str, AgentResult]) -> Section:
    keys = [
        "payout_mode", "jpki_mode", "payout_failovers", "jpki_failovers", "drills", "applications_acknowledged",
        "applications_lost", "transfers_by_bank", "households_paid_twice", "payout_commits_lost",
        "revocations_acknowledged", "revocations_lost", "revoked_reported_good", "issuances_lost", "status_checks",
        "violations",
    ]  # fmt: skip
    rows = [[name, *[r.summary()[k] for k in keys]] for name, r in results.items()]
    bad = {n: r.violations for n, r in results.items() if r.violations}
    text = (
        "The real payout ledger and JPKI ledger ran the first days of the horizon on replicated stores, failing over "
        "when the aggregate year's payout service and CA did (or in one drill). Checked every simulated hour and at "
        "the end against what clients were told. "
        + ("No violations." if not bad else "Violations: " + "; ".join(f"{n}: {v[0]}" for n, v in bad.items()))
    )
    return Section("Invariants under failover (agent fidelity)", [
        Paragraph(text),
        Table("Real services through failover", ["option", *keys], rows,
              note="Data lost with asynchronous replication or backups is counted, not a violation."),
    ])  # fmt: skip
