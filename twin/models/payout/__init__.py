"""Emergency payouts: how long until every household has the money, under the 2020 design and faster ones.

In spring 2020 Japan paid 100,000 yen to every resident (特別定額給付金): about 59 million
households, through 1,741 town halls that mailed paper forms, opened online intake through Myna
Portal, checked every application by hand against the resident register and paid by bank transfer.
It took months, and online applications made it slower, not faster. This scenario rehearses that
payout for the whole country and compares it with faster designs side by side:
``baseline_2020`` (as it happened), ``automated_matching`` (online applications checked against the
register automatically), ``push_to_registered_accounts`` (no application for heads with a registered
public-benefit account) and ``same_day`` (the working group's target design).

Two fidelities: ``aggregate`` counts every household into day-by-municipality grids (national, 1:1);
``agent`` follows a sample of households through the real services (resident registry, duplicate
checks, the payout ledger with idempotency keys) in SimPy. Both read the same household plans.
"""

from __future__ import annotations

import contextlib
import datetime as dt

import numpy as np

from twin.metrics import Metrics
from twin.models.payout import report
from twin.models.payout.aggregate import PaymentCalendar, simulate
from twin.models.payout.behaviour import Households, Municipalities, PlanMemo, plan_households
from twin.models.payout.params import Params
from twin.population import Nation
from twin.report import Paragraph, Section, Table
from twin.runs import ModelResult, RunContext, stream_key

__all__ = ["Params", "run"]


def payment_calendar(params: Params, day0: dt.date, horizon: int, closed: list[dt.date]) -> PaymentCalendar:
    """Business days (weekends, Japanese public holidays and the scenario's extra closed days are
    closed) and the transfer-batch days on the simulation's day grid."""
    from twin.sim.calendar import Calendar

    cal = Calendar(day0, day0 + dt.timedelta(days=horizon))
    days = [day0 + dt.timedelta(days=d) for d in range(horizon)]
    extra = set(closed)
    business = np.array([cal.is_business_day(d) and d not in extra for d in days])
    batch = np.array([d.weekday() in params.disbursement.batch_weekdays for d in days])
    return PaymentCalendar(business, batch, (params.disbursement.first_payment - day0).days)


def households_from_nation(nation: Nation) -> tuple[Households, Municipalities]:
    """The payout's view: one row per household with its head's attributes."""
    res, hh, mun = nation.residents, nation.households, nation.municipalities
    head = hh.head
    households = Households(
        municipality=hh.municipality.astype(np.int32),
        size=hh.size.astype(np.int16),
        head_age=res.age[head],
        head_literacy=res.literacy[head],
        head_card=res.has_card[head],
    )
    munis = Municipalities(
        code=mun.code,
        type_index=mun.type_index,
        households=np.bincount(households.municipality, minlength=len(mun)),
    )
    return households, munis


PARTITION_COLUMNS = ["option", "partition", "municipalities", "households", "seconds", "CPU seconds", "peak RSS (MiB)"]


def partition_section(results: dict) -> Section:
    """How the agent run was split: per option and partition, households, time and the worker's peak memory.

    Timings and memory go to the report page only, never into the metrics or the summary (they differ
    from run to run; the results do not)."""
    rows = [
        [name, s["partition"], s["municipalities"], s["households"], s["seconds"], s["cpu_seconds"], s["peak_rss_mib"]]
        for name, r in results.items()
        for s in r.extra.get("partitions", [])
    ]
    peak = max((row[6] for row in rows), default=0.0)
    cpu = sum(row[5] for row in rows)
    return Section(
        "Partitions of the agent run",
        [
            Paragraph(
                f"{len(rows)} partitions (municipality groups, each with its own registry and ledger); the "
                f"largest peak memory of a worker process after a partition was {peak:,.0f} MiB; the partitions "
                f"took {cpu:,.1f} CPU seconds in all."
            ),
            Table("Partitions", PARTITION_COLUMNS, rows),
        ],
    )


def run(ctx: RunContext) -> ModelResult:
    from twin.population import build_nation

    spec = ctx.scenario.spec
    day0 = spec.calendar.start
    horizon = (spec.calendar.end - day0).days + 1
    base: Params = ctx.options[0].params  # type: ignore[assignment]
    with ctx.progress("Building the synthetic nation", 1.0) as advance:
        nation = build_nation(
            scale=ctx.scale,
            rng=ctx.rng("population"),
            snapshot=spec.population.statistics,
            card_date=spec.population.card_date or base.reference_date,
            progress=advance,
        )
    hh, mun = households_from_nation(nation)
    if base.fidelity == "aggregate":
        del nation  # the agent fidelity loads the residents into the registry; the aggregate needs only hh
    ledger_counts: dict[str, dict[str, int]] = {}
    start_offset = max(0, (base.programme_start - day0).days)
    metrics = Metrics()
    results = {}
    heads = {}
    memo = PlanMemo()
    partition_executor = None
    if base.fidelity == "agent":
        from twin.experiments import partitions
        from twin.models.payout.agent import n_partitions

        partition_executor = partitions.current() or partitions.default_executor(n_partitions(base, len(hh)))
    with contextlib.ExitStack() as stack, ctx.progress("Simulating the payout", len(ctx.options)) as advance:
        if partition_executor is not None and partition_executor is not partitions.current():
            stack.callback(partition_executor.close)
        for opt in ctx.options:
            p: Params = opt.params  # type: ignore[assignment]
            plan = plan_households(hh, mun, p, day0, lambda name: ctx.rng(f"payout.{name}"), ctx.scale, memo)
            cal = payment_calendar(p, day0, horizon, list(spec.calendar.closed_days))
            if p.fidelity == "agent":
                from twin.models.payout.agent import simulate_agent

                seed = (ctx.seed, stream_key(f"payout.agent.{opt.name}"), ctx.replication or 0)
                r, counts = simulate_agent(
                    nation, hh, mun, plan, p, cal, day0, seed, option=opt.name, executor=partition_executor
                )
                ledger_counts[opt.name] = counts
            else:
                r = simulate(hh, mun, plan, p, cal)
            results[opt.name] = r
            heads[opt.name] = report.headline(r, ctx.scale, p.amount_per_resident, start_offset)
            report.add_metrics(metrics, opt.name, r, day0, ctx.scale, mun.code)
            advance(1)
    summary = {
        "scale": ctx.scale,
        "seed": ctx.seed,
        "fidelity": base.fidelity,
        "options": heads,
        "option_order": list(heads),
    }
    if ledger_counts:
        summary["ledger_decisions"] = ledger_counts
    sections = report.sections(results, heads, day0, start_offset, ctx.scale, ctx.seed, base.fidelity, ledger_counts)
    if base.fidelity == "agent":
        sections.append(partition_section(results))
    return ModelResult(
        metrics,
        summary,
        sections,
        sources=report.SOURCES,
        assumptions=report.assumptions(base, [(o.name, o.params) for o in ctx.options[1:]]),
    )
