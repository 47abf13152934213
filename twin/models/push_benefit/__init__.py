"""Push benefits that happened, paid as they were and through registered accounts and the linkage.

Three benefits of 2021-22 were decided by town halls from their own records and paid without a
full application: 100,000 yen per child to child-allowance recipients (2021), 100,000 yen to
households exempt from residence tax, and 50,000 yen to exempt households against energy and food
prices (2022), the last two by confirmation letter (確認書). The question: how much faster, and with
how much less hand work, would the same benefits reach people through the information-provision
network (eligibility from the tax body's intermediate-server copy) and the public-benefit account
register, and what do stale copies and mis-links cost? Each option is one design
(``design: as_done`` or ``linkage_accounts``), run on the same households and random draws; the
linkage design runs every household head through the real services of
:mod:`twin.services.linkage` (codes, copies, the lawful table, the account register).
"""

from __future__ import annotations

from twin.metrics import Metrics
from twin.models.push_benefit import report
from twin.models.push_benefit.params import SOURCED, Params
from twin.models.push_benefit.simulate import simulate
from twin.runs import ModelResult, RunContext

__all__ = ["Params", "run"]


def run(ctx: RunContext) -> ModelResult:
    from twin.population import build_nation

    spec = ctx.scenario.spec
    base: Params = ctx.options[0].params  # type: ignore[assignment]
    with ctx.progress("Building the synthetic nation", 1.0) as advance:
        nation = build_nation(scale=ctx.scale, rng=ctx.rng("population"), snapshot=spec.population.statistics,
                              card_date=spec.population.card_date or base.decision_date, progress=advance)  # fmt: skip
    secret = ctx.rng("push.secret").bytes(32)
    metrics = Metrics()
    results, heads, titles = {}, {}, {}
    with ctx.progress("Paying the benefit", len(ctx.options)) as advance:
        for opt in ctx.options:
            p: Params = opt.params  # type: ignore[assignment]
            o = simulate(nation, p, lambda name: ctx.rng(f"push.{name}"), secret)
            results[opt.name] = o
            heads[opt.name] = report.headline(o, ctx.scale)
            titles[opt.name] = opt.title
            report.add_metrics(metrics, opt.name, o, p.decision_date, p.horizon_days)
            advance(1)
    lk = base.linkage
    eligible = heads[ctx.options[0].name]["eligible_units_national"]
    unit = base.amount_yen
    national = {
        "mis-link (payment on another person's data)": {"rate": lk.mislink_rate, "eligible": eligible,
                                                        "expected": lk.mislink_rate * eligible,
                                                        "yen": lk.mislink_rate * eligible * unit},
        "wrong registered account": {"rate": lk.wrong_account_rate, "eligible": eligible,
                                     "expected": lk.wrong_account_rate * eligible,
                                     "yen": lk.wrong_account_rate * eligible * unit},
    }  # fmt: skip
    summary = {"scale": ctx.scale, "seed": ctx.seed, "benefit": base.benefit, "options": heads,
               "option_order": list(heads), "review_rates_at_national_scale": national}  # fmt: skip
    sourced = dict(SOURCED)
    sourced["amount_yen"] = sourced["benefit"] = "; ".join(report.SOURCES[base.benefit])
    return ModelResult(
        metrics,
        summary,
        report.sections(base.benefit, heads, titles, results, base.horizon_days, ctx.scale, ctx.seed, national),
        sources=report.SOURCES[base.benefit] + report.COMMON_SOURCES,
        assumptions=report.assumptions(base, [(o.name, o.params) for o in ctx.options[1:]], sourced),
    )
