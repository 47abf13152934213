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

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twin.metrics import Metrics
from twin.models.failover.engine import ServiceYear
from twin.models.failover.jpki_world import JpkiWorld
from twin.models.failover.params import Params
from twin.models.failover.payout_world import PayoutWorld
from twin.models.failover.replication import Clock
from twin.report import Paragraph, Section, Table

JST = dt.timezone(dt.timedelta(hours=9))  # JPKI wants aware times


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
    payments_unrecorded: int = 0
    payout_commits_lost: int = 0
    cards_issued: int = 0
    certificate_renewals: int = 0
    cards_reported_lost: int = 0
    cards_suspended: int = 0  # by a call to the call centre
    cards_resumed: int = 0  # found: resumed at the counter, with new certificates
    suspended_reported_lost: int = 0  # not found: declared lost at the counter, a replacement applied for
    suspended_at_end: int = 0  # the holder not yet at the counter
    pin_locks: int = 0
    pin_resets: int = 0
    pin_resets_refused: int = 0
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


def check_option(
    p: Params, start: dt.date, n_days: int, year: dict[str, ServiceYear], rng: np.random.Generator
) -> AgentResult:
    """Run the real services through the option's failovers; return counts and violations."""
    from twin.sim.holidays import is_holiday

    hours = min(p.agent.days, n_days) * 24
    res = AgentResult(p.services["payout"].replication.mode, p.services["jpki_ca"].replication.mode)
    clock = Clock()
    payout = PayoutWorld(p, start, clock, rng, res)
    jpki = JpkiWorld(p, dt.datetime.combine(start, dt.time(), JST), clock, rng, res)
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
            ops.append((h + 0.6, "counter"))
            ops += [(h + u, "issue") for u in rng.random(rng.poisson(p.agent.issuances_per_day / 8))]
            ops += [(h + u, "renew") for u in rng.random(rng.poisson(p.agent.renewals_per_day / 8))]
        ops += [(h + u, "revoke") for u in rng.random(rng.poisson(p.agent.revocations_per_day / 24))]
        ops += [(h + u, "lock_pin") for u in rng.random(rng.poisson(p.agent.pin_locks_per_day / 24))]
        ops += [(h + u, "suspend") for u in jpki.calls.random(jpki.calls.poisson(p.agent.suspensions_per_day / 24))]
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
            elif what == "issue":
                jpki.issue(t)
            elif what == "renew":
                jpki.renew(t)
            elif what == "lock_pin":
                jpki.lock_pin(t)
            elif what == "suspend":
                jpki.suspend(t)
            elif what == "counter":
                jpki.counter(t)
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
    res.suspended_at_end = len(jpki.suspended)
    lost_payout = res.applications_lost + res.households_paid_twice + res.payments_unrecorded + res.payout_commits_lost
    if res.payout_mode == "sync" and lost_payout:
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
        "applications_lost", "transfers_by_bank", "households_paid_twice", "payments_unrecorded", "payout_commits_lost",
        "cards_issued", "certificate_renewals", "cards_reported_lost", "cards_suspended", "cards_resumed",
        "suspended_reported_lost", "suspended_at_end", "pin_locks", "pin_resets",
        "revocations_acknowledged", "revocations_lost", "revoked_reported_good", "issuances_lost", "status_checks",
        "violations",
    ]  # fmt: skip
    rows = [[name, *[r.summary()[k] for k in keys]] for name, r in results.items()]
    bad = {n: r.violations for n, r in results.items() if r.violations}
    text = (
        "The real payout ledger and JPKI ledger ran the first days of the horizon on replicated stores, failing over "
        "when the aggregate year's payout service and CA did (or in one drill). The cards moved only through the "
        "real card lifecycle (issued, certificates renewed at the counter, reported lost, suspended by a call to the "
        "call centre and, some days later at the counter, resumed with new certificates or declared lost, auth PINs "
        "locked and reset at the counter), so every revocation whose status was checked is one of its transitions. "
        "Revocations acknowledged are those of lost and suspended cards. Checked every "
        "simulated hour and at the end against what clients were told. "
        + ("No violations." if not bad else "Violations: " + "; ".join(f"{n}: {v[0]}" for n, v in bad.items()))
    )
    return Section("Invariants under failover (agent fidelity)", [
        Paragraph(text),
        Table("Real services through failover", ["option", *keys], rows,
              note="Data lost with asynchronous replication or backups is counted, not a violation."),
    ])  # fmt: skip
