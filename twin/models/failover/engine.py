"""One simulated year of the central services at aggregate fidelity: failovers, cascades, overload.

The year is played service by service, dependencies first. Each service's instances (one per data
centre) go down when their component fails or their site is lost; the deployment mode decides what
users see: a single site is down with its instance; a cold, warm or hot standby takes over after
the detection delay plus the mode's recovery time (RTO) and runs until the primary is back; an
active-active pair loses the failed site's share of requests for the detection delay and then
serves everything from the surviving site at reduced capacity. Bad releases hit every site at
once (the same code runs everywhere); planned maintenance stops a single site but not a pair.
A service is down while any hard dependency is down and loses the matching share of requests
while a soft dependency is down.

Load is hourly national demand (:mod:`.demand`). In each hour the requests that meet a down
service fail (and their retries with them); the rest queue for the available capacity. Above
capacity the service thrashes: goodput falls as ``capacity / (1 + collapse * (x - 1))`` at
overload ``x``, failed requests are retried, and the retries push the overload further (solved as
a fixed point each hour). Admission control instead rejects the excess at once and keeps goodput
at capacity. An hour in which more than ``outage_failure_share`` of requests fail counts as down
(cause: overload).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq

from twin.models.failover.faults import draw_faults, repairable
from twin.models.failover.intervals import Intervals, at_least, intersect, minus, union
from twin.models.failover.params import BATCH_PROFILES, Params, Service
from twin.models.failover.status_checks import StatusChecks, batch_delays
from twin.models.failover.topology import dependency_order
from twin.sim.erlang import p_wait

CAUSES = ("site_loss", "component", "partition", "release", "maintenance", "dependency", "overload")


@dataclass
class ServiceYear:
    """What one service went through in one replication."""

    hours: float
    minutes_down: float = 0.0
    minutes_degraded: float = 0.0
    requests: float = 0.0
    failed: float = 0.0
    retried: float = 0.0
    failovers: int = 0
    p99_failover_s: float = 0.0
    writes_at_risk: float = 0.0
    incidents: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CAUSES, 0))
    minutes_by_cause: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CAUSES, 0.0))
    hourly_demand: np.ndarray | None = None
    hourly_failed: np.ndarray | None = None
    hourly_down: np.ndarray | None = None
    single_site: bool = False
    failover_at: np.ndarray = field(default_factory=lambda: np.zeros(0))
    failover_until: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: a service with a daily batch window (the intermediate servers' copy registration): the days whose
    #: registration failed because the service was down for another reason inside the window
    refresh_missed_days: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: a service that answers from a dependency's copies: requests answered while the copies were older than
    #: one registration cycle (a registration missed), and the oldest copy answered from, in days
    stale_answers: float = 0.0
    stale_max_age_days: int = 0
    #: a service that carries the operators' status checks (the 'status' batch profile): what they went through
    #: (they are not in ``requests``, ``failed`` or ``retried``, which count people's requests)
    status: StatusChecks | None = None
    #: every interval in which the service was down (hours from 00:00 of the first day), all causes
    down: Intervals = field(default_factory=Intervals.empty)

    @property
    def availability(self) -> float:
        return 1.0 - self.minutes_down / (self.hours * 60.0)

    @property
    def request_success(self) -> float:
        return 1.0 - self.failed / self.requests if self.requests else 1.0


def retry_factors(f: np.ndarray, r: float, attempts: int) -> tuple[np.ndarray, np.ndarray]:
    """Per first attempt: (attempts made, probability of ultimate failure) when each attempt fails with ``f``.

    After a failure the user tries again with probability ``r``, at most ``attempts`` tries in all.
    """
    rf = r * f
    made = np.zeros_like(f)
    for k in range(attempts):
        made += rf**k
    fail = np.zeros_like(f)
    for k in range(1, attempts):
        fail += f**k * r ** (k - 1) * (1.0 - r)
    fail += f**attempts * r ** (attempts - 1)
    return made, fail


def overload(
    first: np.ndarray, capacity: np.ndarray, r: float, attempts: int, collapse: float, admission: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-attempt failure share, attempts and ultimate failure probability for ``first`` requests.

    ``first`` and ``capacity`` are requests per unit of time (same unit, per hour slot).
    """
    f = np.zeros_like(first)
    cap = np.maximum(capacity, 1e-12)
    for _ in range(60):
        made, _ = retry_factors(f, r, attempts)
        x = first * made / cap
        if admission:
            good = np.minimum(1.0, 1.0 / np.maximum(x, 1e-12))
        else:
            good = np.where(x <= 1.0, 1.0, 1.0 / np.maximum(x * (1.0 + collapse * (x - 1.0)), 1e-12))
        f_new = np.clip(1.0 - good, 0.0, 1.0)
        f = 0.5 * f + 0.5 * f_new
    made, fail = retry_factors(f, r, attempts)
    return f, made, fail


def response_tail(t: float, lam: float, mu: float, c: int) -> float:
    """P(response time > t) in an M/M/c queue (wait plus exponential service), exact."""
    pw = p_wait(lam, mu, c)
    gap = c * mu - lam  # rate of the waiting-time tail
    if abs(gap - mu) < 1e-12 * mu:
        return math.exp(-mu * t) * (1.0 + pw * mu * t)
    return math.exp(-mu * t) + pw * mu / (gap - mu) * (math.exp(-mu * t) - math.exp(-gap * t))


def p99_response(rate_rps: float, capacity_rps: float, service_s: float, timeout_s: float) -> float:
    """p99 response time (s) of an M/M/c station whose c servers give ``capacity_rps`` together.

    ``c = capacity x service time`` servers with exponential service; the 99th percentile of wait plus
    service solves ``P(T > t) = 0.01`` exactly; at or above capacity the answer is the timeout.
    """
    c = max(1, int(round(capacity_rps * service_s)))
    mu = 1.0 / service_s
    if rate_rps <= 0:
        return service_s * math.log(100.0)
    if rate_rps >= c * mu * 0.999:
        return timeout_s
    hi = service_s * math.log(100.0)
    while response_tail(hi, rate_rps, mu, c) > 0.01:
        hi *= 2.0
        if hi > timeout_s:
            return timeout_s
    return float(min(timeout_s, brentq(lambda t: response_tail(t, rate_rps, mu, c) - 0.01, 0.0, hi, xtol=1e-9)))


def _partial_share(partials: list[tuple[Intervals, float]], edges: np.ndarray) -> np.ndarray:
    ok = np.ones(edges.size - 1)
    for iv, share in partials:
        if len(iv) and share > 0:
            ok *= 1.0 - share * iv.per_bin(edges)
    return 1.0 - ok


def _load(params: Params, svc: Service, demand: dict[str, np.ndarray], n_hours: int, *,
          skip: tuple[str, ...] = (), only: tuple[str, ...] | None = None) -> np.ndarray:
    load = np.zeros(n_hours)
    for prof in svc.carries:
        if prof not in skip and (only is None or prof in only):
            load += demand[prof][:n_hours]
    return load


def nominal_utilisation(params: Params, demand: dict[str, np.ndarray], n_hours: int) -> dict[str, np.ndarray]:
    out = {}
    for name, svc in params.services.items():
        n = len(svc.sites) if svc.deployment == "active_active" else 1
        out[name] = _load(params, svc, demand, n_hours) / 3600.0 / (svc.capacity_per_site_rps * n)
    return out


def _count_touching(x: Intervals, down: Intervals) -> int:
    """How many intervals of ``x`` overlap ``down`` for a positive time."""
    if not len(x) or not len(down):
        return 0
    got = down.cumulative(x.ends) - down.cumulative(x.starts)
    return int(np.count_nonzero(got > 1e-12))


def _stale_hours(missed: np.ndarray, holder: Service, n_days: int) -> tuple[np.ndarray, int]:
    """Hours answered from stale copies: from a missed registration's window end to the next registration
    that succeeded; and the oldest copy in days (1 + the longest run of missed days)."""
    stop = holder.daily_stop
    n_hours = n_days * 24
    stale = np.zeros(n_hours, dtype=bool)
    missed_set = set(missed.tolist())
    longest = run = 0
    for d in range(n_days):
        if d in missed_set:
            run += 1
            longest = max(longest, run)
            h0 = int(np.ceil(d * 24 + stop.start_hour + stop.hours))
            stale[min(h0, n_hours):min(int((d + 1) * 24 + stop.start_hour), n_hours)] = True
        else:
            run = 0
    return stale, (longest + 1 if longest else 0)


def simulate_year(
    params: Params,
    start: dt.date,
    n_days: int,
    demand: dict[str, np.ndarray],
    rng_for: Callable[[str], np.random.Generator],
    *,
    keep_hourly: bool = False,
) -> dict[str, ServiceYear]:
    """Play one replication over ``n_days`` from ``start``; returns each service's year."""
    n_hours = n_days * 24
    horizon = float(n_hours)
    edges = np.arange(n_hours + 1, dtype=np.float64)
    faults = draw_faults(params, start, n_days, nominal_utilisation(params, demand, n_hours), rng_for)
    links = {
        name: (
            repairable(link.mtbf_hours, link.mttr_hours, horizon, rng_for(f"link.{name}"))
            if params.random_faults
            else Intervals.empty()
        )
        for name, link in params.links.items()
    }
    detect = params.failover.detection_minutes / 60.0
    down: dict[str, Intervals] = {}
    partial: dict[str, list[tuple[Intervals, float]]] = {}
    over_fail: dict[str, np.ndarray] = {}
    out: dict[str, ServiceYear] = {}
    for name in dependency_order(params):
        svc = params.services[name]
        sf = faults.services[name]
        mode = svc.deployment
        rto = 0.0 if mode == "single" else params.failover.rto_minutes[mode] / 60.0
        inst = {s: union(sf.instance[s], faults.sites[s]) for s in svc.sites}
        primary = inst[svc.sites[0]]
        parts: list[tuple[Intervals, float]] = []
        cap_factor = np.ones(n_hours)
        on_standby = Intervals.empty()
        failover_starts = np.zeros(0)
        failover_ends = np.zeros(0)
        failed_share_at = 1.0
        if mode == "single":
            own = primary
            planned = sf.maintenance
        elif mode == "active_active":
            n = len(svc.sites)
            own = intersect(*inst.values())
            for iv in inst.values():
                parts.append((iv.shifted_ends(detect), 1.0 / n))
                cap_factor -= iv.per_bin(edges) / n
            on_standby = minus(at_least(1, list(inst.values())), own, horizon)
            failover_starts = np.concatenate([iv.starts for iv in inst.values()])
            failover_ends = np.concatenate([iv.ends for iv in inst.values()])
            failed_share_at = 1.0 / n
            planned = Intervals.empty()
        else:
            standby = intersect(*[inst[s] for s in svc.sites[1:]])
            cut = primary.shifted_ends(detect + rto)
            own = union(cut, intersect(primary, standby))
            on_standby = minus(primary, own, horizon)
            long = (primary.ends - primary.starts) > detect
            failover_starts, failover_ends = primary.starts[long], primary.ends[long]
            planned = sf.maintenance if mode == "cold" else sf.maintenance.shifted_ends(rto)
        besides_stop = planned  # what else may take the service down inside its batch window
        if len(sf.daily_stops):  # a batch window stops every site: no standby covers it
            planned = union(planned, sf.daily_stops)
        partition = Intervals.empty()
        if svc.replication.mode == "sync" and mode != "single":
            cuts = [iv for ln, iv in links.items() if set(params.links[ln].between) <= set(svc.sites)]
            if cuts:
                partition = union(*cuts).shifted_ends(detect + rto)
        full_defects = [iv for iv, share in sf.defects if share >= 1.0]
        parts += [(iv, share) for iv, share in sf.defects if share < 1.0]
        releases = union(*full_defects) if full_defects else Intervals.empty()
        hard_down = [down[d.service] for d in svc.depends_on if d.kind == "hard"]
        dep_down = union(*hard_down) if hard_down else Intervals.empty()
        final = union(own, planned, partition, releases, dep_down)
        extra_fail = np.zeros(n_hours)
        for d in svc.depends_on:
            share = 1.0 if d.kind == "hard" else d.share
            if d.kind == "soft":
                parts.append((down[d.service], share))
            parts += [(iv, share * s) for iv, s in partial[d.service]]
            extra_fail = 1.0 - (1.0 - extra_fail) * (1.0 - share * over_fail[d.service])
        partial[name] = parts

        # requests, hour by hour
        year = ServiceYear(hours=horizon, single_site=mode == "single")
        batch_profiles = [p for p in svc.carries if p in BATCH_PROFILES]
        users = _load(params, svc, demand, n_hours, skip=BATCH_PROFILES)  # people's requests: failed and retried
        batch = _load(params, svc, demand, n_hours, only=BATCH_PROFILES)  # the batch waits out outages instead
        load = users + batch if batch_profiles else users  # every request: the capacity sees them all
        delta = np.clip(final.per_bin(edges), 0.0, 1.0)
        p_part = np.clip(_partial_share(parts, edges), 0.0, 1.0)
        p_soft = 1.0 - (1.0 - p_part) * (1.0 - extra_fail)
        n_cap = len(svc.sites) if mode == "active_active" else 1
        capacity = svc.capacity_per_site_rps * 3600.0 * n_cap * np.clip(cap_factor, 0.0, 1.0) * (1.0 - delta)
        lost_down = users * delta
        up_first = users * (1.0 - delta)
        up_all = load * (1.0 - delta) if batch_profiles else up_first
        f_att, made, fail_p = overload(
            up_all, capacity, svc.retry_probability, svc.max_attempts, params.collapse, svc.admission_control
        )
        made_all1, _ = retry_factors(np.ones(1), svc.retry_probability, svc.max_attempts)
        over_fail[name] = fail_p
        # each attempt fails by overload or by a failed dependency / release share; failures are retried
        f_all = 1.0 - (1.0 - f_att) * (1.0 - p_soft)
        made, fail_all = retry_factors(f_all, svc.retry_probability, svc.max_attempts)
        # requests meeting a down service fail on every attempt
        failed = lost_down + up_first * fail_all
        attempts = lost_down * made_all1[0] + up_first * made
        year.requests = float(users.sum())
        year.failed = float(failed.sum())
        year.retried = float((attempts - users).sum())
        thr = params.outage_failure_share
        busy = (load > 0) & (delta < 1.0)
        over_hours = busy & (fail_p > thr)
        over_iv = Intervals.of(edges[:-1][over_hours] + delta[over_hours], edges[1:][over_hours])
        # hours in which failed dependencies (overloaded or partly down) fail most requests
        dep_hours = busy & ~over_hours & (fail_all > thr)
        dep_down = union(dep_down, Intervals.of(edges[:-1][dep_hours] + delta[dep_hours], edges[1:][dep_hours]))
        all_down = union(final, over_iv, dep_down)
        down[name] = all_down  # dependents see every reason this service was down, overload included
        if len(sf.daily_stops):  # the registration runs in the window; another outage inside it misses the day's
            other = union(own, besides_stop, partition, releases, dep_down)
            hit = intersect(sf.daily_stops, other)
            keep = (hit.ends - hit.starts) > 1e-9
            year.refresh_missed_days = np.unique((hit.starts[keep] // 24).astype(np.int64))
        copies = [d.service for d in svc.depends_on if d.kind == "hard" and out[d.service].refresh_missed_days.size]
        if copies:  # stale answers: served from copies a missed registration left older than a day
            stale_hours, age = _stale_hours(out[copies[0]].refresh_missed_days, params.services[copies[0]], n_days)
            served = users - failed
            year.stale_answers = float(served[stale_hours].sum())
            year.stale_max_age_days = age
        year.minutes_down = all_down.total * 60.0
        degraded = minus(union(*[iv for iv, _ in parts]) if parts else Intervals.empty(), all_down, horizon)
        year.minutes_degraded = degraded.total * 60.0
        causes = {
            "site_loss": union(*[faults.sites[s] for s in svc.sites]),
            "component": union(*[sf.instance[s] for s in svc.sites]),
            "partition": partition,
            "release": releases,
            "maintenance": planned,
            "dependency": dep_down,
            "overload": over_iv,
        }
        taken = Intervals.empty()
        for cause in CAUSES:
            mine = minus(intersect(causes[cause], all_down), taken, horizon)
            year.minutes_by_cause[cause] = mine.total * 60.0
            year.incidents[cause] = _count_touching(causes[cause], mine)
            taken = union(taken, mine)
        # failovers, their latency and the data they put at risk
        order = np.argsort(failover_starts, kind="stable")
        fo_starts = failover_starts[order]
        year.failover_at, year.failover_until = fo_starts, failover_ends[order]
        year.failovers = int(fo_starts.size)
        if fo_starts.size and load.any():
            hrs = np.minimum(fo_starts.astype(int), n_hours - 1)
            write_rate = users[hrs] / 3600.0 * svc.write_share * failed_share_at
            rep = svc.replication
            if rep.mode == "async":
                year.writes_at_risk = float((write_rate * rep.lag_seconds).sum())
            elif rep.mode == "backup":
                since = rng_for(f"{name}.backup").uniform(0.0, rep.backup_interval_hours, fo_starts.size)
                year.writes_at_risk = float((write_rate * since * 3600.0).sum())
        fo_hours = np.flatnonzero((on_standby.per_bin(edges) > 0) & (delta < 1.0) & (load > 0))
        if fo_hours.size:
            worst = 0.0
            for h in fo_hours:
                cap_rps = capacity[h] / 3600.0 / max(1.0 - delta[h], 1e-9)
                if f_att[h] > 0.01:
                    worst = svc.timeout_s
                    break
                rate = (up_first[h] * made[h] + up_all[h] - up_first[h]) / 3600.0 / max(1.0 - delta[h], 1e-9)
                worst = max(worst, p99_response(rate, cap_rps, svc.service_time_ms / 1000.0, svc.timeout_s))
            year.p99_failover_s = worst
        year.down = all_down
        if batch_profiles:  # the operators' nightly checks wait out the outages of the window (status_checks)
            year.status = batch_delays(batch, params.demand.platform_status_check_hours, all_down, n_days)
        if keep_hourly:
            year.hourly_demand = users
            year.hourly_failed = failed
            year.hourly_down = np.clip(all_down.per_bin(edges), 0.0, 1.0)
        out[name] = year
    return {n: out[n] for n in params.services}
