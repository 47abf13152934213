"""The renewal wave day by day: who falls due, when they act, J-LIS and 1,741 town-hall counters.

**Who falls due.** A card is valid to its holder's 10th birthday after issue (a minor's to the 5th),
a certificate to the 5th: a card issued in month *k* expires on a day spread evenly over the 12
months before the 10th anniversary. The month and town hall of every issue come from MIC's
per-municipality card counts (34 releases 2017-03 to 2021-12, interpolated by month; the 10.7M
cards of 2016-01 to 2017-03-08 spread evenly over those months). That gives each town hall's
expiries by day; they are scaled to the cited fiscal-year totals (the scale factor is reported:
it says how far the issuance record alone is from the cited figure).

**When they act.** A holder who renews acts on a day drawn evenly from the renewal window before
expiry (``window_days``); ``lapse_share`` do not renew. Certificates renewed by smartphone skip the
counter: on each day a share ``smartphone_share`` of the holders who own a smartphone
(``smartphone.owner_share``) whose platform is served that day (Android from 2023-05-11, iPhone from
2025-06-24; :func:`phone_share_by_day`) renew on the phone, any day of the week. A card renewal is
an application: J-LIS checks it (``checking_days``), prints it on the
national production line (:class:`twin.models.rollout.chain.ProductionLine`, fixed cards per
production day, oldest first, shared with new applications), ships it (``shipping_days``) and the
holder comes to collect it after the notice (``notice_days``, :class:`AppointmentPool`). A
certificate renewal is a counter visit. Both end at J-LIS's certificate authority, a national
station issuing ``certificates_per_day``.

**The counters.** Each town hall has positions by its population and type; a share of their time
is for renewals, split into appointment time and walk-in time. Visitors who book join the
appointment queue (the earliest day with a free slot: a FIFO of days), the others the walk-in
queue; a walk-in who is not served the day they come comes back the next business day. Both are
:class:`twin.sim.fluid.CohortQueue` stations over all 1,741 town halls at once, played day by day
in one SimPy process; :mod:`twin.models.renewal.reference` plays the same counters one SimPy
process per person (:class:`twin.sim.Station`), and a test holds the two together.

Everything is kept as expected counts, so the run conserves people exactly: due = renewed + in
process + lapsed + not yet started (acting after the horizon).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import simpy

from twin.models.renewal.params import TYPES, Params
from twin.models.rollout.chain import AppointmentPool, DelayLine, ProductionLine
from twin.sim.calendar import Calendar
from twin.sim.fluid import CohortQueue

CLASSES = ("card", "certificate")
YEAR = 365.25


@dataclass(frozen=True)
class Towns:
    """The 1,741 municipalities and their monthly card issuance."""

    code: np.ndarray
    name: tuple[str, ...]
    type_index: np.ndarray  # into TYPES
    population: np.ndarray
    months: tuple[dt.date, ...]  # first day of each issue month
    issued: np.ndarray  # [municipality, month] cards issued that month


@lru_cache(maxsize=1)
def towns() -> Towns:
    from twin.models.rollout.observed import load_observed
    from twin.population.statistics import CARD_ISSUANCE_DIR

    obs = load_observed(CARD_ISSUANCE_DIR, dt.date(2016, 1, 1), dt.date(2030, 12, 31))
    start = dt.date(2016, 1, 1)
    x = np.array([0.0] + [(d - start).days for d in obs.dates])
    cum = np.vstack([np.zeros(obs.muni_cards.shape[1]), obs.muni_cards])  # [release+1, M]
    cum = np.maximum.accumulate(cum, axis=0)  # a release that lowers a town's count (moves) issues nothing
    months = []
    d = start
    while d <= obs.dates[-1]:
        months.append(d)
        d = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    edges = np.array([(m - start).days for m in months] + [(obs.dates[-1] - start).days], dtype=float)
    # cumulative issuance at each month edge, linear between releases, per municipality
    j = np.clip(np.searchsorted(x, edges, side="right") - 1, 0, len(x) - 2)
    w = np.clip((edges - x[j]) / (x[j + 1] - x[j]), 0.0, 1.0)
    at = cum[j] * (1 - w)[:, None] + cum[j + 1] * w[:, None]  # [edge, M]
    issued = np.diff(at, axis=0).T  # [M, month]
    return Towns(obs.muni_code, obs.muni_name, np.asarray(obs.muni_type), obs.muni_population[-1],
                 tuple(months), np.maximum(issued, 0.0))


def expiries(t: Towns, years: int, first: dt.date, n_days: int) -> np.ndarray:
    """[municipality, day from ``first``]: cards of every issue month expiring that day, when each
    expires on a birthday spread evenly over the year before the ``years``-th anniversary."""
    diff = np.zeros((len(t.code), n_days + 1))
    for k, m in enumerate(t.months):
        mid = m + dt.timedelta(days=14)
        a = int(round((mid - first).days + (years - 1) * YEAR))
        b = a + 365
        if b <= 0 or a >= n_days:
            continue
        v = t.issued[:, k] / 365.0
        diff[:, max(a, 0)] += v
        diff[:, min(b, n_days)] -= v
    return np.cumsum(diff, axis=1)[:, :n_days]


def phone_share_by_day(params: Params, day0: dt.date, n_days: int) -> np.ndarray:
    """Share of each day's certificate renewals done by smartphone: the option's share of the holders who
    own a smartphone whose platform the smartphone JPKI service serves that day."""
    from twin.models.failover.demand import phone_served

    if params.smartphone_share == 0:
        return np.zeros(n_days)
    sp = params.smartphone
    days = [day0 + dt.timedelta(days=i) for i in range(n_days)]
    return params.smartphone_share * sp.owner_share * phone_served(days, sp.android_share)


def positions(params: Params, t: Towns) -> np.ndarray:
    """Counter positions of each town hall (fractional: a position's share of a working week)."""
    c = params.counters
    per = np.array([c.per_100k[k] for k in TYPES])[t.type_index]
    return np.maximum(c.minimum, t.population * per / 1e5) * c.factor


class TownCounters:
    """Every town hall's renewal counter: an appointment queue and a walk-in queue, each a
    :class:`CohortQueue` over all the town halls (which looks back, per hall, only to that hall's
    oldest waiting visitor, so a big city with a months-long backlog does not make every village
    look back as far)."""

    def __init__(self, positions: np.ndarray, horizon: int, hours: float, renewal_share: float,
                 reserved_capacity: float, reservation_share: float, minutes: np.ndarray):
        minutes_day = positions * hours * 60.0 * renewal_share
        self.res_minutes = minutes_day * reserved_capacity
        self.walk_minutes = minutes_day - self.res_minutes
        self.reservation_share = reservation_share
        self.n = len(positions)
        # when no time is kept for appointments, nobody can book one
        self.book = np.where(self.res_minutes > 0, reservation_share, 0.0)
        self.res = CohortQueue(self.n, len(CLASSES), horizon, minutes)
        self.walk = CohortQueue(self.n, len(CLASSES), horizon, minutes)

    def arrive(self, day: int, want: np.ndarray) -> None:
        """Visitors [town, class] who come (or book) on business day ``day``."""
        res = want * self.book[:, None]
        self.res.arrive(day, res)
        self.walk.arrive(day, want - res)

    def serve(self, day: int) -> dict[str, np.ndarray]:
        """One business day: served [town, class], job-days waited and same-day walk-ins per town."""
        out = {}
        out["res"], _, w = self.res.serve_window(day, self.res_minutes)
        out["days_res"] = self.res.days_waited(day, w)
        out["walk"], _, w = self.walk.serve_window(day, self.walk_minutes)
        out["days_walk"] = self.walk.days_waited(day, w)
        today = day - self.walk.window_start
        out["same_day"] = w[:, today].copy() if 0 <= today < w.shape[1] else np.zeros(self.n)
        return out

    def backlog(self) -> np.ndarray:
        """Visitors waiting [town, class] (from the running totals: no pass over the cohorts)."""
        return (self.res.arrived_total - self.res.served_total) + (self.walk.arrived_total - self.walk.served_total)


@dataclass
class Wave:
    """A run's daily results (arrays over days ``t`` from ``day0``; [town, day] where per town)."""

    day0: dt.date
    fy_start: dt.date
    fy_end: dt.date
    type_index: np.ndarray
    due_fy: dict[str, float]  # cited totals reproduced
    scale: dict[str, float]  # cited total / issuance-record total, per class
    issuance_fy: dict[str, float]  # the issuance record's own fiscal-year expiries
    acted: np.ndarray  # [class, day] national
    renewed: np.ndarray  # [town, class] cumulative at the end
    renewed_daily: np.ndarray  # [type, class, day]
    backlog_daily: np.ndarray  # [type, day] in process (all stages)
    counter_queue_daily: np.ndarray  # [type, day] waiting at counters
    counter_served: np.ndarray  # [type, day] visits served
    counter_days: np.ndarray  # [type, day] visit-days waited by those served (appointments and walk-ins)
    walk_arrivals: np.ndarray  # [type, day]
    walk_same_day: np.ndarray  # [type, day]
    production_backlog: np.ndarray  # [day] renewal cards waiting at J-LIS (national)
    production_days: np.ndarray  # [day] card-days waited by renewal cards produced
    production_out: np.ndarray  # [day] renewal cards produced
    smartphone: float
    smartphone_daily: np.ndarray  # [day] certificate renewals done on the phone (national)
    totals: dict[str, float]  # due, renewed, in_process, lapsed, not_started (whole simulated population)
    business: np.ndarray  # [day] bool

    def dates(self) -> np.ndarray:
        return np.datetime64(self.day0) + np.arange(self.business.size)


def visit_minutes(params: Params) -> np.ndarray:
    """Counter minutes per visit, (card handover, certificate renewal): a certificate renewal adds the expected
    PIN reset (``pin_reset_share`` x ``minutes_pin_reset``); a new card's PINs are set fresh at the handover."""
    c = params.counters
    return np.array([c.minutes_card, c.minutes_certificate + c.pin_reset_share * c.minutes_pin_reset])


def simulate(params: Params, t: Towns | None = None, subset: np.ndarray | None = None) -> Wave:
    """Play the renewal wave from ``window_days`` before the fiscal year to its last day.

    ``subset``: indices of the town halls to keep (tests); J-LIS's line keeps its national capacity
    scaled by the subset's share of the due cards."""
    t = t or towns()
    fy = params.due.fiscal_year
    fy_start, fy_end = dt.date(fy, 4, 1), dt.date(fy + 1, 3, 31)
    w = params.window_days
    day0 = fy_start - dt.timedelta(days=w)
    n_days = (fy_end - day0).days + 1
    fy_len = (fy_end - fy_start).days + 1
    # expiries from the fiscal year's first day to window_days after its last (they act inside it)
    n_exp = fy_len + w
    d = params.due
    base = expiries(t, d.card_years, fy_start, n_exp)
    minor = expiries(t, d.certificate_years, fy_start, n_exp)
    raw = {"card": (1 - d.minor_card_share) * base + d.minor_card_share * minor, "certificate": minor}
    issuance_fy = {k: float(v[:, :fy_len].sum()) for k, v in raw.items()}
    scale = {"card": d.cards / issuance_fy["card"], "certificate": d.certificates / issuance_fy["certificate"]}
    due = {k: v * scale[k] for k, v in raw.items()}
    share = 1.0
    if subset is not None:
        share = float(due["card"][subset, :fy_len].sum() / due["card"][:, :fy_len].sum())
        due = {k: v[subset] for k, v in due.items()}
        t = Towns(t.code[subset], tuple(t.name[i] for i in subset), t.type_index[subset], t.population[subset],
                  t.months, t.issued[subset])
    n_m = len(t.code)
    due_fy = {k: float(v[:, :fy_len].sum()) for k, v in due.items()}
    due_total = sum(float(v.sum()) for v in due.values())
    lapsed = due_total * d.lapse_share
    # action day: evenly over the w days before expiry; expiry index e is day w + e of the run
    act = {}
    for k, v in due.items():
        c = np.concatenate([np.zeros((n_m, 1)), np.cumsum(v, axis=1)], axis=1)  # c[:, e] = sum over < e
        idx = np.arange(n_days)  # run day t acts for expiries e in [t - w + 1, t] (e = run day - w + k)
        hi = np.clip(idx + 1, 0, n_exp)
        lo = np.clip(idx + 1 - w, 0, n_exp)
        act[k] = (c[:, hi] - c[:, lo]) / w * (1 - d.lapse_share)
    acted_total = sum(float(v.sum()) for v in act.values())
    not_started = due_total - lapsed - acted_total

    cal = Calendar(day0, fy_end)
    business = cal.business_day_mask()
    c, j = params.counters, params.jlis
    minutes = visit_minutes(params)
    counters = TownCounters(positions(params, t), n_days, c.hours, c.renewal_share, c.reserved_capacity,
                            c.reservation_share, minutes)
    checking = DelayLine((n_m + 1,), j.checking_days)
    line = ProductionLine(n_m + 1, 1, n_days)  # the last column: new applications sharing the line
    shipping = DelayLine((n_m,), j.shipping_days)
    notice = AppointmentPool((n_m,), j.notice_days)
    ca = ProductionLine(2 * n_m, 1, n_days)  # certificates: [card handovers | certificate renewals]
    holding = np.zeros((n_m, 2))  # visitors waiting for the next business day
    n_t = len(TYPES)
    onehot = np.zeros((n_t, n_m))
    onehot[t.type_index, np.arange(n_m)] = 1.0
    out = {
        "renewed_daily": np.zeros((n_t, 2, n_days)), "backlog_daily": np.zeros((n_t, n_days)),
        "counter_queue_daily": np.zeros((n_t, n_days)), "counter_served": np.zeros((n_t, n_days)),
        "counter_days": np.zeros((n_t, n_days)), "walk_arrivals": np.zeros((n_t, n_days)),
        "walk_same_day": np.zeros((n_t, n_days)), "production_backlog": np.zeros(n_days),
        "production_days": np.zeros(n_days), "production_out": np.zeros(n_days),
    }
    renewed = np.zeros((n_m, 2))
    line_in, line_out, ca_net = np.zeros(n_m), np.zeros(n_m), np.zeros(2 * n_m)
    smartphone_total = 0.0
    smartphone_daily = np.zeros(n_days)
    phone_share = phone_share_by_day(params, day0, n_days)
    cap_cards = j.cards_per_production_day * share
    other = j.other_applications_per_day * share

    def days(env: simpy.Environment):  # noqa: ANN202
        nonlocal holding, renewed, smartphone_total
        for day in range(n_days):
            cert = act["certificate"][:, day]
            phone = cert * phone_share[day]
            smartphone_total += float(phone.sum())
            smartphone_daily[day] = phone.sum()
            apps = np.concatenate([act["card"][:, day], [other]])
            to_line = checking.step(day, apps)
            line.arrive(day, to_line, np.array([to_line.sum()]))
            line_in[:] += to_line[:n_m]
            if business[day]:
                made, _, waited = line.produce(day, cap_cards, day)
            else:
                made, waited = np.zeros(n_m + 1), 0.0
            line_out[:] += made[:n_m]
            out["production_out"][day] = made[:n_m].sum()
            out["production_days"][day] = waited * (made[:n_m].sum() / max(made.sum(), 1e-12))
            at_hall = shipping.step(day, made[:n_m])
            come = notice.step(at_hall)
            holding += np.stack([come, cert - phone], axis=1)
            issued_ca = np.zeros(2 * n_m)
            if business[day]:
                counters.arrive(day, holding)
                walk_in = holding * (1 - counters.book)[:, None]
                holding = np.zeros((n_m, 2))
                s = counters.serve(day)
                served = s["res"] + s["walk"]
                to_ca = np.concatenate([served[:, 0], served[:, 1] + phone])
                ca.arrive(day, to_ca, np.zeros(1))
                ca_net[:] += to_ca
                out["counter_served"][:, day] = onehot @ served.sum(axis=1)
                out["counter_days"][:, day] = onehot @ (s["days_res"] + s["days_walk"])
                out["walk_arrivals"][:, day] = onehot @ walk_in.sum(axis=1)
                out["walk_same_day"][:, day] = onehot @ s["same_day"]
            else:
                to_ca = np.concatenate([np.zeros(n_m), phone])
                ca.arrive(day, to_ca, np.zeros(1))
                ca_net[:] += to_ca
            issued_ca, _, _ = ca.produce(day, j.certificates_per_day * share, day)
            ca_net[:] -= issued_ca
            done = np.stack([issued_ca[:n_m], issued_ca[n_m:]], axis=1)
            renewed += done
            out["renewed_daily"][:, :, day] = onehot @ done
            queue = counters.backlog().sum(axis=1)
            in_process = (checking.in_transit()[:n_m] + (line_in - line_out) + shipping.in_transit() + notice.stock
                          + holding.sum(axis=1) + queue + ca_net.reshape(2, n_m).sum(axis=0))
            out["backlog_daily"][:, day] = onehot @ in_process
            out["counter_queue_daily"][:, day] = onehot @ (queue + holding.sum(axis=1))
            out["production_backlog"][day] = max(float((line_in - line_out).sum()), 0.0)  # no float residue
            yield env.timeout(1)

    env = simpy.Environment()
    env.process(days(env))
    env.run()
    in_process = float(out["backlog_daily"][:, -1].sum())
    totals = {"due": due_total, "renewed": float(renewed.sum()), "in_process": in_process, "lapsed": lapsed,
              "not_started": not_started}
    return Wave(day0, fy_start, fy_end, t.type_index, due_fy, scale, issuance_fy,
                np.stack([act["card"].sum(axis=0), act["certificate"].sum(axis=0)]), renewed,
                smartphone=smartphone_total, smartphone_daily=smartphone_daily, totals=totals, business=business, **out)
