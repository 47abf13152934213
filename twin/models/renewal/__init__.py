"""The FY2025 renewal wave: can 1,741 town halls and J-LIS renew 12.0M cards and 15.8M certificates?

Cards issued in the 2015-16 rush reach their 10th birthday-after-issue, and certificates issued in
the 2020-21 rush (cash payout, points) their 5th: about 1,200万 cards and 1,580万 certificates fall
due in FY2025 (zeikei-news). Each holder who renews acts within the renewal window before expiry;
a card renewal is an application that J-LIS checks, prints and ships before the holder collects
the card at the town hall; a certificate renewal is a counter visit (or, as an option, done by
smartphone). Town-hall counters take appointments and walk-ins. The run plays the fiscal year
(from ``window_days`` before it) day by day over all 1,741 town halls at 1:1 and reports the
monthly backlog and waiting time by municipality type for each option: a longer renewal window,
renewal by smartphone, more counter positions. A sample of the renewals is also played card by
card through the real card lifecycle and JPKI (:mod:`.cards`): certificates revoked and issued per
renewal, and what the wave adds to the CRLs.
"""

from __future__ import annotations

from twin.metrics import Metrics
from twin.models.renewal import report
from twin.models.renewal.cards import sample as card_sample
from twin.models.renewal.params import Params
from twin.models.renewal.wave import simulate, towns
from twin.runs import ModelResult, RunContext

__all__ = ["Params", "run"]


def _check_calendar(ctx: RunContext) -> None:
    """The run plays ``params.due.fiscal_year``; a calendar that says otherwise is refused, not ignored."""
    import datetime as dt

    from twin.errors import InputError

    cal = ctx.scenario.spec.calendar
    for opt in ctx.options:
        fy = opt.params.due.fiscal_year  # type: ignore[attr-defined]
        if (cal.start, cal.end) != (dt.date(fy, 4, 1), dt.date(fy + 1, 3, 31)):
            where = ctx.scenario.path or "scenario"
            raise InputError(f"{where}: calendar: {cal.start} .. {cal.end} is not fiscal year {fy} of "
                             f"params.due.fiscal_year (option {opt.name}); allowed: {fy}-04-01 .. {fy + 1}-03-31")


def _licence(ctx: RunContext, waves: dict, metrics: Metrics) -> object:
    """The licence centre as a channel (:mod:`.licence`) for the options that enable it."""
    import numpy as np

    from twin.models.renewal import licence

    heads, monthly, params = {}, {}, {}
    for opt in ctx.options:
        p = opt.params.licence  # type: ignore[attr-defined]
        if not p.enabled:
            continue
        w = waves[opt.name]
        f = licence.flows(p, w.dates(), w.renewed_daily[:, 0, :].sum(axis=0))
        heads[opt.name], monthly[opt.name], params[opt.name] = licence.headline(f, w.fy_start, w.fy_end), \
            licence.by_month(f), p
        labels, m = monthly[opt.name]
        times = np.array([np.datetime64(x + "-01") for x in labels])
        for k in ("licensed_renewals", "carried_over", "re_recorded", "new_links"):
            metrics.add_series(f"licence_{k}_per_month", times, m[k], option=opt.name)
        for k, v in heads[opt.name].items():
            metrics.add(f"licence_{k}", v, option=opt.name)
    return licence.section(heads, monthly, params)


def _licence_sources() -> list[str]:
    from twin.models.renewal.licence import SOURCES

    return SOURCES


def run(ctx: RunContext) -> ModelResult:
    _check_calendar(ctx)
    metrics = Metrics()
    waves, cards = {}, {}
    t = towns()
    with ctx.progress("Renewal wave", len(ctx.options)) as advance:
        for opt in ctx.options:
            p: Params = opt.params  # type: ignore[assignment]
            waves[opt.name] = simulate(p, t)
            report.add_metrics(metrics, opt.name, waves[opt.name])
            if p.lifecycle_sample:
                seed = int(ctx.rng(f"renewal.lifecycle.{opt.name}").integers(2**31))
                cards[opt.name] = card_sample(p, waves[opt.name], t.code, seed, p.lifecycle_sample)
                report.add_card_metrics(metrics, opt.name, cards[opt.name])
            advance(1)
    heads = {k: report.headline(w) for k, w in waves.items()}
    base: Params = ctx.options[0].params  # type: ignore[assignment]
    sections = report.sections(waves, heads, {o.name: o.title for o in ctx.options}, cards)
    if any(o.params.licence.enabled for o in ctx.options):  # type: ignore[attr-defined]
        sections.append(_licence(ctx, waves, metrics))
    if any(o.params.smartphone_share > 0 for o in ctx.options):  # type: ignore[attr-defined]
        sections.insert(1, report.smartphone_section(waves, heads, {o.name: o.params for o in ctx.options}))  # type: ignore[misc]
    return ModelResult(
        metrics,
        {"seed": ctx.seed, "options": heads, "option_order": list(heads)},
        sections,
        sources=report.SOURCES + (_licence_sources() if any(o.params.licence.enabled  # type: ignore[attr-defined]
                                                            for o in ctx.options) else []),
        assumptions=report.assumptions(base, [(o.name, o.params) for o in ctx.options[1:]]),
    )
