"""What the capacity comparison shows: the national load hour by hour, its peak, and how far each
design's server pools are from breaking their latency target (the linkage pool beside the others)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from pydantic import BaseModel

from twin.metrics import Metrics
from twin.models.capacity.aggregate import OptionResult, summary
from twin.models.capacity.demand import platform_status_per_hour
from twin.models.capacity.params import (
    ASSUMED_RANGES,
    FACILITY_TYPES,
    POOLS,
    SOURCED,
    Params,
    measured_service_times,
)
from twin.models.capacity.queues import HOUR, peak_p99
from twin.models.failover.demand import private_logins_per_day
from twin.report import Assumption, Figure, Paragraph, Section, Table
from twin.report.assumptions import assumptions as shared_assumptions

SOURCES = [
    "MHLW 医療保険部会 163 (facilities, reader readiness 2023-02) and 181 (checks July 2024 by type and card)",
    "Card share of eligibility checks 2023-04 ... 2025-10 (MHLW via news); Digital Agency 2023-12 mis-link review",
    "MIC 「マイナンバーカード交付状況について」 via Code for Japan (card issuance history, renewal cohorts)",
    "Service times measured on this repository's servers and code (scripts/measure_service_times.py)",
    "Linkage query service time: server CPU per query of `twin serve linkage` (benchmarks/test_bench_linkage_http.py)",
]


#: what benchmarks/test_bench_linkage_http.py measured end to end on the shared 2-core machine (2026-12-04)
LINKAGE_HTTP_MEASURED = "2,111-2,272 queries a second at p99 30-41 ms (its runs at load averages 3.1-4.8)"


def headline(r: OptionResult, params: Params) -> dict[str, Any]:
    d = r.demand
    checks = d.checks * params.load_multiplier
    h = int(np.argmax(checks))
    linkage = d.linkage * params.load_multiplier
    hl = int(np.argmax(linkage))
    return {
        "linkage_queries": float(linkage.sum()),
        "linkage_peak_per_second": float(linkage[hl] / 3600),
        "linkage_peak_hour": str(d.times()[hl]),
        "checks": float(checks.sum()),
        "card_checks": float(d.card_checks.sum() * params.load_multiplier),
        "peak_checks_per_second": float(checks[h] / 3600),
        "peak_hour": str(d.times()[h]),
        "pools": summary(r, params),
        "reception": {k: float(v) for k, v in vars(r.shares).items()},
        "sweep": list(params.sweep),
        "revocation_visible_after_hours": 0.0
        if params.revocation.mode == "ocsp"
        else 24.0 / params.revocation.crl_downloads_per_day,
    }


def add_metrics(m: Metrics, option: str, r: OptionResult, params: Params) -> None:
    t = r.demand.times()
    mult = params.load_multiplier
    for i, ft in enumerate(FACILITY_TYPES):
        m.add_series("checks_per_hour", t, r.demand.by_type[i] * mult, option=option, facility=ft)
    m.add_series("card_checks_per_hour", t, r.demand.card_checks * mult, option=option)
    m.add_series("linkage_queries_per_hour", t, r.demand.linkage * mult, option=option)
    for name, ph in r.pools.items():
        m.add_series("requests_per_hour", t, ph.arrivals, option=option, pool=name)
        m.add_series("utilisation", t, ph.utilisation, option=option, pool=name)
        m.add_series("timeouts", t, ph.timeouts, option=option, pool=name)
        m.add("knee_multiplier", r.knees[name], option=option, pool=name)
        for q in (0.5, 0.95, 0.99):
            m.add("response_seconds", ph.quantile(q), option=option, pool=name, quantile=q)
        for mult, p99 in sweep(ph, params.sweep):
            m.add("peak_hour_p99_seconds", p99, option=option, pool=name, multiplier=mult)


def sweep(ph: object, multipliers: list[float]) -> list[tuple[float, float]]:
    """The peak hour's p99 (steady state; inf once saturated) at each load multiplier."""
    h = int(np.argmax(ph.arrivals))  # type: ignore[attr-defined]
    lam, s = ph.arrivals[h] / HOUR, float(ph.service_seconds[h])  # type: ignore[attr-defined]
    return [(m, peak_p99(m * lam, s, ph.servers)) for m in multipliers]  # type: ignore[attr-defined]


def _figures(results: dict[str, OptionResult]) -> list[Figure]:
    import matplotlib.pyplot as plt

    first = next(iter(results.values()))
    x = first.demand.times().astype("datetime64[s]").astype(dt.datetime)
    fig, ax = plt.subplots(figsize=(9, 4.2))
    for i, ft in enumerate(FACILITY_TYPES):
        ax.plot(x, first.demand.by_type[i] / 3600, label=ft, lw=1.2)
    ax.plot(x, first.demand.checks / 3600, label="all", lw=2, color="k")
    ax.set_ylabel("eligibility checks per second")
    ax.set_title("National eligibility checks by hour")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    fig.autofmt_xdate()
    figs = [Figure("hourly_checks", fig, "Online eligibility checks per second, by facility type, hour by hour.")]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    for name, r in results.items():
        ax.plot(x, r.pools["ocsp"].arrivals / 3600, label=name, lw=1.2)
    ax.set_ylabel("requests per second at the OCSP/CRL pool")
    ax.set_title("Load on the JPKI revocation service")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    fig.autofmt_xdate()
    figs.append(Figure("revocation_load", fig, "Requests reaching the revocation service's servers, per option."))
    name, r = next(iter(results.items()))
    fig, ax = plt.subplots(figsize=(9, 4.2))
    for pool in POOLS:
        y = r.pools[pool].arrivals / 3600
        ax.plot(x, np.where(y > 0, y, np.nan), label=pool, lw=1.2)
    ax.set_yscale("log")
    ax.set_ylabel("requests per second")
    ax.set_title(f"{name}: load on each pool")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    fig.autofmt_xdate()
    figs.append(Figure("pool_load", fig, f"Requests per second reaching each pool in {name} (log scale; gaps: no "
                       "requests): the linkage queries (office hours and the evening batch, business days only) "
                       "beside eligibility checks, OCSP, portal logins and certificate issuance."))
    return figs


def _private(r: OptionResult, params: Params) -> dict[str, Any]:
    """The private logins and the operators' status checks of one option, from its demand (at the load
    multiplier, as the pools see them)."""
    d, mult = params.demand, params.load_multiplier
    days = [r.demand.start + dt.timedelta(days=i) for i in range(r.demand.hours // 24)]
    status = platform_status_per_hour(params, days)
    logins = (r.demand.private - status) * mult
    h = int(np.argmax(logins))
    return {"links": d.platform_links, "per_link": d.platform_logins_per_link_per_day,
            "per_day": private_logins_per_day(d.platform_links, d.platform_logins_per_link_per_day),
            "logins": float(logins.sum()), "peak_per_second": float(logins[h] / HOUR),
            "peak_hour": str(r.demand.times()[h]), "status_per_day": float(status[:24].sum()),
            "checks_per_link": d.platform_status_checks_per_link_per_day, "window": d.platform_status_check_hours,
            "status": float(status.sum() * mult), "mult": mult}


def private_paragraph(results: dict[str, OptionResult], params: dict[str, Params]) -> Paragraph:
    """How the private verifiers' load was derived from the platform operators' links, with the run's numbers."""
    rows = {opt: _private(r, params[opt]) for opt, r in results.items()}
    name, f = next(iter(rows.items()))
    scaled = f" (at the load multiplier x{f['mult']:g})" if f["mult"] != 1 else ""
    text = (
        f"Private logins through the platform operators ({name}): {f['links']:,.0f} live links of private "
        f"providers' user IDs to certificate serials x {f['per_link']:g} logins per link a day = "
        f"{f['per_day']:,.0f} logins a day (twin.models.failover.demand.private_logins_per_day, the failover "
        "model's rule too), spread over the hours people are at home (less at weekends, more in the e-Tax season): "
        f"{f['logins']:,.0f} in the horizon{scaled}, at most {f['peak_per_second']:,.1f} a second (hour starting "
        f"{f['peak_hour']} JST). The same links get {f['status_per_day']:,.0f} status checks (現況確認) a day "
        f"({f['checks_per_link']:.4g} per link) in {f['window'][0]:02d}:00-{f['window'][1]:02d}:00 JST, "
        f"{f['status']:,.0f} in the horizon. Both go to the OCSP pool. The links and the logins per link are "
        "assumed (their ranges are in the assumptions): the project's figures hold the number of private firms "
        "using JPKI (569 in 2024-07, 626 in 2024-11, Digital Agency) but no count of links or of private "
        "JPKI verifications."
    )
    differ = [f"{opt}: {v['links']:,.0f} x {v['per_link']:g} = {v['per_day']:,.0f} a day, {v['logins']:,.0f} "
              "in the horizon" for opt, v in rows.items()
              if opt != name and (v["links"], v["per_link"], v["mult"]) != (f["links"], f["per_link"], f["mult"])]
    if differ:
        text += " Other options: " + "; ".join(differ) + "."
    return Paragraph(text)


def sections(results: dict[str, OptionResult], heads: dict[str, dict], agent: dict | None,
             params: dict[str, Params] | None = None) -> list[Section]:
    first = next(iter(heads.values()))
    meas = measured_service_times()
    intro = Paragraph(
        f"National peak: {first['peak_checks_per_second']:,.0f} eligibility checks per second "
        f"(hour starting {first['peak_hour']} JST); {first['checks']:,.0f} checks in the horizon, "
        f"{first['card_checks']:,.0f} by card. Service times were measured on {meas['measured_at']} "
        f"({meas['machine']['processor']}, {meas['machine']['cpus']} CPUs, Python {meas['machine']['python']}); "
        + ("they are the CPU one worker of the real HTTP server spends per request (HTTP parsing and the "
           "framework included, measured under wrk on loopback), without the network beyond the host or "
           "database round trips." if "seconds_http" in meas else
           "they are the services' own CPU time, without HTTP, network or database round trips.")
    )
    lk = first["pools"]["linkage"]
    lk_s = float(results[next(iter(results))].pools["linkage"].service_seconds[0])
    link = Paragraph(
        f"Linkage queries between bodies: {first['linkage_queries']:,.0f} in the horizon, at most "
        f"{first['linkage_peak_per_second']:,.1f} a second (hour starting {first['linkage_peak_hour']} JST), served by "
        f"the linkage pool at {lk['servers']:,.0f} workers of {lk_s * 1e3:.3f} ms each (the server CPU per query of "
        "`twin serve linkage` on SQLite, benchmarks/test_bench_linkage_http.py): peak utilisation "
        f"{lk['peak_utilisation']:.4f}, p99 {lk['p99_seconds'] * 1e3:.3g} ms, knee at x{lk['knee_multiplier']:,.1f} "
        f"the load. That service time is a CPU bound: {lk['servers']:,.0f} workers of it serve at most "
        f"{lk['servers'] / lk_s:,.0f} queries a second, while the benchmark measured {LINKAGE_HTTP_MEASURED} with 2 "
        "workers sharing the machine's 2 cores with wrk and other jobs. Their volume and hours are assumed (see the "
        "assumptions, with their ranges: no national count is in the project's figures)."
    )
    rows = []
    for opt, h in heads.items():
        for pool in POOLS:
            p = h["pools"][pool]
            rows.append([
                opt, pool, p["servers"], p["peak_per_second"], p["peak_utilisation"], p["p50_seconds"] * 1e3,
                p["p95_seconds"] * 1e3, p["p99_seconds"] * 1e3, p["timeouts"], p["knee_multiplier"],
                p["servers_needed"],
            ])
    table = Table(
        "Pools per option",
        ["option", "pool", "servers", "peak req/s", "peak utilisation", "p50 ms", "p95 ms", "p99 ms", "timeouts",
         "knee (x load)", "servers needed"],
        rows,
        note="Hourly Erlang C model of the whole horizon (the application pools, with TLS worker time where the "
        "option sets it; the database pool exists only at request level). knee: the load multiplier at which the "
        "peak hour's p99 reaches the pool's SLO; servers needed: the fewest workers keeping the peak hour's p99 "
        "within the SLO at this load.",
        formats={"servers": "{:,.0f}", "peak req/s": "{:,.1f}", "peak utilisation": "{:.4f}", "p50 ms": "{:.4f}",
                 "p95 ms": "{:.4f}", "p99 ms": "{:.4f}", "timeouts": "{:,.0f}", "knee (x load)": "{:,.1f}",
                 "servers needed": "{:,.0f}"},
    )
    rec = first["reception"]
    reception = Paragraph(
        "At the reception, card checks end by face match {face:.1%}, PIN {pin:.1%}, visual check {visual:.1%}, "
        "and fall back to the insured number {fallback_number:.1%}.".format(**rec)
    )
    figs = _figures(results)
    sweep_rows = []
    for opt, r in results.items():
        mults = next(iter(heads.values()))["sweep"]
        for pool in ("eligibility", "ocsp", "linkage"):
            sweep_rows.append([opt, pool, *(p99 * 1e3 for _, p99 in sweep(r.pools[pool], mults))])
    sweep_table = Table(
        "Peak-hour p99 (ms) by load multiplier",
        ["option", "pool", *(f"x{m:g}" for m in next(iter(heads.values()))["sweep"])],
        sweep_rows,
        note="inf: the pool is saturated at that load.",
        formats={f"x{m:g}": "{:.3g}" for m in next(iter(heads.values()))["sweep"]},
    )
    private = [private_paragraph(results, params)] if params else []
    out = [Section("The answer", [intro, link, *private, table, reception, sweep_table, *figs])]
    if agent:
        out.append(Section("Agent fidelity: sampled patients through the real code", [
            Paragraph("Each sampled patient's card went through the in-process reader, the face-authentication "
                      "reader model, JpkiClient.authenticate and the eligibility service (with OCSP)."),
            Table("Outcomes (sample counts vs the aggregate's expectation)", ["outcome", "agent", "expected"],
                  [[k, v, agent["expected"].get(k, float("nan"))] for k, v in agent["counts"].items()],
                  formats={"agent": "{:,.0f}", "expected": "{:,.1f}"}),
        ]))
    return out


def assumptions(base: BaseModel, options: list[tuple[str, BaseModel]]) -> list[Assumption]:
    """Every parameter, sourced or assumed; an assumed one with a stated range shows it beside its value."""
    out = shared_assumptions(base, SOURCED, options)
    return [Assumption(a.name, f"{a.value} (assumed range {ASSUMED_RANGES[a.name]})", a.source)
            if a.name in ASSUMED_RANGES and a.source is None else a for a in out]
