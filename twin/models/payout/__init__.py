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
from twin.population import Heads, Nation
from twin.population.memory import retained_heap
from twin.population.nation import tally
from twin.report import Paragraph, Section, Table
from twin.runs import ModelResult, RunContext, stream_key

__all__ = ["Params", "run"]


def payment_calendar(params: Params, day0: dt.date, horizon: int, closed: list[dt.date]) -> PaymentCalendar:
    """Business days on the simulation's day grid (weekends, Japanese public holidays and the
    scenario's extra closed days are closed). ``params`` is not read: transfer days are each town
    hall's own (plan.halls)."""
    from twin.sim.calendar import Calendar

    cal = Calendar(day0, day0 + dt.timedelta(days=horizon))
    days = [day0 + dt.timedelta(days=d) for d in range(horizon)]
    extra = set(closed)
    business = np.array([cal.is_business_day(d) and d not in extra for d in days])
    return PaymentCalendar(business)


def read_fitted(path: str) -> dict[str, float]:
    """The fitted values a payout calibration wrote (``params.calibrated_from``)."""
    import json

    from twin.errors import InputError
    from twin.models.rollout.setup import resolve

    p = resolve(path)
    if not p.exists():
        raise InputError(f"params.calibrated_from: {path}: no such file (run `twin calibrate` to write it)")
    try:
        fitted = json.loads(p.read_text())["fitted"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise InputError(
            f"params.calibrated_from: {path}: is not a fitted-values file (a JSON object with 'fitted')"
        ) from None
    if not isinstance(fitted, dict) or not all(isinstance(v, int | float) for v in fitted.values()):
        raise InputError(f"params.calibrated_from: {path}: 'fitted' must map parameter paths to numbers")
    return {str(k): float(v) for k, v in fitted.items()}


def fitted_document(path: str) -> dict:
    """The whole fitted-values file (standard errors, convergence, what it was fitted to)."""
    import json

    from twin.models.rollout.setup import resolve

    return json.loads(resolve(path).read_text())


def with_values(params: Params, values: dict[str, float], where: str = "calibration") -> Params:
    """``params`` with values replaced by dotted path (dict keys included), validated."""
    from pydantic import ValidationError

    from twin.errors import InputError, describe_value

    data = params.model_dump(mode="python")
    for path, v in values.items():
        node = data
        parts = path.split(".")
        for k, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                done = ".".join(parts[:k]) or "params"
                raise InputError(f"{where}: {path}: {done} has no parameter {part!r}")
            if k == len(parts) - 1:
                node[part] = v
            else:
                node = node[part]
    try:
        return Params.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise InputError(f"{where}: {loc}: {describe_value(first.get('input'))} {first['msg']}") from None


def apply_fitted(base: Params, option: Params, fitted: dict[str, float]) -> Params:
    """An option's params with the fitted values set, except where the option itself changes that
    parameter from the baseline (e.g. a design that mails every form on day 1)."""
    from twin.errors import InputError

    keep = {}
    for path, v in fitted.items():
        try:
            same = get_path(option, path) == get_path(base, path)
        except InputError:
            same = False
        if same or option is base:
            keep[path] = v
    return with_values(option, keep, f"params.calibrated_from {base.calibrated_from}")


def get_path(params: Params, path: str) -> object:
    from twin.errors import InputError

    node: object = params.model_dump(mode="python")
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise InputError(f"calibration.fit: {path}: is not a parameter path (e.g. behaviour.mail_reply_sigma)")
        node = node[part]
    return node


def households_from_nation(nation: Nation) -> tuple[Households, Municipalities]:
    """The payout's view of a full nation (the agent fidelity's): see :func:`households_from_heads`."""
    return households_from_heads(Heads.of(nation))


def households_from_heads(heads: Heads) -> tuple[Households, Municipalities]:
    """The payout's view: one row per household with its head's attributes."""
    hh, mun = heads.households, heads.municipalities
    households = Households(
        municipality=hh.municipality.astype(np.int32),
        size=hh.size.astype(np.int16),
        head_age=heads.age,
        head_literacy=heads.literacy,
        head_card=heads.has_card,
    )
    munis = Municipalities(
        code=mun.code,
        type_index=mun.type_index,
        households=tally(households.municipality, len(mun)).astype(np.int64),
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
    own = all(s.get("own_peak", False) for r in results.values() for s in r.extra.get("partitions", []))
    memory = (f"the largest resident memory of a worker while it ran one partition (its high-water mark reset at "
              f"the partition's start) was {peak:,.0f} MiB" if own else
              f"the partitions ran in this process, whose peak resident memory after a partition was at most "
              f"{peak:,.0f} MiB (the run's, not a partition's own)")  # fmt: skip
    return Section(
        "Partitions of the agent run",
        [
            Paragraph(
                f"{len(rows)} partitions (groups of municipalities or of a big municipality's sections, each with "
                f"its own registry and ledger); {memory}; the partitions took {cpu:,.1f} CPU seconds in all."
            ),
            Table("Partitions", PARTITION_COLUMNS, rows),
        ],
    )


def run(ctx: RunContext) -> ModelResult:
    from twin.population import build_heads, build_nation
    from twin.population.nation import layout_nation
    from twin.population.statistics import CENSUS_GENERAL_HOUSEHOLDS

    spec = ctx.scenario.spec
    day0 = spec.calendar.start
    horizon = (spec.calendar.end - day0).days + 1
    base: Params = ctx.options[0].params  # type: ignore[assignment]
    fitted = read_fitted(base.calibrated_from) if base.calibrated_from else {}
    fit_doc = fitted_document(base.calibrated_from) if fitted else {}
    options = [(o.name, apply_fitted(base, o.params, fitted)) for o in ctx.options]
    # the agent fidelity's partitions rebuild their own residents from the nation's layout (planned.py): this
    # process holds the counts, never the households; a run expected to sample at most agent.plan_above
    # households builds them here and splits them instead (faster, and byte for byte the same); the
    # aggregate needs only the heads (the same households and heads, drawn from the same stream, in a
    # fraction of the memory); a run that mixes the two fidelities builds every resident here
    expected = ctx.scale * CENSUS_GENERAL_HOUSEHOLDS
    planned = all(p.fidelity == "agent" and expected > p.agent.plan_above for _, p in options)
    nation = layout = None
    with ctx.progress("Building the synthetic nation", 1.0) as advance:
        where = {"scale": ctx.scale, "rng": ctx.rng("population"), "snapshot": spec.population.statistics,
                 "card_date": spec.population.card_date or base.reference_date, "progress": advance}  # fmt: skip
        if planned:
            from twin.models.payout.planned import layout_marks, municipalities_of

            layout = layout_nation(**where, marks=layout_marks({p.agent.split_above for _, p in options}))
        else:
            nation = (build_nation if base.fidelity == "agent" else build_heads)(**where)
    if layout is not None:
        hh, mun = None, municipalities_of(layout)
    else:
        hh, mun = households_from_nation(nation) if base.fidelity == "agent" else households_from_heads(nation)
    n_households = len(layout) if layout is not None else len(hh)
    if base.fidelity == "aggregate":
        del nation
    ledger_counts: dict[str, dict[str, int]] = {}
    start_offset = max(0, (base.programme_start - day0).days)
    metrics = Metrics()
    results = {}
    heads = {}
    memo = PlanMemo()
    grid_cache: dict = {}
    partition_executor = None
    if base.fidelity == "agent":
        from twin.experiments import partitions
        from twin.models.payout.agent import n_partitions

        partition_executor = partitions.current() or partitions.default_executor(n_partitions(base, n_households))
    with contextlib.ExitStack() as stack, ctx.progress("Simulating the payout", len(ctx.options)) as advance:
        if partition_executor is not None and partition_executor is not partitions.current():
            stack.callback(partition_executor.close)
        # every option allocates and frees the same arrays of tens of millions of households: keep
        # them on the heap, so that each option reuses the pages the last one touched instead of
        # faulting fresh ones in (at 1:1 this halves the run's system time)
        stack.enter_context(retained_heap(all_on_heap=True))
        for name, p in options:
            streams = lambda s: ctx.rng(f"payout.{s}")  # noqa: E731
            cal = payment_calendar(p, day0, horizon, list(spec.calendar.closed_days))
            seed = (ctx.seed, stream_key(f"payout.agent.{name}"), ctx.replication or 0)
            if layout is not None:  # the partitions' households decide as Mesa agents, by the aggregate's rules
                from twin.models.payout.municipalities import town_halls
                from twin.models.payout.planned import simulate_planned

                halls = town_halls(mun.code, mun.type_index, mun.households / ctx.scale, p, day0, streams)
                check_horizon(spec, halls, day0, horizon)
                r, counts = simulate_planned(layout, mun, halls, p, cal, day0, streams, ctx.scale, seed, option=name,
                                             executor=partition_executor, cache=ctx.partition_cache)  # fmt: skip
                ledger_counts[name] = counts
            else:
                if p.fidelity == "agent":  # the households decide as Mesa agents, by the aggregate's rules
                    from twin.models.payout.households import HouseholdModel

                    plan = HouseholdModel(hh, mun, p, day0, streams, ctx.scale).plan()
                else:
                    plan = plan_households(hh, mun, p, day0, streams, ctx.scale, memo)
                check_horizon(spec, plan.halls, day0, horizon)  # both fidelities run the same town halls
                if p.fidelity == "agent":
                    from twin.models.payout.agent import simulate_agent

                    r, counts = simulate_agent(nation, hh, mun, plan, p, cal, day0, seed, option=name,
                                               executor=partition_executor, cache=ctx.partition_cache)  # fmt: skip
                    ledger_counts[name] = counts
                else:
                    r = simulate(hh, mun, plan, p, cal, day0.weekday(), grid_cache)
            results[name] = r
            heads[name] = report.headline(r, ctx.scale, p.amount_per_resident, start_offset, day0)
            report.add_metrics(metrics, name, r, day0, ctx.scale, mun.code, p.amount_per_resident)
            advance(1)
    summary = {
        "calibrated_from": {"file": base.calibrated_from, "fitted": fitted} if fitted else None,
        "scale": ctx.scale,
        "seed": ctx.seed,
        "fidelity": base.fidelity,
        "options": heads,
        "option_order": list(heads),
    }
    if ledger_counts:
        summary["ledger_decisions"] = ledger_counts
    base_fitted = options[0][1]
    sections = report.sections(results, heads, day0, start_offset, ctx.scale, ctx.seed, base.fidelity, ledger_counts,
                               codes=mun.code, params=base_fitted, fitted=fitted, fit_doc=fit_doc)  # fmt: skip
    if "baseline_2020" in results and base.fidelity == "aggregate":
        summary["record_2020"] = report.record_check(results["baseline_2020"], mun.code, day0)
    if base.fidelity == "agent":
        sections.append(partition_section(results))
    return ModelResult(
        metrics,
        summary,
        sections,
        sources=report.SOURCES,
        assumptions=report.assumptions(base_fitted, options[1:], fitted),
    )


def check_horizon(spec, halls, day0: dt.date, horizon: int) -> None:  # noqa: ANN001
    """The run must last until the last town hall's application deadline."""
    from twin.errors import InputError

    last = int(np.max(halls.deadline_day))
    if last >= horizon:
        need = day0 + dt.timedelta(days=last)
        raise InputError(
            f"{spec.name}: calendar.end: {spec.calendar.end} is before the last application deadline {need}; "
            "allowed: a date on or after it"
        )
