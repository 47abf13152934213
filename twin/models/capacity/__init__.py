"""Online eligibility confirmation and the certificate system: can the servers take the nation's load?

Every reception of 229,717 hospitals, clinics, dentists and pharmacies checks each patient's
insurance online (オンライン資格確認): 204,975,295 checks in July 2024, 11.13 % by My Number card,
and the card share keeps rising. Each card check, each Myna Portal login and each private-sector
authentication asks the JPKI revocation service whether the certificate still stands; behind the
counters, the bodies query each other through the information-provision network (linkage, an
assumed volume in office hours and evening batches, on its own pool). This
scenario builds the hourly national demand (Monday mornings, seasons, facility types, e-Tax,
campaigns, the 5-year renewal wave), sends it to server pools whose service times were measured on
the real service code, and reports utilisation, p50/p95/p99 latency, timeouts and the knee (the
load multiplier where the peak hour's p99 breaks the SLO) for each option: OCSP or CRL, a CDN in
front of OCSP, pool sizes.

Two fidelities: ``aggregate`` (hour-level Erlang C and fluid queues per pool, national, 1:1) and
``agent`` (the same, plus a sample of patients whose checks run the real code: card OS, reader,
face-authentication model, JpkiClient.authenticate, eligibility service with OCSP).
"""

from __future__ import annotations

from twin.metrics import Metrics
from twin.models.capacity import report, report_phones
from twin.models.capacity.aggregate import simulate
from twin.models.capacity.demand import build_demand
from twin.models.capacity.params import Params
from twin.runs import ModelResult, RunContext

__all__ = ["Params", "run"]


def _first_weekday(day0, n_days: int):  # noqa: ANN001, ANN202
    import datetime as dt

    for i in range(n_days):
        d = day0 + dt.timedelta(days=i)
        if d.weekday() < 5:
            return d
    return day0


def run(ctx: RunContext) -> ModelResult:
    spec = ctx.scenario.spec
    day0 = spec.calendar.start
    n_days = (spec.calendar.end - day0).days + 1
    base: Params = ctx.options[0].params  # type: ignore[assignment]
    metrics = Metrics()
    results, heads = {}, {}
    agent_summary = None
    with ctx.progress("Simulating the pools", len(ctx.options)) as advance:
        for opt in ctx.options:
            p: Params = opt.params  # type: ignore[assignment]
            demand = build_demand(p, day0, n_days)
            r = simulate(p, demand)
            results[opt.name] = r
            heads[opt.name] = report.headline(r, p)
            report.add_metrics(metrics, opt.name, r, p)
            if report_phones.has_phones(p):
                report_phones.add_metrics(metrics, opt.name, r, p)
            advance(1)
    if base.fidelity == "agent":
        from twin.models.capacity.agent import run_agent

        agent_summary = run_agent(base, results[ctx.options[0].name], ctx.rng("capacity.agent"))
    summary = {"seed": ctx.seed, "fidelity": base.fidelity, "options": heads, "option_order": list(heads)}
    if agent_summary:
        summary["agent"] = agent_summary
    extra = []
    if any(report_phones.has_phones(o.params) for o in ctx.options):  # type: ignore[arg-type]
        phones = {o.name: report_phones.headline(results[o.name], o.params) for o in ctx.options}  # type: ignore[arg-type]
        summary["phones"] = phones
        extra += report_phones.sections(results, phones, {o.name: o.params for o in ctx.options})  # type: ignore[misc]
    if base.requests.enabled:
        from twin.models.capacity import report_requests
        from twin.models.capacity.requests import run_day

        days = {}
        with ctx.progress("Request-level day", len(ctx.options)) as advance:
            for opt in ctx.options:
                p = opt.params
                day = p.requests.day or _first_weekday(day0, n_days)  # type: ignore[attr-defined]
                seq = ctx.seed_sequence("capacity.requests")
                days[opt.name] = run_day(p, day, ctx.rng("capacity.requests"),  # type: ignore[arg-type]
                                         agents=p.fidelity == "agent", seed=int(seq.generate_state(1)[0]))
                report_requests.add_metrics(metrics, opt.name, days[opt.name])
                advance(1)
        summary["requests"] = {k: report_requests.headline(v) for k, v in days.items()}
        extra += report_requests.sections(days)
    return ModelResult(
        metrics,
        summary,
        report.sections(results, heads, agent_summary, {o.name: o.params for o in ctx.options})  # type: ignore[misc]
        + extra,
        sources=report.SOURCES,
        assumptions=report.assumptions(base, [(o.name, o.params) for o in ctx.options[1:]]),
    )
