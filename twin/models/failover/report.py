"""What the failover comparison shows an operations board: nines, minutes, failed requests, data at risk.

Every figure is a mean over replications with a 95 % confidence interval (Student t), per service
and per design option, so that "hot standby is better than warm" is a statement with an error bar.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
from scipy import stats

from twin.metrics import Metrics
from twin.models.failover.demand import private_logins_hourly, private_logins_per_day
from twin.models.failover.engine import CAUSES, ServiceYear
from twin.models.failover.params import ASSUMED_RANGES, SOURCED, Params
from twin.report import Assumption, Figure, Paragraph, Section, Table
from twin.report.assumptions import assumptions as shared_assumptions

SOURCES = [
    "MHLW 医療保険部会 181: 204,975,295 online eligibility checks in July 2024, 11.13 % by card",
    "Nikkei xTECH: 2016-01 relay server failures (6 in 2 weeks), 2016-03/04 weekday peaks 09:30-12:00 and 14:00, "
    "2019-11-11 renewal failures, May 2020 portal and JPKI trouble",
    "camday.news: Myna Portal overload 2024-10-02 08:20-16:18",
    "zeikei-news 070729: renewals expected in FY2025 (1,200万 cards, 1,580万 certificates)",
]
METRICS = {
    "availability": lambda y: y.availability,
    "minutes_down": lambda y: y.minutes_down,
    "minutes_degraded": lambda y: y.minutes_degraded,
    "requests": lambda y: y.requests,
    "requests_failed": lambda y: y.failed,
    "requests_retried": lambda y: y.retried,
    "failovers": lambda y: y.failovers,
    "p99_latency_failover_s": lambda y: y.p99_failover_s,
    "writes_at_risk": lambda y: y.writes_at_risk,
}


def mean_ci(values: list[float] | np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of its confidence interval (0 for one replication)."""
    x = np.asarray(values, dtype=np.float64)
    m = float(x.mean())
    if x.size < 2:
        return m, float("nan")
    half = stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return m, float(half)


def nines(availability: float) -> float:
    """-log10(1 - A): 99.9 % is 3 nines (inf for a service that never went down)."""
    return float("inf") if availability >= 1.0 else -math.log10(1.0 - availability)


def headline(years: list[dict[str, ServiceYear]]) -> dict[str, dict[str, Any]]:
    """Per service: each metric's mean and CI half-width over the replications, plus incidents by cause."""
    out: dict[str, dict[str, Any]] = {}
    for svc in years[0]:
        row: dict[str, Any] = {}
        for metric, get in METRICS.items():
            m, h = mean_ci([get(y[svc]) for y in years])
            row[metric] = m
            row[f"{metric}_ci95"] = h if np.isfinite(h) else None  # None: one replication, no interval
        n9 = nines(row["availability"])
        row["nines"] = n9 if np.isfinite(n9) else None  # None: never down in any replication
        row["incidents_by_cause"] = {c: float(np.mean([y[svc].incidents[c] for y in years])) for c in CAUSES}
        row["minutes_by_cause"] = {c: float(np.mean([y[svc].minutes_by_cause[c] for y in years])) for c in CAUSES}
        out[svc] = row
    return out


def add_metrics(m: Metrics, option: str, years: list[dict[str, ServiceYear]], start: dt.date, n_days: int) -> None:
    """Tidy rows: each metric per service and replication, causes, and the first replication's series."""
    for r, year in enumerate(years):
        for svc, y in year.items():
            for metric, get in METRICS.items():
                m.add(metric, get(y), option=option, service=svc, replication=r)
            for c in CAUSES:
                m.add("incidents", y.incidents[c], option=option, service=svc, cause=c, replication=r)
                m.add("minutes_down_by_cause", y.minutes_by_cause[c], option=option, service=svc, cause=c,
                      replication=r)  # fmt: skip
    first = years[0]
    hourly = n_days <= 62
    n = n_days * 24 if hourly else n_days
    step = np.timedelta64(1, "h") if hourly else np.timedelta64(1, "D")
    times = np.datetime64(start, "h") + step * np.arange(n)
    for svc, y in first.items():
        if y.hourly_demand is None or not y.hourly_demand.any():
            continue
        for metric, series in (("demand", y.hourly_demand), ("failed", y.hourly_failed), ("down_share", y.hourly_down)):
            values = series if hourly else series.reshape(n_days, 24).sum(axis=1)
            if metric == "down_share" and not hourly:
                values = values / 24.0
            m.add_series(f"{'hourly' if hourly else 'daily'}_{metric}", times, values, option=option, service=svc)


def _fmt_ci(m: float, h: float | None, fmt: str = "{:,.0f}") -> str:
    return fmt.format(m) + ("" if h is None else " ± " + fmt.format(h))


def _user_facing(params: Params) -> list[str]:
    return [n for n, s in params.services.items() if s.carries]


def private_paragraph(params: dict[str, Params], start: dt.date, n_days: int) -> Paragraph:
    """How the private logins on the 'ocsp' profile were derived from the platform operators' links, with the
    run's numbers (before surges)."""
    days = [start + dt.timedelta(days=i) for i in range(n_days)]

    def numbers(p: Params) -> tuple[float, float, float, float]:
        d = p.demand
        per_day = private_logins_per_day(d.platform_links, d.platform_logins_per_link_per_day)
        total = float(private_logins_hourly(d.platform_links, d.platform_logins_per_link_per_day, days).sum())
        return d.platform_links, d.platform_logins_per_link_per_day, per_day, total

    options = list(params)
    links, per_link, per_day, total = numbers(params[options[0]])
    text = (
        f"Private logins on the revocation-check ('ocsp') profile ({options[0]}): {links:,.0f} live links of "
        f"private providers' user IDs to certificate serials at the platform operators x {per_link:g} logins per "
        f"link a day = {per_day:,.0f} logins a day (twin.models.failover.demand.private_logins_per_day, the "
        f"capacity model's rule too), in the hours people are at home: {total:,.0f} in the {n_days} "
        f"day{'s' if n_days != 1 else ''} before surges. The links and the logins per link are assumed (ranges in "
        "the assumptions): the project's figures hold the number of private firms using JPKI (626 in 2024-11, "
        "Digital Agency) but no count of links or of private verifications. The operators' nightly status checks "
        "(現況確認) of the same links are a load of their own on the responder (section 'Platform status checks')."
    )
    differ = []
    for o in options[1:]:
        n = numbers(params[o])
        if n[:2] != (links, per_link):
            differ.append(f"{o}: {n[0]:,.0f} x {n[1]:g} = {n[2]:,.0f} a day, {n[3]:,.0f} in the period")
    if differ:
        text += " Other options: " + "; ".join(differ) + "."
    return Paragraph(text)


def sections(
    heads: dict[str, dict[str, dict[str, Any]]],
    years: dict[str, list[dict[str, ServiceYear]]],
    params: dict[str, Params],
    start: dt.date,
    n_days: int,
    n_reps: int,
    *,
    with_figures: bool = True,
) -> list[Section]:
    """Headline table, figures (skipped for experiment tasks, which keep numbers only) and causes."""
    options = list(heads)
    base = params[options[0]]
    services = list(base.services)
    users = _user_facing(base)
    period = f"{n_days} days from {start.isoformat()}"
    figs = _figures(heads, years, options, users, start, n_days, n_reps) if with_figures else []
    if with_figures:
        figs.insert(0, topology_figure(base))
    head_rows = []
    for o in options:
        for s in users:
            h = heads[o][s]
            head_rows.append([
                o, s, f"{100 * h['availability']:.4f} %", "never down" if h["nines"] is None else f"{h['nines']:.2f}",
                _fmt_ci(h["minutes_down"], h["minutes_down_ci95"]),
                _fmt_ci(h["requests_failed"], h["requests_failed_ci95"]),
                _fmt_ci(h["requests_retried"], h["requests_retried_ci95"]),
                _fmt_ci(h["p99_latency_failover_s"], h["p99_latency_failover_s_ci95"], "{:.2f}"),
                _fmt_ci(h["writes_at_risk"], h["writes_at_risk_ci95"], "{:,.1f}"),
            ])  # fmt: skip
    cause_rows = []
    for o in options:
        for s in services:
            inc = heads[o][s]["incidents_by_cause"]
            if any(inc.values()):
                cause_rows.append([o, s] + [f"{inc[c]:.2f}" for c in CAUSES])
    best = {
        s: max(options, key=lambda o: (heads[o][s]["availability"], -heads[o][s]["requests_failed"])) for s in users
    }
    text = (
        f"{len(options)} design options over {period}, {n_reps} replication(s) each with common random numbers "
        "(the same failures are drawn for every option where the design does not change them). "
        "Figures are means with 95 % confidence intervals. " + " ".join(f"Best for {s}: {o}." for s, o in best.items())
    )
    return [
        Section(
            "Headline",
            [
                Paragraph(text),
                private_paragraph(params, start, n_days),
                Table(
                    "Per service and option (mean ± 95 % CI over replications)",
                    [
                        "option",
                        "service",
                        "availability",
                        "nines",
                        "minutes down",
                        "requests failed",
                        "retries",
                        "p99 latency in failover (s)",
                        "writes at risk (RPO)",
                    ],
                    head_rows,
                    note="Minutes down include overload hours in which more than half the requests failed. "
                    "Writes at risk: accepted writes not yet on the standby when it took over (0 with synchronous "
                    "replication).",
                ),
            ],
        ),  # fmt: skip
        Section("Figures", figs),
        Section(
            "Incidents by cause",
            [
                Table(
                    "Incidents per replication that took the service down, by cause (mean)",
                    ["option", "service", *CAUSES],
                    cause_rows,
                )
            ],
        ),  # fmt: skip
    ]


def phone_services(params: Params) -> list[str]:
    """Services that carry the logins made with a smartphone's certificate (the 'phone' profile)."""
    return [n for n, s in params.services.items() if "phone" in s.carries]


def phone_headline(years: list[dict[str, ServiceYear]], params: Params) -> dict[str, Any]:
    """Phone logins and those lost, per replication's mean (with CI), and what the certificate system's
    outages took: lost phone logins in hours when the OCSP responder was down (replication 0)."""
    svc = phone_services(params)
    if not svc:
        return {}
    name = svc[0]
    req = mean_ci([y[name].requests for y in years])
    lost = mean_ci([y[name].failed for y in years])
    out: dict[str, Any] = {"service": name, "phone_logins": req[0], "lost_phone_logins": lost[0],
                           "lost_phone_logins_ci95": lost[1] if np.isfinite(lost[1]) else None}
    for other in ("myna_portal", "jpki_ocsp"):
        if other in years[0]:
            m, h = mean_ci([y[other].failed for y in years])
            out[f"{other}_failed"], out[f"{other}_failed_ci95"] = m, (h if np.isfinite(h) else None)
    first = years[0]
    if "jpki_ocsp" in first and first[name].hourly_failed is not None:
        down = first["jpki_ocsp"].hourly_down > 0
        out["lost_phone_logins_ocsp_down"] = float(first[name].hourly_failed[down].sum())
        out["phone_logins_ocsp_down"] = float(first[name].hourly_demand[down].sum())
        out["ocsp_down_hours"] = float(first["jpki_ocsp"].hourly_down.sum())
    return out


def phone_section(heads: dict[str, dict[str, Any]]) -> Section:
    """Lost phone logins, apart from the card's, per option."""
    rows = []
    for o, h in heads.items():
        rows.append([
            o, h["phone_logins"], _fmt_ci(h["lost_phone_logins"], h["lost_phone_logins_ci95"]),
            h["lost_phone_logins"] / h["phone_logins"] if h["phone_logins"] else 0.0,
            _fmt_ci(h.get("myna_portal_failed", 0.0), h.get("myna_portal_failed_ci95")),
            _fmt_ci(h.get("jpki_ocsp_failed", 0.0), h.get("jpki_ocsp_failed_ci95")),
            h.get("ocsp_down_hours", 0.0), h.get("lost_phone_logins_ocsp_down", 0.0),
        ])
    texts = []
    for o, h in heads.items():
        if h.get("ocsp_down_hours"):
            texts.append(
                f"{o}: the OCSP responder was down {h['ocsp_down_hours']:,.2f} hours (replication 0); "
                f"{h['lost_phone_logins_ocsp_down']:,.0f} of the {h['phone_logins_ocsp_down']:,.0f} phone logins "
                "made in those hours were lost.")
        else:
            texts.append(f"{o}: the OCSP responder was never down (replication 0); phone logins lost: "
                         f"{h['lost_phone_logins']:,.0f}.")
    intro = Paragraph(
        "A login with the smartphone's certificate is checked by the same JPKI status service as the card's "
        "(the phone's own certificate status), so an outage of the certificate system stops phone logins as well "
        "as card logins. The phone logins are a service of their own here (the 'phone' profile: a share of the "
        "portal and private logins, from each platform's service start), so what they lose is counted apart. "
        + " ".join(texts))
    table = Table(
        "Phone logins lost, and the card side beside them (mean ± 95 % CI over replications)",
        ["option", "phone logins", "phone logins lost", "share lost", "portal requests failed (card and phone)",
         "revocation checks failed (card and phone)", "hours OCSP down (rep. 0)", "phone logins lost then"],
        rows,
        note="Portal requests include the phone's portal logins; revocation checks count every token's "
        "(eligibility by card, portal, private verifiers). Lost: failed after the retries.",
        formats={"phone logins": "{:,.0f}", "share lost": "{:.3%}", "hours OCSP down (rep. 0)": "{:,.2f}",
                 "phone logins lost then": "{:,.0f}"},
    )
    return Section("Phone logins", [intro, table])


LINKAGE_PATH = ("intermediate_servers", "info_network")


def linkage_headline(years: list[dict[str, ServiceYear]], params: Params) -> dict[str, Any]:
    """Linkage queries (the 'linkage' profile) served, delayed and lost per replication's mean (with CI), and
    the outage minutes of the services on the linkage path by cause (means over replications)."""
    carriers = [n for n, s in params.services.items() if "linkage" in s.carries]
    if not carriers:
        return {}
    name = carriers[0]
    req = mean_ci([y[name].requests for y in years])
    lost = mean_ci([y[name].failed for y in years])
    retried = mean_ci([y[name].retried for y in years])
    out: dict[str, Any] = {"service": name, "queries": req[0], "lost": lost[0],
                           "lost_ci95": lost[1] if np.isfinite(lost[1]) else None, "served": req[0] - lost[0],
                           "retry_attempts": retried[0], "down_minutes": {}, "maintenance_minutes": {},
                           "stale_answers": float(np.mean([y[name].stale_answers for y in years])),
                           "stale_max_age_days": int(max(y[name].stale_max_age_days for y in years)),
                           "registrations_missed": float(np.mean([sum(y[s].refresh_missed_days.size for s in y
                                                                      if s in LINKAGE_PATH) for y in years]))}
    for svc in (*LINKAGE_PATH, name):
        if svc in years[0] and svc not in out["down_minutes"]:
            out["down_minutes"][svc] = float(np.mean([y[svc].minutes_down for y in years]))
            out["maintenance_minutes"][svc] = float(np.mean([y[svc].minutes_by_cause["maintenance"] for y in years]))
    return out


def linkage_section(heads: dict[str, dict[str, Any]], samples: dict[str, Any] | None = None) -> Section:
    """Linkage queries served / delayed / lost per option, and the outage minutes on the linkage path; with
    ``samples`` (:class:`twin.models.failover.linkage_sample.SampleResult` per option), the sample of queries
    sent through the real network and the messages checked for a My Number."""
    services = sorted({s for h in heads.values() for s in h["down_minutes"]},
                      key=lambda s: (LINKAGE_PATH + (s,)).index(s))
    rows = []
    for o, h in heads.items():
        rows.append([o, h["queries"], h["served"], h["retry_attempts"], _fmt_ci(h["lost"], h["lost_ci95"]),
                     h["lost"] / h["queries"] if h["queries"] else 0.0, h["registrations_missed"],
                     h["stale_answers"], h["stale_max_age_days"],
                     *[h["down_minutes"].get(s, 0.0) for s in services],
                     *[h["maintenance_minutes"].get(s, 0.0) for s in services]])
    texts = [f"{o}: {h['lost']:,.0f} of {h['queries']:,.0f} linkage queries lost, {h['retry_attempts']:,.0f} "
             f"retry attempts; {h['registrations_missed']:.1f} copy registrations missed a year, "
             f"{h['stale_answers']:,.0f} answers from copies a day or more out of date (oldest "
             f"{h['stale_max_age_days']} days)." for o, h in heads.items()]
    intro = Paragraph(
        "Information-linkage queries between bodies (the 'linkage' profile: the capacity model's assumed volume and "
        "hourly shape) go through the information-provision network, which needs the intermediate servers. An "
        "outage of either, including the intermediate servers' nightly copy-registration stop, fails or delays "
        "the queries that arrive meanwhile; bulk queries in the evening batch window are spared by the 02:00 stop. "
        "A query in an outage fails. The copies are registered in the intermediate servers' nightly window; when the "
        "servers are down for another reason inside it (a fault, a bad release), that night's registration is "
        "missed and the answers until the next one come from copies a day older (counted below as stale; which "
        "decisions a stale answer changes is the push-benefit scenarios' question). "
        + " ".join(texts))
    heads_cols = [f"{s} minutes down" for s in services] + [f"{s} of which maintenance" for s in services]
    table = Table(
        "Linkage queries served, delayed and lost (mean ± 95 % CI over replications)",
        ["option", "linkage queries", "served", "retry attempts (delayed)", "lost", "share lost",
         "registrations missed", "stale answers", "oldest copy (days)", *heads_cols],
        rows,
        note="Served: all queries less the lost. Delayed: extra attempts of queries retried after a failure or "
        "timeout. Lost: failed after the retries. Minutes: mean over replications.",
        formats={"linkage queries": "{:,.0f}", "served": "{:,.0f}", "retry attempts (delayed)": "{:,.0f}",
                 "share lost": "{:.4%}", "registrations missed": "{:.1f}", "stale answers": "{:,.0f}",
                 **{c: "{:,.1f}" for c in heads_cols}},
    )
    blocks: list[Paragraph | Table] = [intro, table]
    if samples:
        blocks.append(linkage_sample_paragraph(samples))
    return Section("Information linkage", blocks)


def linkage_sample_paragraph(samples: dict[str, Any]) -> Paragraph:
    """The sample of linkage queries through the real network: messages checked, and what was found."""
    parts = []
    for o, r in samples.items():
        kinds = ", ".join(f"{v:,} {k.removesuffix('Message').lower()}" for k, v in sorted(r.messages_by_type.items()))
        found = ("none held a My Number" if not r.messages_with_my_number
                 else f"{r.messages_with_my_number:,} held a My Number (violation)")
        early = f" ({r.before_network:,} more fell before the network began, 2017-07-18: not sent)" \
            if r.before_network else ""
        parts.append(f"{o}: {r.queries:,} queries{early}, {r.answered:,} answered and {r.refused_unavailable:,} "
                     f"refused as unavailable ({r.in_aggregate_downtime:,} fell in the aggregate downtime); "
                     f"{r.messages_checked:,} messages checked ({kinds}): {found}.")
    bad = [f"{o}: {r.violations[0]}" for o, r in samples.items() if r.violations]
    return Paragraph(
        "A sample of these queries, at times drawn from the hourly linkage load, went through the real "
        "information-provision network (twin.services.linkage) between four town halls, the pension service, an "
        "insurer, the account register and Myna Portal, under the requesters' own agency codes, with the aggregate "
        "year's downtime of the network (replication 0) put into it as outages. Every message between bodies was "
        "checked for a My Number in any field (issue 17's invariant). " + " ".join(parts)
        + (" Violations: " + "; ".join(bad) + "." if bad else " No violations."))


def _figures(
    heads: dict[str, dict[str, dict[str, Any]]],
    years: dict[str, list[dict[str, ServiceYear]]],
    options: list[str],
    users: list[str],
    start: dt.date,
    n_days: int,
    n_reps: int,
) -> list[Figure]:
    import matplotlib.pyplot as plt

    period = f"{n_days} days from {start.isoformat()}"
    figs: list[Figure] = []
    # 1. availability in nines, per user-facing service and option
    fig, ax = plt.subplots(figsize=(10, 4.4))
    width = 0.8 / len(options)
    for k, opt in enumerate(options):
        vals = [7.0 if heads[opt][s]["nines"] is None else min(heads[opt][s]["nines"], 7.0) for s in users]
        ax.bar(np.arange(len(users)) + k * width, vals, width, label=opt)
    ax.set_xticks(np.arange(len(users)) + width * (len(options) - 1) / 2, users, rotation=20, fontsize=8)
    ax.set_ylabel("nines of availability (capped at 7)")
    ax.set_title(f"Availability of the services people use ({period}, {n_reps} replications)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    figs.append(Figure("availability_nines", fig, "Time-based availability as nines: 3 = 99.9 %, 4 = 99.99 %."))

    # 2. minutes down by cause, summed over the user-facing services
    fig, ax = plt.subplots(figsize=(10, 4.4))
    bottom = np.zeros(len(options))
    for cause in CAUSES:
        vals = np.array([sum(heads[o][s]["minutes_by_cause"][cause] for s in users) for o in options])
        if vals.any():
            ax.bar(options, vals, bottom=bottom, label=cause)
            bottom += vals
    ax.set_ylabel("minutes down (sum over user-facing services)")
    ax.set_title("Where the downtime comes from")
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", labelrotation=15, labelsize=8)
    ax.grid(alpha=0.3, axis="y")
    figs.append(Figure("downtime_by_cause", fig, "Mean minutes down per replication, by first cause."))

    # 3. failed requests over time in the first replication
    hourly = n_days <= 62
    worst = max(users, key=lambda s: max(heads[o][s]["requests_failed"] for o in options))
    fig, ax = plt.subplots(figsize=(10, 4.4))
    t0 = np.datetime64(start, "h")
    for o in options:
        y = years[o][0][worst]
        series = y.hourly_failed if hourly else y.hourly_failed.reshape(n_days, 24).sum(axis=1)
        step = np.timedelta64(1, "h") if hourly else np.timedelta64(1, "D")
        ax.plot(t0 + step * np.arange(series.size), series, label=o, lw=1.5)
    dem = years[options[0]][0][worst].hourly_demand
    dem = dem if hourly else dem.reshape(n_days, 24).sum(axis=1)
    ax.plot(t0 + (np.timedelta64(1, "h") if hourly else np.timedelta64(1, "D")) * np.arange(dem.size), dem,
            color="#999", lw=1, ls="--", label="demand")  # fmt: skip
    ax.set_title(f"{worst}: failed requests per {'hour' if hourly else 'day'} (replication 0)")
    ax.set_ylabel("requests")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    figs.append(Figure("failed_requests", fig, f"Failed requests of {worst}, the worst-hit service, against demand."))

    return figs


def topology_figure(params: Params) -> Figure:
    """The dependency graph, dependencies at the bottom: solid = hard, dashed = soft (with its share)."""
    import matplotlib.pyplot as plt
    import networkx as nx

    from twin.models.failover.topology import build_graph

    g = build_graph(params)
    deps = nx.DiGraph([(u, v) for u, v, d in g.edges(data=True) if d["type"] == "depends"])
    deps.add_nodes_from(params.services)
    layer: dict[str, int] = {}
    hard = nx.DiGraph([(u, v) for u, v in deps.edges if g.edges[u, v]["kind"] == "hard"])
    hard.add_nodes_from(params.services)
    for n in reversed(list(nx.topological_sort(hard))):
        layer[n] = 1 + max((layer[d] for d in hard.successors(n)), default=-1)
    # layers as sorted lists: given as a node attribute, networkx groups them in sets, whose order (and so the
    # picture's bytes) changed with Python's hash seed from run to run
    by_layer = {k: sorted(n for n in deps.nodes if layer[n] == k) for k in sorted(set(layer.values()))}
    pos = nx.multipartite_layout(deps, subset_key=by_layer, align="horizontal")
    fig, ax = plt.subplots(figsize=(10, 5.2))
    colours = {"single": "#d62728", "cold": "#1f77b4", "warm": "#ff7f0e", "hot": "#2ca02c", "active_active": "#9467bd"}
    nx.draw_networkx_nodes(
        deps, pos, ax=ax, node_size=900, node_color=[colours[params.services[n].deployment] for n in deps.nodes]
    )
    nx.draw_networkx_labels(deps, pos, ax=ax, font_size=7)
    solid = [(u, v) for u, v in deps.edges if g.edges[u, v]["kind"] == "hard"]
    dashed = [(u, v) for u, v in deps.edges if g.edges[u, v]["kind"] == "soft"]
    nx.draw_networkx_edges(deps, pos, ax=ax, edgelist=solid, arrows=True, node_size=900)
    nx.draw_networkx_edges(deps, pos, ax=ax, edgelist=dashed, style="dashed", arrows=True, node_size=900)
    nx.draw_networkx_edge_labels(
        deps, pos, ax=ax, font_size=6, edge_labels={(u, v): f"{g.edges[u, v]['share']:.0%}" for u, v in dashed}
    )
    for mode, c in colours.items():
        ax.scatter([], [], color=c, label=mode)
    ax.legend(fontsize=7, loc="upper left", title="deployment", title_fontsize=7)
    ax.set_title("Central services and what they depend on (first option)")
    ax.axis("off")
    return Figure("topology", fig, "Arrows point to dependencies; dashed = soft (share of requests that need it).")


def assumptions(params: Params, options: list[tuple[str, Params]]) -> list[Assumption]:
    """Every parameter of the baseline, sourced or assumed (with its range where one is stated), plus what
    each option changes."""
    out = shared_assumptions(params, SOURCED, options)
    return [Assumption(a.name, f"{a.value} (assumed range {ASSUMED_RANGES[a.name]})", a.source)
            if a.name in ASSUMED_RANGES and a.source is None else a for a in out]


def status_services(params: Params) -> list[str]:
    """Services that carry the platform operators' status checks (the 'status' batch profile)."""
    return [n for n, s in params.services.items() if "status" in s.carries]


def status_headline(years: list[dict[str, ServiceYear]], params: Params) -> dict[str, Any]:
    """The operators' status checks at the responder: due, delayed by its outages, carried to a later night,
    not answered in the horizon, the wait (means over replications; the longest wait over all of them), and the
    links whose certificate had been revoked since their last check that a delayed check noticed late."""
    svc = status_services(params)
    if not svc:
        return {}
    name = svc[0]
    st = [y[name].status for y in years]
    d = params.demand

    def mean(get: Any) -> float:
        return float(np.mean([get(x) for x in st]))

    delayed, answered = mean(lambda x: x.delayed), mean(lambda x: x.delayed - x.pending)
    per_link = d.platform_status_checks_per_link_per_day
    every_days = 1.0 / per_link if per_link > 0 else float("inf")
    # the share of links whose certificate was revoked since their last check (at most all of them)
    revoked_share = min(1.0, d.platform_revocations_per_link_per_year / 365.0 * every_days) if per_link > 0 else 0.0
    waited = mean(lambda x: x.delay_hours)
    return {"service": name, "links": d.platform_links, "checks_per_link_per_day": per_link,
            "window": list(d.platform_status_check_hours), "checks": mean(lambda x: x.scheduled),
            "delayed": delayed, "delayed_ci95": _ci(mean_ci([x.delayed for x in st])[1]),
            "carried": mean(lambda x: x.carried), "pending": mean(lambda x: x.pending),
            "late_nights": mean(lambda x: x.late_nights),
            "mean_delay_hours": waited / answered if answered > 0 else 0.0,
            "max_delay_hours": float(max(x.max_delay_hours for x in st)),
            "revocations_per_link_per_year": d.platform_revocations_per_link_per_year,
            "check_every_days": every_days, "revoked_share": revoked_share,
            "revoked_links_noticed_late": delayed * revoked_share,
            "responder_down_minutes": float(np.mean([y[name].minutes_down for y in years]))}


def _ci(h: float) -> float | None:
    return h if np.isfinite(h) else None


def add_status_metrics(m: Metrics, option: str, years: list[dict[str, ServiceYear]], params: Params) -> None:
    """Tidy rows per replication for the service that carries the status checks."""
    for name in status_services(params)[:1]:
        for r, year in enumerate(years):
            st = year[name].status
            for metric, v in (("status_checks", st.scheduled), ("status_checks_delayed", st.delayed),
                              ("status_checks_carried", st.carried), ("status_checks_pending", st.pending),
                              ("status_check_delay_hours", st.delay_hours),
                              ("status_check_max_delay_hours", st.max_delay_hours),
                              ("status_check_late_nights", st.late_nights)):
                m.add(metric, v, option=option, service=name, replication=r)


def status_section(heads: dict[str, dict[str, Any]]) -> Section:
    """The platform operators' status checks: what the responder's outages did to them, per option."""
    name, f = next(iter(heads.items()))
    a, b = f["window"]
    texts = []
    for o, h in heads.items():
        if h["delayed"] > 0:
            texts.append(
                f"{o}: {h['delayed']:,.0f} of {h['checks']:,.0f} checks met the responder down "
                f"({h['late_nights']:.1f} nights a run), {h['carried']:,.0f} of them were not answered before the "
                f"window closed and ran on a later night, {h['pending']:,.0f} not within the period; a delayed check "
                f"waited {h['mean_delay_hours']:,.1f} hours on average, at most {h['max_delay_hours']:,.1f}. About "
                f"{h['revoked_links_noticed_late']:,.0f} of the delayed checks concerned a link whose certificate "
                f"had been revoked since its last check ({h['revoked_share']:.2%} of links, at "
                f"{h['revocations_per_link_per_year']:g} revocations a link a year, assumed, and a check every "
                f"{h['check_every_days']:,.0f} days): for each, the provider still treated the user ID as bound "
                f"to a revoked certificate that many hours longer than the checking cycle alone allows.")
        else:
            texts.append(f"{o}: the responder was never down in the window; none of the {h['checks']:,.0f} checks "
                         "was delayed.")
    intro = Paragraph(
        f"The platform operators check every live link's certificate with J-LIS (現況確認): {f['links']:,.0f} links x "
        f"{f['checks_per_link_per_day']:.4g} checks per link a day ({name}), spread evenly over {a:02d}:00-{b:02d}:00 "
        "JST every night (twin.models.failover.demand.platform_status_hourly, the capacity model's rule; all "
        "assumed, ranges in the assumptions). They are a load of their own on the status responder "
        f"({f['service']}), counted apart from people's requests: a batch does not give up. A check that finds "
        "the responder down is run again as soon as it answers if the window is still open, else first thing in "
        "the next night's window (assumed). A check that is late leaves the revocation it would have found "
        "unnoticed: the link stays active on a revoked certificate until the check gets through. "
        + " ".join(texts))
    rows = [[o, h["checks"], _fmt_ci(h["delayed"], h["delayed_ci95"]), h["carried"], h["pending"], h["late_nights"],
             h["mean_delay_hours"], h["max_delay_hours"], h["revoked_links_noticed_late"],
             h["responder_down_minutes"]] for o, h in heads.items()]
    table = Table(
        "Platform operators' status checks at the responder (mean over replications)",
        ["option", "checks due", "delayed (responder down)", "carried to a later night", "not answered in the "
         "period", "nights with an outage in the window", "mean wait (h)", "longest wait (h)",
         "revoked links noticed late", "responder minutes down"],
        rows,
        note="Delayed: the check met the responder down. Carried: not answered before its night's window closed. "
        "Longest wait: over all replications. Revoked links noticed late: delayed checks x the share of links "
        "whose certificate was revoked since their last check (assumed rate).",
        formats={"checks due": "{:,.0f}", "carried to a later night": "{:,.0f}", "not answered in the period":
                 "{:,.0f}", "nights with an outage in the window": "{:.2f}", "mean wait (h)": "{:,.2f}",
                 "longest wait (h)": "{:,.2f}", "revoked links noticed late": "{:,.1f}",
                 "responder minutes down": "{:,.1f}"},
    )
    return Section("Platform status checks", [intro, table])
