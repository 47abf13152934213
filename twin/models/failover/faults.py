"""What goes wrong in a year: failures and repairs, lost sites, bad releases and planned stops.

A relay server runs for months, then fails, and a technician brings it back in a few hours; under
a load it was never tested at, the same server fails far more often. Once in a decade a whole data
centre is lost for days. Every second week a new release goes live at 22:00 and now and then it
carries a defect that takes the service down until someone notices and rolls it back. Once a
month, on a Sunday night, a system stops for planned maintenance (計画停止). This module draws all
of that for one replication as exact down intervals (hours from 00:00 of the first day), each
tagged with its cause, from numpy Generators passed in (same seed, same faults).

Failures follow a (possibly load-dependent) hazard rate: the time to the next failure solves
``Lambda(t) - Lambda(now) = E`` with ``E ~ Exp(1)`` and ``Lambda`` the cumulative hazard over the
hourly grid, which for a constant rate is the exponential distribution with mean MTBF.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from twin.models.failover.intervals import Intervals
from twin.models.failover.params import Params, Service


def alternating_renewal(
    hazard: np.ndarray | float,
    mttr_hours: float,
    horizon: float,
    rng: np.random.Generator,
) -> Intervals:
    """Down intervals of one repairable unit: up for hazard-driven times, down for Exp(MTTR) times.

    ``hazard`` is failures per hour, a constant or one value per hour of the horizon.
    """
    if mttr_hours <= 0:
        raise ValueError(f"mttr_hours = {mttr_hours}: the mean time to repair must be > 0")
    n_hours = int(np.ceil(horizon))
    h = np.broadcast_to(np.asarray(hazard, dtype=np.float64), (n_hours,)) if np.ndim(hazard) == 0 else hazard
    if np.any(np.asarray(h) < 0):
        raise ValueError("hazard: failure rates must be >= 0")
    cum = np.concatenate([[0.0], np.cumsum(h)])
    starts: list[float] = []
    ends: list[float] = []
    t = 0.0
    while True:
        k = min(int(t), n_hours - 1)
        lam_t = cum[k] + (t - k) * h[k]
        target = lam_t + rng.exponential(1.0)
        if target >= cum[-1]:
            break
        j = int(np.searchsorted(cum, target, side="left"))  # first edge with cum >= target
        hour = j - 1
        fail = hour + (target - cum[hour]) / (cum[j] - cum[hour])
        repair = rng.exponential(mttr_hours)
        starts.append(fail)
        ends.append(min(fail + repair, horizon))
        t = fail + repair
        if t >= horizon:
            break
    return Intervals(np.array(starts), np.array(ends))


def repairable(mtbf_hours: float, mttr_hours: float, horizon: float, rng: np.random.Generator) -> Intervals:
    """Down intervals of a unit with a constant failure rate: the SimPy runtime's failure/repair process.

    Uses :class:`twin.sim.capacity.Failures` (exponential up and down times from an up state at 0), the
    same process the stations break down with; outages still running at the horizon are cut there.
    """
    from twin.sim.capacity import Failures
    from twin.sim.distributions import Exponential

    downs, ups = Failures(Exponential(mtbf_hours), Exponential(mttr_hours), "finish").down_intervals(rng, horizon)
    return Intervals(downs, np.minimum(ups, horizon))


def stress_multiplier(utilisation: np.ndarray, factor: float, threshold: float) -> np.ndarray:
    """Hazard multiplier: 1 up to ``threshold`` utilisation, rising linearly to ``1 + factor`` at 100 %."""
    over = np.clip((utilisation - threshold) / max(1.0 - threshold, 1e-9), 0.0, None)
    return 1.0 + factor * over


@dataclass
class ServiceFaults:
    """The raw faults of one service before failover and cascades are applied."""

    instance: dict[str, Intervals]  # site -> component failures of the instance there
    defects: list[tuple[Intervals, float]]  # (intervals, blast radius)
    maintenance: Intervals = field(default_factory=Intervals.empty)
    daily_stops: Intervals = field(default_factory=Intervals.empty)  # every site at once (batch window)


@dataclass
class FaultSet:
    """Everything that broke in one replication."""

    horizon: float
    sites: dict[str, Intervals]
    services: dict[str, ServiceFaults]


def _release_defects(
    svc: Service, horizon: float, rng: np.random.Generator
) -> Intervals:
    r = svc.release
    phase = rng.uniform(0.0, r.cadence_days)
    days = np.arange(np.floor(phase), horizon / 24.0, r.cadence_days)
    times = np.floor(days) * 24.0 + r.hour
    times = times[times < horizon]
    bad = rng.random(times.size) < r.defect_escape_rate
    length = (r.detection_minutes + r.rollback_minutes) / 60.0
    t = times[bad]
    return Intervals.of(t, np.minimum(t + length, horizon))


def maintenance_windows(params: Params, start: dt.date, n_days: int) -> Intervals:
    """The monthly planned-maintenance windows inside the horizon."""
    m = params.maintenance
    if not m.enabled:
        return Intervals.empty()
    starts = []
    for d in range(n_days):
        day = start + dt.timedelta(days=d)
        if day.weekday() == m.weekday and (day.day - 1) // 7 + 1 == m.week_of_month:
            starts.append(d * 24.0 + m.start_hour)
    s = np.array(starts, dtype=float)
    horizon = n_days * 24.0
    return Intervals.of(s, np.minimum(s + m.hours, horizon))


def draw_faults(
    params: Params,
    start: dt.date,
    n_days: int,
    utilisation: dict[str, np.ndarray],
    rng_for: callable,  # noqa: ANN001 (name -> np.random.Generator)
) -> FaultSet:
    """All faults of one replication; ``rng_for(name)`` gives the stream of each component."""
    horizon = n_days * 24.0
    t0 = dt.datetime.combine(start, dt.time())
    inj_sites: dict[str, list[tuple[float, float]]] = {}
    inj_comp: dict[str, list[tuple[float, float]]] = {}
    inj_defect: dict[str, list[float]] = {}
    for inj in params.injected:
        a = (inj.start - t0).total_seconds() / 3600.0
        b = min(a + inj.hours, horizon)
        if inj.kind == "site_loss":
            inj_sites.setdefault(inj.target, []).append((a, b))
        elif inj.kind == "component":
            inj_comp.setdefault(inj.target, []).append((a, b))
        else:
            inj_defect.setdefault(inj.target, []).append(a)

    def with_injected(base: Intervals, extra: list[tuple[float, float]]) -> Intervals:
        if not extra:
            return base
        s = np.concatenate([base.starts, [a for a, _ in extra]])
        e = np.concatenate([base.ends, [b for _, b in extra]])
        return Intervals.of(s, e).clip(0.0, horizon)

    sites: dict[str, Intervals] = {}
    for name, site in params.sites.items():
        base = (
            repairable(site.mtbf_hours, site.mttr_hours, horizon, rng_for(f"site.{name}"))
            if params.random_faults
            else Intervals.empty()
        )
        sites[name] = with_injected(base, inj_sites.get(name, []))
    windows = maintenance_windows(params, start, n_days)
    services: dict[str, ServiceFaults] = {}
    for name, svc in params.services.items():
        f = svc.failure
        util = utilisation[name]
        mult = stress_multiplier(util, f.stress_factor, f.stress_threshold) if f.stress_factor > 0 else None
        common = Intervals.empty()
        if mult is not None and f.common_mode and params.random_faults:
            # the load-driven part of the hazard hits every site together (same software, same load)
            common = alternating_renewal((mult - 1.0) / f.mtbf_hours, f.mttr_hours, horizon, rng_for(f"{name}.common"))
        instance = {}
        for rank, site in enumerate(svc.sites):
            if not params.random_faults:
                own = Intervals.empty()
            else:
                if mult is None or f.common_mode:
                    own = repairable(f.mtbf_hours, f.mttr_hours, horizon, rng_for(f"{name}.{site}"))
                else:  # load-dependent: hazard hour by hour
                    own = alternating_renewal(mult / f.mtbf_hours, f.mttr_hours, horizon, rng_for(f"{name}.{site}"))
                if len(common):
                    own = Intervals.of(np.concatenate([own.starts, common.starts]),
                                       np.concatenate([own.ends, common.ends]))  # fmt: skip
            instance[site] = with_injected(own, inj_comp.get(name, []) if rank == 0 else [])
        defects = Intervals.empty()
        if params.random_faults:
            defects = _release_defects(svc, horizon, rng_for(f"{name}.release"))
        r = svc.release
        length = (r.detection_minutes + r.rollback_minutes) / 60.0
        if name in inj_defect:
            s = np.array(inj_defect[name])
            defects = Intervals.of(np.concatenate([defects.starts, s]),
                                   np.concatenate([defects.ends, np.minimum(s + length, horizon)]))  # fmt: skip
        stops = Intervals.empty()
        if svc.daily_stop is not None:
            a = np.arange(n_days) * 24.0 + svc.daily_stop.start_hour
            stops = Intervals.of(a, np.minimum(a + svc.daily_stop.hours, horizon)).clip(0.0, horizon)
        services[name] = ServiceFaults(instance, [(defects, r.blast_radius)], windows, stops)
    return FaultSet(horizon, sites, services)
