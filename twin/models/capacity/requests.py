"""One day at request level: every reception's checks as requests that queue, time out and retry.

The hourly Erlang C answer (:mod:`twin.models.capacity.queues`) assumes Poisson arrivals, a steady
hour and clients that never give up. Monday 09:00 is none of these: thousands of clinics open in
the same minute with patients at the door, a slow answer makes reception PCs retry, and a retry
is more load. Here the day is played request by request through :mod:`twin.sim.clients`: the
facilities' patients (:mod:`twin.models.capacity.facilities`) send an eligibility lookup over their region's
network hop, by card or by insured number; Myna Portal logins and private verifiers add their own requests,
and the bodies' intermediate servers their linkage queries (office hours and the evening batch) to the linkage
pool. The pools are batch stations with workers and queues; clients time out and retry by the scenario's
policy; the pools can shed load. Each facility decides how often its reception's requests are tried again
before it gives up on the online check, and whether it then confirms eligibility another way
(:mod:`twin.models.capacity.decisions`; Mesa agents at agent fidelity, the facility columns otherwise):
its requests carry that limit. A lookup by card is one request with the card's certificate, as the real
service takes it (:meth:`twin.services.eligibility.EligibilityService.check_by_card`): the centre first asks the
OCSP responder at J-LIS for the certificate's status, and only when the status is answered looks the
qualification up (the eligibility pool, then the database); a status that is refused, or that comes back after
the reception has stopped waiting, ends the attempt there (the gate of :mod:`twin.sim.clients`: the centre is
taken not to look up for a reception that has hung up; its own OCSP timeout is not modelled), and the reception
tries the whole request again by its limit. So a patient whose status check fails for good sends nothing to the
eligibility pool: every attempt the reception made ended at the status check. A card whose status the CDN
answers (``revocation.cdn_hit_rate``) skips the responder, as does every card where the facilities check a
cached CRL (``requests.crl_cached``) or in CRL mode; a lookup by insured number has no certificate. A patient is
confirmed online when the request is answered, and the online check has failed when it is given up for good
(:func:`checks`). Out come per-minute p50/p95/p99, goodput against offered load, timeouts, retries, queue lengths
and arrivals at each pool, the patients confirmed online and those whose online check was given up for good, by
facility type (confirmed another way or not), and the knee found by simulation beside Erlang C's (each pool
alone, whose clients keep the policy's limit: the knee is the pool's).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twin.models.capacity.decisions import RetryDecisions, decide_retries, decision_draws
from twin.models.capacity.demand import linkage_per_hour, phone_share_by_day, platform_status_per_hour
from twin.models.capacity.facilities import (
    REGIONS,
    FacilityModel,
    build_facilities,
    is_open,
    patient_counts,
    patient_day,
)
from twin.models.capacity.params import FACILITY_TYPES, Params
from twin.models.capacity.queues import knee as erlang_knee
from twin.models.failover.demand import hourly_demand
from twin.models.failover.params import Demand as ShapeDemand
from twin.sim import BatchStation, Gamma
from twin.sim.clients import ClientResult, RequestClass, RetryPolicy, hist_quantile, simulate

STATIONS = ("ocsp", "eligibility", "portal", "linkage", "database")
#: the card lookups' status checks played alone at the OCSP pool, for its knee (:func:`pool_day`); in the day they
#: are the first stage of the card lookups' own requests
STATUS_CHECKS = "ocsp_reception"
#: client classes and the pool whose latency they report (a card lookup's latency includes its status check)
GROUPS = {"eligibility_card": "eligibility", "eligibility_number": "eligibility", STATUS_CHECKS: "ocsp",
          "ocsp_private": "ocsp", "portal": "portal", "linkage": "linkage", "portal_phone": "portal",
          "ocsp_phone": "ocsp"}
#: each class's route through the pools; a card lookup whose status the centre checks has the OCSP pool first
ROUTES = {"eligibility_card": ("eligibility", "database"), "eligibility_number": ("eligibility", "database"),
          STATUS_CHECKS: ("ocsp",), "ocsp_private": ("ocsp",), "portal": ("portal",), "linkage": ("linkage",),
          "portal_phone": ("portal",), "ocsp_phone": ("ocsp",)}
#: the classes of logins made with the phone's certificate (present when ``phones.uptake`` gives a share that day)
PHONE_CLASSES = ("portal_phone", "ocsp_phone")
#: pools that shed load under admission control (the database is behind the eligibility pool)
SHEDDING = ("ocsp", "eligibility", "portal", "linkage")
#: one per patient checked: a lookup given up for good is a patient confirmed another way, or not at all
LOOKUP_CLASSES = ("eligibility_card", "eligibility_number")
#: the classes a reception sends for its patients (a card lookup carries its status check): they carry the
#: facility's retry limit
RECEPTION_CLASSES = LOOKUP_CLASSES


def _minutes(s: str) -> int:
    h, m = s.split(":")
    return int(h) * 60 + int(m)


def policy(params: Params) -> RetryPolicy:
    r = params.requests.retry
    return RetryPolicy(r.policy, int(r.max_retries), r.base_seconds, 2.0, r.cap_seconds,  # type: ignore[arg-type]
                       budget=r.budget)


def _dist(mean: float, cv: float) -> Gamma:
    return Gamma.from_mean_cv(mean, max(cv, 1e-6)) if cv > 0 else Gamma.from_mean_cv(mean, 1e-6)


def service_means(params: Params) -> dict[str, float]:
    """Mean worker seconds per request at each pool (measured + TLS where set)."""
    st, rq, rev = params.service_times, params.requests, params.revocation
    ocsp = rev.presigned_share * st.ocsp_cached + (1 - rev.presigned_share) * st.ocsp_fresh
    return {
        "ocsp": ocsp + rq.tls_seconds,
        "eligibility_card": st.eligibility_card_face + rq.tls_seconds,
        "eligibility_number": st.eligibility_number + rq.tls_seconds,
        "portal": st.portal_login + rq.tls_seconds,
        "portal_phone": st.portal_login + rq.tls_seconds,
        # a phone certificate's status: its own population with its own pre-signed cache (phones.presigned_share)
        "ocsp_phone": params.phones.presigned_share * st.ocsp_cached + (1 - params.phones.presigned_share)
        * st.ocsp_fresh + rq.tls_seconds,
        "linkage": st.linkage_query + rq.tls_seconds,
        "database": rq.database_seconds,
    }


def own_mean(means: dict[str, float], name: str) -> float:
    """Class ``name``'s own mean worker seconds (``means`` from :func:`service_means`); a class without a mean of its
    own (the status-check classes, e.g. ``ocsp_private``) takes the OCSP pool's."""
    return means.get(name, means["ocsp"])


def stage_means(means: dict[str, float], name: str, route: tuple[str, ...]) -> tuple[float, ...]:
    """Mean worker seconds of class ``name`` at each station of ``route`` (``means`` from :func:`service_means`): the
    database round trip at the database, the reception certificate's status at the OCSP pool ahead of a lookup,
    the class's own elsewhere."""
    own = own_mean(means, name)
    return tuple(means["database"] if s == "database" else means["ocsp"] if s == "ocsp" and GROUPS[name] != "ocsp"
                 else own for s in route)


@dataclass
class Day:
    """The inputs of a request-level day: first sends per class (seconds from the window start)."""

    day: dt.date
    start_minute: int
    sends: dict[str, np.ndarray]
    hops: dict[str, np.ndarray | float]
    patients: int
    facilities_operating: int
    checks_by_type: dict[str, int]
    #: per reception class: the facility (table row) of each request, in the order of ``sends``
    facility: dict[str, np.ndarray] = field(default_factory=dict)
    #: every facility's retry decision (by table row), and its type (index into FACILITY_TYPES)
    decisions: RetryDecisions | None = None
    facility_kind: np.ndarray | None = None
    #: per lookup class with a certificate (the card lookups): for each request, whether the centre asks the OCSP pool
    #: for its status before the lookup (False: the CDN answered it); absent when nobody does (a cached CRL, CRL mode)
    status: dict[str, np.ndarray] = field(default_factory=dict)


def build_day(params: Params, day: dt.date, rng: np.random.Generator, *, agents: bool, seed: int) -> Day:
    """Patients at every facility, their checks and the other requests, for the scenario's window."""
    rq = params.requests
    table = build_facilities(params, rng)
    model = FacilityModel(params, table, seed) if agents else None
    if model is not None:
        # Mesa decides who checks online and is open today (AgentSet.select), and each facility its
        # retries and fallback (shuffle_do, the same rule the columns use)
        on = np.zeros(len(table), dtype=bool)
        on[[a.row for a in model.operating(day)]] = True
        decisions = model.decide_retries()
    else:
        on = is_open(table, day)
        model = _ColumnarModel(params, table)
        decisions = decide_retries(table.kind, decision_draws(seed, len(table)), params)
    counts = patient_counts(model, day, rng, on)  # type: ignore[arg-type]
    pd = patient_day(model, day, counts, rng, rq.opening_burst)  # type: ignore[arg-type]
    w0, w1 = (_minutes(x) * 60.0 for x in rq.window)
    hop_s = np.array([rq.hop_ms.get(r, 0.0) for r in REGIONS]) / 1000.0
    keep = (pd.send >= w0) & (pd.send < w1)
    send = pd.send[keep] - w0
    fac = pd.facility[keep]
    hop = hop_s[table.region[fac]]
    method = pd.method[keep]
    by_card = (method >= 1) & (method <= 3)
    sends, hops, facility, status = {}, {}, {}, {}
    for name, m in (("eligibility_card", by_card), ("eligibility_number", ~by_card)):
        o = np.argsort(send[m])
        sends[name], hops[name], facility[name] = send[m][o], hop[m][o], fac[m][o]
    if not rq.crl_cached and params.revocation.mode == "ocsp":  # the centre asks for every status the CDN does not
        card = "eligibility_card"
        status[card] = rng.random(len(sends[card])) >= params.revocation.cdn_hit_rate
    # Myna Portal logins and private verifiers: the hourly shapes, Poisson within the hour
    shape = ShapeDemand(
        eligibility_checks_per_month=params.demand.checks_reference_total,
        eligibility_reference_month=params.demand.reference_month, card_share_of_eligibility=0.0,
        portal_logins_per_day=params.demand.portal_logins_per_day, payout_applications_per_day=0.0,
        card_transactions_per_business_day=0.0,
        platform_links=params.demand.platform_links,
        platform_logins_per_link_per_day=params.demand.platform_logins_per_link_per_day,
    )
    base = hourly_demand(shape, day, 1)
    # private verifiers: their authentications and the platform operators' nightly status checks;
    # linkage queries: the hourly model's office hours and evening batch (demand.linkage_per_hour)
    # logins by token: the phones' share of that day's portal logins and private authentications (the same
    # function as the hourly model's, demand.phone_share_by_day); their own classes only when there is a share,
    # so that a day without phones draws exactly what it drew before
    share = float(phone_share_by_day(params, [day])[0])
    auth = base["ocsp"] - base["portal"]
    private = auth * (1 - share) + platform_status_per_hour(params, [day])
    per_class = [("portal", base["portal"] * (1 - share)), ("ocsp_private", private),
                 ("linkage", linkage_per_hour(params, [day]))]
    if share > 0:
        per_class += [("portal_phone", base["portal"] * share), ("ocsp_phone", auth * share)]
    for name, per_hour in per_class:
        n = rng.poisson(np.maximum(per_hour, 0.0) * (1 - (params.revocation.cdn_hit_rate
                                                           if name in ("ocsp_private", "ocsp_phone") else 0.0)))
        t = np.repeat(np.arange(24) * 3600.0, n) + rng.uniform(0, 3600.0, int(n.sum()))
        t = np.sort(t[(t >= w0) & (t < w1)]) - w0
        sends[name] = t
        hops[name] = float(hop_s.mean())
    if rq.surge is not None:
        s0 = _minutes(rq.surge.start) * 60.0 - w0
        s1 = s0 + rq.surge.minutes * 60.0
        for name in list(sends):
            t = sends[name]
            inside = (t >= s0) & (t < s1)
            k = rng.poisson((rq.surge.factor - 1.0) * inside.sum())
            if k <= 0:
                continue
            extra = rng.uniform(s0, s1, k)
            h = hops[name]
            if np.ndim(h):
                # each extra request is a copy of one sent in the window: its hop, its facility and, for a card
                # lookup, whether its status goes to the OCSP pool (choosing the request draws what choosing its hop
                # drew before). So the surge's extra status checks are those of its extra card lookups: there are
                # no status checks of their own to pair with patients.
                pick = rng.choice(np.flatnonzero(inside), k)
                h = np.concatenate([h, h[pick]])
                for cols in (facility, status):
                    if name in cols:
                        cols[name] = np.concatenate([cols[name], cols[name][pick]])
            merged = np.concatenate([t, extra])
            o = np.argsort(merged)
            sends[name] = merged[o]
            hops[name] = h[o] if np.ndim(h) else h
            for cols in (facility, status):
                if name in cols:
                    cols[name] = cols[name][o]
    by_type = {t: int(counts[table.kind == k].sum()) for k, t in enumerate(("hospital", "clinic", "dental",
                                                                                  "pharmacy"))}
    return Day(day, _minutes(rq.window[0]), sends, hops, int(counts.sum()), int(on.sum()), by_type, facility,
               decisions, table.kind, status)


class _ColumnarModel:
    """The facility model's columns without Mesa agents (aggregate fidelity)."""

    def __init__(self, params: Params, table: Any) -> None:
        from twin.models.capacity.facilities import daily_mean

        self.params, self.table = params, table
        self.mean = daily_mean(params, table)

    day_factor = FacilityModel.day_factor


def stations(params: Params, rng: np.random.Generator, scale_servers: float = 1.0) -> dict[str, BatchStation]:
    means = service_means(params)
    out = {}
    for name in STATIONS:
        servers = params.requests.database.servers if name == "database" else params.pools[name].servers
        out[name] = BatchStation(None, servers, _dist(means.get(name, means["ocsp"]), params.requests.service_cv),
                                 rng=rng, name=name)
    return out


def classes(params: Params, day: Day, mult: float = 1.0, rng: np.random.Generator | None = None,
            only: tuple[str, ...] | None = None, retries: bool = True) -> list[RequestClass]:
    rq = params.requests
    means = service_means(params)
    cv = rq.service_cv
    pol = policy(params) if retries else RetryPolicy("none", 0)
    out = []
    for name, sends in day.sends.items():
        if only is not None and name not in only:
            continue
        route, first, gates = ROUTES[name], None, ()
        if name in day.status:  # the certificate's status first, and the lookup only once it is answered in time
            route, first, gates = ("ocsp", *route), np.where(day.status[name], 0, 1), (0,)
        dists = tuple(_dist(m, cv) for m in stage_means(means, name, route))
        limits = None
        if retries and day.decisions is not None and name in RECEPTION_CLASSES and name in day.facility:
            limits = day.decisions.max_retries[day.facility[name]]  # the sending facility's decision
        out.append(RequestClass(name, sends, route, dists, rq.timeout_seconds, pol, hop=day.hops[name],
                                max_retries=limits, first_stage=first, gates=gates))
    return out


def checks(day: Day, r: ClientResult) -> dict[str, dict[str, np.ndarray]] | None:
    """Per lookup class, one bool per lookup (per patient): ``online`` where the patient was confirmed online (the
    lookup answered: for a card, its status was answered first), ``given_up`` where the reception gave the online
    check up for good (every attempt it allowed failed, at the status check or at the lookup: the centre does not
    look up a card whose status it could not check). A lookup in neither was still waiting for an answer or a
    next try at the window's end. None for a day without facilities (a hand-made day)."""
    if day.decisions is None or day.facility_kind is None:
        return None
    out = {}
    for c in LOOKUP_CLASSES:
        if c not in day.facility:
            continue
        n = len(day.sends[c])
        online, given_up = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        if c in r.classes:
            i = r.classes.index(c)
            given_up[r.failed_requests[i]] = True
            online[r.answered_requests[i]] = True
        out[c] = {"online": online, "given_up": given_up}
    return out


def fallback(day: Day, r: ClientResult) -> dict[str, dict[str, int]] | None:
    """Patients by how their eligibility was confirmed, by facility type: ``confirmed_online`` (the lookup, and
    for a card its status check, answered: :func:`checks`), and of those whose online check was given up for good,
    ``confirmed_by_fallback`` where the facility confirms another way and ``unconfirmed`` where it does not.
    None for a day without facilities (a hand-made day)."""
    ch = checks(day, r)
    if ch is None:
        return None
    kinds = len(FACILITY_TYPES)

    def by_type(mask_of: str, falls: bool | None = None) -> dict[str, int]:
        n = np.zeros(kinds, dtype=np.int64)
        for c, m in ch.items():
            fac = day.facility[c][m[mask_of]]
            if falls is not None:
                fac = fac[day.decisions.falls_back[fac] == falls]  # type: ignore[union-attr]
            n += np.bincount(day.facility_kind[fac], minlength=kinds)  # type: ignore[index]
        return {t: int(n[k]) for k, t in enumerate(FACILITY_TYPES)}

    return {"confirmed_online": by_type("online"), "confirmed_by_fallback": by_type("given_up", True),
            "unconfirmed": by_type("given_up", False)}


@dataclass
class DayResult:
    day: Day
    result: ClientResult
    knees: dict[str, dict[str, float]]
    recovery: dict[str, Any]


def run_day(params: Params, day: dt.date, rng: np.random.Generator, *, agents: bool, seed: int) -> DayResult:
    d = build_day(params, day, rng, agents=agents, seed=seed)
    res = play(params, d, rng)
    knees = find_knees(params, d, rng) if params.requests.knee else {}
    return DayResult(d, res, knees, recovery(params, d, res))


def play(params: Params, d: Day, rng: np.random.Generator) -> ClientResult:
    """The day's requests through the pools, with the scenario's clients (retry policy, budget)
    and admission control."""
    w0, w1 = (_minutes(x) * 60.0 for x in params.requests.window)
    shed = ({s: params.requests.shed_after_seconds for s in SHEDDING}
            if params.requests.shed_after_seconds else None)
    return simulate(classes(params, d), stations(params, rng), w1 - w0, rng=rng, shed_after=shed)


def recovery(params: Params, day: Day, r: ClientResult) -> dict[str, Any]:
    """After the surge: how long until goodput is back to the first-attempt rate (metastability)."""
    first = r.first.sum(axis=0).astype(float)
    good = r.goodput.sum(axis=0).astype(float)
    ratio = np.where(first > 0, good / np.maximum(first, 1), 1.0)
    out: dict[str, Any] = {"goodput_share": float(good.sum() / max(r.offered.sum(), 1)),
                           "requests_failed": int(r.failed.sum())}
    surge = params.requests.surge
    if surge is None:
        return out
    end = (_minutes(surge.start) + surge.minutes) - day.start_minute
    after = ratio[end:]
    ok = after >= 0.95
    # the first minute from which goodput stays >= 95 % of first attempts for 10 minutes
    rec = next((i for i in range(len(after) - 9) if ok[i:i + 10].all()), None)
    out.update({"surge_end_minute": int(end), "recovered": rec is not None,
                "minutes_to_recover": float(rec) if rec is not None else float("nan"),
                "goodput_share_after_surge": float(good[end:].sum() / max(first[end:].sum(), 1))})
    return out


def pool_day(day: Day, pool: str) -> Day:
    """The requests ``pool`` serves, each on that pool alone (its knee, as Erlang C's, is the pool's): at the
    eligibility pool the lookups without their status checks, at the OCSP pool the card lookups' status checks
    (:data:`STATUS_CHECKS`) beside the private verifiers' and the phones' requests. Without facilities' decisions."""
    names = {"eligibility": ("eligibility_card", "eligibility_number"),
             "ocsp": (STATUS_CHECKS, "ocsp_private", "ocsp_phone")}[pool]
    sends, hops = {}, {}
    for n in names:
        if n == STATUS_CHECKS:
            for c, asked in day.status.items():
                h = day.hops[c]
                sends[n], hops[n] = day.sends[c][asked], h[asked] if np.ndim(h) else h
        elif n in day.sends:
            sends[n], hops[n] = day.sends[n], day.hops[n]
    return Day(day.day, day.start_minute, sends, hops, day.patients, day.facilities_operating, day.checks_by_type)


def find_knees(params: Params, day: Day, rng: np.random.Generator) -> dict[str, dict[str, float]]:
    """Per pool: the load multiplier where p99 in the busiest minutes reaches the SLO, by simulation
    (with and without the clients' retries), beside Erlang C on the busiest hour's mean rate; each pool alone
    (:func:`pool_day`)."""
    out = {}
    for pool in ("eligibility", "ocsp"):
        alone = pool_day(day, pool)
        names = tuple(n for n in alone.sends if len(alone.sends[n]))
        if not names:
            continue
        allt = np.concatenate([alone.sends[n] for n in names])
        per_min = np.bincount((allt // 60).astype(int))
        per_hour = np.bincount((allt // 3600).astype(int))
        h = int(np.argmax(per_hour))
        lam_h = per_hour[h] / 3600.0
        means = service_means(params)
        cnt = np.array([len(alone.sends[n]) for n in names], dtype=float)
        s_mean = float(sum(own_mean(means, n) * c for n, c in zip(names, cnt, strict=True)) / cnt.sum())
        slo = params.pools[pool].slo_p99_seconds
        servers = params.pools[pool].servers
        e_knee = erlang_knee(lam_h, s_mean, servers, slo)
        db_knee = float("inf")
        if pool == "eligibility":  # every lookup also queues at the database pool: Erlang C on each pool alone
            db_knee = erlang_knee(lam_h, params.requests.database_seconds, params.requests.database.servers, slo)
        m = int(np.argmax(per_min))
        lo_min = max(m - 1, 0)
        win = (lo_min * 60.0, (m + 1) * 60.0)
        row = {"erlang_c": float(min(e_knee, db_knee)), "erlang_c_app_pool": float(e_knee),
               "peak_minute_over_hour": float(per_min[m] / 60.0 / lam_h),
               "busiest_hour_per_second": float(lam_h), "servers": float(servers), "service_seconds": s_mean,
               "tls_seconds": float(params.requests.tls_seconds),
               "database_seconds": float(params.requests.database_seconds) if pool == "eligibility" else 0.0}
        if pool == "eligibility":
            row["erlang_c_database"] = float(db_knee)
        hint = min(e_knee, db_knee)
        # without retries: bracketed around Erlang C's knee shrunk by the busiest minute's excess
        row["simulated"] = _knee_sim(params, alone, names, win, (hint / (2 * max(row["peak_minute_over_hour"], 1.0)),
                                                               hint * 1.2), False, rng, pool, slo)
        # retries only add load, so with them the knee is at most the one without (a little over, for noise)
        top = row["simulated"] * 1.05 if np.isfinite(row["simulated"]) else hint * 1.2
        row["simulated_with_retries"] = _knee_sim(params, alone, names, win, (top / 4, top), True, rng, pool, slo)
        out[pool] = row
    return out


def _knee_sim(params: Params, day: Day, names: tuple[str, ...], win: tuple[float, float],
              bracket: tuple[float, float], retries: bool, rng: np.random.Generator, pool: str, slo: float) -> float:
    """Bisection (on log scale, to 5 %) of the multiplier where the window's p99 passes the SLO, from
    ``bracket``; the bracket is widened (down to 1/64 of its low end, up to 4 x its high end) when
    the knee is outside it. NaN: the SLO is broken even at the lowest load tried."""
    # the window's requests, thinned or copied to the multiplier: each request stands for `mult`
    base = {n: day.sends[n][(day.sends[n] >= win[0]) & (day.sends[n] < win[1])] - win[0] for n in names}

    def p99(mult: float) -> float:
        sub = Day(day.day, day.start_minute, {}, {}, 0, 0, {})
        for n, t in base.items():
            k = rng.poisson(mult * len(t))
            sub.sends[n] = t
            # keep the within-window shape: resample the window's own times with jitter of a second
            if len(t):
                pick = np.sort(rng.choice(t, k) + rng.uniform(-0.5, 0.5, k))
                sub.sends[n] = np.clip(pick, 0, win[1] - win[0] - 1e-9)
            sub.hops[n] = float(np.mean(day.hops[n])) if np.ndim(day.hops[n]) else day.hops[n]
        st = stations(params, rng)
        st = {pool: st[pool], "database": st["database"]} if pool == "eligibility" else {pool: st[pool]}
        cl = classes(params, sub, rng=rng, only=names, retries=retries)
        r = simulate(cl, st, (win[1] - win[0]) + 120.0, rng=rng)
        last = int((win[1] - win[0]) // 60)
        q = hist_quantile(r.hist.sum(axis=0)[max(last - 1, 0):last].sum(axis=0), 0.99)[0]
        return float(q)

    lo, hi = bracket
    floor, ceiling = lo / 64.0, hi * 4.0
    while p99(lo) > slo:
        hi, lo = lo, lo / 4.0
        if lo < floor:
            return float("nan")
    while p99(hi) <= slo:
        lo, hi = hi, hi * 2.0
        if hi > ceiling:
            return float(lo)
    for _ in range(12):
        if hi / lo < 1.05:
            break
        mid = float(np.sqrt(lo * hi))
        if p99(mid) > slo:
            hi = mid
        else:
            lo = mid
    return float(np.sqrt(lo * hi))
