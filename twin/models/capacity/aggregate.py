"""The nation's week at the five server pools: who each request goes to and what it costs there.

Each card check at a reception is first a face match (or a PIN, or the staff's visual check, or a
fall-back to the insured number when all fail); then the eligibility pool serves it, and, in the
OCSP design, the OCSP pool answers its revocation question (unless a CDN has the answer). Portal
logins hit the portal pool and the OCSP pool; private verifiers hit the OCSP pool (a phone login
asks about the phone's certificate, a population with its own pre-signed cache); renewals and the
phones' certificate pairs hit the issuing CA; linkage queries between bodies hit the linkage pool
(the information-provision network's servers, measured as ``twin serve linkage``) and nothing else.
In the CRL design nobody asks OCSP: the CA signs every municipality's CRL partition (and the phone
certificates' own partitions) as often as the relying parties refresh, and a revocation is visible
only after the next refresh.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.errors import InputError
from twin.models.capacity.demand import HourlyDemand
from twin.models.capacity.params import POOLS, Params
from twin.models.capacity.queues import HOUR, PoolHours, knee, peak_p99, simulate_pool


@dataclass(frozen=True)
class ReceptionShares:
    """How card checks end at the reception (shares sum to 1)."""

    face: float
    pin: float
    visual: float
    fallback_number: float


def reception_shares(params: Params) -> ReceptionShares:
    r = params.reception
    face = 1 - (1 - r.match_rate) ** r.max_face_attempts
    pin = (1 - face) * r.knows_pin
    visual = (1 - face - pin) * r.visual_check
    return ReceptionShares(face, pin, visual, 1 - face - pin - visual)


def _mixed(s_a: float, s_b: float, part_b: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Mean service time per hour of a pool serving two kinds of request: ``part_b`` of ``total`` at ``s_b``, the
    rest at ``s_a`` (``s_a`` in an hour with no requests)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return s_a + (s_b - s_a) * np.where(total > 0, part_b / total, 0.0)


def pool_loads(params: Params, demand: HourlyDemand) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Requests per hour and mean service seconds per hour for each pool."""
    st, rev = params.service_times, params.revocation
    sh = reception_shares(params)
    card = demand.card_checks * (1 - sh.fallback_number)
    number = demand.number_checks + demand.card_checks * sh.fallback_number
    checks = card + number
    with np.errstate(invalid="ignore", divide="ignore"):
        pin_share = sh.pin / (1 - sh.fallback_number)
        s_card = pin_share * st.eligibility_card_pin + (1 - pin_share) * st.eligibility_card_face
        s_elig = np.where(checks > 0, (card * s_card + number * st.eligibility_number) / checks, s_card)
    ph = params.phones
    phone = demand.phone_logins if demand.phone_logins is not None else np.zeros(demand.hours)
    issues = demand.phone_issues if demand.phone_issues is not None else np.zeros(demand.hours)
    if rev.mode == "ocsp":
        # the card certificates and the phone certificates: two populations, each with its pre-signed cache
        card_q = (card + demand.portal + demand.private - phone) * (1 - rev.cdn_hit_rate)
        phone_q = phone * (1 - rev.cdn_hit_rate)
        ocsp = card_q + phone_q
        s_card = rev.presigned_share * st.ocsp_cached + (1 - rev.presigned_share) * st.ocsp_fresh
        s_phone = ph.presigned_share * st.ocsp_cached + (1 - ph.presigned_share) * st.ocsp_fresh
        s_ocsp = _mixed(s_card, s_phone, phone_q, ocsp)
        s_portal = st.portal_login
    else:  # CRL partitions signed at every refresh; downloads come from static servers
        # the phone certificates' own partitions are signed too once any phone logs in
        parts = rev.crl_partitions + np.where(phone > 0, ph.crl_partitions, 0)
        ocsp = parts * rev.crl_downloads_per_day / 24
        s_ocsp = np.full(demand.hours, st.crl_download)
        s_portal = max(st.portal_login - st.ocsp_cached, 1e-7)
    # the CA issues renewals (counter hours) and phone pairs (home hours), each at its measured cost
    ca = demand.renewals + issues
    s_ca = _mixed(st.certificate_issue, st.phone_issue, issues, ca)
    # TLS is worker time on the same servers, as at request level (requests.py); 0 unless the scenario sets it
    tls = params.requests.tls_seconds
    return {
        "eligibility": (checks, np.broadcast_to(s_elig + tls, checks.shape)),
        "ocsp": (ocsp, s_ocsp + tls),
        "portal": (demand.portal.copy(), np.full(demand.hours, s_portal + tls)),
        "ca": (ca, s_ca),
        "linkage": (demand.linkage.copy(), np.full(demand.hours, st.linkage_query + tls)),
    }


@dataclass(frozen=True)
class OptionResult:
    demand: HourlyDemand
    pools: dict[str, PoolHours]
    knees: dict[str, float]  # load multiplier where the peak hour's p99 reaches the SLO
    shares: ReceptionShares


def simulate(params: Params, demand: HourlyDemand) -> OptionResult:
    """All pools for the horizon at ``params.load_multiplier``, and each pool's knee."""
    loads = pool_loads(params, demand.scaled(params.load_multiplier))
    pools, knees = {}, {}
    for name in POOLS:
        arrivals, service = loads[name]
        cfg = params.pools[name]
        pools[name] = simulate_pool(arrivals, service, cfg.servers, cfg.timeout_seconds)
        h = int(np.argmax(arrivals))
        knees[name] = params.load_multiplier * knee(arrivals[h] / HOUR, float(service[h]), cfg.servers,
                                                    cfg.slo_p99_seconds)
    return OptionResult(demand, pools, knees, reception_shares(params))


def summary(r: OptionResult, params: Params) -> dict[str, dict[str, float]]:
    """Headline numbers per pool."""
    out: dict[str, dict[str, float]] = {}
    for name, ph in r.pools.items():
        h = int(np.argmax(ph.arrivals))
        peak_hour = np.zeros(len(ph.arrivals), dtype=bool)
        peak_hour[h] = True
        out[name] = {
            "requests": float(ph.arrivals.sum()),
            "peak_per_second": float(ph.arrivals[h] / HOUR),
            "peak_utilisation": float(ph.utilisation.max()),
            "mean_utilisation": float(ph.utilisation.mean()),
            "p50_seconds": ph.quantile(0.5),
            "p95_seconds": ph.quantile(0.95),
            "p99_seconds": ph.quantile(0.99),
            "peak_hour_p99_seconds": ph.quantile(0.99, peak_hour),
            "timeouts": float(ph.timeouts.sum()),
            "servers": float(ph.servers),
            "knee_multiplier": float(r.knees[name]),
            "servers_needed": float(_servers_needed(ph, params, name)),
            "slo_p99_seconds": params.pools[name].slo_p99_seconds,  # type: ignore[index]
        }
    return out


def _servers_needed(ph: PoolHours, params: Params, name: str) -> int:
    slo = params.pools[name].slo_p99_seconds  # type: ignore[index]
    try:
        return servers_needed(ph, slo)
    except ValueError as e:
        raise InputError(f"params.pools.{name}.slo_p99_seconds: {slo:g}: {e}") from None


def servers_needed(ph: PoolHours, slo: float) -> int:
    """The fewest workers that keep the peak hour's p99 within ``slo`` (the pool-size sweep)."""
    h = int(np.argmax(ph.arrivals))
    lam, s = ph.arrivals[h] / HOUR, float(ph.service_seconds[h])
    if s * np.log(100) >= slo:  # a response is at least its (exponential) service: p99 >= s ln 100
        raise ValueError(f"the service time alone has a p99 of {s * np.log(100):.3g} s, not below the SLO "
                         f"{slo:.3g} s: no pool size meets it")  # fmt: skip
    # p99 falls as workers are added: double until the SLO holds, then bisect (O(log n) evaluations,
    # where counting one worker at a time never ended for a load multiplier of 1e12)
    lo = max(1, int(np.ceil(lam * s)))  # below the offered load the pool is unstable
    if peak_p99(lam, s, lo) <= slo:
        return lo
    step = max(1, lo)
    hi = lo + step
    while peak_p99(lam, s, hi) > slo:
        lo, step = hi, step * 2
        hi = lo + step
    while hi - lo > 1:  # invariant: lo misses the SLO, hi meets it
        mid = (lo + hi) // 2
        if peak_p99(lam, s, mid) > slo:
            lo = mid
        else:
            hi = mid
    return hi
