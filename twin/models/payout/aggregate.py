"""The payout at national scale: 1,741 town halls, every household, one day at a time.

Each household's plan (:mod:`twin.models.payout.behaviour`) is counted into a grid of arrivals by
municipality, day and job class. Every town hall (:mod:`twin.models.payout.municipalities`) works
through its in-tray oldest-first with the staff minutes of its own daily roster: its own staff from
the first application, outsourced data entry ramping up from its mail-out, nothing on weekends and
Japanese public holidays (:class:`twin.sim.calendar.Calendar`). The in-trays of all town halls are
one :class:`twin.sim.fluid.CohortQueue`, the vectorised batch station of :mod:`twin.sim` for
day-granular questions; ``tests/models/test_payout_aggregate.py`` runs one town hall's roster through
the per-customer SimPy :class:`twin.sim.Station` (and the :class:`twin.sim.BatchStation`) and checks
that they agree with it. Forms with errors go back to the household and return after the correction
delay; verified applications are prepared and wait for the town hall's next transfer day (once its
payment system is ready); the bank returns a few transfers, which are paid after correction. Push
payments skip the in-tray. The result is, per day, how many households and persons have the money,
by municipality and type, and what it cost the town halls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from twin.models.payout.behaviour import MAIL, ONLINE, PUSH, Households, Municipalities, Plan
from twin.models.payout.municipalities import (
    capacity_minutes,
    correction_return_share,
    error_rates,
    first_payment_day,
    job_minutes,
    next_transfer,
    staffing,
    working_days,
)
from twin.models.payout.params import MUNICIPALITY_TYPES, Params
from twin.population.nation import tally
from twin.sim.fluid import CohortQueue

# job classes in the town-hall in-tray
J_MAIL, J_ONLINE, J_DUP, J_RE_MAIL, J_RE_ONLINE = range(5)
JOB_CLASSES = ("mail", "online", "duplicate", "resubmitted_mail", "resubmitted_online")


@dataclass
class PaymentCalendar:
    """Business days on the simulation's day grid (day 0 = calendar start). Transfer days are each
    town hall's own (:func:`twin.models.payout.municipalities.next_transfer`)."""

    business: np.ndarray  # bool[H]

    def __post_init__(self) -> None:
        h = len(self.business)
        bdays = np.flatnonzero(self.business)
        self._bdays = bdays
        # index of the first business day >= d (len(bdays) if none)
        self._next_b = np.searchsorted(bdays, np.arange(h), side="left")

    @property
    def horizon(self) -> int:
        return len(self.business)

    def add_business_days(self, days: np.ndarray, k: int) -> np.ndarray:
        """The k-th business day on or after each day (k=0: the day itself if it is one)."""
        h = self.horizon
        idx = self._next_b[np.clip(days, 0, h - 1)] + k
        out = np.full(len(days), h, dtype=np.int64)
        ok = idx < len(self._bdays)
        out[ok] = self._bdays[idx[ok]]
        return out


@dataclass
class AggregateResult:
    """Per-day national and per-municipality outcomes of one option (in sample units)."""

    horizon: int
    paid_households: np.ndarray  # [type, day] households whose money arrived that day
    paid_persons: np.ndarray  # [type, day]
    paid_by_route: np.ndarray  # [route, day]
    arrivals: np.ndarray  # [class, day] jobs arriving at town halls
    served: np.ndarray  # [class, day]
    errors_returned: np.ndarray  # [day] forms sent back for correction
    bank_rejected: np.ndarray  # [day]
    backlog: np.ndarray  # [municipality, day] jobs waiting at the end of the day
    staff_minutes: np.ndarray  # [municipality] minutes spent verifying
    waiting_days: np.ndarray  # [days waited] jobs served after waiting that many days
    entitled_households: np.ndarray  # [type]
    entitled_persons: np.ndarray  # [type]
    extra: dict = field(default_factory=dict)


def _kernel(mean: float, horizon: int) -> np.ndarray:
    """P(a correction comes back j days later), j = 1..horizon (exponential, at least one day)."""
    j = np.arange(horizon + 1, dtype=np.float64)
    cdf = 1.0 - np.exp(-j / mean)
    k = np.zeros(horizon + 1)
    k[1:] = np.diff(cdf)
    return k


def _grid(mun_idx: np.ndarray, day: np.ndarray, weights: np.ndarray | None, m: int, h: int) -> np.ndarray:
    """Count events into a [municipality, day] grid; days outside [0, h) are dropped.

    An event at day 12.3 counts 0.7 on day 12 and 0.3 on day 13 (linear share, never earlier than
    the event), so the grid, and everything computed from it, moves smoothly with the parameters
    that move the events: this is what lets the calibration take finite-difference derivatives.
    Events are counted in chunks, so 57 million households need no more than a few arrays of 2M."""
    out = np.zeros(m * (h + 1) + 1)
    chunk = 1 << 21
    for lo in range(0, len(day), chunk):
        dd = day[lo : lo + chunk]
        ok = np.isfinite(dd) & (dd < h)
        t = np.clip(dd[ok].astype(np.float64), 0.0, None)
        d = np.floor(t)
        frac = t - d
        key = mun_idx[lo : lo + chunk][ok].astype(np.int64) * (h + 1) + d.astype(np.int64)
        w = np.ones(len(key)) if weights is None else weights[lo : lo + chunk][ok].astype(np.float64)
        out[: m * (h + 1)] += np.bincount(key, weights=w * (1 - frac), minlength=m * (h + 1))
        out[: m * (h + 1) + 1] += np.bincount(key + 1, weights=w * frac, minlength=m * (h + 1) + 1)
    return out[: m * (h + 1)].reshape(m, h + 1)[:, :h]


def _grid_by_group(group: np.ndarray, n_groups: int, mun_idx: np.ndarray, day: np.ndarray, size: np.ndarray,
                   m: int, h: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """As :func:`_grid`, for every group at once (e.g. the route), counting events and persons in one
    pass over the households: ``(count[group, municipality, day], persons[group, municipality, day])``."""
    cells = m * (h + 1)
    n = n_groups * cells
    counts = np.zeros(n + 1)
    persons = np.zeros(n + 1)
    chunk = 1 << 21
    for lo in range(0, len(day), chunk):
        sl = slice(lo, lo + chunk)
        dd = day[sl]
        ok = (dd < h) & np.isfinite(dd)
        t = np.maximum(dd[ok], 0.0)
        d = np.floor(t)
        frac = (t - d).astype(np.float64)
        key = (group[sl][ok].astype(np.int64) * m + mun_idx[sl][ok]) * (h + 1) + d.astype(np.int64)
        w = size[sl][ok].astype(np.float64)
        # whole events on their day, less the share that spills into the next day
        spill = np.bincount(key, weights=frac, minlength=n)
        counts[:-1] += np.bincount(key, minlength=n) - spill
        counts[1:] += spill
        spill = np.bincount(key, weights=w * frac, minlength=n)
        persons[:-1] += np.bincount(key, weights=w, minlength=n) - spill
        persons[1:] += spill
    shape = (n_groups, m, h + 1)
    return counts[:-1].reshape(shape)[:, :, :h], persons[:-1].reshape(shape)[:, :, :h]


def _entitled(hh: Households, m: int, cache: dict | None) -> tuple[np.ndarray, np.ndarray]:
    """Entitled households and persons per municipality (float64 counts, exact), counted once per
    set of households and kept in ``cache`` for the next option."""
    hit = (cache or {}).get("entitled")
    if hit is not None and hit[0] is hh:
        return hit[1]
    value = (tally(hh.municipality, m), tally(hh.municipality, m, weights=hh.size))
    if cache is not None:
        cache["entitled"] = (hh, value)
    return value


def simulate(
    hh: Households,
    mun: Municipalities,
    plan: Plan,
    params: Params,
    cal: PaymentCalendar,
    weekday0: int | None = None,
    cache: dict | None = None,
) -> AggregateResult:
    """Run one option on the day grid. Staff follow the sampled households, so scale carries through.

    Every town hall (``plan.halls``) works its own in-tray with its own capacity, and pays on its
    own transfer days once its payment system is ready. ``weekday0`` is the weekday of day 0
    (0 = Monday). ``cache`` (a dict kept by the caller across options) reuses the arrival grids
    when an option's households do exactly what the previous option's did."""
    h, m = cal.horizon, len(mun)
    v, dis = params.verification, params.disbursement
    halls = plan.halls
    if halls is None:
        raise ValueError("simulate: the plan has no town halls (plan_households draws them)")
    if weekday0 is None:
        raise ValueError("simulate: weekday0 (weekday of day 0, 0 = Monday) is required")
    n_types = len(MUNICIPALITY_TYPES)
    hm = hh.municipality
    ent_by_mun, ent_persons_by_mun = _entitled(hh, m, cache)

    # ---- arrivals at the town halls, by class: [municipality, day, class]
    arrivals = np.zeros((m, h, 5))
    persons = np.zeros((m, h, 5))
    last = (cache or {}).get("plan")
    if last is not None and np.array_equal(last[0], plan.route) and np.array_equal(last[1], plan.arrival_day):
        by_route, persons_by_route = cache["grids"]
    else:
        by_route, persons_by_route = _grid_by_group(plan.route, 4, hm, plan.arrival_day, hh.size, m, h)
        if cache is not None:
            cache["plan"], cache["grids"] = (plan.route, plan.arrival_day), (by_route, persons_by_route)
    for route, job in ((MAIL, J_MAIL), (ONLINE, J_ONLINE)):
        arrivals[:, :, job] = by_route[route]
        persons[:, :, job] = persons_by_route[route]
    dup_online = plan.extra_online > 0
    arrivals[:, :, J_DUP] = _grid(
        hm[dup_online], plan.arrival_day[dup_online], plan.extra_online[dup_online].astype(np.float64), m, h
    )
    dm = np.isfinite(plan.dup_mail_day)
    arrivals[:, :, J_DUP] += _grid(hm[dm], plan.dup_mail_day[dm], None, m, h)

    # ---- push: payable on the notice day + opt-out window, no town-hall work
    push_hh, push_persons = by_route[PUSH], persons_by_route[PUSH]

    # ---- the town halls
    minutes, err = job_minutes(params), error_rates(params)
    rework_class = np.array([J_RE_MAIL, J_RE_ONLINE, -1, J_RE_MAIL, J_RE_ONLINE])
    q = CohortQueue(m, 5, h, minutes)
    # forms sent back wait with the household; the correction delay is exponential (memoryless), so
    # a share 1 - exp(-1/mean) of what is out for correction comes back each day
    back_share = correction_return_share(params)
    out_jobs = np.zeros((m, 5))
    out_persons = np.zeros((m, 5))

    full_staff = staffing(params, mun.type_index, mun.households, halls)
    any_work = arrivals.sum(axis=2) > 0
    first_work = np.where(any_work.any(axis=1), np.argmax(any_work, axis=1), h)
    workday = working_days(params, cal.business)

    verified_hh = np.zeros((2, m, h))  # [mail|online, municipality, day]
    verified_persons = np.zeros((2, m, h))
    served_by_class = np.zeros((5, h))
    errors_returned = np.zeros(h)
    backlog = np.zeros((m, h), dtype=np.float32)
    waiting_days = np.zeros(h)
    route_of_job = np.array([0, 1, -1, 0, 1])
    ok_jobs = np.array([J_MAIL, J_ONLINE, J_RE_MAIL, J_RE_ONLINE])
    capacity_used = np.zeros(m)
    for d in range(h):
        coming_back = out_jobs * back_share
        coming_back_persons = out_persons * back_share
        out_jobs -= coming_back
        out_persons -= coming_back_persons
        q.arrive(d, arrivals[:, d, :] + coming_back, persons[:, d, :] + coming_back_persons)
        if workday[d]:
            cap = capacity_minutes(halls, full_staff, workday, first_work, v.in_house_share,
                                   v.outsourcing_ramp_days, d)  # fmt: skip
            capacity_used += cap
            served, carried, window = q.serve_window(d, cap)
            ages = d - np.arange(q.window_start, q.window_start + window.shape[1])
            np.add.at(waiting_days, ages, window.sum(axis=0))
            served_by_class[:, d] = served.sum(axis=0)
            bad = served * err
            bad_persons = carried * err
            errors_returned[d] = bad.sum()
            for c in ok_jobs:
                out_jobs[:, rework_class[c]] += bad[:, c]
                out_persons[:, rework_class[c]] += bad_persons[:, c]
                verified_hh[route_of_job[c], :, d] += served[:, c] - bad[:, c]
                verified_persons[route_of_job[c], :, d] += carried[:, c] - bad_persons[:, c]
        backlog[:, d] = (q.arrived_total - q.served_total).sum(axis=1)  # what waits, without scanning cohorts
    q.check_conservation()

    # ---- disbursement: verified work is prepared, waits for the town hall's next transfer day and
    # reaches the account after the bank's lag; the bank returns a few transfers, which are paid
    # again after the household has corrected its account details
    nxt = next_transfer(halls, cal.business, weekday0)
    days = np.arange(h)
    prepared = cal.add_business_days(days, dis.preparation_business_days)
    pay = np.full((m, h), h, dtype=np.int64)
    okp = prepared < h
    pay[:, okp] = nxt[:, prepared[okp]]
    cash = np.full((m, h), h, dtype=np.int64)
    okc = pay < h
    cash[okc] = cal.add_business_days(pay[okc], dis.bank_lag_business_days)
    back = int(round(v.correction_days))
    cash_again = np.full((m, h), h, dtype=np.int64)
    okr = cash + back < h
    cash_again[okr] = cash[np.nonzero(okr)[0], np.minimum(cash[okr] + back, h - 1)]
    reject = dis.bank_reject_rate
    rows = np.arange(m)[:, None] * (h + 1)

    def disburse(src: np.ndarray) -> np.ndarray:
        out = np.bincount((rows + cash).ravel(), weights=(src * (1 - reject)).ravel(), minlength=m * (h + 1))
        out += np.bincount((rows + cash_again).ravel(), weights=(src * reject).ravel(), minlength=m * (h + 1))
        return out.reshape(m, h + 1)[:, :h]

    paid_route = np.zeros((4, h))
    paid_hh = np.zeros((m, h))
    paid_persons = np.zeros((m, h))
    for route, src_hh, src_p in (
        (MAIL, verified_hh[0], verified_persons[0]),
        (ONLINE, verified_hh[1], verified_persons[1]),
        (PUSH, push_hh, push_persons),
    ):
        ph = disburse(src_hh)
        paid_hh += ph
        paid_persons += disburse(src_p)
        paid_route[route] = ph.sum(axis=0)
    total_verified = verified_hh.sum(axis=0) + push_hh
    bank_rejected = np.bincount(np.minimum(cash, h).ravel(), weights=(total_verified * reject).ravel(),
                                minlength=h + 1)[:h]  # fmt: skip

    t = mun.type_index
    by_type_hh = np.zeros((n_types, h))
    by_type_persons = np.zeros((n_types, h))
    np.add.at(by_type_hh, t, paid_hh)
    np.add.at(by_type_persons, t, paid_persons)
    ent_hh = np.bincount(t, weights=ent_by_mun, minlength=n_types)
    ent_persons = np.bincount(t, weights=ent_persons_by_mun, minlength=n_types)
    arrivals_by_class = arrivals.sum(axis=0).T
    first_cash = first_payment_day(halls, nxt, cal.add_business_days, dis.bank_lag_business_days)
    return AggregateResult(
        horizon=h,
        paid_households=by_type_hh,
        paid_persons=by_type_persons,
        paid_by_route=paid_route,
        arrivals=arrivals_by_class,
        served=served_by_class,
        errors_returned=errors_returned,
        bank_rejected=bank_rejected,
        backlog=backlog,
        staff_minutes=q.busy_minutes_total,
        waiting_days=waiting_days,
        entitled_households=ent_hh,
        entitled_persons=ent_persons,
        extra={
            "never_applied": float((plan.route == 0).sum()),
            "paid_households_by_municipality": paid_hh,
            "paid_persons_by_municipality": paid_persons,
            "entitled_by_municipality": ent_by_mun,
            "entitled_persons_by_municipality": ent_persons_by_mun,
            "first_payment_day": first_cash,
            "capacity_minutes": capacity_used,
        },
    )
