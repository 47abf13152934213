"""Card rollout: who gets a My Number card when, what holds them up, and what the levers buy.

From January 2016 the My Number card (マイナンバーカード) was issued on application. Uptake was
slow (about 20万 applications a month until 2019), then came in waves: the 2020 Special Cash
Payments, My Number Points phase 1 (deadline end of April 2021) and phase 2 (deadlines extended
twice, to 2023-02-28). This scenario simulates every resident's daily decision to apply and the
capacity chain behind it (J-LIS production, shipment, the town hall's handover by appointment),
is calibrated to MIC's published counts (`twin calibrate scenarios/rollout_history.yaml`), and
compares options forward from the calibrated state with replications.

Two fidelities run the same hazard function: ``aggregate`` counts residents in cells
(municipality x age band x sex) at national scale; ``agent`` follows a sample of residents in
households, decided for by Mesa agents, with the same word of mouth (the town's holding share) unless
``agent_word_of_mouth: household`` makes them hear from their own household (agents.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from twin.metrics import Metrics
from twin.models.rollout import points_uptake, report
from twin.models.rollout.params import Params
from twin.models.rollout.setup import calibrated, cells_for, mortality_for, observed_for, read_fitted
from twin.models.rollout.simulate import Rollout
from twin.runs import ModelResult, RunContext

__all__ = ["Params", "run"]


def record_days(obs_dates: tuple[dt.date, ...], day0: dt.date, n: int) -> list[int]:
    """Days on which the per-municipality and per-age state is kept: the releases and the last day."""
    return sorted({(d - day0).days for d in obs_dates if 0 <= (d - day0).days < n} | {n - 1})


def age_reference(obs: Any, day0: dt.date, n: int) -> dict[int, int]:
    """Record day -> the day its age table takes ages at (observed.age_reference_dates), within the run."""
    from twin.models.rollout.observed import age_reference_dates

    return {(d - day0).days: (a - day0).days for d, a in zip(obs.dates, age_reference_dates(obs), strict=True)
            if 0 <= (d - day0).days < n}  # fmt: skip


#: this model runs the scenario's ``replications`` itself, each on its own random streams
REPLICATES = True


def run(ctx: RunContext) -> ModelResult:
    spec = ctx.scenario.spec
    day0, end = spec.calendar.start, spec.calendar.end
    n = (end - day0).days + 1
    base: Params = ctx.options[0].params  # type: ignore[assignment]
    with ctx.progress("Reading the MIC releases", None):
        obs = observed_for(base, day0, end, strict=False)
        cells = cells_for(obs, spec.population.statistics)
    rec = record_days(obs.dates, day0, n)
    ages = age_reference(obs, day0, n)
    mortality = mortality_for(base)
    closed = list(spec.calendar.closed_days)
    outcomes = []
    reps = spec.replications
    with ctx.progress("Simulating the rollout", len(ctx.options) * (reps + 1)) as advance:
        for opt in ctx.options:
            p = calibrated(base, opt.params, opt.name)  # type: ignore[arg-type]
            runs = []
            for rep in range(reps):
                rng = ctx.rng("rollout.residents", rep) if p.stochastic else None
                if p.fidelity == "agent":
                    from twin.models.rollout.agents import run_agents

                    runs.append(run_agents(p, cells, day0, n, rng=ctx.rng("rollout.agents", rep), record_days=rec,
                                           closed_days=closed, age_reference=ages,
                                           mortality=mortality))  # fmt: skip
                else:
                    runs.append(Rollout(p, cells, day0, n, scale=ctx.scale, rng=rng, record_days=rec,
                                        closed_days=closed, age_reference=ages,
                                        mortality=mortality).run())  # fmt: skip
                advance(1)
            no_points = None
            if p.points.enabled:
                cf = p.model_copy(update={"points": p.points.model_copy(update={"enabled": False})})
                no_points = Rollout(cf, cells, day0, n, scale=ctx.scale, rng=None, record_days=rec,
                                    closed_days=closed, age_reference=ages, mortality=mortality).run()  # fmt: skip
            advance(1)
            outcomes.append(report.OptionOutcome(opt.name, p, runs, no_points))
    metrics = Metrics()
    for o in outcomes:
        report.add_metrics(metrics, o, obs)
    sections, summary = report.sections(outcomes, obs, ctx.scale, ctx.seed)
    # phase-1 points applications from the same holders, a sample through the real points ledger
    uptakes = {o.name: u for o in outcomes if o.params.points.enabled
               and (u := points_uptake.of_run(o.runs[0], seed=ctx.seed)) is not None}  # fmt: skip
    if uptakes:
        sections.append(points_uptake.section(uptakes))
        for name, u in uptakes.items():
            days = [u.day0 + dt.timedelta(days=k) for k in range(len(u.applications))]
            metrics.add_series("points_phase1_applications", days, u.applications, option=name)
            metrics.add_series("points_phase1_reservations", days, u.reserved, option=name)
            for month, r, a in u.monthly():
                first = dt.date.fromisoformat(month + "-01")
                metrics.add("points_phase1_reservations_month", r, option=name, time=first)
                metrics.add("points_phase1_applications_month", a, option=name, time=first)
        summary["points_phase1"] = {name: {"hazard_per_day": u.hazard_per_day, "points_per_applicant":
                                           u.points_per_applicant, "checks": [[d.isoformat(), rec, tw]
                                           for d, rec, tw in u.checks], "monthly": [list(m) for m in u.monthly()],
                                           "reservation_checks": [list(c) for c in u.check_rows()]}
                                     for name, u in uptakes.items()}  # fmt: skip
    # the licence-centre and residence-card channels (from 2025-03-24 and 2026-06-14), when an option plays them
    if any(o.params.channels.any for o in outcomes):
        from twin.models.rollout import channels

        section, heads = channels.section(outcomes)
        sections.append(section)
        for o in outcomes:
            if o.params.channels.any:
                channels.add_metrics(metrics, o.name, o.runs)
        summary["channels"] = heads
    # the run's cards through the real card lifecycle and JPKI (a sample of the first replication's)
    from twin.models.rollout import issuance_sample

    lives = {o.name: s for o in outcomes if o.params.lifecycle_sample
             and (s := issuance_sample.of_run(o.runs[0], o.params.production.shipping_days, o.params.lifecycle_sample,
                                              seed=int(ctx.rng(f"rollout.lifecycle.{o.name}").integers(2**31))))
             is not None}  # fmt: skip
    if lives:
        sections.append(issuance_sample.section(lives))
        for name, smp in lives.items():
            for what in ("certificates_issued", "pin_resets", "deaths"):
                metrics.add(f"lifecycle_{what}_per_card", smp.per_card(what), option=name)
            metrics.add("lifecycle_violations", len(smp.violations), option=name)
    summary.update({"scale": ctx.scale, "seed": ctx.seed, "fidelity": base.fidelity})
    if base.calibrated_from:
        # the run id hashes the scenario, not this file: name the fitted values the run used
        import json

        from twin.models.rollout.setup import resolve

        doc = json.loads(resolve(base.calibrated_from).read_text())
        summary["calibrated_from"] = {"file": base.calibrated_from, "converged": bool(doc.get("converged")),
                                      "releases": doc.get("releases"),
                                      "fitted": read_fitted(base.calibrated_from,
                                                            need_converged=not base.allow_unconverged)}  # fmt: skip
    return ModelResult(
        metrics, summary, sections, sources=report.SOURCES, assumptions=report.assumptions(outcomes[0].params)
    )
