"""24/365 failover: how often the central My Number services are down, why, and what it costs.

The central systems behind the My Number card run in data centres that fail: a server breaks, a
release carries a defect, a Sunday-night maintenance window stops a single site, once in a decade
a whole site is lost, and on a Monday morning the eligibility checks of every clinic in Japan
arrive at once. This scenario plays a year (or an incident's few days) of those faults against a
topology of the services and their dependencies (:mod:`.topology`), under design options side by
side: single site, cold, warm or hot standby, active-active, synchronous or asynchronous
replication, canary releases, admission control. It reports, per service and option, availability
in nines, minutes down, requests failed and retried, p99 latency while running on the standby,
data at risk (RPO) and incidents by cause, as means over replications with confidence intervals.

Modules: :mod:`.params` (the topology and its defaults), :mod:`.topology` (the dependency graph),
:mod:`.demand` (hourly national demand), :mod:`.intervals` (exact downtime algebra),
:mod:`.faults` (what breaks), :mod:`.engine` (one simulated year), :mod:`.replication` and
:mod:`.invariants` (agent fidelity: the real JPKI service with its ledger replicated between
sites), :mod:`.report`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np

from twin.metrics import Metrics
from twin.models.failover import linkage_sample, report
from twin.models.failover.demand import hourly_demand
from twin.models.failover.engine import ServiceYear, simulate_year
from twin.models.failover.params import Params
from twin.runs import ModelResult, RunContext

__all__ = ["Params", "run", "run_option"]


def run_option(
    params: Params,
    start: dt.date,
    n_days: int,
    replications: int,
    rng: Callable[[str, int], np.random.Generator],
    *,
    keep_first: bool = True,
) -> list[dict[str, ServiceYear]]:
    """Replications of one option; ``rng(component, replication)`` gives each named stream."""
    demand = hourly_demand(params.demand, start, n_days)
    years = []
    for r in range(replications):
        years.append(
            simulate_year(params, start, n_days, demand, lambda name, r=r: rng(f"failover.{name}", r),
                          keep_hourly=keep_first and r == 0)  # fmt: skip
        )
    return years


#: this model runs the scenario's ``replications`` itself, each on its own random streams
REPLICATES = True


def run(ctx: RunContext) -> ModelResult:
    spec = ctx.scenario.spec
    start = spec.calendar.start
    n_days = (spec.calendar.end - start).days + 1
    # twin.experiments hands each task one replication (ctx.replication); a plain run does them all
    own = getattr(ctx, "replication", None)
    replications = [own] if own is not None else list(range(spec.replications))
    reps = len(replications)
    metrics = Metrics()
    heads: dict[str, dict] = {}
    years: dict[str, list[dict[str, ServiceYear]]] = {}
    params: dict[str, Params] = {}
    invariant_sections = []
    summary_invariants: dict[str, dict] = {}
    samples: dict[str, linkage_sample.SampleResult] = {}
    with ctx.progress("Simulating failover options", len(ctx.options) * reps) as advance:
        for opt in ctx.options:
            p: Params = opt.params  # type: ignore[assignment]
            params[opt.name] = p
            ys = []
            demand = hourly_demand(p.demand, start, n_days)
            for i, r in enumerate(replications):
                ys.append(simulate_year(p, start, n_days, demand, lambda name, r=r: ctx.rng(f"failover.{name}", r),
                                        keep_hourly=i == 0))  # fmt: skip
                advance(1)
            years[opt.name] = ys
            heads[opt.name] = report.headline(ys)
            report.add_metrics(metrics, opt.name, ys, start, n_days)
            report.add_status_metrics(metrics, opt.name, ys, p)
            sample = linkage_sample.run_sample(p, start, ys[0], demand["linkage"][: n_days * 24],
                                               ctx.rng("failover.linkage_sample"))
            if sample is not None:
                samples[opt.name] = sample
                for k, v in sample.summary().items():
                    if isinstance(v, int):
                        metrics.add(f"linkage_sample_{k}", v, option=opt.name)
            if p.agent.enabled:
                from twin.models.failover import invariants

                res = invariants.check_option(p, start, n_days, ys[0], ctx.rng(f"failover.agent.{opt.name}"))
                summary_invariants[opt.name] = res.summary()
                invariants.add_metrics(metrics, opt.name, res)
                invariant_sections.append(res)
    sections = report.sections(heads, years, params, start, n_days, reps, with_figures=own is None)
    phones = {o: report.phone_headline(ys, params[o]) for o, ys in years.items()}
    if any(phones.values()):
        sections.append(report.phone_section({o: h for o, h in phones.items() if h}))
    linkage = {o: report.linkage_headline(ys, params[o]) for o, ys in years.items()}
    if any(linkage.values()):
        sections.append(report.linkage_section({o: h for o, h in linkage.items() if h},
                                               {o: r for o, r in samples.items() if linkage.get(o)}))
    status = {o: report.status_headline(ys, params[o]) for o, ys in years.items()}
    if any(status.values()):
        sections.append(report.status_section({o: h for o, h in status.items() if h}))
    if invariant_sections:
        from twin.models.failover import invariants

        sections.append(invariants.section(dict(zip(summary_invariants, invariant_sections, strict=True))))
    summary = {
        "seed": ctx.seed,
        "replications": reps,
        "days": n_days,
        "start": start.isoformat(),
        "options": heads,
    }
    if samples:
        summary["linkage_messages"] = {o: r.summary() for o, r in samples.items()}
    if summary_invariants:
        summary["invariants"] = summary_invariants
    if any(status.values()):
        summary["status_checks"] = {o: h for o, h in status.items() if h}
    if any(phones.values()):
        summary["phones"] = {o: h for o, h in phones.items() if h}
    base = params[ctx.options[0].name]
    return ModelResult(
        metrics,
        summary,
        sections,
        sources=report.SOURCES,
        assumptions=report.assumptions(base, [(o.name, o.params) for o in ctx.options[1:]]),  # type: ignore[misc]
    )
