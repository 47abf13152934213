"""What the payout comparison shows a policymaker: how fast each design gets money to households,
where the time goes, and what it costs the town halls."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from pydantic import BaseModel

from twin.metrics import Metrics
from twin.models.payout.aggregate import JOB_CLASSES, AggregateResult
from twin.models.payout.behaviour import ROUTES
from twin.models.payout.params import MUNICIPALITY_TYPES, SOURCED
from twin.report import Assumption, Figure, Paragraph, Section, Table
from twin.report.assumptions import assumptions as shared_assumptions
from twin.report.html import scale_text

TYPE_LABELS = {
    "special_ward": "Tokyo special wards",
    "designated_city": "designated cities",
    "city": "other cities",
    "town_village": "towns and villages",
}
#: 2020 online applications, cumulative (Diet record; kancho-t; Asahi)
ONLINE_2020 = [(dt.date(2020, 5, 7), 513_491), (dt.date(2020, 5, 13), 1_440_000), (dt.date(2020, 5, 24), 1_940_000)]
SOURCES = [
    "MIC 「マイナンバーカード交付状況について」 (population by municipality, card holding), via Code for Japan (MIT)",
    "Census 2020 households (Statistics Bureau)",
    "2020 Special Cash Payments: MIC design; Diet record 2020-05-21; Nikkei xTECH; Japan Times 2020-05-21; "
    "Tokyo Shimbun; Jiji (facts in twin/data/FIGURES.md)",
]


def days_to_share(cum_share: np.ndarray, share: float) -> float:
    """First day on which the cumulative share reaches ``share`` (nan if never within the horizon)."""
    hit = np.flatnonzero(cum_share >= share - 1e-12)
    return float(hit[0]) if len(hit) else float("nan")


#: per option, in order: (line style, marker, colour, width); the first option (the 2020 baseline) is a thick
#: solid line; the later ones are thinner, dashed or dotted, with their own markers, drawn on top of it
_STYLES = (("-", "o", "#1f3b73", 3.2), ("--", "s", "#d1495b", 1.8), (":", "^", "#2a9d8f", 2.2),
           ("-.", "D", "#e9a03b", 1.8), ((0, (5, 1, 1, 1)), "v", "#6c4f9c", 1.8))  # fmt: skip


def option_style(i: int, points: int) -> dict[str, Any]:
    """Line style of the i-th option: never two alike (for up to five), markers every ~12th point, so a
    curve lying exactly on another (automated matching on the baseline) is still seen and told apart."""
    ls, marker, colour, lw = _STYLES[i % len(_STYLES)]
    return {"linestyle": ls, "marker": marker, "color": colour, "lw": lw, "markersize": 5,
            "markevery": (i * 3 % 12, max(1, points // 10)), "zorder": 2 + i}  # fmt: skip


def headline(r: AggregateResult, scale: float, amount: int, start_offset: int) -> dict[str, Any]:
    """Headline numbers of one option (national totals, scaled back by 1/scale)."""
    up = 1.0 / scale
    ent = r.entitled_households.sum()
    cum = r.paid_households.sum(axis=0).cumsum() / ent
    rel = cum[start_offset:]  # days counted from the programme start
    served = r.served.sum(axis=1)
    arrivals_first = r.arrivals[0].sum() + r.arrivals[1].sum()
    wait = r.waiting_days
    mean_wait = float((wait * np.arange(len(wait))).sum() / wait.sum()) if wait.sum() else 0.0
    return {
        "entitled_households": ent * up,
        "paid_households": r.paid_households.sum() * up,
        "paid_share": float(cum[-1]),
        "paid_share_day_30": float(rel[min(30, len(rel) - 1)]),
        "paid_share_day_60": float(rel[min(60, len(rel) - 1)]),
        "days_to_10pct": days_to_share(rel, 0.10),
        "days_to_50pct": days_to_share(rel, 0.50),
        "days_to_90pct": days_to_share(rel, 0.90),
        "days_to_99pct": days_to_share(rel, 0.99),
        "money_paid_yen": r.paid_persons.sum() * up * amount,
        "applications_mail": r.arrivals[0].sum() * up,
        "applications_online": r.arrivals[1].sum() * up,
        "paid_by_push": r.paid_by_route[3].sum() * up,
        "duplicates_caught": served[2] * up,
        "forms_returned_for_correction": r.errors_returned.sum() * up,
        "bank_transfers_returned": r.bank_rejected.sum() * up,
        "never_applied": r.extra.get("never_applied", 0.0) * up,
        "staff_hours": r.staff_minutes.sum() / 60 * up,
        "staff_hours_per_1000_households": r.staff_minutes.sum() / 60 / max(ent, 1) * 1000,
        "mean_wait_at_town_hall_days": mean_wait,
        "peak_backlog_jobs": float(r.backlog.sum(axis=0).max()) * up,
        "applications_per_household": float(arrivals_first / max(ent, 1)),
    }


def add_metrics(m: Metrics, option: str, r: AggregateResult, day0: dt.date, scale: float, codes: np.ndarray) -> None:
    up = 1.0 / scale
    days = np.array([np.datetime64(day0) + np.timedelta64(d, "D") for d in range(r.horizon)])
    for t, name in enumerate(MUNICIPALITY_TYPES):
        m.add_series("paid_households", days, r.paid_households[t] * up, option=option, type=name)
        m.add_series(
            "paid_share_cumulative",
            days,
            r.paid_households[t].cumsum() / max(r.entitled_households[t], 1),
            option=option,
            type=name,
        )
    m.add_series(
        "paid_share_cumulative", days, r.paid_households.sum(axis=0).cumsum() / r.entitled_households.sum(),
        option=option, type="national",
    )  # fmt: skip
    for c, name in enumerate(JOB_CLASSES):
        m.add_series("town_hall_arrivals", days, r.arrivals[c] * up, option=option, job=name)
        m.add_series("town_hall_served", days, r.served[c] * up, option=option, job=name)
    for k, name in enumerate(ROUTES):
        if r.paid_by_route[k].any():
            m.add_series("paid_households_by_route", days, r.paid_by_route[k] * up, option=option, route=name)
    m.add_series("town_hall_backlog", days, r.backlog.sum(axis=0) * up, option=option)
    m.add_series("forms_returned", days, r.errors_returned * up, option=option)
    m.add_table("staff_hours", {"municipality": codes}, r.staff_minutes / 60 * up, option=option)
    m.add_table("peak_backlog_jobs", {"municipality": codes}, r.backlog.max(axis=1) * up, option=option)


def assumptions(params: BaseModel, options: list[tuple[str, BaseModel]]) -> list[Assumption]:
    """Every parameter of the baseline, sourced or assumed, plus what each option changes."""
    return shared_assumptions(params, SOURCED, options)


def figures(
    results: dict[str, AggregateResult], day0: dt.date, start_offset: int, scale: float, seed: int
) -> list[Figure]:
    import matplotlib.pyplot as plt

    foot = f"Myna Twin, scale {scale_text(scale).split(' (')[0]}, seed {seed}. Sources: MIC, census 2020."
    x = [day0 + dt.timedelta(days=d) for d in range(next(iter(results.values())).horizon)]
    figs = []

    fig, ax = plt.subplots(figsize=(9, 4.6))
    for i, (name, r) in enumerate(results.items()):  # curves that coincide stay visible: own style and marker
        ax.plot(x, 100 * r.paid_households.sum(axis=0).cumsum() / r.entitled_households.sum(), label=name,
                **option_style(i, len(x)))  # fmt: skip
    ax.set_title("Households with the money in their account")
    ax.set_ylabel("% of entitled households")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.text(0.01, -0.02, foot, fontsize=8, color="#555")
    fig.autofmt_xdate()
    figs.append(Figure("paid_share", fig, "Share of entitled households paid, by day, for each design."))

    n = len(results)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n + 1, 3.8), sharey=True, squeeze=False)
    for ax, (name, r) in zip(axes[0], results.items(), strict=True):
        for t, tname in enumerate(MUNICIPALITY_TYPES):
            ent = max(r.entitled_households[t], 1)
            ax.plot(x, 100 * r.paid_households[t].cumsum() / ent, label=TYPE_LABELS[tname])
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    axes[0][0].set_ylabel("% of households paid")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.suptitle("Paid share by municipality type")
    fig.text(0.01, -0.06, foot, fontsize=8, color="#555")
    figs.append(Figure("paid_share_by_type", fig, "Big cities mailed their forms last and had the longest queues."))

    fig, ax = plt.subplots(figsize=(9, 4.2))
    for i, (name, r) in enumerate(results.items()):
        ax.plot(x, r.backlog.sum(axis=0) / scale / 1e6, label=name, **option_style(i, len(x)))
    ax.set_title("Applications waiting at town halls (national)")
    ax.set_ylabel("million applications")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.text(0.01, -0.02, foot, fontsize=8, color="#555")
    fig.autofmt_xdate()
    figs.append(Figure("backlog", fig, "Town-hall verification backlog, end of each day (national totals)."))

    if "baseline_2020" in results or len(results) == 1:
        r = results.get("baseline_2020", next(iter(results.values())))
        fig, ax = plt.subplots(figsize=(9, 4.2))
        ax.plot(x, r.arrivals[1].cumsum() / scale / 1e6, lw=2, label="twin: online applications (cumulative)")
        ax.scatter([d for d, _ in ONLINE_2020], [v / 1e6 for _, v in ONLINE_2020], color="k", zorder=3,
                   label="2020 record (Diet, press)")  # fmt: skip
        ax.set_xlim(x[0], x[min(len(x) - 1, start_offset + 45)])
        ax.set_ylabel("million applications")
        ax.set_title("Online applications in May 2020: twin vs record")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.text(0.01, -0.02, foot, fontsize=8, color="#555")
        fig.autofmt_xdate()
        figs.append(
            Figure(
                "online_2020", fig, "Calibration check of the 2020 baseline against the recorded online applications."
            )
        )
    return figs


def sections(
    results: dict[str, AggregateResult],
    heads: dict[str, dict[str, Any]],
    day0: dt.date,
    start_offset: int,
    scale: float,
    seed: int,
    fidelity: str,
    ledger_counts: dict[str, dict[str, int]] | None = None,
) -> list[Section]:
    rows = []
    for name, h in heads.items():
        rows.append(
            [
                name,
                100 * h["paid_share_day_30"],
                100 * h["paid_share_day_60"],
                h["days_to_50pct"],
                h["days_to_90pct"],
                h["mean_wait_at_town_hall_days"],
                h["applications_online"],
                h["duplicates_caught"],
                h["forms_returned_for_correction"],
                h["staff_hours"],
                h["money_paid_yen"] / 1e12,
            ]
        )
    table = Table(
        "Headline: how fast each design pays (days counted from the programme start)",
        [
            "option",
            "% paid by day 30",
            "% paid by day 60",
            "days to 50 %",
            "days to 90 %",
            "mean wait at town hall (days)",
            "online applications",
            "duplicates caught",
            "forms returned",
            "town-hall staff hours",
            "paid (trillion yen)",
        ],  # fmt: skip
        rows,
        formats={
            "% paid by day 30": "{:.1f}",
            "% paid by day 60": "{:.1f}",
            "days to 50 %": "{:.0f}",
            "days to 90 %": "{:.0f}",
            "mean wait at town hall (days)": "{:.1f}",
            "paid (trillion yen)": "{:.2f}",
        },  # fmt: skip
        note=f"National totals, scaled back from the {scale_text(scale)} sample; fidelity: {fidelity}.",
    )
    figs = figures(results, day0, start_offset, scale, seed)
    intro = Paragraph(
        "Every household entitled on the reference date is followed from the programme start until the "
        "money is in its account: the form or online application, the town hall's check against the "
        "resident register (with forms sent back for correction), the transfer batch and the bank. "
        "Push designs pay households with a registered public-benefit account without an application."
    )
    by_type_rows = []
    for name, r in results.items():
        for t, tname in enumerate(MUNICIPALITY_TYPES):
            ent = max(r.entitled_households[t], 1)
            cum = r.paid_households[t].cumsum()[start_offset:] / ent
            by_type_rows.append(
                [
                    name,
                    TYPE_LABELS[tname],
                    r.entitled_households[t] / scale,
                    days_to_share(cum, 0.5),
                    days_to_share(cum, 0.9),
                ]  # fmt: skip
            )
    by_type = Table(
        "Time to cash by municipality type",
        ["option", "municipality type", "entitled households", "days to 50 %", "days to 90 %"],
        by_type_rows,
        formats={"days to 50 %": "{:.0f}", "days to 90 %": "{:.0f}"},
    )
    out = [Section("The answer", [intro, table, figs[0]]), Section("Where the time goes", [by_type, *figs[1:3]])]
    if ledger_counts:
        keys = sorted({k for c in ledger_counts.values() for k in c})
        rows = [[k, *[ledger_counts[o].get(k, 0) for o in ledger_counts]] for k in keys]
        out.append(Section("The ledger's decisions (agent fidelity, sample counts)", [
            Paragraph("Every application of the sampled households went through the payout ledger: idempotency "
                      "keys, duplicate checks, verification against the resident register, transfer batches and "
                      "bank answers. Counts are in the sample (not scaled). The ledger's invariants (nobody paid "
                      "twice, money conserved) were checked every simulated day and in full at the end."),
            Table("Decisions by kind", ["decision", *ledger_counts], rows),
        ]))  # fmt: skip
    if len(figs) > 3:
        out.append(Section("Calibration to 2020", [Paragraph(
            "The 2020 baseline is calibrated to public facts only: municipalities opening online intake "
            "(679 on 1 May, 1,116 by 7 May, all by 16 June), recorded online applications, the portal "
            "outage on the first afternoon, and the share of households that never applied."), figs[3]]))  # fmt: skip
    return out
